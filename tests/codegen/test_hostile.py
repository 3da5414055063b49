"""Hostile inputs: whatever a schema, a file name or the catalog holds, it reaches generated code as
data. A corpus per output context (comments, docstrings, string literals, identifiers): each
project is generated, then

- no file appears outside the package (nor anywhere, while generating or importing),
- every module imports in a fresh interpreter, in an empty directory where a payload that ran
  would leave a canary file (it must not),
- no generated module holds the payload as code (tokenized: ``__import__`` is never a name),
- the package is ``mypy --strict`` clean,
- values of every record file round-trip byte-exact with fastavro.

And ``generate`` never shows a traceback: generated code Python refuses is one error line naming the
schema element, marked as a bug of schemabus.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tokenize
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemabus.codegen.cli import main
from schemabus.codegen.config import load_config
from schemabus.codegen.ir import NamedRef, Project, Record
from schemabus.codegen.pipeline import load_project
from schemabus.runtime import JsonSerde

from ..conftest import json_models_modules
from .avro_strategies import Models, merged

CANARY = "CANARY"
PAYLOAD = f"__import__('pathlib').Path({CANARY!r}).touch()"
# Everything a tokenizer, an editor or str.splitlines may take for the end of a line.
BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e"]
# Text that would run PAYLOAD if pasted raw into a comment, a docstring or a string literal.
INJECTIONS = [
    *(f"x{br}{PAYLOAD}{br}#" for br in BREAKS),
    f'"""\n{PAYLOAD}\n"""',
    f"'''\n{PAYLOAD}\n'''",
    f"'+{PAYLOAD}+'",
    f'"+{PAYLOAD}+"',
    f"\\\n{PAYLOAD}",
    'ends in triple quotes """',
    'ends in a quote "',
    "ends in a backslash \\",
    'a backslash, then a quote \\"',
    "\x00 NUL, \x1b escape, \u202e bidi override, \ufeff BOM, \ud800 lone surrogate",
    "{curly} %s \\N{BULLET} \\u2028",
]
# A lone surrogate has no UTF-8 encoding: a default holding one cannot be written (by fastavro either).
WRITABLE = [s for s in INJECTIONS if "\ud800" not in s]
FILE_NAMES = [f"a{br}{PAYLOAD}{br}#.avsc" for br in ["\n", "\r", "\u2028", "\x85", "\x0c"]] + [
    'q"""x.avsc',
    "q'x.avsc",
    "back\\slash.avsc",
    "bidi\u202ex.avsc",
    "tab\tx.avsc",
    "spa ce.avsc",
]


def _record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "hostile", "fields": list(fields), **extra}


def _toml(text: str) -> str:
    return json.dumps(text)  # a TOML basic string: JSON's escapes are TOML's


@dataclass
class Hostile:
    """A project of hostile inputs for one context: schema files (name -> JSON text) and a catalog."""

    schemas: dict[str, str]
    catalog: dict[str, dict[str, str]]  # topic -> {"value": file, "key": ..., "doc": ...}
    schemas_dir: str = "schemas"


def _file_names() -> Hostile:
    schemas = {name: json.dumps(_record(f"R{i}", {"name": "a", "type": "int"})) for i, name in enumerate(FILE_NAMES)}
    catalog = {f"hostile.files.t{i}": {"value": name} for i, name in enumerate(FILE_NAMES)}
    return Hostile(schemas, catalog)


def _issue_file_name() -> Hostile:
    # The case of the issue, alone: a schema file name with line breaks, named by the catalog too.
    name = f"e\n{PAYLOAD}\n#.avsc"
    return Hostile(
        {name: json.dumps(_record("Issue", {"name": "a", "type": "int"}))}, {"hostile.issue.t": {"value": name}}
    )


def _undecodable_file_name() -> Hostile:
    # Non-UTF-8 bytes in a file name (as the file system gives them: surrogate escapes).
    schemas = {
        os.fsdecode(b"latin1-\xe9\xff.avsc"): json.dumps(_record("Latin", {"name": "a", "type": "int"})),
        "ok.avsc": json.dumps(_record("Ok", {"name": "a", "type": "int"})),
    }
    return Hostile(schemas, {"hostile.files.ok": {"value": "ok.avsc"}})


