"""Avro as users write it: files whose top-level type is not a record, the empty union, NaN and
infinite defaults, types nested hundreds of levels deep; every error of a run reported together;
``check`` of a first version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from click.testing import CliRunner

from schemabus.codegen import naming
from schemabus.codegen.cli import main
from schemabus.codegen.compat.avro_rules import AvroVersion, can_read


def _record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "shapes", "fields": list(fields), **extra}


def _generate(tmp_path: Path, files: dict[str, Any], package: str = "out") -> tuple[int, str, Path]:
    """``generate --output`` for schema files (name -> JSON value, or text)."""
    paths = []
    for name, schema in files.items():
        path = tmp_path / name
        path.write_text(schema if isinstance(schema, str) else json.dumps(schema))
        paths.append(str(path))
    out = tmp_path / package
    result = CliRunner().invoke(main, ["generate", "-q", "--output", str(out), *paths])
    assert "Traceback" not in result.output
    return result.exit_code, result.output, out


def _run(tmp_path: Path, code: str) -> str:
    """Run ``code`` in a fresh interpreter with ``tmp_path`` importable; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _mypy(tmp_path: Path, package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, package],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- top-level types other than a record -----------------------------------------------------


def test_top_level_enum_fixed_and_schema_list_generate_every_named_type(tmp_path: Path) -> None:
    files = {
        "color.avsc": {"type": "enum", "name": "Color", "namespace": "shapes", "symbols": ["RED", "BLUE"]},
        "digest.avsc": {"type": "fixed", "name": "Md5", "namespace": "shapes", "size": 16},
        "list.avsc": [
            _record("Point", {"name": "x", "type": "int"}),
            _record(
                "Line", {"name": "points", "type": {"type": "array", "items": "Point"}}, {"name": "md5", "type": "Md5"}
            ),
            {"type": "enum", "name": "Kind", "namespace": "shapes", "symbols": ["A"]},
        ],
        "points.avsc": {"type": "array", "items": _record("Cloud", {"name": "n", "type": "long"})},
    }
    code, output, _ = _generate(tmp_path, files)
    assert code == 0, output
    printed = _run(
        tmp_path,
        """
        import out
        from out import avro_codecs
        print(sorted(out.__all__))
        line = out.Line(points=[out.Point(x=1)], md5=b"0123456789abcdef")
        payload = bytearray()
        avro_codecs._w_Line(line, payload)
        print(avro_codecs._r_Line(bytes(payload), 0)[0] == line, out.Color("BLUE").name)
        """,
    )
    assert printed.splitlines() == ["['Cloud', 'Color', 'Kind', 'Line', 'Md5', 'Point']", "True BLUE"]
    _mypy(tmp_path, "out")


@pytest.mark.parametrize(
    ("schema", "shown"),
    [
        ('"string"', '"string"'),
        ('["null", "int"]', '["null", "int"]'),
        ('{"type": "map", "values": "long"}', '{"type": "map", "values": "long"}'),
    ],
)
def test_a_file_with_nothing_to_generate_is_an_error(tmp_path: Path, schema: str, shown: str) -> None:
    code, output, out = _generate(tmp_path, {"plain.avsc": schema, "ok.avsc": _record("Ok")})
    assert code == 2
    assert (
        f"error: {tmp_path / 'plain.avsc'}: nothing to generate: the file's type is {shown}, "
        "and it defines no record, enum or fixed type" in output
    )
    assert not out.exists()


def test_a_union_of_other_files_types_generates_them(tmp_path: Path) -> None:
    # A topic holding several event types registers a union of references (Confluent's pattern):
    # the file defines nothing itself; its types come from the files that define them.
    files = {"a.avsc": _record("A"), "b.avsc": _record("B"), "all.avsc": '["shapes.A", "shapes.B"]'}
    code, output, out = _generate(tmp_path, files)
    assert code == 0, output
    init = (out / "__init__.py").read_text()
    assert '"A",' in init and '"B",' in init and "a_serde" in init


def test_a_topic_whose_value_is_not_a_record_is_a_catalog_error(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "color.avsc").write_text(json.dumps({"type": "enum", "name": "Color", "symbols": ["A"]}))
    (tmp_path / "schemas" / "ok.avsc").write_text(json.dumps(_record("Ok")))
    (tmp_path / "schemas" / "catalog.toml").write_text(
        '[topics."a.b.c"]\nvalue = "color.avsc"\n[topics."a.b.d"]\nvalue = "ok.avsc"\nkey = "color.avsc"\n'
    )
    (tmp_path / "pyproject.toml").write_text("[tool.schemabus]\npackage = 'ev'\n")
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        'error: schemas/catalog.toml#/topics/a.b.c/value: color.avsc is not a record: a topic\'s Avro value must be a record (its type is an enum "Color")',
        'error: schemas/catalog.toml#/topics/a.b.d/key: color.avsc is not a record: a topic\'s Avro key must be a record (its type is an enum "Color")',
        "2 errors found",
    ]


