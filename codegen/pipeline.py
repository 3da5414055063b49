"""load + validate -> IR -> render -> format: generation as a pure function returning ``{path: content}``."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config
from .diagnostics import SchemaError, SchemaErrors, Source
from .load.json_drafts import DEFAULT_DRAFT, Draft

# The IR, the loaders and the renderer are imported by the functions that use them: a no-op `generate`
# only needs fingerprint(), and the renderer's imports (jinja2, pydantic) cost more than the whole no-op.
if TYPE_CHECKING:
    from .ir import AvroSchema, JsonSchemaFile, NamedType, Project, Topic

Progress = Callable[[str], None]


def _read(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SchemaError(Source(display), f"cannot read: {e}") from None


def load_files(
    avro: list[tuple[str, str]], json_files: list[tuple[str, str]], default_draft: Draft = DEFAULT_DRAFT
) -> tuple[dict[str, NamedType], dict[str, AvroSchema], dict[str, JsonSchemaFile]]:
    """Load schema texts; Avro and JSON errors are collected together."""
    from .load.avro import load_avro_files
    from .load.jsonschema import load_json_schema_files

    errors: list[SchemaError] = []
    named: dict[str, NamedType] = {}
    avro_schemas: dict[str, AvroSchema] = {}
    json_schemas: dict[str, JsonSchemaFile] = {}
    try:
        named, avro_schemas = load_avro_files(avro)
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


def load_project(config: Config, texts: SchemaTexts | None = None) -> Project:
    """Every schema under the schemas directory and the catalog, validated; file names are relative
    to the project root in messages (``schemas/agent/created.avsc#/fields/3``)."""
    from .ir import Project
    from .load.catalog import load_catalog

    schemas_dir = config.schemas_dir
    prefix = config.schemas.rstrip("/") + "/"
    avro, json_files = texts or read_schemas(config)
    try:
        named, avro_schemas, json_schemas = load_files(avro, json_files, config.default_draft)
    except SchemaErrors as e:
        raise SchemaErrors([_prefixed(err, prefix) for err in e.errors]) from None
    catalog_path = schemas_dir / config.catalog
    topics: tuple[Topic, ...] = ()
    if catalog_path.is_file():
        try:
            topics = load_catalog(
                config.catalog, _read(catalog_path, prefix + config.catalog), set(avro_schemas) | set(json_schemas)
            )
        except SchemaError as e:
            raise _prefixed(e, prefix) from None
    return Project(named, avro_schemas, json_schemas, topics)


def _prefixed(e: SchemaError, prefix: str) -> SchemaError:
    return SchemaError(Source(prefix + e.source.file, e.source.pointer), e.message)


def fingerprint(config: Config) -> str:
    """A hash of everything generation depends on: tool versions, settings and every schema file."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for dist in ("schemabus", "ruff", "pydantic"):
        try:
            h.update(f"{dist}={version(dist)}\n".encode())
        except Exception:  # not installed as a distribution (a source checkout): hash nothing for it
            h.update(f"{dist}=?\n".encode())
    # The generator's own code too: an edited template must not pass for a no-op in a source checkout.
    here = Path(__file__).parent
    for path in sorted([*here.rglob("*.py"), *here.rglob("*.jinja")]):
        h.update(hashlib.sha256(path.read_bytes()).digest())
    # Lint settings do not change generated code.
    h.update(repr(sorted((k, v) for k, v in vars(config).items() if k not in ("root", "lint"))).encode())
    schemas_dir = config.schemas_dir
    if schemas_dir.is_dir():
        for path in sorted(p for p in schemas_dir.rglob("*") if p.is_file()):
            h.update(path.relative_to(schemas_dir).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def generate(config: Config, progress: Progress | None = None) -> dict[str, str]:
    """The generated package for a project: ``{path relative to the package dir: content}``."""
    from .render.package import render_package

    note = progress or (lambda _: None)
    note("loading schemas")
    avro, json_files = read_schemas(config)
    project = load_project(config, (avro, json_files))
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
    note(f"formatting {len(files)} files")
    return format_files(files, config.line_length)


def generate_from_files(paths: list[Path], package: str, line_length: int = 120) -> dict[str, str]:
    """Models and codecs for schema files named on the command line (no catalog)."""
    from .ir import Project
    from .render.package import render_package

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
        named, avro_schemas, json_schemas = load_files(avro, json_files)
    except SchemaErrors as e:
        raise SchemaErrors(
            [
                SchemaError(Source(display.get(x.source.file, x.source.file), x.source.pointer), x.message)
                for x in e.errors
            ]
        ) from None
    files = render_package(
        Project(named, avro_schemas, json_schemas),
        with_topics=False,
        description=f"Models and codecs generated by schemabus ({package}).",
    )
    return format_files(files, line_length)


def _common_dir(paths: list[Path]) -> str:
    import os

    return os.path.commonpath([str(p.resolve().parent) for p in paths])


def format_files(files: dict[str, str], line_length: int) -> dict[str, str]:
    """ruff-format every Python file in one ruff run."""
    from ruff.__main__ import find_ruff_bin

    py = {rel: text for rel, text in files.items() if rel.endswith(".py")}
    with tempfile.TemporaryDirectory(prefix="schemabus-fmt-") as tmp:
        root = Path(tmp)
        for rel, text in py.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        ruff = str(find_ruff_bin())
        cmd = [ruff, "format", "--no-cache", "--isolated", f"--line-length={line_length}", "--quiet", "."]
        result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            # Formatting failed: generated code is not valid Python. That is a bug of schemabus.
            raise RuntimeError(f"ruff could not format the generated code:\n{result.stderr}")
        return {rel: (root / rel).read_text(encoding="utf-8") if rel in py else text for rel, text in files.items()}
