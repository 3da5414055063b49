"""load + validate -> IR -> render -> format: generation as a pure function returning ``{path: content}``."""

from __future__ import annotations
import __future__

import functools
import hashlib
import json
import operator
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config
from .diagnostics import SchemaError, SchemaErrors, Source
from .load.json_drafts import DEFAULT_DRAFT, Draft

# The IR, the loaders and the renderer are imported by the functions that use them: a no-op `generate`
# only needs fingerprint(), and the renderer's imports (jinja2, pydantic) cost more than the whole no-op.
if TYPE_CHECKING:
    import subprocess

    from .ir import AvroSchema, JsonSchemaFile, NamedType, Project, Topic

Progress = Callable[[str], None]


def _read(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SchemaError(Source(display), f"cannot read: {e}") from None


def load_files(
    avro: list[tuple[str, str]],
    json_files: list[tuple[str, str]],
    default_draft: Draft = DEFAULT_DRAFT,
    *,
    codegen: bool = False,
) -> tuple[dict[str, NamedType], dict[str, AvroSchema], dict[str, JsonSchemaFile]]:
    """Load schema texts; Avro and JSON errors are collected together. With ``codegen``, what code
    generation cannot take is an error too (see :func:`load_avro_files`)."""
    from .load.avro import load_avro_files
    from .load.jsonschema import load_json_schema_files

    errors: list[SchemaError] = []
    named: dict[str, NamedType] = {}
    avro_schemas: dict[str, AvroSchema] = {}
    json_schemas: dict[str, JsonSchemaFile] = {}
    try:
        named, avro_schemas = load_avro_files(avro, codegen=codegen)
    except SchemaErrors as e:
        errors += e.errors
    try:
        json_schemas = load_json_schema_files(json_files, default_draft=default_draft)
    except SchemaErrors as e:
        errors += e.errors
    if errors:
        raise SchemaErrors(errors)
    return named, avro_schemas, json_schemas


def schema_files(schemas_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in schemas_dir.rglob("*")
        if p.is_file() and (p.suffix == ".avsc" or p.suffix == ".json") and not p.name.startswith(".")
    )


SchemaTexts = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def read_schemas(config: Config) -> SchemaTexts:
    """``(path relative to the schemas dir, text)`` of every Avro and every JSON Schema file."""
    schemas_dir = config.schemas_dir
    prefix = config.schemas.rstrip("/") + "/"
    if not schemas_dir.is_dir():
        raise SchemaError(Source(config.schemas), "the schemas directory does not exist")
    avro: list[tuple[str, str]] = []
    json_files: list[tuple[str, str]] = []
    for path in schema_files(schemas_dir):
        rel = path.relative_to(schemas_dir).as_posix()
        (avro if path.suffix == ".avsc" else json_files).append((rel, _read(path, prefix + rel)))
    return avro, json_files


def load_project(config: Config, texts: SchemaTexts | None = None, *, codegen: bool = False) -> Project:
    """Every schema under the schemas directory and the catalog, validated; file names are relative
    to the project root in messages (``schemas/agent/created.avsc#/fields/3``). The errors of the
    schemas and of the catalog are reported together."""
    from .ir import Project
    from .load.catalog import check_topic_types, read_catalog

    schemas_dir = config.schemas_dir
    prefix = config.schemas.rstrip("/") + "/"
    avro, json_files = texts or read_schemas(config)
    errors: list[SchemaError] = []
    named: dict[str, NamedType] = {}
    avro_schemas: dict[str, AvroSchema] = {}
    json_schemas: dict[str, JsonSchemaFile] = {}
    try:
        named, avro_schemas, json_schemas = load_files(avro, json_files, config.default_draft, codegen=codegen)
    except SchemaErrors as e:
        errors += e.errors
    catalog_path = schemas_dir / config.catalog
    topics: tuple[Topic, ...] = ()
    if catalog_path.is_file():
        try:
            text = _read(catalog_path, prefix + config.catalog)
        except SchemaError as e:
            raise SchemaErrors([*(_prefixed(err, prefix) for err in errors), e]) from None
        # Every schema file that exists may be named, whether it loaded or not (its errors are reported).
        topics, catalog_errors = read_catalog(config.catalog, text, {f for f, _ in [*avro, *json_files]})
        errors += catalog_errors + check_topic_types(topics, avro_schemas, named)
    if errors:
        raise SchemaErrors([_prefixed(err, prefix) for err in errors])
    return Project(named, avro_schemas, json_schemas, topics)


def _prefixed(e: SchemaError, prefix: str) -> SchemaError:
    return SchemaError(Source(prefix + e.source.file, e.source.pointer), e.message)


# What generated code depends on besides the generator's own files: the formatter, the model library
# (its attribute names are reserved), the template engine.
DEPENDENCIES = ("schemabus", "ruff", "pydantic", "jinja2")


def fingerprint(config: Config) -> str:
    """A hash of everything generation depends on: Python and tool versions, the generator's code and
    templates, settings, and every file under the schemas directory (the catalog too)."""
    h = hashlib.sha256()
    h.update(f"{sys.implementation.cache_tag} {sys.version}\n".encode())
    for dist, version in versions(DEPENDENCIES).items():
        h.update(f"{dist}={version}\n".encode())
    # The generator's own code too: an edited template must not pass for a no-op in a source checkout.
    for path in generator_files():
        h.update(hashlib.sha256(path.read_bytes()).digest())
    # Lint and AsyncAPI settings do not change generated code.
    h.update(repr(sorted((k, v) for k, v in vars(config).items() if k not in ("root", "lint", "asyncapi"))).encode())
    schemas_dir = config.schemas_dir
    for rel, path in _files_under(schemas_dir):
        h.update(os.fsencode(rel) + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def generator_files() -> list[Path]:
    """The files of the generator: every module and template of schemabus.codegen, and the runtime
    contract the generated code checks."""
    here = Path(__file__).parent
    from schemabus.runtime import contract

    own = [path for _, path in _files_under(here) if path.suffix in (".py", ".jinja")]
    return [*own, Path(contract.__file__)]


def _files_under(root: Path) -> list[tuple[str, Path]]:
    """``(path relative to root, path)`` of every file under ``root``, sorted, as ``root.rglob("*")``
    finds them (symbolic links to files, not to folders); none if ``root`` is not a folder."""
    out: list[tuple[str, Path]] = []
    folders = [(root, "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append((Path(entry.path), f"{prefix}{entry.name}/"))
                    elif entry.is_file():
                        out.append((prefix + entry.name, Path(entry.path)))
        except OSError:  # not a folder, or one that cannot be read
            continue
    return sorted(out)


def versions(names: tuple[str, ...]) -> dict[str, str]:
    """The version of each installed distribution, from the first metadata folder on ``sys.path``
    (``ruff-0.6.9.dist-info``, ``schemabus.egg-info``) as importlib.metadata finds it; ``"?"`` when
    there is none. Read from the folders themselves: importing importlib.metadata costs more than a
    no-op run's whole check."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = sorted(os.listdir(entry or "."))
        except OSError:  # a zip file, or a folder that is gone
            continue
        for item in listing:
            stem = item.lower().removesuffix(".dist-info").removesuffix(".egg-info")
            # name-version, the name normalised (lower case, "_" for "-" and ".")
            name = re.sub(r"[-_.]+", "_", stem.partition("-")[0])
            if stem == item.lower() or name not in names or name in found:
                continue
            metadata = os.path.join(
                entry or ".", item, "METADATA" if stem + ".dist-info" == item.lower() else "PKG-INFO"
            )
            version = _metadata_version(metadata)
            if version is not None:
                found[name] = version
    return {name: found.get(name, "?") for name in names}


def _metadata_version(path: str) -> str | None:
    """The ``Version:`` of a METADATA or PKG-INFO file (its headers end at the first empty line)."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break
                if line.startswith("Version:"):
                    return line.partition(":")[2].strip()
    except (OSError, UnicodeDecodeError):
        pass
    return None


def generate(config: Config, progress: Progress | None = None) -> dict[str, str]:
    """The generated package for a project: ``{path relative to the package dir: content}``."""
    from .render.package import locate, render_package

    note = progress or (lambda _: None)
    note("loading schemas")
    avro, json_files = read_schemas(config)
    project = load_project(config, (avro, json_files), codegen=True)
    try:
        files = render_package(
            project,
            with_topics=True,
            description="Event models, codecs, topics, publishers and handlers generated from "
            f"{config.schemas}/ by schemabus.",
            progress=note,
        )
    except SchemaError as e:  # locations are relative to the schemas directory until here
        raise _prefixed(e, config.schemas.rstrip("/") + "/") from None
    except RecursionError:
        raise _too_deep(Source(config.schemas)) from None
    note(f"formatting {len(files)} files")
    prefix = config.schemas.rstrip("/") + "/"

    def where(rel: str, text: str, lineno: int) -> tuple[Source, str]:
        source, construct = locate(project, rel, text, lineno)
        return _prefixed(SchemaError(source, ""), prefix).source, construct

    return format_files(files, config.line_length, where)


def _too_deep(source: Source) -> SchemaError:
    return SchemaError(
        source,
        "types nest too deep for the generator (RecursionError). "
        "This is a bug in schemabus: please report it with this schema",
    )


def generate_from_files(paths: list[Path], package: str, line_length: int = 120) -> dict[str, str]:
    """Models and codecs for schema files named on the command line (no catalog)."""
    from .ir import Project
    from .render.package import locate, render_package

    if not paths:
        raise SchemaError(Source("."), "no schema files given")
    base = Path(_common_dir(paths))
    avro: list[tuple[str, str]] = []
    json_files: list[tuple[str, str]] = []
    for path in paths:
        rel = path.resolve().relative_to(base).as_posix()
        text = _read(path, str(path))
        if path.suffix == ".avsc":
            avro.append((rel, text))
        elif path.suffix == ".json":
            json_files.append((rel, text))
        else:
            raise SchemaError(Source(str(path)), "unknown schema file type (expected .avsc or .json)")
    display = {p.resolve().relative_to(base).as_posix(): str(p) for p in paths}
    try:
        named, avro_schemas, json_schemas = load_files(avro, json_files, codegen=True)
    except SchemaErrors as e:
        raise SchemaErrors(
            [
                SchemaError(Source(display.get(x.source.file, x.source.file), x.source.pointer), x.message)
                for x in e.errors
            ]
        ) from None
    project = Project(named, avro_schemas, json_schemas)
    try:
        files = render_package(
            project, with_topics=False, description=f"Models and codecs generated by schemabus ({package})."
        )
    except SchemaError as e:
        raise SchemaError(Source(display.get(e.source.file, e.source.file), e.source.pointer), e.message) from None
    except RecursionError:
        raise _too_deep(Source(str(paths[0]))) from None

    def where(rel: str, text: str, lineno: int) -> tuple[Source, str]:
        source, construct = locate(project, rel, text, lineno)
        return Source(display.get(source.file, source.file), source.pointer), construct

    return format_files(files, line_length, where)


def _common_dir(paths: list[Path]) -> str:
    import os

    return os.path.commonpath([str(p.resolve().parent) for p in paths])


Locate = Callable[[str, str, int], tuple[Source, str]]
"""``(module path, its text, line) -> (schema element, construct)`` for messages about generated code."""


def _where(rel: str, text: str, lineno: int) -> tuple[Source, str]:
    return Source(rel), f"the module {rel}"


def _bug(locate: Locate, rel: str, text: str, lineno: int, what: str) -> SchemaError:
    source, construct = locate(rel, text, lineno)
    what = " ".join(what.split())  # one line
    return SchemaError(
        source,
        f"the code generated for {construct} ({rel}, line {lineno}) does not compile: {what}. "
        "This is a bug in schemabus: please report it with this schema",
    )


def compile_check(files: dict[str, str], locate: Locate = _where) -> None:
    """Compile every generated module: code that Python refuses is a bug of schemabus, reported as
    a SchemaError naming the schema element it was generated for, never written.

    Large modules are compiled in pieces (see :func:`pieces`) on every core this process may use:
    compiling is most of a large project's generate. A piece that fails sends its module to the
    whole-module check here, which finds the error and its line (or, when only the cut was wrong,
    none)."""
    import subprocess

    py = {rel: text for rel, text in files.items() if rel.endswith(".py")}
    workers = _cores() - 1
    if workers < 1 or sum(map(len, py.values())) < PARALLEL_FROM or not sys.executable:
        _compile_all(py, locate)
        return
    jobs = [(rel, *piece) for rel, text in py.items() for piece in pieces(text, PARALLEL_FROM // 2)]
    bins: list[list[tuple[str, str, int]]] = [[] for _ in range(workers + 1)]
    for job in sorted(jobs, key=lambda j: len(j[1]), reverse=True):  # the largest first, to the lightest bin
        min(bins, key=lambda b: sum(len(text) for _, text, _ in b)).append(job)
    own, *theirs = (b for b in bins if b)
    started: list[tuple[list[tuple[str, str, int]], subprocess.Popen[bytes] | None]] = []
    for share in theirs:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _COMPILE_PIECES],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            proc = None  # compiled here instead
        started.append((share, proc))
    failed: set[str] = set()
    try:
        for share, proc in started:
            if proc is not None:
                assert proc.stdin is not None
                try:
                    with proc.stdin:
                        proc.stdin.write(json.dumps(share).encode())
                except OSError:
                    pass  # the worker is gone: its exit status fails its share
        for rel, text, flags in own:
            if not _compiles(rel, text, flags):
                failed.add(rel)
    finally:
        for share, proc in started:
            if proc is None or not _compiled_all(proc, len(share)):
                failed |= {rel for rel, _, _ in share}
    _compile_all({rel: py[rel] for rel in sorted(failed)}, locate)


# Below this many characters of Python in all, one process compiles them (a worker costs a start-up).
PARALLEL_FROM = 400_000

# A worker of compile_check: compiles the pieces of JSON [[name, text, flags], ...] on stdin, then
# prints how many it compiled (it fails at the first that does not compile).
_COMPILE_PIECES = """
import json, sys
pieces = json.load(sys.stdin)
for name, text, flags in pieces:
    compile(text, name, "exec", flags=flags, dont_inherit=True)
print(f"compiled {len(pieces)}")
"""


def _compiled_all(proc: subprocess.Popen[bytes], count: int) -> bool:
    """Whether a worker compiled all ``count`` pieces it was given: it says so, and exits 0."""
    assert proc.stdout is not None
    with proc.stdout:
        said = proc.stdout.read()
    return proc.wait() == 0 and said == f"compiled {count}\n".encode()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _compiles(rel: str, text: str, flags: int) -> bool:
    try:
        compile(text, rel, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _compile_all(py: dict[str, str], locate: Locate) -> None:
    for rel, text in py.items():
        try:
            compile(text, rel, "exec", dont_inherit=True)
        except SyntaxError as e:
            raise _bug(locate, rel, text, e.lineno or 1, f"{e.msg}") from None
        except (ValueError, RecursionError, MemoryError) as e:
            raise _bug(locate, rel, text, 1, f"{type(e).__name__}: {e}") from None


def pieces(text: str, size: int) -> list[tuple[str, int]]:
    """A module cut into pieces of about ``size`` characters that compile each as the module does, with
    the compile flags of each: cut before top-level ``def``, ``class`` and decorator lines; the first
    piece holds the module's head (its docstring and imports: what comes before the first definition),
    the others are compiled with the ``from __future__`` features the head turns on.

    A cut inside a string or a bracketed expression leaves a piece that does not compile, so the
    pieces all compile only if the module does (a head that does not compile alone is one piece)."""
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + lines[-1:]  # the text, cut after each line feed
    starts = [
        i
        for i, line in enumerate(lines)
        if line.startswith(("def ", "class ", "async def ", "@")) and not (i and lines[i - 1].startswith("@"))
    ]
    if not starts or len(text) <= size:
        return [(text, 0)]
    try:
        head = compile("".join(lines[: starts[0]]), "<head>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [(text, 0)]
    flags = head.co_flags & _FUTURE_FLAGS
    out: list[tuple[str, int]] = []
    begin = length = 0
    for a, b in zip(starts, [*starts[1:], len(lines)]):
        length += sum(len(line) for line in lines[a:b])
        if length >= size or b == len(lines):
            out.append(("".join(lines[begin:b]), flags if out else 0))
            begin, length = b, 0
    return out


_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)
)


def format_files(files: dict[str, str], line_length: int, locate: Locate = _where) -> dict[str, str]:
    """ruff-format every Python file in one ruff run; meanwhile compile each as generated (see
    :func:`compile_check`; formatting keeps the syntax tree, so the check holds for the formatted
    files too)."""
    import subprocess
    import tempfile

    from ruff.__main__ import find_ruff_bin

    py = {rel: text for rel, text in files.items() if rel.endswith(".py")}
    with tempfile.TemporaryDirectory(prefix="schemabus-fmt-") as tmp:
        root = Path(tmp)
        for rel, text in py.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        ruff = str(find_ruff_bin())
        cmd = [ruff, "format", "--no-cache", "--isolated", f"--line-length={line_length}", "--quiet", "."]
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            compile_check(py, locate)
        finally:
            _, stderr = proc.communicate()
        if proc.returncode != 0:
            first = next(iter(sorted(py)), "__init__.py")
            raise _bug(locate, first, py.get(first, ""), 1, f"ruff could not format it: {stderr.strip()}")
        return {rel: (root / rel).read_text(encoding="utf-8") if rel in py else text for rel, text in files.items()}