def _docs() -> Hostile:
    fields = [{"name": f"f{i}", "type": "string", "doc": doc} for i, doc in enumerate(INJECTIONS)]
    enums = [
        {"name": f"e{i}", "type": {"type": "enum", "name": f"E{i}", "symbols": ["A"], "doc": doc}}
        for i, doc in enumerate(INJECTIONS)
    ]
    fixed = [
        {"name": f"x{i}", "type": {"type": "fixed", "name": f"F{i}", "size": 2, "doc": doc}}
        for i, doc in enumerate(INJECTIONS)
    ]
    records = {
        f"doc{i}.avsc": json.dumps(_record(f"Doc{i}", {"name": "a", "type": "int", "doc": doc}, doc=doc))
        for i, doc in enumerate(INJECTIONS)
    }
    schemas = {"fields.avsc": json.dumps(_record("Fields", *fields, *enums, *fixed)), **records}
    return Hostile(
        schemas,
        {
            f"hostile.docs.t{i}": {"value": f"doc{i}.avsc", "doc": doc}
            for i, doc in enumerate(INJECTIONS)
            if "\ud800" not in doc
        },
    )


def _defaults() -> Hostile:
    strings = [s for s in INJECTIONS]
    text = json.dumps(
        _record(
            "Defaults",
            *({"name": f"s{i}", "type": "string", "default": s} for i, s in enumerate(strings)),
            {"name": "nan", "type": "double", "default": float("nan")},
            {"name": "inf", "type": "double", "default": float("inf")},
            {"name": "ninf", "type": "double", "default": float("-inf")},
            {"name": "fnan", "type": "float", "default": float("nan")},
            {"name": "finf", "type": "float", "default": float("inf")},
            {"name": "opt_nan", "type": ["double", "null"], "default": float("nan")},
            {"name": "huge", "type": "double", "default": 10**300},
            {"name": "tiny", "type": "float", "default": -(10**38)},
            {"name": "big_long", "type": "long", "default": 2**63 - 1},
            {"name": "raw", "type": "bytes", "default": "\u0000\u00ff'\"\\\n"},
            {"name": "fixed", "type": {"type": "fixed", "name": "Two", "size": 2}, "default": "'\""},
            {"name": "tags", "type": {"type": "array", "items": "string"}, "default": WRITABLE},
            {"name": "labels", "type": {"type": "map", "values": "string"}, "default": {s: s for s in WRITABLE}},
            {
                "name": "sym",
                "type": {"type": "enum", "name": "Sym", "symbols": ["None", "True", "mro", "name"]},
                "default": "None",
            },
            {
                "name": "inner",
                "type": _record(
                    "Inner", {"name": "x", "type": "string", "default": "''"}, {"name": "y", "type": "double"}
                ),
                "default": {"x": INJECTIONS[0], "y": float("nan")},
            },
        )
    )
    return Hostile({"defaults.avsc": text}, {"hostile.defaults.all": {"value": "defaults.avsc"}})


def _names() -> Hostile:
    field_names = [
        "class", "from", "None", "True", "self", "cls", "v", "b", "p", "buf", "x1", "_", "__init__",
        "__class__", "model_config", "model_fields", "json", "schema", "copy", "dict", "int", "str",
        "_avro", "_t", "_pd", "Event", "Topic", "range", "len",
    ]  # fmt: skip
    record_names = [
        "b", "v", "p", "buf", "x1", "x99", "_w_R", "_avro", "_t", "__init__", "None", "class", "len",
        "tuple", "ValueError", "AvroSerde", "Topic", "Publisher", "StringSerde", "JsonSerde", "_Nested1", "Dup",
    ]  # fmt: skip
    records = [_record(n, {"name": "a", "type": "int"}) for n in record_names]
    symbols = ["None", "True", "mro", "name", "value", "_missing_", "_", "__class__", "_ignore_", "A"]
    # The topics' values and key are named like the runtime classes topics.py imports.
    root = _record(
        "Event",
        *({"name": n, "type": "int"} for n in field_names),
        # A union of records whose class names are the codecs' locals: the branch test must see the class.
        {"name": "which", "type": records},
        {"name": "sym", "type": {"type": "enum", "name": "Kind", "symbols": symbols}},
        {"name": "same_short", "type": {"type": "record", "name": "other.ns.Dup", "fields": []}},
        namespace="class.def.None",
    )
    key = _record("Handler", {"name": "id", "type": "string"}, namespace="k")
    batch = _record("BatchHandler", {"name": "id", "type": "string"}, namespace="b")
    return Hostile(
        {"names.avsc": json.dumps(root), "key.avsc": json.dumps(key), "batch.avsc": json.dumps(batch)},
        {
            "hostile.names.all": {"value": "names.avsc", "key": "key.avsc"},
            "hostile.names.batch": {"value": "batch.avsc", "key": "key.avsc"},
        },
    )