# --- the empty union -------------------------------------------------------------------------


def test_the_empty_union_generates_a_type_no_value_has(tmp_path: Path) -> None:
    schema = _record("Never", {"name": "n", "type": []}, {"name": "later", "type": {"type": "array", "items": []}})
    code, output, _ = _generate(tmp_path, {"never.avsc": schema})
    assert code == 0, output
    printed = _run(
        tmp_path,
        """
        import pydantic
        from out import Never, never_serde
        from schemabus.runtime.avro import AvroDecodeError
        from schemabus.runtime.serde import DeserializationError
        for value in (None, 0, "", []):
            try:
                Never(n=value, later=[])
            except pydantic.ValidationError as e:
                assert "an empty Avro union holds no value" in str(e)
            else:
                raise AssertionError(value)
        try:
            never_serde.write(Never.model_construct(n=None, later=[]), bytearray())
        except TypeError as e:
            print(e)
        for index in (b"\\x00", b"\\x02"):
            try:
                never_serde.read(index + b"\\x00", 0)
            except AvroDecodeError as e:
                print(e)
            try:
                never_serde.decode(index + b"\\x00")
            except DeserializationError as e:
                print(e.reason)
        """,
    )
    assert printed.splitlines() == [
        "an empty union holds no value",
        "union index 0 out of range: the union is empty",
        "invalid-payload",
        "union index 1 out of range: the union is empty",
        "invalid-payload",
    ]
    _mypy(tmp_path, "out")


def test_a_default_for_the_empty_union_is_invalid(tmp_path: Path) -> None:
    code, output, _ = _generate(tmp_path, {"never.avsc": _record("Never", {"name": "n", "type": [], "default": None})})
    assert code == 2
    assert 'never.avsc#/fields/0/default: invalid default for field "n": the empty union holds no value' in output


EMPTY, INT, NULL_UNION = "[]", '"int"', '["null"]'


@pytest.mark.parametrize(
    ("reader", "writer"),
    [(EMPTY, INT), (INT, EMPTY), (EMPTY, EMPTY), (EMPTY, NULL_UNION), (NULL_UNION, EMPTY), ('"null"', EMPTY)],
)
def test_the_empty_union_in_compatibility_agrees_with_the_reference(reader: str, writer: str) -> None:
    ours = can_read(AvroVersion.load([("r.avsc", reader)], "r.avsc"), AvroVersion.load([("w.avsc", writer)], "w.avsc"))
    reference = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(reader), avro.schema.parse(writer)
    )
    assert (not ours) == (reference.compatibility == SchemaCompatibilityType.compatible)
    assert {i.rule.id for i in ours} == {t.name.upper() for t in reference.incompatibilities}


def test_check_of_a_field_becoming_the_empty_union(tmp_path: Path) -> None:
    old, new = tmp_path / "old.avsc", tmp_path / "new.avsc"
    old.write_text(json.dumps(_record("R", {"name": "n", "type": ["null", "int"]})))
    new.write_text(json.dumps(_record("R", {"name": "n", "type": []})))
    backward = CliRunner().invoke(main, ["check", "--level", "BACKWARD", "--previous", str(old), str(new)])
    assert backward.exit_code == 1 and "MISSING_UNION_BRANCH" in backward.output
    forward = CliRunner().invoke(main, ["check", "--level", "FORWARD", "--previous", str(old), str(new)])
    assert forward.exit_code == 0, forward.output


# --- defaults and docs -------------------------------------------------------------------------


def test_nan_and_infinite_defaults_import_and_encode_like_fastavro(tmp_path: Path) -> None:
    text = json.dumps(
        _record(
            "Limits",
            {"name": "a", "type": "double", "default": float("nan")},
            {"name": "b", "type": "float", "default": float("inf")},
            {"name": "c", "type": ["double", "null"], "default": float("-inf")},
        )
    )
    assert "NaN" in text and "-Infinity" in text
    code, output, _ = _generate(tmp_path, {"limits.avsc": text})
    assert code == 0, output
    printed = _run(
        tmp_path,
        """
        import io, json, math, fastavro
        from out import Limits, limits_serde
        m = Limits()
        print(math.isnan(m.a), m.b, m.c)
        expected = io.BytesIO()
        fastavro.schemaless_writer(expected, fastavro.parse_schema(json.loads(limits_serde.schema)), {"a": m.a, "b": m.b, "c": m.c})
        print(limits_serde.encode(m) == expected.getvalue())
        """,
    )
    assert printed.splitlines() == ["True inf -inf", "True"]


