"""JSON Schema compatibility rules: one fixture pair (or more) per Confluent ``Difference.Type``.

Each pair is (writer, reader): the writer's schema lives in ``v1.json``, the reader's in ``v2.json``,
so every expected location also says which schema it points into. A case lists *all* differences
(compatible ones too, as ``differences()`` reports them); ``can_read`` must return exactly the
incompatible ones, with the same rule IDs and locations.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from schemabus.codegen.compat import findings
from schemabus.codegen.compat.json_rules import (
    COMPATIBLE_CHANGES,
    RULES,
    JsonVersion,
    can_read,
    differences,
)
from schemabus.codegen.compat.levels import Version, check_level
from schemabus.codegen.diagnostics import SchemaError
from schemabus.codegen.load.jsonschema import bundle, index_documents

from ..conftest import ROOT

S: dict[str, Any] = {"type": "string"}
I: dict[str, Any] = {"type": "integer"}  # noqa: E741
B: dict[str, Any] = {"type": "boolean"}


def obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def val(schema: Any) -> dict[str, Any]:
    """``schema`` as property ``v`` of an object: its findings point under ``#/properties/v``."""
    return obj({"v": schema})


def string(**keywords: Any) -> dict[str, Any]:
    return {"type": "string", **keywords}


def number(type: str = "number", **keywords: Any) -> dict[str, Any]:
    return {"type": type, **keywords}


def array(**keywords: Any) -> dict[str, Any]:
    return {"type": "array", **keywords}