def _aliases() -> Hostile:
    text = json.dumps(
        _record(
            "Aliased",
            {"name": "a", "type": "int", "aliases": INJECTIONS[:6]},
            {"name": "b", "type": {"type": "enum", "name": "E", "symbols": ["X"], "aliases": INJECTIONS[6:9]}},
            aliases=INJECTIONS[9:],
            namespace="a.b.c.d.e.f.g.h",
        )
    )
    return Hostile({"aliases.avsc": text}, {"hostile.aliases.all": {"value": "aliases.avsc"}})


def _catalog() -> Hostile:
    # The catalog's values reach topics.py: docs as literals, file paths in its header comment; the
    # schemas directory's name reaches the package docstring.
    schemas = {name: json.dumps(_record(f"C{i}", {"name": "a", "type": "int"})) for i, name in enumerate(FILE_NAMES)}
    catalog = {
        f"hostile.catalog.t{i}": {"value": name, "doc": doc}
        for i, (name, doc) in enumerate(zip(FILE_NAMES, INJECTIONS))
        if "\ud800" not in doc  # TOML cannot hold a lone surrogate
    }
    return Hostile(schemas, catalog, schemas_dir=f's"""\n{PAYLOAD}\n"""')


def _json_schema() -> Hostile:
    # The same inputs in JSON Schema files: names of files, titles, descriptions, property names,
    # definition keys, enum values, defaults and patterns (a pattern is data in a string literal).
    schemas = {}
    for i, text in enumerate(WRITABLE):
        doc = {
            "title": text,
            "description": text,
            "type": "object",
            "properties": {
                text: {"type": "string", "description": text, "default": text},
                f"e{i}": {"enum": [text, "plain"]},
                f"d{i}": {"$ref": "#/$defs/" + urllib.parse.quote(text.replace("~", "~0").replace("/", "~1"))},
            },
            "$defs": {text: {"type": "object", "title": text, "properties": {"x": {"const": text}}}},
        }
        schemas[f"j{i}.schema.json"] = json.dumps(doc)
    for i, name in enumerate(FILE_NAMES):
        schemas[name.replace(".avsc", ".json")] = json.dumps({"title": f"F{i}", "type": "object"})
    catalog = {f"hostile.json.t{i}": {"value": name} for i, name in enumerate(sorted(schemas))}
    return Hostile(schemas, catalog)


CONTEXTS = {
    "json_schema": _json_schema,
    "issue_file_name": _issue_file_name,
    "file_names": _file_names,
    "undecodable_file_name": _undecodable_file_name,
    "docs": _docs,
    "defaults": _defaults,
    "names": _names,
    "aliases": _aliases,
    "catalog": _catalog,
}


def _tree(root: Path, skip: Path) -> set[str]:
    return {
        os.fsencode(p.relative_to(root)).decode("latin-1")
        for p in root.rglob("*")
        if p != skip and skip not in p.parents
    }


def _write_project(root: Path, case: str, hostile: Hostile) -> Path:
    project = root / case
    schemas = project / hostile.schemas_dir
    schemas.mkdir(parents=True)
    for name, text in hostile.schemas.items():
        (schemas / name).write_text(text, encoding="utf-8")
    lines = []
    for topic, spec in hostile.catalog.items():
        lines.append(f"[topics.{_toml(topic)}]")
        lines += [f"{k} = {_toml(v)}" for k, v in spec.items()]
    (schemas / "catalog.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (project / "pyproject.toml").write_text(
        f"[tool.schemabus]\npackage = 'hostile_{case}'\noutput = '../gen'\nschemas = {_toml(hostile.schemas_dir)}\n",
        encoding="utf-8",
    )
    return project