@pytest.mark.parametrize(("kind", "value"), [("double", "1" + "0" * 400), ("float", "1e39"), ("float", "-3.5e38")])
def test_a_number_default_beyond_its_type_is_invalid(tmp_path: Path, kind: str, value: str) -> None:
    text = f'{{"type": "record", "name": "R", "fields": [{{"name": "x", "type": "{kind}", "default": {value}}}]}}'
    code, output, _ = _generate(tmp_path, {"r.avsc": text})
    assert code == 2
    assert (
        f'r.avsc#/fields/0/default: invalid default for field "x": the number is beyond the range of a {kind}' in output
    )


@pytest.mark.parametrize("doc", ['ends in """', 'ends in ""', 'ends in "', "ends in \\", '"""', '""""""'])
def test_docs_ending_in_quotes_generate(tmp_path: Path, doc: str) -> None:
    schema = _record("Doc", {"name": "a", "type": "int", "doc": doc}, doc=doc)
    code, output, _ = _generate(tmp_path, {"doc.avsc": schema})
    assert code == 0, output
    assert _run(tmp_path, "import out; print(repr(out.Doc.__doc__))").strip() == repr(doc)


# --- deep nesting ------------------------------------------------------------------------------


def _nest(levels: int, leaf: Any = "int") -> Any:
    t = leaf
    for i in range(levels):
        t = {"type": "array", "items": t} if i % 2 == 0 else {"type": "map", "values": t}
    return t


@pytest.mark.parametrize("levels", [11, 200])
def test_deeply_nested_arrays_and_maps_generate_import_and_round_trip(tmp_path: Path, levels: int) -> None:
    schema = _record(
        "Deep",
        {"name": "grid", "type": _nest(levels)},
        {"name": "maybe", "type": ["null", _nest(levels, "string")], "default": None},
    )
    code, output, _ = _generate(tmp_path, {"deep.avsc": schema})
    assert code == 0, output
    printed = _run(
        tmp_path,
        f"""
        import io, json, fastavro
        from out import Deep, deep_serde

        def value(levels, leaf):
            v = leaf
            for i in range(levels):
                wide = i < 6  # two items per level near the leaves, one further out
                v = ([v, v] if wide else [v]) if i % 2 == 0 else ({{"k": v, "j": v}} if wide else {{"k": v}})
            return v

        datum = {{"grid": value({levels}, 7), "maybe": value({levels}, "s")}}
        expected = io.BytesIO()
        fastavro.schemaless_writer(expected, fastavro.parse_schema(json.loads(deep_serde.schema)), datum)
        model = Deep.model_validate(datum)
        ours = deep_serde.encode(model)
        python_writer = bytearray()
        deep_serde.write(model, python_writer)
        print(ours == expected.getvalue(), bytes(python_writer) == ours, len(ours) > {levels})
        print(deep_serde.decode(ours) == model, deep_serde.read(ours, 0) == (model, len(ours)))
        print(fastavro.schemaless_reader(io.BytesIO(ours), fastavro.parse_schema(json.loads(deep_serde.schema))) == datum)
        try:
            Deep.model_validate({{"grid": value({levels}, "not an int")}})
        except Exception as e:
            print(type(e).__name__)
        """,
    )
    assert printed.splitlines() == ["True True True", "True True", "True", "ValidationError"]
    _mypy(tmp_path, "out")


def test_nesting_beyond_the_limit_is_an_error(tmp_path: Path) -> None:
    code, output, _ = _generate(tmp_path, {"deep.avsc": _record("Deep", {"name": "grid", "type": _nest(300)})})
    assert code == 2
    assert "deep.avsc#/fields/0/type" in output and "types nest more than 256 levels deep here" in output


def test_defaults_nest_up_to_64_levels(tmp_path: Path) -> None:
    def arrays(levels: int) -> Any:
        return "int" if levels == 0 else {"type": "array", "items": arrays(levels - 1)}

    def default(levels: int) -> Any:
        return 1 if levels == 0 else [default(levels - 1)]

    deep = _record("Deep", {"name": "a", "type": arrays(64), "default": default(64)})
    code, output, _ = _generate(tmp_path, {"deep.avsc": deep})
    assert code == 0, output
    assert (
        _run(tmp_path, "import out; m = out.Deep(); print(out.deep_serde.decode(out.deep_serde.encode(m)) == m)")
        == "True\n"
    )
    deeper = _record("Deep", {"name": "a", "type": arrays(65), "default": default(65)})
    code, output, _ = _generate(tmp_path, {"deeper.avsc": deeper}, package="out2")
    assert code == 2
    assert 'deeper.avsc#/fields/0/default: invalid default for field "a": it nests more than 64 levels deep' in output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: arrays and objects nest too deep to read"),
        ('{"type": "record", "name": "R", "fields": [], "n": 1' + "0" * 5000 + "}", "invalid JSON: Exceeds the limit"),
    ],
)
def test_json_python_cannot_read_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    code, output, _ = _generate(tmp_path, {"r.avsc": text})
    assert code == 2
    assert f"error: {tmp_path / 'r.avsc'}: {message}" in output


