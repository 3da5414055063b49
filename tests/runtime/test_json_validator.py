"""The JSON serdes' validator (runtime/json_schema.py ``document_validator``): contentEncoding and
contentMediaType are annotations wherever a subschema is, a property named like a data keyword included,
and instance data (``default``, ``examples``...) is left as written."""

from __future__ import annotations

import json

import pytest

from schemabus.runtime.json_schema import document_validator

SCHEMA = {
    "type": "object",
    "properties": {
        "blob": {"type": "string", "contentEncoding": "base64"},
        "default": {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/json"},
        "examples": {"type": "object", "properties": {"raw": {"type": "string", "contentEncoding": "base64"}}},
        "tagged": {"type": "object", "default": {"contentEncoding": "base64"}, "required": ["contentEncoding"]},
    },
}


def test_content_annotations_are_not_checked_under_any_property_name() -> None:
    validate = document_validator(json.dumps(SCHEMA), "2020-12")
    validate({"blob": "not base64!", "default": "not base64 either", "examples": {"raw": "%%%"}})


def test_instance_data_keeps_what_looks_like_a_keyword() -> None:
    validate = document_validator(json.dumps(SCHEMA), "2020-12")
    validate({"tagged": {"contentEncoding": "x"}})
    with pytest.raises(ValueError, match="contentEncoding"):
        validate({"tagged": {}})  # "required" still names it: only keywords of schemas were dropped
    with pytest.raises(ValueError, match="blob"):
        validate({"blob": 1})
