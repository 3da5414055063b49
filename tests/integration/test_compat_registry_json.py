"""Differential tests: the offline JSON Schema checker against a real registry's verdicts.

For each pair, the old schema is registered under a fresh subject with the level under test, the
registry is asked whether the new one is compatible, and that verdict must equal ours
(``check_level`` with ``json_rules.can_read``). The registry is Apicurio on its Confluent API; its
JSON Schema rules are its own code, not Confluent's, and disagree with Confluent's on some pairs.
Those are listed in ``KNOWN_DIFFERENCES`` with the reason, and asserted to still disagree, so the
list stays honest: when Apicurio changes, a test fails and the entry goes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemabus.codegen.compat.json_rules import JsonVersion, can_read
from schemabus.codegen.compat.levels import Version, check_level
from schemabus.codegen.load.jsonschema import index_documents

pytestmark = pytest.mark.integration

DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT2020 = "https://json-schema.org/draft/2020-12/schema"


def obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A draft-07 object schema; ``extra`` holds further keywords (``additionalProperties=False``)."""
    schema: dict[str, Any] = {"$schema": DRAFT7, "type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def value(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema as property ``v`` of an open object, so scalar schemas sit where they do in events."""
    return obj({"v": schema})


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741


@dataclass(frozen=True)
class Case:
    id: str
    old: dict[str, Any]
    new: dict[str, Any]


CASES = [
    # Objects: properties against the open, closed and partially open content models.
    Case("open-add-optional", obj({"a": S}), obj({"a": S, "b": I})),
    Case("open-add-any-schema", obj({"a": S}), obj({"a": S, "b": {}})),
    Case("open-remove", obj({"a": S, "b": I}), obj({"a": S})),
    Case(
        "closed-add-optional",
        obj({"a": S}, additionalProperties=False),
        obj({"a": S, "b": I}, additionalProperties=False),
    ),
    Case(
        "closed-add-required",
        obj({"a": S}, additionalProperties=False),
        obj({"a": S, "b": I}, ["b"], additionalProperties=False),
    ),
    Case(
        "closed-add-required-with-default",
        obj({"a": S}, additionalProperties=False),
        obj({"a": S, "b": {"type": "integer", "default": 0}}, ["b"], additionalProperties=False),
    ),
    Case("closed-remove", obj({"a": S, "b": I}, additionalProperties=False), obj({"a": S}, additionalProperties=False)),
    Case(
        "partial-add-covered",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S, "b": S}, additionalProperties=S),
    ),
    Case(
        "partial-add-not-covered",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S, "b": I}, additionalProperties=S),
    ),
    Case(
        "pattern-remove-covered",
        obj({"x_a": S}, patternProperties={"^x_": S}, additionalProperties=False),
        obj({}, patternProperties={"^x_": S}, additionalProperties=False),
    ),
    Case(
        "pattern-remove-not-covered",
        obj({"x_a": I}, patternProperties={"^x_": S}, additionalProperties=False),
        obj({}, patternProperties={"^x_": S}, additionalProperties=False),
    ),
    Case(
        "closed-remove-false-property",
        obj({"a": S, "b": False}, additionalProperties=False),
        obj({"a": S}, additionalProperties=False),
    ),
    Case("required-added", obj({"a": S}), obj({"a": S}, ["a"])),
    Case("required-removed", obj({"a": S}, ["a"]), obj({"a": S})),
    Case("additional-properties-closed", obj({"a": S}), obj({"a": S}, additionalProperties=False)),
    Case("additional-properties-opened", obj({"a": S}, additionalProperties=False), obj({"a": S})),
    Case("additional-properties-schema-added", obj({"a": S}), obj({"a": S}, additionalProperties=S)),
    Case("max-properties-added", obj({"a": S}), obj({"a": S}, maxProperties=3)),
    Case("min-properties-decreased", obj({"a": S}, minProperties=2), obj({"a": S}, minProperties=1)),
    Case("dependency-added", obj({"a": S, "b": S}), obj({"a": S, "b": S}, dependencies={"a": ["b"]})),
    Case(
        "dependency-narrowed",
        obj({"a": S, "b": S, "c": S}, dependencies={"a": ["b", "c"]}),
        obj({"a": S, "b": S, "c": S}, dependencies={"a": ["b"]}),
    ),
    Case("dependency-removed", obj({"a": S, "b": S}, dependencies={"a": ["b"]}), obj({"a": S, "b": S})),
    Case("annotations-changed", obj({"a": S}, title="Old", description="old"), obj({"a": S}, title="New")),
    # Types.
    Case("integer-to-number", value(I), value({"type": "number"})),
    Case("number-to-integer", value({"type": "number"}), value(I)),
    Case("string-to-integer", value(S), value(I)),
    Case("string-to-nullable", value(S), value({"type": ["string", "null"]})),
    Case("integer-to-nullable", value(I), value({"type": ["integer", "null"]})),
    Case("nullable-to-string", value({"type": ["string", "null"]}), value(S)),
    Case("root-string-to-nullable", {"$schema": DRAFT7, **S}, {"$schema": DRAFT7, "type": ["string", "null"]}),
    # enum and const.
    Case("enum-extended", value({"type": "string", "enum": ["a"]}), value({"type": "string", "enum": ["a", "b"]})),
    Case("enum-narrowed", value({"type": "string", "enum": ["a", "b"]}), value({"type": "string", "enum": ["a"]})),
    Case("enum-changed", value({"enum": ["a", "b"]}), value({"enum": ["a", "c"]})),
    Case("enum-removed", value({"type": "string", "enum": ["a"]}), value(S)),
    Case("enum-added", value(S), value({"type": "string", "enum": ["a"]})),
    Case("const-changed", value({"const": "a"}), value({"const": "b"})),
    Case("const-to-enum", value({"const": "a"}), value({"enum": ["a", "b"]})),
    # Strings.
    Case("max-length-decreased", value({"type": "string", "maxLength": 10}), value({"type": "string", "maxLength": 5})),
    Case("max-length-increased", value({"type": "string", "maxLength": 5}), value({"type": "string", "maxLength": 10})),
    Case("min-length-added", value(S), value({"type": "string", "minLength": 1})),
    Case("pattern-added", value(S), value({"type": "string", "pattern": "^a"})),
    Case("pattern-removed", value({"type": "string", "pattern": "^a"}), value(S)),
    Case("format-added", value(S), value({"type": "string", "format": "date-time"})),
    Case("pattern-changed", value({"type": "string", "pattern": "^a"}), value({"type": "string", "pattern": "^b"})),
    # Numbers.
    Case("minimum-increased", value({"type": "integer", "minimum": 0}), value({"type": "integer", "minimum": 1})),
    Case("maximum-increased", value({"type": "integer", "maximum": 5}), value({"type": "integer", "maximum": 9})),
    Case("maximum-added", value(I), value({"type": "integer", "maximum": 9})),
    Case(
        "exclusive-minimum-decreased",
        value({"type": "number", "exclusiveMinimum": 1}),
        value({"type": "number", "exclusiveMinimum": 0}),
    ),
    Case("exclusive-maximum-removed", value({"type": "number", "exclusiveMaximum": 10}), value({"type": "number"})),
    Case(
        "multiple-of-expanded", value({"type": "integer", "multipleOf": 2}), value({"type": "integer", "multipleOf": 4})
    ),
    Case(
        "multiple-of-reduced", value({"type": "integer", "multipleOf": 4}), value({"type": "integer", "multipleOf": 2})
    ),
    Case(
        "exclusive-maximum-decreased",
        value({"type": "number", "exclusiveMaximum": 10}),
        value({"type": "number", "exclusiveMaximum": 5}),
    ),
    Case(
        "multiple-of-fractional-reduced",
        value({"type": "number", "multipleOf": 0.5}),
        value({"type": "number", "multipleOf": 0.25}),
    ),
    # Arrays.
    Case("items-type-changed", value({"type": "array", "items": S}), value({"type": "array", "items": I})),
    Case("items-schema-added", value({"type": "array"}), value({"type": "array", "items": S})),
    Case("max-items-decreased", value({"type": "array", "maxItems": 5}), value({"type": "array", "maxItems": 3})),
    Case("min-items-decreased", value({"type": "array", "minItems": 2}), value({"type": "array", "minItems": 1})),
    Case("unique-items-added", value({"type": "array"}), value({"type": "array", "uniqueItems": True})),
    Case(
        "tuple-item-added-closed",
        value({"type": "array", "items": [S], "additionalItems": False}),
        value({"type": "array", "items": [S, I], "additionalItems": False}),
    ),
    Case("tuple-item-added-open", value({"type": "array", "items": [S]}), value({"type": "array", "items": [S, I]})),
    Case(
        "tuple-item-removed-closed",
        value({"type": "array", "items": [S, I], "additionalItems": False}),
        value({"type": "array", "items": [S], "additionalItems": False}),
    ),
    Case("tuple-item-removed-open", value({"type": "array", "items": [S, I]}), value({"type": "array", "items": [S]})),
    Case(
        "additional-items-closed",
        value({"type": "array", "items": [S]}),
        value({"type": "array", "items": [S], "additionalItems": False}),
    ),
    Case(
        "prefix-item-removed-closed",
        {"$schema": DRAFT2020, "type": "array", "prefixItems": [S, I], "items": False},
        {"$schema": DRAFT2020, "type": "array", "prefixItems": [S], "items": False},
    ),
    # allOf, anyOf, oneOf.
    Case("one-of-extended", value({"oneOf": [S, I]}), value({"oneOf": [S, I, {"type": "boolean"}]})),
    Case("one-of-narrowed", value({"oneOf": [S, I]}), value({"oneOf": [S]})),
    Case("any-of-to-one-of", value({"anyOf": [S, I]}), value({"oneOf": [S, I]})),
    Case("one-of-to-any-of", value({"oneOf": [S, I]}), value({"anyOf": [S, I]})),
    Case(
        "all-of-extended",
        value({"allOf": [{"type": "string", "minLength": 1}]}),
        value({"allOf": [{"type": "string", "minLength": 1}, {"type": "string", "maxLength": 9}]}),
    ),
    Case(
        "one-of-subschema-changed",
        value({"oneOf": [S, I]}),
        value({"oneOf": [S, {"type": "boolean"}]}),
    ),
    Case(
        "one-of-object-branch-widened",
        value({"oneOf": [obj({"k": {"const": "a"}, "x": S}, ["k"]), obj({"k": {"const": "b"}}, ["k"])]}),
        value(
            {
                "oneOf": [
                    obj({"k": {"const": "a"}, "x": S}, ["k"]),
                    obj({"k": {"const": "b"}}, ["k"]),
                    obj({"k": {"const": "c"}}, ["k"]),
                ]
            }
        ),
    ),
    # not.
    Case("not-narrowed", value({"not": {"type": ["string", "null"]}}), value({"not": S})),
    Case("not-extended", value({"not": S}), value({"not": {"type": ["string", "null"]}})),
    # $ref within the document.
    Case(
        "ref-target-narrowed",
        obj({"a": {"$ref": "#/definitions/A"}}, definitions={"A": {"type": "string", "maxLength": 9}}),
        obj({"a": {"$ref": "#/definitions/A"}}, definitions={"A": {"type": "string", "maxLength": 3}}),
    ),
    Case(
        "ref-target-widened",
        obj({"a": {"$ref": "#/definitions/A"}}, definitions={"A": {"type": "string", "maxLength": 3}}),
        obj({"a": {"$ref": "#/definitions/A"}}, definitions={"A": {"type": "string"}}),
    ),
    Case(
        "ref-inlined",
        obj({"a": {"$ref": "#/definitions/A"}}, definitions={"A": {"type": "integer"}}),
        obj({"a": {"type": "number"}}),
    ),
]

