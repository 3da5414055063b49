"""User mistakes give `file#/pointer: message`, exit 2 and no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main

RECORD: dict[str, Any] = {"type": "record", "name": "Created", "namespace": "agent", "fields": []}


def _record(*fields: dict[str, Any], **extra: Any) -> str:
    return json.dumps({**RECORD, "fields": list(fields), **extra})


AVRO_CASES = [
    (
        _record(
            {"name": "a", "type": "string"},
            {"name": "b", "type": "int"},
            {"name": "c", "type": "long"},
            {"name": "d", "type": "strng"},
        ),
        '#/fields/3/type: unknown type "strng"',
    ),
    ("{not json", ": invalid JSON at line 1 column 2"),
    (_record({"name": "a"}), '#/fields/0: field "a" needs a "type"'),
    (_record({"name": "a", "type": "int"}, {"name": "a", "type": "int"}), '#/fields/1/name: field "a" appears twice'),
    (_record({"name": "n", "type": "int", "default": "x"}), '#/fields/0/default: invalid default for field "n"'),
    (
        _record({"name": "u", "type": ["null", "string"], "default": "x"}),
        '#/fields/0/default: invalid default for field "u": "x" is not a valid null',
    ),
    (
        _record({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "A"]}}),
        "#/fields/0/type/symbols: enum symbols must be unique",
    ),
    (
        _record({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"], "default": "B"}}),
        '#/fields/0/type/default: enum default "B" is not one of its symbols',
    ),
    (
        _record({"name": "u", "type": ["null", "string", "string"]}),
        "#/fields/0/type/2: a union may hold only one string",
    ),
    (
        _record({"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 0}}),
        "#/fields/0/type/precision: decimal precision must be a positive integer",
    ),
    (
        _record(
            {"name": "f", "type": {"type": "fixed", "name": "F", "size": 2, "logicalType": "decimal", "precision": 9}}
        ),
        "#/fields/0/type/precision: fixed(2) holds at most 5 decimal digits",
    ),
    (json.dumps({"type": "record", "fields": []}), '#/name: a record needs a "name"'),
    (_record({"name": "a", "type": "int", "order": "up"}), "#/fields/0/order: order must be one of"),
    (
        _record({"name": "r", "type": {"type": "record", "name": "Created", "fields": []}}),
        '#/fields/0/type: "agent.Created" is defined twice',
    ),
]


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize(("text", "expected"), AVRO_CASES, ids=[c[1][:40] for c in AVRO_CASES])
def test_avro_errors_name_file_and_pointer(tmp_path: Path, text: str, expected: str) -> None:
    schema = tmp_path / "created.avsc"
    schema.write_text(text)
    result = _run(["generate", "--output", str(tmp_path / "out"), str(schema)])
    assert result.exit_code == 2, result.output
    assert f"error: {schema}{expected}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


JSON_CASES = [
    ('{"type": "object", "properties": {"a": {"type": "strng"}}}', "#/properties/a/type: "),
    (
        '{"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}',
        "#/properties/a/$ref: $ref '#/$defs/Missing': nothing at #/$defs/Missing",
    ),
    (
        '{"type": "object", "properties": {"a": {"$ref": "other.json"}}}',
        "#/properties/a/$ref: $ref 'other.json': no schema file 'other.json'",
    ),
    ('{"type": "object", "required": "a"}', '#/required: "a" is not of type "array"'),
]


@pytest.mark.parametrize(("text", "expected"), JSON_CASES, ids=[c[1][:40] for c in JSON_CASES])
def test_json_schema_errors_name_file_and_pointer(tmp_path: Path, text: str, expected: str) -> None:
    schema = tmp_path / "thing.schema.json"
    schema.write_text(text)
    result = _run(["generate", "--output", str(tmp_path / "out"), str(schema)])
    assert result.exit_code == 2, result.output
    assert f"error: {schema}{expected}" in result.output
    assert "Traceback" not in result.output


def _project(tmp_path: Path, catalog: str, pyproject: str = "") -> Path:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "created.avsc").write_text(_record({"name": "a", "type": "string"}))
    (tmp_path / "schemas" / "catalog.toml").write_text(catalog)
    (tmp_path / "pyproject.toml").write_text("[tool.schemabus]\npackage = 'ev'\n" + pyproject)
    return tmp_path


CATALOG_CASES = [
    (
        '[topics."Agent.created"]\nvalue = "created.avsc"\n',
        'catalog.toml#/topics/Agent.created: topic name "Agent.created" does not follow',
    ),
    ('[topics."a.b.c"]\nvalue = "missing.avsc"\n', "catalog.toml#/topics/a.b.c/value: no schema file 'missing.avsc'"),
    (
        '[topics."a.b.c"]\nvalue = "created.avsc"\npartitions = 0\n',
        "catalog.toml#/topics/a.b.c/partitions: partitions must be a positive integer",
    ),
    (
        '[topics."a.b.c"]\nvalue = "created.avsc"\ncompatibility = "SIDEWAYS"\n',
        "catalog.toml#/topics/a.b.c/compatibility: compatibility must be one of",
    ),
    (
        '[topics."a.b.c"]\nvalue = "created.avsc"\nretention = "7 weeks"\n',
        "catalog.toml#/topics/a.b.c/retention: retention must be",
    ),
    (
        '[topics."a.b.c"]\nvalue = "created.avsc"\nreplicas = 3\n',
        'catalog.toml#/topics/a.b.c/replicas: unknown key "replicas"',
    ),
    ('[topics."a.b.c"]\nvalue = "created.avsc"\n[topics."a.b.c"]\n', "catalog.toml: invalid TOML"),
]


@pytest.mark.parametrize(("catalog", "expected"), CATALOG_CASES, ids=[c[1][14:50] for c in CATALOG_CASES])
def test_catalog_errors(tmp_path: Path, catalog: str, expected: str) -> None:
    root = _project(tmp_path, catalog)
    result = _run(["generate", "--project", str(root)])
    assert result.exit_code == 2, result.output
    assert f"error: schemas/{expected}" in result.output
    assert "Traceback" not in result.output


def test_unknown_config_key_is_rejected_with_its_name(tmp_path: Path) -> None:
    root = _project(tmp_path, '[topics."a.b.c"]\nvalue = "created.avsc"\n', "ouptut = 'gen'\n")
    result = _run(["generate", "--project", str(root)])
    assert result.exit_code == 2
    assert 'error: pyproject.toml#/tool/schemabus/ouptut: unknown key "ouptut" in [tool.schemabus]' in result.output


def test_all_errors_of_a_run_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.avsc").write_text(_record({"name": "x", "type": "nope"}))
    (tmp_path / "b.avsc").write_text(_record({"name": "y", "type": "int", "default": "s"}, name="B"))
    result = _run(["generate", "--output", str(tmp_path / "out"), str(tmp_path / "a.avsc"), str(tmp_path / "b.avsc")])
    assert result.exit_code == 2
    assert "a.avsc#/fields/0/type" in result.output
    assert "b.avsc#/fields/0/default" in result.output
    assert "2 errors found" in result.output


def test_files_mode_generates_an_importable_package(tmp_path: Path) -> None:
    (tmp_path / "a.avsc").write_text(_record({"name": "x", "type": "string"}))
    out = tmp_path / "pkg_out"
    result = _run(["generate", "-q", "--output", str(out), str(tmp_path / "a.avsc")])
    assert result.exit_code == 0, result.output
    import subprocess
    import sys

    code = "import pkg_out; m = pkg_out.Created(x='hi'); print(pkg_out.created_serde.encode(m).hex())"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "04" + b"hi".hex()


def test_a_json_title_taken_by_an_avro_record_is_qualified_by_its_file(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        '[topics."a.b.c"]\nvalue = "created.avsc"\n[topics."a.b.d"]\nvalue = "other.schema.json"\n',
    )
    (root / "schemas" / "other.schema.json").write_text('{"title": "Created", "type": "object", "properties": {}}')
    result = _run(["generate", "--project", str(root)])
    assert result.exit_code == 0, result.output
    topics = (root / "generated" / "ev" / "a" / "topics.py").read_text()  # the subpackage of domain "a"
    assert "Topic[None, Created]" in topics and "Topic[None, OtherCreated]" in topics


@pytest.mark.parametrize("name", ["ABCBatchHandler", "ABCBatchHandlerFn", "ABCHandler", "ABCPublisher", "A_B_C"])
def test_a_model_named_like_a_name_generated_for_a_topic_is_an_error_naming_the_topic(
    tmp_path: Path, name: str
) -> None:
    root = _project(tmp_path, '[topics."a.b.c"]\nvalue = "created.avsc"\n')
    (root / "schemas" / "created.avsc").write_text(_record({"name": "a", "type": "string"}, name=name))
    result = _run(["generate", "--project", str(root)])
    assert result.exit_code == 2, result.output
    assert (
        f"error: schemas/catalog.toml#/topics/a.b.c: a model is named {name!r}, a name generated for topic "
        '"a.b.c"; give the model another name' in result.output
    )
    assert "Traceback" not in result.output


def test_two_topics_that_generate_the_same_name_are_an_error_naming_both(tmp_path: Path) -> None:
    # Topic "a.b.c_batch"'s handler and topic "a.b.c"'s batch handler are both ABCBatchHandler.
    root = _project(
        tmp_path, '[topics."a.b.c"]\nvalue = "created.avsc"\n[topics."a.b.c_batch"]\nvalue = "created.avsc"\n'
    )
    result = _run(["generate", "--project", str(root)])
    assert result.exit_code == 2, result.output
    assert (
        'error: schemas/catalog.toml#/topics/a.b.c_batch: topics "a.b.c" and "a.b.c_batch" both generate the '
        "name 'ABCBatchHandler'; rename one" in result.output
    )
    assert not (root / "generated").exists()