def closed(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return obj(props, required, additionalProperties=False, **extra)


V = "v2.json#/properties/v"  # the reader's property v
W = "v1.json#/properties/v"  # the writer's property v

CASES = [
    # --- objects: properties against the content model ---
    ("open-add", obj({"a": S}), obj({"a": S, "b": I}), ["PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL v2.json#/properties/b"]),
    (
        "open-add-any-schema",
        obj({"a": S}),
        obj({"a": S, "b": {"description": "anything"}}),
        ["PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL v2.json#/properties/b"],
    ),
    (
        "open-remove",
        obj({"a": S, "b": I}),
        obj({"a": S}),
        ["PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL v1.json#/properties/b"],
    ),
    (
        "closed-add-optional",
        closed({"a": S}),
        closed({"a": S, "b": I}),
        ["OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/b"],
    ),
    (
        "closed-add-required",
        closed({"a": S}),
        closed({"a": S, "b": I}, ["b"]),
        ["REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/b"],
    ),
    (
        "closed-add-required-with-default",
        closed({"a": S}),
        closed({"a": S, "b": {"type": "integer", "default": 0}}, ["b"]),
        ["REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/b"],
    ),
    (
        "closed-remove",
        closed({"a": S, "b": I}),
        closed({"a": S}),
        ["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL v1.json#/properties/b"],
    ),
    (
        "closed-remove-false",
        closed({"a": S, "b": False}),
        closed({"a": S}),
        ["PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL v1.json#/properties/b"],
    ),
    (
        "partial-add-covered",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S, "b": S}, additionalProperties=S),
        [
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL v2.json#/properties/b",
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/b",
        ],
    ),
    (
        "partial-add-not-covered",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S, "b": I}, additionalProperties=S),
        [
            "TYPE_CHANGED v2.json#/properties/b",
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL v2.json#/properties/b",
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/b",
        ],
    ),
    (
        "pattern-remove-covered",
        closed({"x_a": S}, patternProperties={"^x_": S}),
        closed({}, patternProperties={"^x_": S}),
        ["PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL v1.json#/properties/x_a"],
    ),
    (
        "pattern-remove-not-covered",
        closed({"x_a": I}, patternProperties={"^x_": S}),
        closed({}, patternProperties={"^x_": S}),
        [
            "TYPE_CHANGED v2.json#/patternProperties/^x_",
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL v1.json#/properties/x_a",
        ],
    ),
    (
        "pattern-add-not-covered",
        closed({}, patternProperties={"^x_": S}),
        closed({"x_a": I}, patternProperties={"^x_": S}),
        [
            "TYPE_CHANGED v2.json#/properties/x_a",
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL v2.json#/properties/x_a",
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/x_a",
        ],
    ),
    (
        "pattern-not-matching-is-closed",
        closed({}, patternProperties={"^x_": S}),
        closed({"y": I}, patternProperties={"^x_": S}),
        ["OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL v2.json#/properties/y"],
    ),
    ("required-added", obj({"a": S}), obj({"a": S}, ["a"]), ["REQUIRED_ATTRIBUTE_ADDED v2.json#/required/0"]),
    (
        "required-added-with-default",
        obj({"b": S, "a": string(default="")}),
        obj({"b": S, "a": string(default="")}, ["b", "a"]),
        ["REQUIRED_ATTRIBUTE_ADDED v2.json#/required/0", "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED v2.json#/required/1"],
    ),
    ("required-removed", obj({"a": S}, ["a"]), obj({"a": S}), ["REQUIRED_ATTRIBUTE_REMOVED v1.json#/required/0"]),
    ("required-undeclared-ignored", obj({"a": S}), obj({"a": S}, ["z"]), []),
    (
        "additional-properties-closed",
        obj({"a": S}),
        closed({"a": S}),
        ["ADDITIONAL_PROPERTIES_REMOVED v2.json#/additionalProperties"],
    ),
    (
        "additional-properties-opened",
        closed({"a": S}),
        obj({"a": S}),
        ["ADDITIONAL_PROPERTIES_ADDED v1.json#/additionalProperties"],
    ),
    (
        "additional-properties-schema-added",
        obj({"a": S}),
        obj({"a": S}, additionalProperties=S),
        ["ADDITIONAL_PROPERTIES_NARROWED v2.json#/additionalProperties"],
    ),
    (
        "additional-properties-schema-removed",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S}),
        ["ADDITIONAL_PROPERTIES_EXTENDED v1.json#/additionalProperties"],
    ),
    (
        "additional-properties-schema-narrowed",
        obj({}, additionalProperties=string(maxLength=9)),
        obj({}, additionalProperties=string(maxLength=3)),
        ["MAX_LENGTH_DECREASED v2.json#/additionalProperties/maxLength"],
    ),
    ("max-properties-added", obj({}), obj({}, maxProperties=3), ["MAX_PROPERTIES_ADDED v2.json#/maxProperties"]),
    (
        "max-properties-increased",
        obj({}, maxProperties=3),
        obj({}, maxProperties=4),
        ["MAX_PROPERTIES_INCREASED v2.json#/maxProperties"],
    ),
    (
        "max-properties-decreased",
        obj({}, maxProperties=4),
        obj({}, maxProperties=3),
        ["MAX_PROPERTIES_DECREASED v2.json#/maxProperties"],
    ),
    ("min-properties-added", obj({}), obj({}, minProperties=1), ["MIN_PROPERTIES_ADDED v2.json#/minProperties"]),
    (
        "min-properties-increased",
        obj({}, minProperties=1),
        obj({}, minProperties=2),
        ["MIN_PROPERTIES_INCREASED v2.json#/minProperties"],
    ),
    (
        "min-properties-removed",
        obj({}, minProperties=1),
        obj({}),
        ["MIN_PROPERTIES_REMOVED v1.json#/minProperties"],
    ),
    # --- objects: dependencies ---
    (
        "dependency-added",
        obj({}),
        obj({}, dependencies={"a": ["b"]}),
        ["DEPENDENCY_ARRAY_ADDED v2.json#/dependencies/a"],
    ),
    (
        "dependency-extended",
        obj({}, dependencies={"a": ["b"]}),
        obj({}, dependencies={"a": ["b", "c"]}),
        ["DEPENDENCY_ARRAY_EXTENDED v2.json#/dependencies/a"],
    ),
    (
        "dependency-narrowed",
        obj({}, dependencies={"a": ["b", "c"]}),
        obj({}, dependencies={"a": ["c"]}),
        ["DEPENDENCY_ARRAY_NARROWED v2.json#/dependencies/a"],
    ),
    (
        "dependency-changed",
        obj({}, dependencies={"a": ["b"]}),
        obj({}, dependencies={"a": ["c"]}),
        ["DEPENDENCY_ARRAY_CHANGED v2.json#/dependencies/a"],
    ),
    (
        "dependency-removed",
        obj({}, dependencies={"a": ["b"]}),
        obj({}),
        ["DEPENDENCY_ARRAY_REMOVED v1.json#/dependencies/a"],
    ),
    (
        "dependent-required-added",
        obj({}),
        obj({}, dependentRequired={"a": ["b"]}),
        ["DEPENDENCY_ARRAY_ADDED v2.json#/dependentRequired/a"],
    ),
    (
        "dependent-schema-added",
        obj({}),
        obj({}, dependentSchemas={"a": obj({"b": S})}),
        ["DEPENDENCY_SCHEMA_ADDED v2.json#/dependentSchemas/a"],
    ),
    (
        "dependent-schema-changed",
        obj({}, dependencies={"a": obj({"b": S})}),
        obj({}, dependencies={"a": obj({"b": string(maxLength=3)})}),
        ["MAX_LENGTH_ADDED v2.json#/dependencies/a/properties/b/maxLength"],
    ),
    (
        "dependent-schema-removed",
        obj({}, dependentSchemas={"a": obj({"b": S})}),
        obj({}),
        ["DEPENDENCY_SCHEMA_REMOVED v1.json#/dependentSchemas/a"],
    ),
    # --- types ---
    ("integer-to-number", val(I), val(number()), [f"TYPE_EXTENDED {V}/type"]),
    ("number-to-integer", val(number()), val(I), [f"TYPE_NARROWED {V}/type"]),
    ("string-to-integer", val(S), val(I), [f"TYPE_CHANGED {V}"]),
    ("boolean-to-null", val(B), val({"type": "null"}), [f"TYPE_CHANGED {V}"]),
    ("string-to-nullable", val(S), val({"type": ["string", "null"]}), [f"SUM_TYPE_EXTENDED {V}/type"]),
    ("nullable-to-string", val({"type": ["string", "null"]}), val(S), [f"TYPE_CHANGED {V}"]),
    ("nullable-reordered", val({"type": ["string", "null"]}), val({"type": ["null", "string"]}), []),
    ("any-to-string", val({}), val(S), [f"TYPE_CHANGED {V}"]),
    ("string-to-any", val(S), val(True), []),
    ("false-to-string", val(False), val(S), []),
    ("implied-type-equals-declared", val({"maxLength": 3}), val(string(maxLength=3)), []),
    # --- enum and const ---
    (
        "enum-extended",
        val(string(enum=["a"])),
        val(string(enum=["a", "b"])),
        [f"ENUM_ARRAY_EXTENDED {V}/enum"],
    ),
    ("enum-narrowed", val(string(enum=["a", "b"])), val(string(enum=["a"])), [f"ENUM_ARRAY_NARROWED {V}/enum"]),
    ("enum-changed", val({"enum": ["a", "b"]}), val({"enum": ["a", "c"]}), [f"ENUM_ARRAY_CHANGED {V}/enum"]),
    ("enum-values-distinct-by-type", val({"enum": [1]}), val({"enum": [True]}), [f"ENUM_ARRAY_CHANGED {V}/enum"]),
    ("enum-removed", val(string(enum=["a"])), val(S), [f"PRODUCT_TYPE_NARROWED {V}"]),
    ("enum-added", val(S), val(string(enum=["a"])), [f"TYPE_CHANGED {V}"]),
    ("const-changed", val({"const": "a"}), val({"const": "b"}), [f"ENUM_ARRAY_CHANGED {V}/const"]),
    ("const-to-enum", val({"const": "a"}), val({"enum": ["a", "b"]}), [f"TYPE_CHANGED {V}"]),
    # --- strings ---
    ("max-length-added", val(S), val(string(maxLength=5)), [f"MAX_LENGTH_ADDED {V}/maxLength"]),
    ("max-length-removed", val(string(maxLength=5)), val(S), [f"MAX_LENGTH_REMOVED {W}/maxLength"]),
    (
        "max-length-increased",
        val(string(maxLength=5)),
        val(string(maxLength=9)),
        [f"MAX_LENGTH_INCREASED {V}/maxLength"],
    ),
    (
        "max-length-decreased",
        val(string(maxLength=9)),
        val(string(maxLength=5)),
        [f"MAX_LENGTH_DECREASED {V}/maxLength"],
    ),
    ("min-length-added", val(S), val(string(minLength=1)), [f"MIN_LENGTH_ADDED {V}/minLength"]),
    ("min-length-removed", val(string(minLength=1)), val(S), [f"MIN_LENGTH_REMOVED {W}/minLength"]),
    (
        "min-length-increased",
        val(string(minLength=1)),
        val(string(minLength=2)),
        [f"MIN_LENGTH_INCREASED {V}/minLength"],
    ),
    (
        "min-length-decreased",
        val(string(minLength=2)),
        val(string(minLength=1)),
        [f"MIN_LENGTH_DECREASED {V}/minLength"],
    ),
    ("pattern-added", val(S), val(string(pattern="^a")), [f"PATTERN_ADDED {V}/pattern"]),
    ("pattern-removed", val(string(pattern="^a")), val(S), [f"PATTERN_REMOVED {W}/pattern"]),
    ("pattern-changed", val(string(pattern="^a")), val(string(pattern="^b")), [f"PATTERN_CHANGED {V}/pattern"]),
    ("format-ignored", val(S), val(string(format="date-time")), []),
    # --- numbers ---
    ("maximum-added", val(I), val(number("integer", maximum=9)), [f"MAXIMUM_ADDED {V}/maximum"]),
    ("maximum-removed", val(number(maximum=9)), val(number()), [f"MAXIMUM_REMOVED {W}/maximum"]),
    ("maximum-increased", val(number(maximum=5)), val(number(maximum=9)), [f"MAXIMUM_INCREASED {V}/maximum"]),
    ("maximum-decreased", val(number(maximum=9)), val(number(maximum=5)), [f"MAXIMUM_DECREASED {V}/maximum"]),
    ("minimum-added", val(number()), val(number(minimum=0)), [f"MINIMUM_ADDED {V}/minimum"]),
    ("minimum-increased", val(number(minimum=0)), val(number(minimum=1)), [f"MINIMUM_INCREASED {V}/minimum"]),
    ("minimum-decreased", val(number(minimum=1)), val(number(minimum=0.5)), [f"MINIMUM_DECREASED {V}/minimum"]),
    (
        "exclusive-maximum-added",
        val(number()),
        val(number(exclusiveMaximum=10)),
        [f"EXCLUSIVE_MAXIMUM_ADDED {V}/exclusiveMaximum"],
    ),
    (
        "exclusive-maximum-decreased",
        val(number(exclusiveMaximum=10)),
        val(number(exclusiveMaximum=5)),
        [f"EXCLUSIVE_MAXIMUM_DECREASED {V}/exclusiveMaximum"],
    ),
    (
        "exclusive-maximum-increased",
        val(number(exclusiveMaximum=5)),
        val(number(exclusiveMaximum=10)),
        [f"EXCLUSIVE_MAXIMUM_INCREASED {V}/exclusiveMaximum"],
    ),
    (
        "exclusive-minimum-added",
        val(number()),
        val(number(exclusiveMinimum=0)),
        [f"EXCLUSIVE_MINIMUM_ADDED {V}/exclusiveMinimum"],
    ),
    (
        "exclusive-minimum-increased",
        val(number(exclusiveMinimum=0)),
        val(number(exclusiveMinimum=1)),
        [f"EXCLUSIVE_MINIMUM_INCREASED {V}/exclusiveMinimum"],
    ),
    (
        "exclusive-minimum-removed",
        val(number(exclusiveMinimum=0)),
        val(number()),
        [f"EXCLUSIVE_MINIMUM_REMOVED {W}/exclusiveMinimum"],
    ),
    ("draft4-boolean-exclusive-ignored", val(number(maximum=5, exclusiveMaximum=True)), val(number(maximum=5)), []),
    ("equal-bounds-int-and-float", val(number(maximum=5)), val(number(maximum=5.0)), []),
    ("multiple-of-added", val(I), val(number("integer", multipleOf=2)), [f"MULTIPLE_OF_ADDED {V}/multipleOf"]),
    ("multiple-of-removed", val(number("integer", multipleOf=2)), val(I), [f"MULTIPLE_OF_REMOVED {W}/multipleOf"]),
    (
        "multiple-of-expanded",
        val(number("integer", multipleOf=2)),
        val(number("integer", multipleOf=4)),
        [f"MULTIPLE_OF_EXPANDED {V}/multipleOf"],
    ),
    (
        "multiple-of-reduced",
        val(number("integer", multipleOf=4)),
        val(number("integer", multipleOf=2)),
        [f"MULTIPLE_OF_REDUCED {V}/multipleOf"],
    ),
    (
        "multiple-of-changed",
        val(number("integer", multipleOf=2)),
        val(number("integer", multipleOf=3)),
        [f"MULTIPLE_OF_CHANGED {V}/multipleOf"],
    ),
    (
        "multiple-of-fraction-reduced",
        val(number(multipleOf=0.5)),
        val(number(multipleOf=0.1)),
        [f"MULTIPLE_OF_REDUCED {V}/multipleOf"],
    ),
    # --- arrays ---
    ("items-changed", val(array(items=S)), val(array(items=I)), [f"TYPE_CHANGED {V}/items"]),
    ("items-added", val(array()), val(array(items=S)), [f"SCHEMA_ADDED {V}/items"]),
    ("items-removed", val(array(items=S)), val(array()), [f"SCHEMA_REMOVED {W}/items"]),
    (
        "tuple-add-closed",
        val(array(items=[S], additionalItems=False)),
        val(array(items=[S, I], additionalItems=False)),
        [f"ITEM_ADDED_TO_CLOSED_CONTENT_MODEL {V}/items/1"],
    ),
    (
        "tuple-add-open",
        val(array(items=[S])),
        val(array(items=[S, I])),
        [f"ITEM_ADDED_TO_OPEN_CONTENT_MODEL {V}/items/1"],
    ),
    (
        "tuple-add-open-any",
        val(array(items=[S])),
        val(array(items=[S, {}])),
        [f"ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL {V}/items/1"],
    ),
    (
        "tuple-remove-closed",
        val(array(items=[S, I], additionalItems=False)),
        val(array(items=[S], additionalItems=False)),
        [f"ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL {W}/items/1"],
    ),
    (
        "tuple-remove-closed-false",
        val(array(items=[S, False], additionalItems=False)),
        val(array(items=[S], additionalItems=False)),
        [f"ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL {W}/items/1"],
    ),
    (
        "tuple-remove-open",
        val(array(items=[S, I])),
        val(array(items=[S])),
        [f"ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL {W}/items/1"],
    ),
    (
        "tuple-add-covered",
        val(array(items=[S], additionalItems=S)),
        val(array(items=[S, S], additionalItems=S)),
        [f"ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL {V}/items/1"],
    ),
    (
        "tuple-add-not-covered",
        val(array(items=[S], additionalItems=S)),
        val(array(items=[S, I], additionalItems=S)),
        [f"TYPE_CHANGED {V}/items/1", f"ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL {V}/items/1"],
    ),
    (
        "tuple-remove-covered",
        val(array(items=[S, S], additionalItems=S)),
        val(array(items=[S], additionalItems=S)),
        [f"ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL {W}/items/1"],
    ),
    (
        "tuple-remove-not-covered",
        val(array(items=[S, I], additionalItems=S)),
        val(array(items=[S], additionalItems=S)),
        [f"TYPE_CHANGED {V}/additionalItems", f"ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL {W}/items/1"],
    ),
    (
        "tuple-item-changed",
        val(array(items=[S, I])),
        val(array(items=[S, number()])),
        [f"TYPE_EXTENDED {V}/items/1/type"],
    ),
    (
        "additional-items-closed",
        val(array(items=[S])),
        val(array(items=[S], additionalItems=False)),
        [f"ADDITIONAL_ITEMS_REMOVED {V}/additionalItems"],
    ),
    (
        "additional-items-opened",
        val(array(items=[S], additionalItems=False)),
        val(array(items=[S])),
        [f"ADDITIONAL_ITEMS_ADDED {W}/additionalItems"],
    ),
    (
        "additional-items-schema-added",
        val(array(items=[S])),
        val(array(items=[S], additionalItems=S)),
        [f"ADDITIONAL_ITEMS_NARROWED {V}/additionalItems"],
    ),
    (
        "additional-items-schema-removed",
        val(array(items=[S], additionalItems=S)),
        val(array(items=[S])),
        [f"ADDITIONAL_ITEMS_EXTENDED {W}/additionalItems"],
    ),
    (
        "prefix-items-remove-closed",
        array(prefixItems=[S, I], items=False),
        array(prefixItems=[S], items=False),
        ["ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL v1.json#/prefixItems/1"],
    ),
    (
        "prefix-items-closed",
        array(prefixItems=[S]),
        array(prefixItems=[S], items=False),
        ["ADDITIONAL_ITEMS_REMOVED v2.json#/items"],
    ),
    (
        "prefix-items-from-draft7-tuple",
        array(items=[S], additionalItems=False),
        array(prefixItems=[S, I], items=False),
        ["ITEM_ADDED_TO_CLOSED_CONTENT_MODEL v2.json#/prefixItems/1"],
    ),
    ("max-items-added", val(array()), val(array(maxItems=3)), [f"MAX_ITEMS_ADDED {V}/maxItems"]),
    ("max-items-decreased", val(array(maxItems=5)), val(array(maxItems=3)), [f"MAX_ITEMS_DECREASED {V}/maxItems"]),
    ("min-items-added", val(array()), val(array(minItems=1)), [f"MIN_ITEMS_ADDED {V}/minItems"]),
    ("min-items-increased", val(array(minItems=1)), val(array(minItems=2)), [f"MIN_ITEMS_INCREASED {V}/minItems"]),
    ("min-items-decreased", val(array(minItems=2)), val(array(minItems=1)), [f"MIN_ITEMS_DECREASED {V}/minItems"]),
    ("unique-items-added", val(array()), val(array(uniqueItems=True)), [f"UNIQUE_ITEMS_ADDED {V}/uniqueItems"]),
    ("unique-items-removed", val(array(uniqueItems=True)), val(array()), [f"UNIQUE_ITEMS_REMOVED {W}/uniqueItems"]),
    # --- allOf, anyOf, oneOf ---
    ("one-of-extended", val({"oneOf": [S, I]}), val({"oneOf": [S, I, B]}), [f"SUM_TYPE_EXTENDED {V}/oneOf"]),
    ("one-of-narrowed", val({"oneOf": [S, I]}), val({"oneOf": [S]}), [f"SUM_TYPE_NARROWED {V}/oneOf"]),
    ("any-of-to-one-of", val({"anyOf": [S, I]}), val({"oneOf": [S, I]}), [f"COMBINED_TYPE_CHANGED {V}/oneOf"]),
    ("one-of-to-any-of", val({"oneOf": [S, I]}), val({"anyOf": [S, I]}), [f"COMBINED_TYPE_EXTENDED {V}/anyOf"]),
    ("singleton-any-of-to-one-of", val({"anyOf": [S]}), val({"oneOf": [S]}), [f"COMBINED_TYPE_EXTENDED {V}/oneOf"]),
    (
        "all-of-extended",
        val({"allOf": [string(minLength=1)]}),
        val({"allOf": [string(minLength=1), string(maxLength=9)]}),
        [f"PRODUCT_TYPE_EXTENDED {V}/allOf"],
    ),
    (
        "all-of-narrowed",
        val({"allOf": [string(minLength=1), string(maxLength=9)]}),
        val({"allOf": [string(minLength=1)]}),
        [f"PRODUCT_TYPE_NARROWED {V}/allOf"],
    ),
    (
        "all-of-to-one-part",
        val({"allOf": [string(minLength=1), string(maxLength=9)]}),
        val(string(minLength=1)),
        [f"PRODUCT_TYPE_NARROWED {V}"],
    ),
    (
        "one-of-subschemas-changed",
        val({"oneOf": [S, I]}),
        val({"oneOf": [S, B]}),
        [f"COMBINED_TYPE_SUBSCHEMAS_CHANGED {V}/oneOf"],
    ),
    (
        "one-of-branch-widened-and-reordered",
        val({"oneOf": [string(maxLength=3), I]}),
        val({"oneOf": [I, string(maxLength=5)]}),
        [f"MAX_LENGTH_INCREASED {V}/oneOf/1/maxLength"],
    ),
    (
        "one-of-branch-narrowed",
        val({"oneOf": [string(maxLength=5), I]}),
        val({"oneOf": [string(maxLength=3), I]}),
        [f"COMBINED_TYPE_SUBSCHEMAS_CHANGED {V}/oneOf"],
    ),
    ("one-of-duplicates-collapse", val({"anyOf": [S, I]}), val({"anyOf": [S, I, S]}), []),
    ("plain-to-union", val(S), val({"oneOf": [S, I]}), [f"SUM_TYPE_EXTENDED {V}/oneOf"]),
    ("union-to-plain", val({"oneOf": [S, I]}), val(S), [f"TYPE_CHANGED {V}"]),
    ("singleton-union-to-plain", val({"anyOf": [S]}), val(S), []),
    (
        "typed-union-to-typed",
        val({"type": "string", "anyOf": [string(maxLength=3), string(minLength=5)]}),
        val({"type": "string", "anyOf": [string(maxLength=3)]}),
        [f"SUM_TYPE_NARROWED {V}/anyOf"],
    ),
    # --- not ---
    ("not-narrowed", val({"not": {"type": ["string", "null"]}}), val({"not": S}), [f"NOT_TYPE_NARROWED {V}/not"]),
    ("not-extended", val({"not": S}), val({"not": {"type": ["string", "null"]}}), [f"NOT_TYPE_EXTENDED {V}/not"]),
    # --- $ref within the document ---
    (
        "ref-target-narrowed",
        obj({"a": {"$ref": "#/$defs/A"}}, **{"$defs": {"A": string(maxLength=9)}}),
        obj({"a": {"$ref": "#/$defs/A"}}, **{"$defs": {"A": string(maxLength=3)}}),
        ["MAX_LENGTH_DECREASED v2.json#/$defs/A/maxLength"],
    ),
    (
        "ref-used-twice-reported-once",
        obj({"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "#/$defs/A"}}, **{"$defs": {"A": string(maxLength=9)}}),
        obj({"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "#/$defs/A"}}, **{"$defs": {"A": string(maxLength=3)}}),
        ["MAX_LENGTH_DECREASED v2.json#/$defs/A/maxLength"],
    ),
    (
        "ref-inlined",
        obj({"a": {"$ref": "#/definitions/A"}}, definitions={"A": I}),
        obj({"a": number()}),
        ["TYPE_EXTENDED v2.json#/properties/a/type"],
    ),
    (
        "ref-introduced",
        obj({"a": S}),
        obj(
            {"a": {"$ref": "#/$defs/A", "description": "siblings are ignored"}}, **{"$defs": {"A": string(maxLength=3)}}
        ),
        ["MAX_LENGTH_ADDED v2.json#/$defs/A/maxLength"],
    ),
    (
        "ref-escaped-pointer",
        obj({"a": {"$ref": "#/$defs/a~1b%25"}}, **{"$defs": {"a/b%": S}}),
        obj({"a": {"$ref": "#/$defs/a~1b%25"}}, **{"$defs": {"a/b%": I}}),
        ["TYPE_CHANGED v2.json#/$defs/a~1b%"],
    ),
    (
        "recursive-schema",
        {"$ref": "#/$defs/N", "$defs": {"N": obj({"next": {"$ref": "#/$defs/N"}, "v": S})}},
        {"$ref": "#/$defs/N", "$defs": {"N": obj({"next": {"$ref": "#/$defs/N"}, "v": string(maxLength=3)})}},
        ["MAX_LENGTH_ADDED v2.json#/$defs/N/properties/v/maxLength"],
    ),
    # --- annotations: always compatible ---
    (
        "annotations",
        obj({"a": S}, title="Old", description="old", default={}),
        obj({"a": S}, title="New", **{"$id": "x"}),
        [
            "ID_CHANGED v2.json#/$id",
            "TITLE_CHANGED v2.json#/title",
            "DESCRIPTION_CHANGED v1.json#/description",
            "DEFAULT_CHANGED v1.json#/default",
        ],
    ),
]


def version(file: str, doc: Any) -> JsonVersion:
    """A fixture as a version: 2020-12 when it uses that draft's keywords, else draft-07 (no $schema)."""
    newer = re.search(r'"(prefixItems|dependentRequired|dependentSchemas)"', json.dumps(doc))
    if newer and isinstance(doc, dict) and "$schema" not in doc:
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **doc}
    return JsonVersion(file, doc)


def _all(writer: Any, reader: Any) -> list[str]:
    return [f"{d.type} {d.source}" for d in differences(version("v2.json", reader), version("v1.json", writer))]


def _incompatible(writer: Any, reader: Any) -> list[str]:
    return [f"{i.rule.id} {i.source}" for i in can_read(version("v2.json", reader), version("v1.json", writer))]


@pytest.mark.parametrize(("writer", "reader", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(writer: Any, reader: Any, expected: list[str]) -> None:
    assert _all(writer, reader) == expected
    assert _incompatible(writer, reader) == [e for e in expected if e.split()[0] not in COMPATIBLE_CHANGES]


@pytest.mark.parametrize(("writer", "reader"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_messages_are_one_plain_sentence(writer: Any, reader: Any) -> None:
    for d in differences(JsonVersion("v2.json", reader), JsonVersion("v1.json", writer)):
        assert not d.message.endswith(".") and d.message[0].islower(), d.message
        assert "#/" not in d.message and d.type not in d.message and "\n" not in d.message


def test_identical_schemas_have_no_differences() -> None:
    for _, writer, reader, _ in CASES:
        assert _all(writer, writer) == []
        assert _all(reader, reader) == []


def test_every_rule_is_incompatible_and_registered_as_json() -> None:
    seen_ids = {e.split()[0] for case in CASES for e in case[3]}
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id and rule.format == "JSON" and rule.purpose.endswith(".")
        assert rule_id not in COMPATIBLE_CHANGES
        assert findings.RULES[f"JSON:{rule_id}"] is rule
    # Every reportable rule has a fixture above, as has every compatible change this module emits.
    assert set(RULES) <= seen_ids
    assert seen_ids <= set(RULES) | COMPATIBLE_CHANGES


def test_messages_name_the_change() -> None:
    (finding,) = can_read(
        JsonVersion("v2.json", val(string(maxLength=5))), JsonVersion("v1.json", val(string(maxLength=9)))
    )
    assert finding.message == "the reader lowers maxLength from 9 to 5"
    (finding,) = can_read(JsonVersion("v2.json", val(I)), JsonVersion("v1.json", val(S)))
    assert finding.message == "the reader expects an integer where the writer has a string"
    (finding,) = can_read(JsonVersion("v2.json", closed({"a": S})), JsonVersion("v1.json", closed({"a": S, "b": I})))
    assert finding.message == (
        "the reader drops 'b' and allows no additional properties, so the writer's 'b' is rejected"
    )


def test_mutually_recursive_unions_terminate() -> None:
    doc = {
        "$ref": "#/$defs/A",
        "$defs": {
            "A": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/B"}, {"$ref": "#/$defs/A"}]},
            "B": obj({"a": {"$ref": "#/$defs/A"}, "b": {"anyOf": [{"$ref": "#/$defs/B"}, S]}}),
        },
    }
    changed = copy.deepcopy(doc)
    changed["$defs"]["B"]["properties"]["c"] = I
    assert _all(doc, doc) == []
    assert _incompatible(doc, changed) == ["COMBINED_TYPE_SUBSCHEMAS_CHANGED v2.json#/$defs/A/oneOf"]


# --- $ref across files ---


def _error(max_length: int) -> dict[str, Any]:
    return {
        "$defs": {"Code": string(maxLength=max_length)},
        "type": "object",
        "properties": {"code": {"$ref": "#/$defs/Code"}, "at": {"$ref": "../events/failed.schema.json#/$defs/Stamp"}},
    }


def _failed(stamp: dict[str, Any]) -> dict[str, Any]:
    return obj({"error": {"$ref": "../common/error.schema.json"}}, ["error"], **{"$defs": {"Stamp": stamp}})


def _version(error_max_length: int, stamp: dict[str, Any]) -> JsonVersion:
    file = "events/failed.schema.json"
    # The version's files: its own file as this version has it, the other as on disk.
    files = {"common/error.schema.json": _error(error_max_length), file: _failed(stamp)}
    return JsonVersion(file, _failed(stamp), index_documents(files))


def test_cross_file_ref_through_the_index() -> None:
    found = can_read(_version(5, S), _version(9, S))
    assert [f"{i.rule.id} {i.source}" for i in found] == [
        "MAX_LENGTH_DECREASED common/error.schema.json#/$defs/Code/maxLength"
    ]
    # A ref from the other file back into this version's file reads this version, not the file on disk.
    found = can_read(_version(9, I), _version(9, S))
    assert [f"{i.rule.id} {i.source}" for i in found] == ["TYPE_CHANGED events/failed.schema.json#/$defs/Stamp"]


def test_cross_file_ref_to_a_file_outside_the_version_is_an_error() -> None:
    version = JsonVersion("events/failed.schema.json", _failed(S))
    with pytest.raises(SchemaError) as error:
        can_read(version, version)
    assert str(error.value.source) == "events/failed.schema.json#/properties/error/$ref"
    assert "no schema file 'common/error.schema.json'" in error.value.message


@pytest.mark.parametrize(
    ("doc", "where", "says"),
    [
        (obj({"a": {"$ref": "#/$defs/Missing"}}), "#/properties/a/$ref", "nothing at #/$defs/Missing"),
        (
            obj({"a": {"$ref": "#/$defs/A"}}, **{"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}}),
            "#/$defs/A/$ref",
            "loops",
        ),
        (obj({"a": {"$ref": "https://example.com/a.json"}}), "#/properties/a/$ref", "remote $ref"),
        (obj({"a": {"type": "text"}}), "#/properties/a/type", "unknown type"),
        (obj({"a": 3}), "#/properties/a", "must be an object or a boolean"),
    ],
)
def test_schema_errors_name_the_place(doc: dict[str, Any], where: str, says: str) -> None:
    with pytest.raises(SchemaError) as error:
        can_read(JsonVersion("v2.json", doc), JsonVersion("v1.json", obj({})))
    assert str(error.value.source) == "v2.json" + where
    assert says in error.value.message


# --- the repository's own schemas ---

SCHEMAS = ROOT / "schemas"


def _repo_documents() -> dict[str, Any]:
    return {str(p.relative_to(SCHEMAS)): json.loads(p.read_text()) for p in sorted(SCHEMAS.rglob("*.schema.json"))}


def test_repository_schemas_are_compatible_with_themselves() -> None:
    docs = _repo_documents()
    assert len(docs) >= 8
    for file, doc in docs.items():
        version = JsonVersion(file, doc, index_documents(docs))
        assert differences(version, version) == [], file


def test_repository_schema_enum_narrowed_points_into_defs() -> None:
    docs = _repo_documents()
    file = "agent/execution/started.schema.json"
    narrowed = copy.deepcopy(docs[file])
    narrowed["$defs"]["AgentType"]["enum"].remove("CUSTOM")
    reader = JsonVersion(file, narrowed, index_documents({**docs, file: narrowed}))
    found = can_read(reader, JsonVersion(file, docs[file], index_documents(docs)))
    assert [f"{i.rule.id} {i.source}" for i in found] == [f"ENUM_ARRAY_NARROWED {file}#/$defs/AgentType/enum"]
    assert found[0].message == "the reader's enum lacks the writer's values \"CUSTOM\""


def test_bundled_schema_resolves_embedded_files() -> None:
    docs = _repo_documents()
    file = "capability/generic/failed.schema.json"
    changed = copy.deepcopy(docs)
    changed["common/error_info.schema.json"]["properties"]["error_type"]["minLength"] = 5
    writer = JsonVersion(file, json.loads(bundle(file, index_documents(docs))))
    reader = JsonVersion(file, json.loads(bundle(file, index_documents(changed))))
    found = can_read(reader, writer)
    assert [f"{i.rule.id} {i.source}" for i in found] == [
        f"MIN_LENGTH_INCREASED {file}#/$defs/common~1error_info.schema.json/properties/error_type/minLength"
    ]


# --- compatibility levels ---


def _levels(level: str, new: Any, *previous: Any) -> list[str]:
    versions = [Version(f"v{i + 1}", JsonVersion(f"v{i + 1}.json", doc)) for i, doc in enumerate(previous)]
    latest = Version(f"v{len(previous) + 1}", JsonVersion(f"v{len(previous) + 1}.json", new))
    return [f"{f.reader_version}<-{f.writer_version} {f}" for f in check_level(level, latest, versions, can_read)]


def test_levels_open_content_model() -> None:
    # An open model gains a property: old data may hold it with any value (BACKWARD breaks);
    # old readers accept the new data, they did not constrain the property (FORWARD holds).
    old, new = obj({"a": S}), obj({"a": S, "b": I})
    broken = (
        "v2<-v1 v2.json#/properties/b: the reader adds 'b', but the writer's open content model lets its data "
        "hold 'b' with any value (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL)"
    )
    assert _levels("BACKWARD", new, old) == [broken]
    assert _levels("FORWARD", new, old) == []
    assert _levels("FULL", new, old) == [broken]
    assert _levels("NONE", new, old) == []


def test_levels_closed_content_model() -> None:
    # A closed model gains an optional property: new readers read old data, old readers reject the new property.
    old, new = closed({"a": S}), closed({"a": S, "b": I})
    broken = (
        "v1<-v2 v2.json#/properties/b: the reader drops 'b' and allows no additional properties, so the "
        "writer's 'b' is rejected (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL)"
    )
    assert _levels("BACKWARD", new, old) == []
    assert _levels("FORWARD", new, old) == [broken]
    assert _levels("FULL", new, old) == [broken]


def test_levels_transitive_over_three_versions() -> None:
    # v2 adds a required property with a default; v3 drops the default. Each step is compatible with the
    # one before, but v3 cannot read v1's data, which lacks the property.
    v1 = closed({"a": S})
    v2 = closed({"a": S, "b": {"type": "integer", "default": 0}}, ["b"])
    v3 = closed({"a": S, "b": I}, ["b"])
    assert _levels("BACKWARD", v2, v1) == []
    assert _levels("BACKWARD", v3, v1, v2) == []
    assert _levels("BACKWARD_TRANSITIVE", v3, v1, v2) == [
        "v3<-v1 v3.json#/properties/b: the reader adds 'b' as required without a default, but the writer's "
        "data need not have it (REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL)"
    ]
    # FULL_TRANSITIVE adds the forward direction for every version: v1 (closed) cannot read b.
    assert [f.split(" ")[0] for f in _levels("FULL_TRANSITIVE", v3, v1, v2)] == ["v3<-v1", "v1<-v3"]