# A subset checked at FORWARD as well (reader = old, writer = new).
FORWARD = [
    "open-add-optional",
    "open-remove",
    "closed-add-optional",
    "closed-remove",
    "closed-add-required",
    "required-added",
    "required-removed",
    "integer-to-number",
    "number-to-integer",
    "string-to-nullable",
    "enum-extended",
    "enum-narrowed",
    "max-length-decreased",
    "minimum-increased",
    "tuple-item-added-closed",
    "one-of-extended",
    "one-of-narrowed",
    "additional-properties-closed",
]

# (level, case id) -> why Apicurio's verdict differs from Confluent's, which json_rules follows. Each
# reason quotes the diff type Apicurio 3.3 reports when registering the new schema.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    # Apicurio treats any property added to an open model as narrowing ("Object type property schemas
    # narrowed"); Confluent lets one with an empty schema through
    # (PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL), since it accepts whatever was written.
    ("BACKWARD", "open-add-any-schema"): "Apicurio: any property added to an open model is incompatible",
    # Apicurio ignores defaults ("A new required property was added"); Confluent accepts a required
    # property with a default (REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL).
    ("BACKWARD", "closed-add-required-with-default"): "Apicurio: required with a default is still incompatible",
    # Apicurio looks only at additionalProperties when a property is removed ("Object type property
    # schemas narrowed"); Confluent also lets a matching patternProperties schema cover it.
    ("BACKWARD", "pattern-remove-covered"): "Apicurio: patternProperties do not cover a removed property",
    # Apicurio ("... narrowed") also refuses removing a property declared `false`, which no data could hold
    # (Confluent: PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL).
    ("BACKWARD", "closed-remove-false-property"): "Apicurio: removing a `false` property is incompatible",
    # Apicurio wraps an old schema into a union only for a string property ("Subschema type changed"), so
    # integer -> [integer, null], or a union at the root, is refused; Confluent: SUM_TYPE_EXTENDED.
    ("BACKWARD", "integer-to-nullable"): "Apicurio: only string properties may become unions",
    ("BACKWARD", "root-string-to-nullable"): "Apicurio: only string properties may become unions",
    # The same gap inside `not`: Apicurio cannot relate a type to a union there ("Not type schema
    # compatible none"); Confluent finds not:[string,null] -> not:string NOT_TYPE_NARROWED.
    ("BACKWARD", "not-narrowed"): "Apicurio: cannot compare a type with a union inside not",
    # Apicurio treats const as a one-value enum; for Confluent const and enum are different types
    # (TYPE_CHANGED).
    ("BACKWARD", "const-to-enum"): "Apicurio: const equals a one-value enum",
    # Apicurio compares `format` ("String type format added"); Confluent ignores it.
    ("BACKWARD", "format-added"): "Apicurio: format changes are incompatible",
}

