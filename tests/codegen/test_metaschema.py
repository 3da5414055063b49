"""The fast metaschema check (codegen/load/metaschema.py) against the ``jsonschema`` package.

Loading trusts jsonschema-rs's "valid" and asks ``jsonschema`` otherwise, so a document that
jsonschema-rs accepts must be valid for ``jsonschema`` too, in every draft. Valid files (this
repository's and the golden cases') must take the fast path, and the known corners where
jsonschema-rs is stricter stay on the ``jsonschema`` side.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema.validators
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemabus.codegen.diagnostics import SchemaErrors
from schemabus.codegen.load.json_drafts import Draft
from schemabus.codegen.load.jsonschema import load_json_schema_files
from schemabus.codegen.load.metaschema import accepts

from ..conftest import GOLDEN, ROOT

DRAFTS = list(Draft)


def reference_valid(document: Any, draft: Draft) -> bool:
    cls = jsonschema.validators.validator_for({"$schema": draft.metaschema})
    return not any(True for _ in cls(cls.META_SCHEMA).iter_errors(document))


def repository_documents() -> list[tuple[str, Any]]:
    paths = sorted([*(ROOT / "schemas").rglob("*.json"), *GOLDEN.rglob("schemas/**/*.json")])
    return [(p.relative_to(ROOT).as_posix(), json.loads(p.read_text(encoding="utf-8"))) for p in paths]


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.value)
def test_valid_files_take_the_fast_path(draft: Draft) -> None:
    documents = repository_documents()
    assert len(documents) >= 10
    for name, document in documents:
        assert accepts(document, draft) == reference_valid(document, draft), name


# Documents whose validity differs between drafts or that exercise a keyword's value rules.
CORNERS: list[Any] = [
    {"type": "strin"},
    {"type": ["string", "string"]},
    {"type": []},
    {"enum": []},
    {"enum": [1, 1.0]},
    {"enum": [True, 1]},
    {"enum": [[1], [1.0]]},
    {"required": []},
    {"required": ["a", "a"]},
    {"minLength": 1.0},
    {"minLength": 1.5},
    {"minLength": -1},
    {"minLength": True},
    {"maxLength": 10**400},
    {"multipleOf": 0},
    {"exclusiveMaximum": True, "maximum": 1},
    {"exclusiveMaximum": 3},
    {"items": [{}, True]},
    {"prefixItems": [{}], "items": False},
    {"dependencies": {"a": ["b"], "c": {"type": "string"}}},
    {"dependencies": {"a": 1}},
    {"dependentRequired": {"a": ["b", "b"]}},
    {"$ref": 1},
    {"$anchor": "1bad"},
    {"$anchor": "good"},
    {"$dynamicAnchor": "meta"},
    {"$recursiveAnchor": 1},
    {"id": 3},
    {"$id": 3},
    {"definitions": {"a": True}},
    {"$defs": {"a": 3}},
    {"properties": {"a": {"enum": []}}},
    {"not": {"type": "strin"}},
    {"contains": []},
    {"if": 1},
    {"unevaluatedProperties": 3},
    {"format": 3},
    {"pattern": "[a"},
    {"$vocabulary": {"x": 1}},
    True,
    False,
]


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.value)
def test_corners(draft: Draft) -> None:
    for document in CORNERS:
        if accepts(document, draft):
            assert reference_valid(document, draft), json.dumps(document)


def test_the_metaschemas_are_jsonschemas_own() -> None:
    """jsonschema-rs's own copy of draft-04 accepts an empty enum; the official metaschema does not."""
    assert not accepts({"enum": []}, Draft.DRAFT4)
    assert not accepts({"properties": {"a": {"enum": []}}}, Draft.DRAFT4)
    assert accepts({"enum": []}, Draft.DRAFT2020_12) and reference_valid({"enum": []}, Draft.DRAFT2020_12)
    for enum in ([], ["x", "x"]):
        text = json.dumps({"$schema": Draft.DRAFT4.metaschema, "properties": {"a": {"enum": enum}}})
        with pytest.raises(SchemaErrors) as caught:
            load_json_schema_files([("a.json", text)])
        assert [str(e) for e in caught.value.errors] == [
            "a.json#/properties/a/enum: [] is below the minItems of 1"
            if not enum
            else 'a.json#/properties/a/enum: ["x", "x"] has repeated items'
        ]


@pytest.mark.parametrize("draft", [Draft.DRAFT2019_09, Draft.DRAFT2020_12], ids=lambda d: d.value)
def test_stricter_corners_go_to_jsonschema(draft: Draft) -> None:
    """Where jsonschema-rs refuses what jsonschema accepts, loading still accepts it."""
    for document in [{"$anchor": "foo\n"}, {"minimum": float("inf")}]:
        assert not accepts(document, draft) and reference_valid(document, draft)
    text = json.dumps({"$schema": draft.metaschema, "$anchor": "foo\n"})
    assert load_json_schema_files([("a.json", text)])["a.json"].document["$anchor"] == "foo\n"


KEYWORDS = [
    *("type", "properties", "items", "additionalProperties", "required", "enum", "const", "minLength"),
    *("maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern"),
    *("patternProperties", "allOf", "anyOf", "oneOf", "not", "$ref", "$id", "id", "$schema", "definitions"),
    *("$defs", "dependencies", "dependentRequired", "dependentSchemas", "prefixItems", "additionalItems"),
    *("contains", "minContains", "maxContains", "propertyNames", "if", "then", "else", "format", "title"),
    *("default", "examples", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties"),
    *("$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef", "$recursiveAnchor", "unevaluatedItems"),
    *("unevaluatedProperties", "$comment", "readOnly", "deprecated", "contentSchema", "$vocabulary", "x-a"),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([1.0, 0.0, -0.5, 2.5, 10**20, 2**64 + 1]),
    st.sampled_from(["", "a", "#", "#/definitions/a", "string", "integer", "null", "^a$", "[", "#a", "a\n"]),
)


def _schemas(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    values = st.one_of(
        children,
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "$ref", "type"]), children, max_size=2),
        st.lists(st.sampled_from(["string", "integer", "object", "null", "strin"]), max_size=3),
    )
    return st.dictionaries(st.sampled_from(KEYWORDS), values, max_size=4)


SCHEMAS = st.recursive(st.one_of(SCALARS, st.booleans()), _schemas, max_leaves=12)


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.value)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=SCHEMAS)
def test_accepted_means_valid(draft: Draft, document: Any) -> None:
    if accepts(document, draft):
        assert reference_valid(document, draft), json.dumps(document)
