"""The corpus manifest without the network: every handwritten file is listed, parses and is a valid
schema; the helpers that describe files tell drafts and shapes apart. (The test that generates code
for the whole corpus downloads the registry sources through corpus.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import jsonschema
import pytest
from jsonschema.validators import validator_for

from .corpus import (
    HANDWRITTEN,
    _avpr_types,
    _handwritten_files,
    _load_manifest,
    avro_shape,
    json_draft,
)


def test_every_handwritten_file_is_listed_once_and_exists() -> None:
    _, entries = _load_manifest()
    listed = [e["path"] for e in entries]
    assert len(listed) == len(set(listed))
    on_disk = sorted(p.relative_to(HANDWRITTEN).as_posix() for p in HANDWRITTEN.rglob("*") if p.is_file())
    assert sorted(listed) == on_disk
    assert all(e.get("modelled_on") for e in entries)


def test_sources_pin_exact_versions_and_name_a_licence() -> None:
    sources, _ = _load_manifest()
    assert sources
    for source in sources:
        assert source.licence and source.selects
        assert not any(c in source.version for c in "<>=*~^, "), source.version
        for select in source.selects:
            assert bool(select.files) != bool(select.globs), f"{source.id}: files or globs, not both"


def _avro_groups() -> dict[str, list[Path]]:
    _, entries = _load_manifest()
    groups: dict[str, list[Path]] = {}
    for f in _handwritten_files(entries, "avro"):
        groups.setdefault(f.group, []).append(f.path)
    return groups


AVRO_GROUPS = _avro_groups()


@pytest.mark.parametrize("group", sorted(AVRO_GROUPS))
def test_handwritten_avro_parses_with_fastavro(group: str) -> None:
    # Files of a group use each other's named types: parse them in dependency order, sharing names.
    pending = list(AVRO_GROUPS[group])
    named: dict[str, object] = {}
    while pending:
        progress = False
        for path in list(pending):
            try:
                fastavro.parse_schema(json.loads(path.read_text(encoding="utf-8")), named_schemas=named)
            except fastavro.schema.UnknownType:
                continue
            pending.remove(path)
            progress = True
        assert progress, f"unresolvable names in {[p.name for p in pending]}"


def _json_files() -> list[Path]:
    _, entries = _load_manifest()
    return [f.path for f in _handwritten_files(entries, "json")]


@pytest.mark.parametrize("path", _json_files(), ids=lambda p: p.relative_to(HANDWRITTEN).as_posix())
def test_handwritten_json_is_a_valid_schema_of_its_draft(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    validator_for(document, default=jsonschema.Draft7Validator).check_schema(document)


def test_handwritten_files_cover_every_draft_and_shape() -> None:
    _, entries = _load_manifest()
    drafts = {f.draft for f in _handwritten_files(entries, "json")}
    assert {"draft-04", "draft-06", "draft-07", "2019-09", "2020-12"} <= drafts
    shapes = {f.shape for f in _handwritten_files(entries, "avro")}
    assert {"record", "enum", "fixed", "schema-list", "union", "array", "map", "primitive"} <= shapes
    assert any(f.group != f.name for f in _handwritten_files(entries, "avro"))


def test_json_draft() -> None:
    assert json_draft({}) == "draft-07"
    assert json_draft(True) == "draft-07"
    assert json_draft({"$schema": "http://json-schema.org/draft-04/schema#"}) == "draft-04"
    assert json_draft({"$schema": "https://json-schema.org/draft/2019-09/schema"}) == "2019-09"
    assert json_draft({"$schema": "https://json-schema.org/draft/2020-12/schema"}) == "2020-12"
    assert json_draft({"$schema": "http://json-schema.org/schema#"}) == "latest"
    assert json_draft({"$schema": "https://example.com/meta.json"}) == "unknown"


def test_avro_shape() -> None:
    assert avro_shape({"type": "record", "name": "R", "fields": []}) == "record"
    assert avro_shape({"type": "error", "name": "E", "fields": []}) == "record"
    assert avro_shape({"type": "enum", "name": "E", "symbols": ["A"]}) == "enum"
    assert avro_shape({"type": "fixed", "name": "F", "size": 1}) == "fixed"
    assert avro_shape("string") == "primitive"
    assert avro_shape({"type": "long"}) == "primitive"
    assert avro_shape({"type": "array", "items": "int"}) == "array"
    assert avro_shape([{"type": "enum", "name": "E", "symbols": ["A"]}]) == "schema-list"
    assert avro_shape(["null", "string"]) == "union"
    assert avro_shape("com.example.Named") == "reference"


def test_avpr_types_gives_top_level_types_the_protocol_namespace() -> None:
    protocol = {
        "protocol": "P",
        "namespace": "org.example",
        "types": [
            {"type": "enum", "name": "E", "symbols": ["A"]},
            {"type": "record", "name": "other.R", "fields": [{"name": "e", "type": "org.example.E"}]},
            {"type": "fixed", "name": "F", "namespace": "x", "size": 2},
        ],
        "messages": {},
    }
    types = json.loads(_avpr_types(json.dumps(protocol).encode()))
    assert [t.get("namespace") for t in types] == ["org.example", None, "x"]
    fastavro.parse_schema(types)
