"""`schemabus check --level LEVEL --previous V1 [--previous V2 ...] NEW`: files compared directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main


def _avro(path: Path, *fields: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"type": "record", "name": "Created", "namespace": "agent", "fields": list(fields)}))
    return path


ID = {"name": "agent_id", "type": "string"}
CREATOR = {"name": "creator_id", "type": "string"}
CREATOR_WITH_DEFAULT = {"name": "creator_id", "type": "string", "default": ""}


def _check(*args: str | Path) -> Any:
    return CliRunner().invoke(main, ["check", *map(str, args)])


def test_compatible_exits_0(tmp_path: Path) -> None:
    v1 = _avro(tmp_path / "v1.avsc", ID)
    v2 = _avro(tmp_path / "v2.avsc", ID, CREATOR_WITH_DEFAULT)
    result = _check("--level", "FULL", "--previous", v1, v2)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no incompatibilities (FULL)" in result.stderr


def test_incompatible_exits_1_with_file_pointer_and_rule(tmp_path: Path) -> None:
    v1 = _avro(tmp_path / "v1.avsc", ID)
    v2 = _avro(tmp_path / "v2.avsc", ID, CREATOR)
    result = _check("--previous", v1, v2)
    assert result.exit_code == 1
    assert f"{v2}#/fields/1: " in result.output
    assert "(READER_FIELD_MISSING_DEFAULT_VALUE)" in result.output
    assert f"BACKWARD: reader {v2}, writer {v1}" in result.output
    # The same change is fine for FORWARD: old readers ignore the new field.
    assert _check("--level", "FORWARD", "--previous", v1, v2).exit_code == 0


def test_transitive_levels_check_every_earlier_version(tmp_path: Path) -> None:
    v1 = _avro(tmp_path / "v1.avsc", ID)
    v2 = _avro(tmp_path / "v2.avsc", ID, CREATOR)  # v1 -> v2 broke BACKWARD
    v3 = _avro(tmp_path / "v3.avsc", ID, CREATOR)
    assert _check("--level", "BACKWARD", "--previous", v1, "--previous", v2, v3).exit_code == 0
    result = _check("--level", "BACKWARD_TRANSITIVE", "--previous", v1, "--previous", v2, v3)
    assert result.exit_code == 1
    assert f"writer {v1}" in result.output and f"writer {v2}" not in result.output


@pytest.mark.parametrize("fmt", ["json", "github"])
def test_machine_formats(tmp_path: Path, fmt: str) -> None:
    v1 = _avro(tmp_path / "v1.avsc", ID)
    v2 = _avro(tmp_path / "v2.avsc", ID, CREATOR)
    result = _check("--format", fmt, "--previous", v1, v2)
    assert result.exit_code == 1
    if fmt == "json":
        (finding,) = json.loads(result.stdout)["findings"]
        assert finding["rule"] == "READER_FIELD_MISSING_DEFAULT_VALUE"
        assert (finding["file"], finding["pointer"]) == (str(v2), "/fields/1")
        assert (finding["level"], finding["reader"], finding["writer"]) == ("BACKWARD", str(v2), str(v1))
    else:
        assert result.stdout.startswith(f"::error file={v2},title=READER_FIELD_MISSING_DEFAULT_VALUE (BACKWARD)::")


def test_json_schema_with_a_ref_to_another_file(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "err.json").write_text(
        '{"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}'
    )
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    body = '{"type": "object", "properties": {"id": {"type": "%s"}, "error": {"$ref": "common/err.json"}}, "additionalProperties": false}'
    old.write_text(body % "string")
    new.write_text(body % "integer")
    result = _check("--previous", old, new)
    assert result.exit_code == 1
    assert f"{new}#/properties/id: " in result.output and "(TYPE_CHANGED)" in result.output
    assert _check("--previous", old, old).exit_code == 0


def test_usage_and_schema_errors_exit_2(tmp_path: Path) -> None:
    v1 = _avro(tmp_path / "v1.avsc", ID)
    assert _check("--previous", v1).exit_code == 2  # no NEW
    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "strng"}]}')
    result = _check("--previous", v1, bad)
    assert result.exit_code == 2
    assert f'error: {bad}#/fields/0/type: unknown type "strng"' in result.output
    mixed = _check("--previous", v1, tmp_path / "v1.avsc")
    assert mixed.exit_code == 0
    (tmp_path / "x.json").write_text("{}")
    assert _check("--previous", v1, tmp_path / "x.json").exit_code == 2


def test_files_that_cannot_be_compared_are_named_all_at_once(tmp_path: Path) -> None:
    v1 = _avro(tmp_path / "v1.avsc", ID)
    latin1 = tmp_path / "v2.avsc"
    latin1.write_bytes('{"doc": "caf\xe9"}'.encode("latin-1"))
    broken = tmp_path / "v3.avsc"
    broken.write_text("{")
    result = _check("--level", "BACKWARD", "--previous", v1, "--previous", latin1, broken)
    assert result.exit_code == 2, result.output
    assert f"{latin1}: cannot read" in result.output and f"{broken}: invalid JSON" in result.output
    text = tmp_path / "v1.txt"
    text.write_text("{}")
    unknown = _check("--previous", text, v1)
    assert unknown.exit_code == 2 and "unknown schema file type (expected .avsc or .json)" in unknown.output


def test_json_schema_files_are_compared_with_the_files_their_refs_reach(tmp_path: Path) -> None:
    """Each version is read with the files its $refs reach, from its own folder; a $ref to a file
    that is not there is an error of that version."""
    for version, kind in (("v1", "string"), ("v2", "integer")):
        folder = tmp_path / version
        folder.mkdir()
        (folder / "common.json").write_text(json.dumps({"$defs": {"Id": {"type": kind}}}))
        event = {"type": "object", "properties": {"id": {"$ref": "common.json#/$defs/Id"}}}
        (folder / "event.json").write_text(json.dumps(event))
    v1, v2 = tmp_path / "v1" / "event.json", tmp_path / "v2" / "event.json"
    result = _check("--level", "BACKWARD", "--previous", v1, v2)
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'v2' / 'common.json'}#/$defs/Id: the reader expects an integer" in result.output
    assert "(TYPE_CHANGED)" in result.output
    (tmp_path / "v2" / "event.json").write_text(json.dumps({"properties": {"gone": {"$ref": "missing.json"}}}))
    missing = _check("--level", "BACKWARD", "--previous", v1, v2)
    assert missing.exit_code == 2 and "$ref 'missing.json': no schema file" in missing.output
