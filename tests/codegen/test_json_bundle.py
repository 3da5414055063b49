"""The one document a JSON Schema file is registered as (codegen/load/jsonschema.py ``bundle``): every
``$ref`` found wherever a subschema may be, whatever its property or definition is called, and what
bundling cannot keep the meaning of refused at generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemabus.codegen.compat.local import check_files
from schemabus.codegen.diagnostics import SchemaError
from schemabus.codegen.load.jsonschema import load_json_schema_files

D2020 = "https://json-schema.org/draft/2020-12/schema"
PROFILE = {"$schema": D2020, "title": "Profile", "type": "object", "properties": {"n": {"type": "integer"}}}
PROFILE["required"] = ["n"]

# Properties and definitions named like the keywords that hold instance data (whose "$ref"s are text).
SETTINGS = {
    "$schema": D2020,
    "title": "Settings",
    "type": "object",
    "properties": {
        "default": {"$ref": "profile.json"},
        "enum": {"$ref": "#/$defs/const"},
        "examples": {"type": "array", "items": {"$ref": "profile.json"}},
        "fallback": {"type": "object", "default": {"$ref": "not-a-file.json"}},
    },
    "$defs": {"const": {"$ref": "profile.json"}},
}


def _load(files: dict[str, Any]) -> dict[str, Any]:
    return load_json_schema_files([(name, json.dumps(doc)) for name, doc in files.items()])


def test_refs_under_properties_and_definitions_named_default_enum_examples_or_const_are_bundled() -> None:
    bundled = json.loads(_load({"settings.json": SETTINGS, "profile.json": PROFILE})["settings.json"].bundled)
    properties = bundled["properties"]
    assert properties["default"] == {"$ref": "#/$defs/profile.json"}
    assert properties["enum"] == {"$ref": "#/$defs/const"}
    assert properties["examples"]["items"] == {"$ref": "#/$defs/profile.json"}
    assert bundled["$defs"]["const"] == {"$ref": "#/$defs/profile.json"}
    assert properties["fallback"]["default"] == {"$ref": "not-a-file.json"}  # instance data, left as it is
    assert bundled["$defs"]["profile.json"]["required"] == ["n"]
    # The registered document stands alone: a validator with no other file reads it.
    validator = jsonschema.Draft202012Validator(bundled)
    assert validator.is_valid({"default": {"n": 1}, "enum": {"n": 2}, "examples": [{"n": 3}]})
    assert not validator.is_valid({"default": {"n": "one"}})
    assert not validator.is_valid({"enum": {}})


def test_the_offline_compatibility_check_follows_a_ref_under_a_property_named_default(tmp_path: Path) -> None:
    (tmp_path / "profile.json").write_text(json.dumps(PROFILE))
    (tmp_path / "settings.json").write_text(json.dumps(SETTINGS))
    old = tmp_path / "old"
    old.mkdir()
    (old / "settings.json").write_text(json.dumps(SETTINGS))
    (old / "profile.json").write_text(json.dumps({**PROFILE, "required": []}))
    # The new profile requires "n": an old document without it no longer reads.
    findings = check_files("FORWARD", [old / "settings.json"], tmp_path / "settings.json")
    assert not findings
    findings = check_files("BACKWARD", [old / "settings.json"], tmp_path / "settings.json")
    assert findings, "the profile reached through properties/default was not compared"


GENERIC_LIST = {  # a list of T, specialised to strings through $dynamicRef
    "$schema": D2020,
    "$id": "https://example.com/string-list.json",
    "$ref": "#/$defs/list",
    "$defs": {
        "item": {"$dynamicAnchor": "T", "type": "string"},
        "list": {
            "$id": "list",
            "type": "array",
            "items": {"$dynamicRef": "#T"},
            "$defs": {"default": {"$dynamicAnchor": "T", "not": True}},
        },
    },
}


def test_a_dynamic_anchor_two_resources_declare_is_refused_with_both_places() -> None:
    with pytest.raises(SchemaError) as caught:
        _load({"list.json": GENERIC_LIST})
    error = caught.value
    assert str(error.source) == "list.json#/$defs/list/$defs/default"
    assert "declared here and at list.json#/$defs/item" in error.message and "does not support" in error.message


def test_a_dynamic_anchor_declared_once_bundles() -> None:
    tree = {
        "$schema": D2020,
        "$dynamicAnchor": "node",
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$dynamicRef": "#node"}}},
    }
    bundled = json.loads(_load({"tree.json": tree})["tree.json"].bundled)
    validator = jsonschema.Draft202012Validator(bundled)
    assert validator.is_valid({"children": [{"children": []}]}) and not validator.is_valid({"children": [1]})
