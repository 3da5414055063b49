"""The in-memory bus runs the production serialization path: every topic of the catalog round-trips
through its typed publisher and handler; poison bytes and schema evolution behave as on Kafka."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import platform_events as pe
from schemabus.runtime import DeserializationError, Event, NotConnectedError, consumer_group
from schemabus.runtime.serde import frame_header
from schemabus.runtime.testing import InMemoryBus

from ..catalog_examples import TOPICS, generated_topic, publisher, records


@pytest.mark.parametrize("name", sorted(TOPICS))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_every_catalog_topic_round_trips_through_publisher_and_handler(name: str, data: st.DataObject) -> None:
    topic = generated_topic(name)
    key, value = data.draw(records(name))
    received: list[Event[Any, Any]] = []

    @topic.handler()
    async def on_event(event: Event[Any, Any]) -> None:
        received.append(event)

    bus = InMemoryBus()
    bus.subscribe(on_event)
    result = asyncio.run(publisher(name)(bus).publish(value, key=key, headers={"trace": "t-1"}))

    assert [(e.value, e.key) for e in received] == [(value, key)]
    assert received[0].header("trace") == b"t-1"
    stored = bus.records(name)[0]
    assert (result.partition, result.offset) == (stored.partition, stored.offset)
    assert stored.value[0] == 0  # Confluent framing: magic byte, then the 4-byte schema id
    schema_id = int.from_bytes(stored.value[1:5], "big")
    assert bus.registry.schema_by_id(schema_id) == (topic.value.format, topic.value.schema)
    assert topic.value.serializer(schema_id)(value) == stored.value  # the Kafka bus's bound serializer
    assert bus.registry.subjects() == sorted(
        [f"{name}-value"] + ([f"{name}-key"] if topic.key is not None and topic.key.schema else [])
    )


def test_publisher_accepts_only_its_topic_types() -> None:
    bus = InMemoryBus()
    created = MODELS_EXAMPLE()
    with pytest.raises(TypeError, match=r"agent\.lifecycle\.deleted carries AgentDeleted, not AgentCreated"):
        asyncio.run(pe.AgentLifecycleDeletedPublisher(bus).publish(created))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keyed by str, not int"):
        asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(created, key=7))  # type: ignore[arg-type]
    assert bus.records("agent.lifecycle.created") == []


def test_unconnected_publisher_says_how_to_connect() -> None:
    with pytest.raises(
        NotConnectedError, match=r"pass one when you create it, e.g. AgentLifecycleCreatedPublisher\(InMemoryBus\(\)\)"
    ):
        asyncio.run(pe.AgentLifecycleCreatedPublisher().publish(MODELS_EXAMPLE()))


def MODELS_EXAMPLE() -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id="6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11",  # type: ignore[arg-type]
        agent_type=pe.AgentType.RESEARCHER,
        created_at="2026-11-28T10:00:00Z",  # type: ignore[arg-type]
        creator_id="user-1",
    )


def EXECUTION_EXAMPLE() -> Any:
    return pe.AGENT_EXECUTION_STARTED.value.type.model_validate(
        {
            "execution_id": "0b6f3c1e-7d4a-4a59-8a3e-2f4c1d0e9b77",
            "agent_id": "6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11",
            "agent_type": "CODER",
            "trigger": {"kind": "user", "user_id": "u-1"},
            "started_at": "2026-11-28T10:00:00Z",
        }
    )


def test_subclassed_handler_stub_receives_typed_events() -> None:
    seen: list[pe.AgentCreated] = []

    class OnCreated(pe.AgentLifecycleCreatedHandler):
        async def handle(self, event: Event[str, pe.AgentCreated]) -> None:
            seen.append(event.value)

    bus = InMemoryBus()
    bus.subscribe(OnCreated())
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE(), key="a-1"))
    assert seen == [MODELS_EXAMPLE()]
    assert consumer_group(OnCreated(), "billing") == "billing.agent.lifecycle.created.on_created"


def test_unimplemented_stub_fails_loudly() -> None:
    bus = InMemoryBus()
    bus.subscribe(pe.AgentLifecycleCreatedHandler())
    with pytest.raises(NotImplementedError, match=r"AgentLifecycleCreatedHandler.handle is not implemented"):
        asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE()))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x01\x00\x00\x00\x01rest", "bad-magic"),
        (b"\x00\x00", "truncated"),
        (b"\x00\x00\x00\x03\xe7" + b"\x00" * 20, "unknown-schema-id"),
    ],
)
def test_poison_bytes_are_typed_errors(raw: bytes, reason: str) -> None:
    bus = InMemoryBus()
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE()))
    record = bus.append(pe.AGENT_LIFECYCLE_CREATED, None, raw)
    with pytest.raises(DeserializationError) as err:
        bus.decode(pe.AGENT_LIFECYCLE_CREATED, record)
    assert err.value.reason == reason


def test_truncated_avro_payload_is_poison() -> None:
    bus = InMemoryBus()
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE()))
    good = bus.records("agent.lifecycle.created")[0].value
    record = bus.append(pe.AGENT_LIFECYCLE_CREATED, None, good[:-3])
    with pytest.raises(DeserializationError) as err:
        bus.decode(pe.AGENT_LIFECYCLE_CREATED, record)
    assert err.value.reason in ("truncated", "invalid-payload")


@pytest.mark.parametrize(("payload", "reason"), [(b"{not json", "invalid-payload"), (b'{"agent_id": 5}', "validation")])
def test_bad_json_payload_is_poison(payload: bytes, reason: str) -> None:
    bus = InMemoryBus()
    schema_id = bus.registry.register_schema(
        "agent.execution.started-value", pe.AGENT_EXECUTION_STARTED.value.schema or "", "JSON"
    )
    record = bus.append(pe.AGENT_EXECUTION_STARTED, None, frame_header(schema_id) + payload)
    with pytest.raises(DeserializationError) as err:
        bus.decode(pe.AGENT_EXECUTION_STARTED, record)
    assert err.value.reason == reason


@pytest.mark.parametrize(("writer", "reason"), [("unknown", "unknown-schema-id"), ("avro", "invalid-payload")])
def test_a_json_record_needs_a_known_json_writer_schema(writer: str, reason: str) -> None:
    """JSON needs no schema resolution, but an id the registry does not know (or an Avro id) is poison."""
    bus = InMemoryBus()
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(MODELS_EXAMPLE()))  # registers an Avro schema
    own = bus.registry.register_schema(
        "agent.execution.started-value", pe.AGENT_EXECUTION_STARTED.value.schema or "", "JSON"
    )
    avro_id = int.from_bytes(bus.records("agent.lifecycle.created")[0].value[1:5], "big")
    writer_id = {"unknown": own + 1000, "avro": avro_id}[writer]
    payload = pe.AGENT_EXECUTION_STARTED.value.serialize(EXECUTION_EXAMPLE(), own)[5:]
    record = bus.append(pe.AGENT_EXECUTION_STARTED, None, frame_header(writer_id) + payload)
    with pytest.raises(DeserializationError) as err:
        bus.decode(pe.AGENT_EXECUTION_STARTED, record)
    assert err.value.reason == reason
    # The same document under its own id decodes.
    ok = bus.append(pe.AGENT_EXECUTION_STARTED, None, frame_header(own) + payload)
    assert bus.decode(pe.AGENT_EXECUTION_STARTED, ok).value == EXECUTION_EXAMPLE()


def test_data_written_with_an_older_schema_is_resolved() -> None:
    """A producer still on v1 (no labels, no availability, creator named user_id) is read by v2."""
    v2 = json.loads(pe.AGENT_LIFECYCLE_CREATED.value.schema or "")
    v1 = {
        "type": "record",
        "name": v2["name"],
        "fields": [
            {"name": "agent_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "agent_type", "type": next(f["type"] for f in v2["fields"] if f["name"] == "agent_type")},
            {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "user_id", "type": "string"},
        ],
    }
    bus = InMemoryBus()
    v1_id = bus.registry.register_schema("agent.lifecycle.created-value", json.dumps(v1), "AVRO")
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf,
        fastavro.parse_schema(v1),
        {"agent_id": "6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11", "agent_type": "CODER", "created_at": 0, "user_id": "u-9"},
    )
    record = bus.append(pe.AGENT_LIFECYCLE_CREATED, b"k", frame_header(v1_id) + buf.getvalue())
    event = bus.decode(pe.AGENT_LIFECYCLE_CREATED, record)
    assert event.value.creator_id == "u-9"  # resolved through the field alias
    assert event.value.labels == {} and event.value.schema_version == 1  # defaults of fields v1 lacks
    assert event.value.agent_type is pe.AgentType.CODER


def test_publish_many_publishes_in_order_and_encodes_everything_first() -> None:
    bus = InMemoryBus()
    received: list[Event[Any, Any]] = []

    @pe.AGENT_LIFECYCLE_CREATED.handler()
    async def on_event(event: Event[Any, Any]) -> None:
        received.append(event)

    bus.subscribe(on_event)
    publisher = pe.AgentLifecycleCreatedPublisher(bus)
    events = [MODELS_EXAMPLE().model_copy(update={"creator_id": f"user-{n}"}) for n in range(5)]
    keys = [f"k{n % 2}" for n in range(5)]
    assert asyncio.run(publisher.publish_many(events, keys=keys, headers={"trace": "t-1"})) == 5
    # In order per key (per partition), as a consumer group handles them: partitions run side by side.
    for key in set(keys):
        assert [e.value for e in received if e.key == key] == [v for v, k in zip(events, keys) if k == key]
    assert len(received) == 5
    assert all(e.header("trace") == b"t-1" for e in received)
    assert asyncio.run(publisher.publish_many([])) == 0

    broken = events[0].model_copy(update={"schema_version": 2**40})  # past validation: not an Avro int
    with pytest.raises(ValueError, match="out of range for an Avro int"):
        asyncio.run(publisher.publish_many([events[1], broken, events[2]]))
    assert len(bus.records("agent.lifecycle.created")) == 5  # nothing of the failed batch was stored

    with pytest.raises(ValueError, match="3 values but 2 keys"):
        asyncio.run(publisher.publish_many(events[:3], keys=keys[:2]))
    with pytest.raises(TypeError, match="keyed by str, not int"):
        asyncio.run(publisher.publish_many(events[:2], keys=["a", 7]))  # type: ignore[list-item]
    with pytest.raises(TypeError, match="carries AgentDeleted, not AgentCreated"):
        asyncio.run(pe.AgentLifecycleDeletedPublisher(bus).publish_many(events))  # type: ignore[arg-type]
    assert len(bus.records("agent.lifecycle.created")) == 5


def test_lookup_mode_can_pin_subjects_to_a_version() -> None:
    from schemabus.runtime import SchemaIds, SchemaNotRegisteredError
    from schemabus.runtime.testing import InMemoryRegistry

    v1 = '{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}'
    v2 = '{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}'
    registry = InMemoryRegistry()
    id1, id2 = registry.register_schema("s-value", v1, "AVRO"), registry.register_schema("s-value", v2, "AVRO")
    registry.register_schema("t-value", v1, "AVRO")

    latest = SchemaIds(registry, "lookup", {"*": "latest"})
    assert latest.id_for("s-value", v2, "AVRO") == id2
    with pytest.raises(SchemaNotRegisteredError, match=r"version 2 of subject 's-value' \(id 2\) is not the schema"):
        latest.id_for("s-value", v1, "AVRO")  # stale code: the newest version is another schema

    pinned = SchemaIds(registry, "lookup", {"s-value": 1, "*": "latest"})
    assert pinned.id_for("s-value", v1, "AVRO") == id1  # the subject's own pin wins over "*"
    assert pinned.id_for("t-value", " " + v1, "AVRO") == id1  # "*": latest of t-value, formatting aside
    with pytest.raises(SchemaNotRegisteredError, match="has no version 3"):
        SchemaIds(registry, "lookup", {"s-value": 3}).id_for("s-value", v1, "AVRO")
    assert SchemaIds(registry, "lookup").id_for("s-value", v1, "AVRO") == id1  # unpinned: any version holding it
    with pytest.raises(ValueError, match="lookup mode only"):
        SchemaIds(registry, "register", {"*": "latest"})
