"""The in-memory registry refuses an incompatible new version of a subject as the real registry does:
at the subject's level, by the rules ``schemabus check`` applies, with the error ConfluentRegistry
raises for the registry's HTTP 409."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
from typing import Any

import pytest

import platform_events as pe
from schemabus.runtime import IncompatibleSchemaError, RegistryError
from schemabus.runtime.testing import InMemoryBus, InMemoryRegistry

from .test_inmemory_bus import MODELS_EXAMPLE

SUBJECT = "shop.order.placed-value"


def avro(*fields: dict[str, Any]) -> str:
    return json.dumps({"type": "record", "name": "Placed", "fields": [{"name": "id", "type": "string"}, *fields]})


V1 = avro()
WITH_DEFAULT = avro({"name": "note", "type": "string", "default": ""})
WITHOUT_DEFAULT = avro({"name": "note", "type": "string"})


def test_adding_a_field_without_a_default_is_refused_under_backward() -> None:
    registry = InMemoryRegistry()
    assert registry.compatibility(SUBJECT) == registry.compatibility() == "BACKWARD"
    first = registry.register_schema(SUBJECT, V1, "AVRO")
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
    error = refused.value
    assert isinstance(error, RegistryError) and error.http_status == 409
    assert (error.subject, error.level) == (SUBJECT, "BACKWARD")
    lines = str(error).splitlines()
    assert lines[0] == (
        f"the registry refused the schema of subject {SUBJECT!r} as incompatible at level BACKWARD: "
        "1 incompatibility with version 1"
    )
    assert lines[1:] == [
        '  new version#/fields/1: field "note" has no default, so the reader cannot read data written without it '
        "(READER_FIELD_MISSING_DEFAULT_VALUE) [reader: new version, writer: version 1]"
    ]
    assert registry.versions(SUBJECT) == [first]  # nothing was registered
    assert pickle.loads(pickle.dumps(error)).args == error.args


def test_adding_a_field_with_a_default_is_a_new_version() -> None:
    registry = InMemoryRegistry()
    first = registry.register_schema(SUBJECT, V1, "AVRO")
    second = registry.register_schema(SUBJECT, WITH_DEFAULT, "AVRO")
    assert second != first and registry.versions(SUBJECT) == [first, second]


def test_an_identical_schema_returns_its_id_unchecked() -> None:
    registry = InMemoryRegistry()
    first = registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
    registry.set_compatibility(SUBJECT, "NONE")
    second = registry.register_schema(SUBJECT, V1, "AVRO")
    registry.set_compatibility(SUBJECT, "BACKWARD")
    with pytest.raises(IncompatibleSchemaError):
        registry.register_schema(SUBJECT, avro({"name": "other", "type": "int"}), "AVRO")
    # Version 1 cannot read version 2's data, but it is held: its id again, formatting aside, unchecked.
    assert registry.register_schema(SUBJECT, json.dumps(json.loads(WITHOUT_DEFAULT), indent=2), "AVRO") == first
    assert registry.register_schema(SUBJECT, V1, "AVRO") == second
    assert registry.versions(SUBJECT) == [first, second]


def test_a_schema_known_under_another_subject_is_checked_for_this_one() -> None:
    registry = InMemoryRegistry()
    other = registry.register_schema("other-value", WITHOUT_DEFAULT, "AVRO")
    registry.register_schema(SUBJECT, V1, "AVRO")
    with pytest.raises(IncompatibleSchemaError, match=re.escape(f"subject {SUBJECT!r}")):
        registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
    registry.set_compatibility(SUBJECT, "NONE")
    assert registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO") == other  # the global id, reused


def test_non_transitive_levels_compare_with_the_latest_version_only() -> None:
    """v1 has no "note"; v2 adds it with a default; v3 drops the default. v3 reads v2's data (which
    always has "note") but not v1's: BACKWARD accepts it, BACKWARD_TRANSITIVE refuses it."""
    for level, accepted in [("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)]:
        registry = InMemoryRegistry(default_level=level)
        registry.register_schema(SUBJECT, V1, "AVRO")
        registry.register_schema(SUBJECT, WITH_DEFAULT, "AVRO")
        if accepted:
            registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
            assert len(registry.versions(SUBJECT)) == 3
        else:
            with pytest.raises(
                IncompatibleSchemaError, match=r"at level BACKWARD_TRANSITIVE: 1 incompatibility with version 1\n"
            ) as refused:
                registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
            assert "writer: version 1]" in str(refused.value)
            assert len(registry.versions(SUBJECT)) == 2


def test_forward_and_full_check_the_other_direction() -> None:
    """Removing a field without a default: readers of the new schema are fine (BACKWARD), readers of
    the old one are not (FORWARD, and so FULL)."""
    removed = avro()
    for level, accepted in [("BACKWARD", True), ("FORWARD", False), ("FULL", False), ("NONE", True)]:
        registry = InMemoryRegistry()
        registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
        registry.set_compatibility(SUBJECT, level)
        assert registry.compatibility(SUBJECT) == level and registry.compatibility("other") == "BACKWARD"
        if accepted:
            registry.register_schema(SUBJECT, removed, "AVRO")
        else:
            with pytest.raises(IncompatibleSchemaError, match=f"at level {level}:") as refused:
                registry.register_schema(SUBJECT, removed, "AVRO")
            assert "[reader: version 1, writer: new version]" in str(refused.value)


def test_none_accepts_anything_even_another_schema_type() -> None:
    registry = InMemoryRegistry(default_level="NONE")
    registry.register_schema(SUBJECT, V1, "AVRO")
    registry.register_schema(SUBJECT, WITHOUT_DEFAULT, "AVRO")
    registry.register_schema(SUBJECT, json.dumps({"type": "string"}), "JSON")
    assert len(registry.versions(SUBJECT)) == 3
    registry.set_compatibility(None, "BACKWARD")  # the global default, as Confluent's PUT /config
    with pytest.raises(IncompatibleSchemaError, match="the new schema is AVRO, version 3 is JSON"):
        registry.register_schema(SUBJECT, WITH_DEFAULT, "AVRO")
    assert registry.register_schema(SUBJECT, V1 + " ", "AVRO") == registry.versions(SUBJECT)[0]  # held: its id


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown compatibility level 'BACKWARDS'"):
        InMemoryRegistry(default_level="BACKWARDS")
    with pytest.raises(ValueError, match="unknown compatibility level 'full'"):
        InMemoryRegistry().set_compatibility(SUBJECT, "full")


def json_schema(properties: dict[str, Any], *, required: tuple[str, ...] = (), closed: bool = False) -> str:
    document: dict[str, Any] = {"type": "object", "properties": properties, "required": list(required)}
    if closed:
        document["additionalProperties"] = False
    return json.dumps(document)


def test_json_schema_edits_follow_confluents_json_rules() -> None:
    registry = InMemoryRegistry()
    registry.register_schema(SUBJECT, json_schema({"id": {"type": "string"}}, closed=True), "JSON")
    # A closed model may gain an optional property: the old data never has it.
    widened = json_schema({"id": {"type": "string"}, "note": {"type": "string"}}, closed=True)
    registry.register_schema(SUBJECT, widened, "JSON")
    # ... but cannot require it: the data of version 2 may omit it.
    required = json_schema({"id": {"type": "string"}, "note": {"type": "string"}}, required=("note",), closed=True)
    with pytest.raises(
        IncompatibleSchemaError, match=r"version 2\n.*new version#/required/0: .*\(REQUIRED_ATTRIBUTE_ADDED\)"
    ):
        registry.register_schema(SUBJECT, required, "JSON")
    # Narrowing a type: the old data may hold a string where the reader wants an integer.
    registry.register_schema("n-value", json_schema({"n": {"type": ["integer", "string"]}}), "JSON")
    with pytest.raises(IncompatibleSchemaError, match=r"new version#/properties/n: .*\(TYPE_CHANGED\)"):
        registry.register_schema("n-value", json_schema({"n": {"type": "integer"}}), "JSON")
    assert len(registry.versions(SUBJECT)) == 2 and len(registry.versions("n-value")) == 1


def test_a_schema_the_checker_cannot_read_is_refused_as_invalid() -> None:
    registry = InMemoryRegistry()
    registry.register_schema(SUBJECT, V1, "AVRO")
    with pytest.raises(RegistryError, match=r"refused the schema of subject .* as invalid: .*unknown type") as refused:
        registry.register_schema(SUBJECT, avro({"name": "x", "type": "Nowhere"}), "AVRO")
    assert not isinstance(refused.value, IncompatibleSchemaError) and refused.value.http_status == 422


def test_only_the_first_incompatibilities_are_listed() -> None:
    registry = InMemoryRegistry()
    registry.register_schema(SUBJECT, V1, "AVRO")
    fields = [{"name": f"f{n}", "type": "int"} for n in range(5)]
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register_schema(SUBJECT, avro(*fields), "AVRO")
    lines = str(refused.value).splitlines()
    assert lines[0].endswith("5 incompatibilities with version 1") and len(refused.value.incompatibilities) == 5
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  new version#/fields/1",
        "  new version#/fields/2",
        "  new version#/fields/3",
        "  ... and 2 more",
    ]


def test_a_users_unit_test_catches_an_incompatible_schema_edit() -> None:
    """The deployed version of agent.lifecycle.created had no creator_id; the generated code adds it
    without a default. Publishing through the generated publisher registers the new schema: refused."""
    topic = pe.AGENT_LIFECYCLE_CREATED
    deployed = json.loads(topic.value.schema or "")
    deployed["fields"] = [f for f in deployed["fields"] if f["name"] != "creator_id"]
    registry = InMemoryRegistry()
    registry.set_compatibility(topic.value_subject, topic.compatibility)  # as `schemabus register` sets it
    registry.register_schema(topic.value_subject, json.dumps(deployed), "AVRO")
    bus = InMemoryBus(registry)

    with pytest.raises(IncompatibleSchemaError) as refused:
        asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE(), key="agent-1"))
    assert refused.value.subject == "agent.lifecycle.created-value" and refused.value.level == "FULL"
    assert 'field "creator_id" has no default' in str(refused.value)
    assert bus.records("agent.lifecycle.created") == []

    # The subject's level decides: at NONE, the same publish on the same bus goes through.
    registry.set_compatibility(topic.value_subject, "NONE")
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE(), key="agent-1"))
    assert len(bus.records("agent.lifecycle.created")) == 1 and len(registry.versions(topic.value_subject)) == 2