@dataclass
class Generated:
    root: Path  # holds every case's project and the shared output directory gen/
    projects: dict[str, Path]
    results: dict[str, tuple[int, str]]  # case -> generate's exit code and output
    outside: dict[str, set[str]]  # case -> paths that appeared outside its package while generating

    def require(self, case: str) -> None:
        code, output = self.results[case]
        assert code == 0 and "Traceback" not in output, f"generate failed for {case}: {output}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "gen").mkdir()
    cwd = root / "cwd"
    cwd.mkdir()
    out = Generated(root, {}, {}, {})
    old_cwd, old_cache = Path.cwd(), os.environ.get("SCHEMABUS_CACHE_DIR")
    os.environ["SCHEMABUS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.chdir(cwd)  # a payload that ran while generating would leave its canary here
    try:
        for case, make in CONTEXTS.items():
            project = _write_project(root, case, make())
            package = root / "gen" / f"hostile_{case}"
            before = _tree(root, package)
            result = CliRunner().invoke(main, ["generate", "-q", "--project", str(project)])
            out.results[case] = (result.exit_code, result.output + repr(result.exception or ""))
            out.outside[case] = _tree(root, package) - before
            out.projects[case] = project
    finally:
        os.chdir(old_cwd)
        if old_cache is None:
            os.environ.pop("SCHEMABUS_CACHE_DIR", None)
        else:
            os.environ["SCHEMABUS_CACHE_DIR"] = old_cache
    yield out


@pytest.mark.parametrize("case", sorted(CONTEXTS))
def test_nothing_is_written_outside_the_package(generated: Generated, case: str) -> None:
    assert generated.outside[case] == set()
    assert not (generated.root / "cwd" / CANARY).exists()
    generated.require(case)
    assert list((generated.root / "gen" / f"hostile_{case}").glob("*/topics.py"))  # a domain's subpackage


@pytest.mark.parametrize("case", sorted(CONTEXTS))
def test_the_package_imports_and_runs_no_input(generated: Generated, case: str, tmp_path: Path) -> None:
    package = f"hostile_{case}"
    code = (
        "import importlib, pkgutil, sys\n"
        f"package = importlib.import_module({package!r})\n"
        f"for m in pkgutil.walk_packages(package.__path__, {package + '.'!r}):\n"
        "    importlib.import_module(m.name)\n"
        "for name in package.__all__:\n"
        "    assert getattr(package, name) is not None, name\n"
    )
    env = {**os.environ, "PYTHONPATH": str(generated.root / "gen"), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert not (tmp_path / CANARY).exists(), "importing the package ran input as code"
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == [], "importing the package created files"
    generated.require(case)


@pytest.mark.parametrize("case", sorted(CONTEXTS))
def test_no_input_becomes_code(generated: Generated, case: str) -> None:
    generated.require(case)
    package = generated.root / "gen" / f"hostile_{case}"
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert all(c.isprintable() or c in "\n\t" for c in text), path
        with path.open("rb") as f:
            names = {t.string for t in tokenize.tokenize(f.readline) if t.type == tokenize.NAME}
        assert "__import__" not in names, f"{path.name}: input became code"


def test_hostile_packages_pass_mypy_strict(generated: Generated) -> None:
    for case in CONTEXTS:
        generated.require(case)
    packages = [f"hostile_{case}" for case in sorted(CONTEXTS)]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, *packages],
        cwd=generated.root / "gen",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- round trips -----------------------------------------------------------------------------


@dataclass
class Loaded:
    project: Project
    models: Models
    codecs: Any


_LOADED: dict[str, Loaded] = {}


def _loaded(generated: Generated, case: str) -> Loaded:
    generated.require(case)
    if case not in _LOADED:
        gen = str(generated.root / "gen")
        if gen not in sys.path:
            sys.path.insert(0, gen)
        project = load_project(load_config(generated.projects[case] / "pyproject.toml"))
        with contextlib.chdir(generated.root / "cwd"):  # where a payload that ran would leave its canary
            models = merged(f"hostile_{case}", "avro_models")
            codecs = merged(f"hostile_{case}", "avro_codecs")
        assert not (generated.root / "cwd" / CANARY).exists(), "importing the package ran input as code"
        _LOADED[case] = Loaded(project, Models(project.named, models), codecs)
    return _LOADED[case]


def _record_files(case: str) -> list[str]:
    return sorted(n for n in CONTEXTS[case]().schemas if n.endswith(".avsc") and not n.startswith("latin1-"))


ROUND_TRIPS = [(case, file) for case in sorted(CONTEXTS) for file in _record_files(case)]


def test_hostile_json_documents_round_trip(generated: Generated) -> None:
    # Every hostile string as a property name, an enum value and a const, read and written back.
    generated.require("json_schema")
    sys.path.insert(0, str(generated.root / "gen"))
    try:
        modules = json_models_modules("hostile_json_schema")
    finally:
        sys.path.remove(str(generated.root / "gen"))
    for i, text in enumerate(WRITABLE):
        (serde,) = [
            s
            for module in modules
            for s in vars(module).values()
            if isinstance(s, JsonSerde) and json.loads(s.schema).get("title") == text
        ]
        document = {text: text, f"e{i}": text, f"d{i}": {"x": text}}
        data = json.dumps(document).encode()
        value = serde.deserialize(b"\0\0\0\0\1" + data, 1, None)
        assert json.loads(serde.encode(value)) == document


@pytest.mark.parametrize(("case", "file"), ROUND_TRIPS, ids=[f"{c}:{f!r}" for c, f in ROUND_TRIPS])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_records_round_trip_with_fastavro(
    generated: Generated, case: str, file: str, data: st.DataObject
) -> None:
    c = _loaded(generated, case)
    schema = c.project.avro[file]
    root = schema.root
    assert isinstance(root, NamedRef) and isinstance(c.project.named[root.fullname], Record)
    serde = next(s for s in vars(c.codecs).values() if getattr(s, "schema", None) == schema.canonical)
    value = data.draw(c.models.strategy(root))
    ours = serde.encode(value)
    expected = io.BytesIO()
    fastavro.schemaless_writer(
        expected, fastavro.parse_schema(json.loads(schema.canonical)), c.models.datum(root, value)
    )
    assert ours == expected.getvalue()
    assert serde.decode(ours) == value


def test_hostile_defaults_are_the_values_written(generated: Generated) -> None:
    c = _loaded(generated, "defaults")
    model = c.models.cls("hostile.Defaults")(inner={"y": 1.0})  # every other field from its default
    assert [getattr(model, f"s{i}") for i in range(len(INJECTIONS))] == INJECTIONS
    assert model.inf == float("inf") and model.ninf == float("-inf") and model.nan != model.nan
    assert model.huge == 1e300 and model.tiny == -1e38
    assert model.raw == b"\x00\xff'\"\\\n" and model.fixed == b"'\""
    assert model.tags == WRITABLE and model.labels == {s: s for s in WRITABLE} and model.sym.value == "None"
    serde = c.codecs.defaults_serde
    # A lone surrogate has no UTF-8 encoding: fastavro cannot write that default either.
    model = model.model_copy(update={f"s{i}": "" for i, s in enumerate(INJECTIONS) if s not in WRITABLE})
    ours = serde.encode(model)
    expected = io.BytesIO()
    parsed = fastavro.parse_schema(json.loads(serde.schema))
    fastavro.schemaless_writer(expected, parsed, c.models.datum(c.project.avro["defaults.avsc"].root, model))
    assert ours == expected.getvalue()
    assert serde.encode(serde.decode(ours)) == ours  # NaN is not equal to itself: compare the bytes
    # fastavro fills the same defaults from the schema for a record that lacks them.
    assert fastavro.schemaless_reader(io.BytesIO(ours), parsed)["s0"] == INJECTIONS[0]


# --- generated code Python refuses is a bug, reported as one line ----------------------------


def _schema_project(tmp_path: Path, schema: dict[str, Any]) -> Path:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "thing.avsc").write_text(json.dumps(schema))
    (tmp_path / "pyproject.toml").write_text("[tool.schemabus]\npackage = 'refused'\n")
    return tmp_path