# --- every error of a run together ------------------------------------------------------------


def test_a_bad_default_is_reported_with_an_unknown_type_and_every_bad_field(tmp_path: Path) -> None:
    schema = _record(
        "R",
        {"name": "a", "type": "strng"},
        {"name": "b", "type": "int", "default": "x"},
        {"name": "c"},
        {"name": "d", "type": {"type": "enum", "name": "E", "symbols": ["A", "A"]}},
        {"name": "e", "type": "long", "default": 1.5},
    )
    code, output, _ = _generate(tmp_path, {"r.avsc": schema})
    assert code == 2
    file = tmp_path / "r.avsc"
    assert output.splitlines() == [
        f'error: {file}#/fields/2: field "c" needs a "type"',
        f"error: {file}#/fields/3/type/symbols: enum symbols must be unique",
        f'error: {file}#/fields/0/type: unknown type "strng"',
        f'error: {file}#/fields/1/default: invalid default for field "b": "x" is not a valid int',
        f'error: {file}#/fields/4/default: invalid default for field "e": 1.5 is not a valid long',
        "5 errors found",
    ]


def test_catalog_errors_are_reported_together_and_with_schema_errors(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "ok.avsc").write_text(json.dumps(_record("Ok")))
    (tmp_path / "schemas" / "bad.avsc").write_text(json.dumps(_record("Bad", {"name": "a", "type": "nope"})))
    (tmp_path / "schemas" / "catalog.toml").write_text(
        "[defaults]\nreplicas = 3\n"
        '[topics."Bad.name"]\nvalue = "ok.avsc"\npartitions = 0\n'
        '[topics."a.b.c"]\nvalue = "missing.avsc"\ncompatibility = "SIDEWAYS"\nretention = "7 weeks"\n'
        '[topics."a.b.d"]\nvalue = "bad.avsc"\n'
    )
    (tmp_path / "pyproject.toml").write_text("[tool.schemabus]\npackage = 'ev'\n")
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    expected = [
        'schemas/bad.avsc#/fields/0/type: unknown type "nope"',
        'schemas/catalog.toml#/defaults/replicas: unknown key "replicas" in [defaults]',
        'schemas/catalog.toml#/topics/Bad.name: topic name "Bad.name" does not follow',
        "schemas/catalog.toml#/topics/Bad.name/partitions: partitions must be a positive integer",
        "schemas/catalog.toml#/topics/a.b.c/compatibility: compatibility must be one of",
        "schemas/catalog.toml#/topics/a.b.c/value: no schema file 'missing.avsc'",
        "schemas/catalog.toml#/topics/a.b.c/retention: retention must be",
    ]
    assert len(lines) == len(expected) + 1 and lines[-1] == f"{len(expected)} errors found"
    for line, start in zip(lines, expected):
        assert line.startswith("error: " + start), (line, start)


# --- check: a first version --------------------------------------------------------------------


@pytest.mark.parametrize("level", ["BACKWARD", "FULL_TRANSITIVE", "NONE"])
def test_check_of_a_file_without_previous_versions_is_a_first_version(tmp_path: Path, level: str) -> None:
    new = tmp_path / "v1.avsc"
    new.write_text(json.dumps(_record("R", {"name": "a", "type": "int"})))
    result = CliRunner().invoke(main, ["check", "--level", level, str(new)])
    assert result.exit_code == 0, result.output
    assert f"no incompatibilities ({level}; a first version, nothing to compare)" in result.output
    new.write_text(json.dumps(_record("R", {"name": "a", "type": "strng"})))
    broken = CliRunner().invoke(main, ["check", "--level", level, str(new)])
    assert broken.exit_code == 2 and 'unknown type "strng"' in broken.output


# --- identifiers as Python reads them ----------------------------------------------------------


def test_identifiers_are_compared_as_python_normalises_them() -> None:
    assert naming.python_name("ﬁeld") == "field" and naming.python_name("ｉｆ") == "if"
    used: set[str] = set()
    assert [naming.unique(naming.identifier(n, ascii_only=False), used) for n in ["field", "ﬁeld", "ｉｆ", "ℌ"]] == [
        "field",
        "field_",
        "if_",
        "H",
    ]
    # Python itself agrees: the two names are one attribute.
    namespace: dict[str, int] = {}
    exec("ﬁeld = 1\nfield = 2", namespace)
    assert namespace["field"] == 2 and "ﬁeld" not in namespace
    assert naming.identifier("ﬁeld") == "field" and naming.identifier("naïve") == "na_ve"
    members: set[str] = set()
    assert [naming.enum_member(s, members) for s in ["A", "_A", "M_A", "a"]] == ["A", "M_A", "M_A_", "a"]