# (level, case id) -> why the registry cannot answer at all (HTTP 500).
REGISTRY_FAILS: dict[tuple[str, str], str] = {
    # Apicurio's JSON Schema loader (everit) knows drafts 4 to 7 only: a 2019-09 or 2020-12 `$schema`
    # fails every compatibility check with "#: could not determine version".
    ("BACKWARD", "prefix-item-removed-closed"): "Apicurio cannot check draft 2020-12 schemas",
}


@pytest.fixture(scope="module")
def client(registry_url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry_url, "timeout": 10})


def _registry_verdict(client: SchemaRegistryClient, level: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    subject = f"compat-json-{uuid.uuid4().hex[:12]}-value"
    # The subject exists (old schema registered) before its level is set and the new schema is tested.
    client.register_schema(subject, Schema(json.dumps(old), "JSON"))
    client.set_compatibility(subject_name=subject, level=level)
    return bool(client.test_compatibility(subject, Schema(json.dumps(new), "JSON")))


def _offline_verdict(level: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    previous = Version("old", JsonVersion("old.schema.json", old))
    findings = check_level(level, Version("new", JsonVersion("new.schema.json", new)), [previous], can_read)
    return not findings


def _check(client: SchemaRegistryClient, level: str, case: Case) -> None:
    offline = _offline_verdict(level, case.old, case.new)
    if (level, case.id) in REGISTRY_FAILS:
        with pytest.raises(SchemaRegistryError) as failed:
            _registry_verdict(client, level, case.old, case.new)
        assert failed.value.http_status_code == 500
        return
    registry = _registry_verdict(client, level, case.old, case.new)
    reason = KNOWN_DIFFERENCES.get((level, case.id))
    if reason is None:
        assert registry == offline, f"{level} {case.id}: registry says compatible={registry}, offline {offline}"
    else:
        assert registry != offline, f"{level} {case.id}: no longer differs from the registry ({reason})"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_backward_verdict_matches_registry(client: SchemaRegistryClient, case: Case) -> None:
    _check(client, "BACKWARD", case)


@pytest.mark.parametrize("case", [c for c in CASES if c.id in FORWARD], ids=lambda c: c.id)
def test_forward_verdict_matches_registry(client: SchemaRegistryClient, case: Case) -> None:
    _check(client, "FORWARD", case)


def test_tables_are_consistent() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert set(FORWARD) <= set(ids)
    assert {case_id for _, case_id in [*KNOWN_DIFFERENCES, *REGISTRY_FAILS]} <= set(ids)


def _common(max_length: int) -> dict[str, Any]:
    return obj({"code": {"type": "string", "maxLength": max_length}}, ["code"])


@pytest.mark.parametrize(("new_max_length", "compatible"), [(5, False), (20, True)])
def test_cross_file_ref_against_registry_references(
    client: SchemaRegistryClient, new_max_length: int, compatible: bool
) -> None:
    """A `$ref` to another file: schema references in the registry, `JsonVersion.resolve` offline.

    Known differences, both Apicurio's: its compatibility test endpoint cannot resolve references
    (HTTP 500 "Unresolved JSON Schema reference"), and registering resolves the `$ref`s of both the
    old and the new version with the *new* version's references, so a change inside the referenced
    schema goes unseen and every such version is accepted.
    """
    common_subject = f"compat-json-common-{uuid.uuid4().hex[:12]}"
    main_subject = f"compat-json-main-{uuid.uuid4().hex[:12]}-value"
    client.register_schema(common_subject, Schema(json.dumps(_common(10)), "JSON"))
    client.set_compatibility(subject_name=common_subject, level="NONE")
    client.register_schema(common_subject, Schema(json.dumps(_common(new_max_length)), "JSON"))
    main = obj({"error": {"$ref": "common.schema.json"}}, ["error"])

    def schema(common_version: int) -> Schema:
        return Schema(json.dumps(main), "JSON", [SchemaReference("common.schema.json", common_subject, common_version)])

    client.register_schema(main_subject, schema(1))
    client.set_compatibility(subject_name=main_subject, level="BACKWARD")
    with pytest.raises(SchemaRegistryError) as failed:
        client.test_compatibility(main_subject, schema(2))
    assert failed.value.http_status_code == 500
    client.register_schema(main_subject, schema(2))  # accepted: no 409 even when incompatible

    old = JsonVersion(
        "main.schema.json", main, index_documents({"main.schema.json": main, "common.schema.json": _common(10)})
    )
    new_files = {"main.schema.json": main, "common.schema.json": _common(new_max_length)}
    new = JsonVersion("main.schema.json", main, index_documents(new_files))
    findings = check_level("BACKWARD", Version("new", new), [Version("old", old)], can_read)
    assert [str(f) for f in findings] == (
        []
        if compatible
        else [
            "common.schema.json#/properties/code/maxLength: the reader lowers maxLength from 10 to 5 "
            "(MAX_LENGTH_DECREASED)"
        ]
    )