def _nest(levels: int, leaf: Any = "int") -> Any:
    t = leaf
    for i in range(levels):
        t = {"type": "array", "items": t} if i % 2 == 0 else {"type": "map", "values": t}
    return t


def test_code_that_does_not_compile_is_one_error_naming_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schemabus.codegen.render import avro_codec

    root = _schema_project(
        tmp_path,
        _record("Broken", {"name": "ok", "type": "int"}, {"name": "deep", "type": _nest(12)}, namespace="acme"),
    )
    # Without helper functions, 12 nested arrays and maps are more blocks than Python compiles.
    monkeypatch.setattr(avro_codec.CodeEmitter, "in_helper", lambda self, t: True)
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(root)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(
        'error: schemas/thing.avsc: the code generated for record "acme.Broken" (avro_codecs.py, line '
    )
    assert "too many statically nested blocks" in lines[0] and "This is a bug in schemabus" in lines[0]
    assert lines[1:] == [] and "Traceback" not in result.output
    assert not (root / "generated").exists()


def test_code_ruff_cannot_format_is_one_error_naming_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schemabus.codegen.render import avro_writer

    root = _schema_project(tmp_path, _record("Broken", {"name": "ok", "type": "int"}, namespace="acme"))
    monkeypatch.setattr(avro_writer.AvroWriter, "writer_body", lambda self, record: ["return )"])
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(root)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        'error: schemas/thing.avsc: the code generated for record "acme.Broken" (avro_codecs.py'
    )
    assert "This is a bug in schemabus" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
