"""The Kafka bus on a real broker and a real registry (Apicurio's Confluent API).

Typed events go through the generated publishers, come back through a plain confluent ``Consumer``
and decode to equal models with the runtime's codec, and with confluent's stock ``AvroDeserializer`` and
``JSONDeserializer``; records written by its stock serializers decode with the runtime's codec.
Failures (unreachable brokers, wrong credentials, delivery timeouts, unregistered schemas, a dead
registry, a full queue, a fatal producer error) are typed errors within a bounded time.

Every test uses its own topics (and so its own subjects): ``{uuid}.{entity}.{action}`` copies of
catalog topics, created with ``ensure_topics`` from the catalog's settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import json
import socket
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from faults import FaultServers, frozen

import platform_events as m
import platform_events as pe
from schemabus.runtime import DeliveryResult, RecordCodec, SchemaIds, SchemaNotRegisteredError, Topic
from schemabus.runtime.config import KafkaConfig, ProducerSettings, RegistryConfig
from schemabus.runtime.errors import (
    PublishError,
    RegistryUnavailableError,
    SchemabusError,
)
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.registry_client import ConfluentRegistry
from schemabus.runtime.testing import InMemoryBus, InMemoryRegistry
from tests.catalog_examples import cost_recorded

pytestmark = pytest.mark.integration

T = TypeVar("T")
TIMEOUT = 30.0  # generous for a 2-core machine, yet bounded: no test can hang
NOW = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 2 * TIMEOUT))


def fresh(topic: Topic[Any, Any]) -> Topic[Any, Any]:
    """A copy of a catalog topic under a unique name (its subjects are unique too)."""
    _, entity, action = topic.name.split(".")
    return dataclasses.replace(topic, name=f"t{uuid.uuid4().hex[:12]}.{entity}.{action}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def consume(bootstrap: str, topics: list[str], count: int) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g{uuid.uuid4().hex[:12]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    received: list[Message] = []
    try:
        consumer.subscribe(topics)
        deadline = time.monotonic() + TIMEOUT
        while len(received) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            received.append(message)
    finally:
        consumer.close()
    return received


def agent_created(n: int = 0) -> m.AgentCreated:
    return m.AgentCreated(
        agent_id=uuid.UUID(int=n + 1),
        agent_type=m.AgentType.RESEARCHER,
        display_name=f"researcher {n}",
        created_at=NOW,
        capabilities=["search", "summarize"],
        creator_id="user-4711",
        labels={"team": "research", "n": str(n)},
    )


def execution_started() -> pe.AgentExecutionStarted:
    return pe.AgentExecutionStarted.model_validate(
        {
            "execution_id": "0b7e6a52-8f2c-4f34-9a57-7f0e7c1d2e3f",
            "agent_id": "6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11",
            "agent_type": "CODER",
            "trigger": {"kind": "user", "user_id": "u-1", "email": "dev@example.com"},
            "labels": {"team": "core"},
            "started_at": "2026-11-28T12:00:00+00:00",
        }
    )


def avro_dict(value: Any) -> Any:
    """``model_dump()`` as Avro readers return it: enum members as their symbols."""
    if isinstance(value, dict):
        return {k: avro_dict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [avro_dict(v) for v in value]
    return value.value if isinstance(value, enum.Enum) else value


@pytest.fixture
def bus(kafka_bootstrap: str, registry_url: str) -> Any:
    bus = KafkaBus(kafka_bootstrap, registry_url)
    yield bus
    bus.close_sync(TIMEOUT)


# --- round trips ---------------------------------------------------------------------------


def test_typed_events_round_trip_through_kafka(bus: KafkaBus, kafka_bootstrap: str, registry_url: str) -> None:
    created_topic, cost_topic, started_topic = (
        fresh(pe.AGENT_LIFECYCLE_CREATED),
        fresh(pe.COST_TRACKING_RECORDED),
        fresh(pe.AGENT_EXECUTION_STARTED),
    )
    assert sorted(bus.ensure_topics([created_topic, cost_topic, started_topic])) == sorted(
        [created_topic.name, cost_topic.name, started_topic.name]
    )
    created = agent_created()
    cost_key, cost = cost_recorded()
    started = execution_started()

    class CreatedPublisher(pe.AgentLifecycleCreatedPublisher):
        topic = created_topic

    class CostPublisher(pe.CostTrackingRecordedPublisher):
        topic = cost_topic

    class StartedPublisher(pe.AgentExecutionStartedPublisher):
        topic = started_topic

    async def publish() -> list[DeliveryResult]:
        return [
            await CreatedPublisher(bus).publish(created, key=str(created.agent_id), headers={"trace": "t-1"}),
            await CostPublisher(bus).publish(cost, key=cost_key),
            await StartedPublisher(bus).publish(started, key=str(started.agent_id), headers=[("a", b"1"), ("a", b"2")]),
        ]

    results = run(publish())
    received = {msg.topic(): msg for msg in consume(kafka_bootstrap, [r.topic for r in results], 3)}
    assert len(received) == 3

    # A consumer with its own registry client and empty caches decodes every record to an equal model.
    reader = RecordCodec(SchemaIds(ConfluentRegistry(registry_url), "lookup"))
    for topic, key, value, result in [
        (created_topic, str(created.agent_id), created, results[0]),
        (cost_topic, cost_key, cost, results[1]),
        (started_topic, str(started.agent_id), started, results[2]),
    ]:
        msg = received[topic.name]
        assert (msg.partition(), msg.offset()) == (result.partition, result.offset)
        assert result.timestamp_ms > 0
        assert reader.decode_value(topic, msg.value()) == value
        assert reader.decode_key(topic, msg.key()) == key
        # Confluent framing: magic byte 0, then the 4-byte id the registry gave the subject.
        raw = msg.value()
        assert raw is not None and raw[0] == 0
        assert int.from_bytes(raw[1:5], "big") == bus.codec.ids.known_id(topic.value_subject, topic.value.schema)
    assert received[created_topic.name].headers() == [("trace", b"t-1")]
    assert received[started_topic.name].headers() == [("a", b"1"), ("a", b"2")]
    cost_key_bytes = received[cost_topic.name].key()
    assert cost_key_bytes is not None and cost_key_bytes[0] == 0  # an Avro key is framed too

    # The same bytes as the in-memory bus (same registry, so the same ids).
    memory = InMemoryBus(registry=ConfluentRegistry(registry_url))  # type: ignore[arg-type]
    run(memory.publish(created_topic, created, key=str(created.agent_id)))
    run(memory.publish(cost_topic, cost, key=cost_key))
    assert memory.records(created_topic.name)[0].value == received[created_topic.name].value()
    assert memory.records(cost_topic.name)[0].key == cost_key_bytes


def test_avro_records_decode_with_confluents_avro_deserializer(
    bus: KafkaBus, kafka_bootstrap: str, registry_url: str
) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus.ensure_topics([topic])
    events = [agent_created(n) for n in range(3)]

    async def publish() -> None:
        for event in events:
            await bus.publish(topic, event, key=str(event.agent_id))

    run(publish())
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url, "timeout": 10}))
    received = consume(kafka_bootstrap, [topic.name], len(events))
    decoded = [deserializer(msg.value(), SerializationContext(topic.name, MessageField.VALUE)) for msg in received]
    assert sorted(decoded, key=lambda d: str(d["agent_id"])) == [avro_dict(e.model_dump()) for e in events]


def test_json_records_decode_with_confluents_json_deserializer(
    bus: KafkaBus, kafka_bootstrap: str, registry_url: str
) -> None:
    topic = fresh(pe.AGENT_EXECUTION_STARTED)
    bus.ensure_topics([topic])
    event = execution_started()
    run(bus.publish(topic, event, key="k"))
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    deserializer = JSONDeserializer(None, schema_registry_client=client)  # the writer schema, by its id
    (received,) = consume(kafka_bootstrap, [topic.name], 1)
    decoded = deserializer(received.value(), SerializationContext(topic.name, MessageField.VALUE))
    assert decoded == json.loads(event.model_dump_json(by_alias=True, exclude_none=True))


def test_records_of_confluents_stock_serializers_decode_with_schemabus(kafka_bootstrap: str, registry_url: str) -> None:
    """AvroSerializer and JSONSerializer (auto-registering, as by default) write what schemabus reads:
    the same subjects (TopicNameStrategy), the same framing, payloads that decode to equal models."""
    avro_topic, json_topic = fresh(pe.AGENT_LIFECYCLE_CREATED), fresh(pe.AGENT_EXECUTION_STARTED)
    ensure_topics(kafka_bootstrap, [avro_topic, json_topic])
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    avro = AvroSerializer(client, avro_topic.value.schema, to_dict=lambda v, _: avro_dict(v.model_dump()))
    as_json = JSONSerializer(
        json_topic.value.schema,
        client,
        to_dict=lambda v, _: json.loads(v.model_dump_json(by_alias=True, exclude_none=True)),
    )
    created, started = agent_created(7), execution_started()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for topic, serializer, event in ((avro_topic, avro, created), (json_topic, as_json, started)):
        producer.produce(topic.name, serializer(event, SerializationContext(topic.name, MessageField.VALUE)))
    assert producer.flush(TIMEOUT) == 0

    codec = RecordCodec(SchemaIds(ConfluentRegistry(registry_url), "lookup"))  # as a ConsumerRunner decodes
    received = {msg.topic(): msg for msg in consume(kafka_bootstrap, [avro_topic.name, json_topic.name], 2)}
    assert codec.decode_value(avro_topic, received[avro_topic.name].value()) == created
    assert codec.decode_value(json_topic, received[json_topic.name].value()) == started
    # Avro: the id confluent registered is the generated schema's own, so the generated decoder ran.
    own = codec.ids.known_id(avro_topic.value_subject, avro_topic.value.schema or "")
    assert own == int.from_bytes(received[avro_topic.name].value()[1:5], "big")


def test_ensure_topics_uses_the_catalog_settings(kafka_bootstrap: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_UPDATED)  # 6 partitions, compacted, infinite retention
    assert ensure_topics(kafka_bootstrap, [topic]) == [topic.name]
    assert ensure_topics(KafkaConfig(bootstrap_servers=kafka_bootstrap), [topic]) == []  # exists: left alone
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    metadata = admin.list_topics(topic.name, timeout=TIMEOUT)
    assert len(metadata.topics[topic.name].partitions) == topic.partitions == 6
    resource = ConfigResource("topic", topic.name)
    configs = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT)
    assert configs["cleanup.policy"].value == topic.cleanup_policy == "compact"
    assert configs["retention.ms"].value == str(topic.retention_ms) == "-1"


def test_ensure_topics_names_a_topic_the_broker_refuses_and_creates_the_others(kafka_bootstrap: str) -> None:
    good, bad = fresh(pe.AGENT_LIFECYCLE_CREATED), fresh(pe.AGENT_LIFECYCLE_CREATED)
    bad = dataclasses.replace(bad, retention_ms=-7)  # not a retention the broker accepts
    with pytest.raises(SchemabusError, match=f"cannot create topic {bad.name}: .*retention"):
        ensure_topics(kafka_bootstrap, [good, bad])
    assert good.name in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=TIMEOUT).topics


# --- the registry ----------------------------------------------------------------------------


def test_a_warm_publisher_keeps_publishing_when_the_registry_is_gone(bus: KafkaBus, kafka_bootstrap: str) -> None:
    topic, other = fresh(pe.AGENT_LIFECYCLE_CREATED), fresh(pe.AGENT_LIFECYCLE_DELETED)
    bus.ensure_topics([topic])
    run(bus.publish(topic, agent_created(1), key="a"))

    # The registry becomes unreachable: the ids are cached, so publishing never asks it again.
    dead = RegistryConfig(url=f"http://127.0.0.1:{closed_port()}", max_retries=1, retry_backoff_ms=10)
    assert isinstance(bus.registry, ConfluentRegistry)
    bus.registry.config = dead
    bus.registry.client = SchemaRegistryClient(dead.client_config())

    async def publish_more() -> list[DeliveryResult]:
        return [await bus.publish(topic, agent_created(n), key="a") for n in range(2, 5)]

    assert [r.topic for r in run(publish_more())] == [topic.name] * 3
    assert len(consume(kafka_bootstrap, [topic.name], 4)) == 4

    # A topic whose ids are not cached needs the registry: a precise, typed error.
    deleted = m.AgentDeleted(agent_id=uuid.uuid4(), deleted_at=NOW)
    with pytest.raises(
        RegistryUnavailableError, match=r"is unavailable: could not look up the schema of subject .* \(2 attempts"
    ):
        run(bus.publish(other, deleted, key="a"))


def test_lookup_mode_rejects_an_unregistered_schema(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    with KafkaBus(kafka_bootstrap, RegistryConfig(url=registry_url, schema_ids="lookup")) as bus:
        with pytest.raises(SchemaNotRegisteredError, match=f"not registered under subject '{topic.value_subject}'"):
            run(bus.prepare(topic))
        with pytest.raises(SchemaNotRegisteredError):
            run(bus.publish(topic, agent_created(), key="a"))
        assert bus.producer is not None and len(bus.producer) == 0  # nothing was produced


def test_lookup_mode_finds_a_schema_registered_with_references(kafka_bootstrap: str, registry_url: str) -> None:
    """`schemabus register` registers shared named types as references; the runtime holds the same
    schema self-contained. Lookup mode must still find the registered version (and use its id)."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    full = json.loads(topic.value.schema)
    agent_type = next(f for f in full["fields"] if f["name"] == "agent_type")
    enum_schema = agent_type["type"]
    agent_type["type"] = enum_schema["name"]  # the reference form: the named type by its full name
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    ref_subject = f"{topic.name}.{enum_schema['name']}"
    client.register_schema(ref_subject, Schema(json.dumps(enum_schema), "AVRO"))
    version = client.get_latest_version(ref_subject).version
    registered_id = client.register_schema(
        topic.value_subject,
        Schema(json.dumps(full), "AVRO", [SchemaReference(enum_schema["name"], ref_subject, version)]),
    )

    with KafkaBus(kafka_bootstrap, RegistryConfig(url=registry_url, schema_ids="lookup")) as bus:
        bus.ensure_topics([topic])
        result = run(bus.publish(topic, agent_created(), key="a"))
        assert bus.codec.ids.known_id(topic.value_subject, topic.value.schema) == registered_id
    (msg,) = consume(kafka_bootstrap, [topic.name], 1)
    assert msg.offset() == result.offset
    raw = msg.value()
    assert raw is not None and int.from_bytes(raw[1:5], "big") == registered_id


def test_lookup_mode_pins_a_version_or_the_latest(kafka_bootstrap: str, registry_url: str, codec: RecordCodec) -> None:
    """``schema_versions``: publish with the id of a pinned version (or the latest), and refuse code
    generated from another schema than that version holds."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    v1_id = codec.ids.id_for(topic.value_subject, topic.value.schema, "AVRO")  # what CI registered first
    newer = json.loads(topic.value.schema)
    newer["fields"].append({"name": "region", "type": ["null", "string"], "default": None})
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    v2_id = client.register_schema(topic.value_subject, Schema(json.dumps(newer), "AVRO"))
    assert v2_id != v1_id

    def bus(versions: dict[str, Any]) -> KafkaBus:
        return KafkaBus(
            kafka_bootstrap, RegistryConfig(url=registry_url, schema_ids="lookup", schema_versions=versions)
        )

    stale_code = r"the latest version of subject .* is not the schema"  # generated from version 1
    with bus({"*": "latest"}) as stale, pytest.raises(SchemaNotRegisteredError, match=stale_code):
        run(stale.prepare(topic))
    with bus({topic.value_subject: 1, "*": "latest"}) as pinned:
        pinned.ensure_topics([topic])
        run(pinned.publish(topic, agent_created(), key="a"))
        assert pinned.codec.ids.known_id(topic.value_subject, topic.value.schema) == v1_id
    with bus({topic.value_subject: 3}) as missing, pytest.raises(SchemaNotRegisteredError, match="has no version 3"):
        run(missing.prepare(topic))
    (msg,) = consume(kafka_bootstrap, [topic.name], 1)
    raw = msg.value()
    assert raw is not None and int.from_bytes(raw[1:5], "big") == v1_id


def test_an_unreachable_registry_is_a_typed_error_after_retries() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    registry = ConfluentRegistry(RegistryConfig(url=url, max_retries=2, retry_backoff_ms=20))
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError) as error:
        registry.register_schema("orders-value", '{"type": "string"}', "AVRO")
    assert time.monotonic() - started < 10
    assert f"schema registry {url} is unavailable" in str(error.value)
    assert "(3 attempts" in str(error.value) and "ConnectError" in str(error.value)


# --- failures ------------------------------------------------------------------------------


def test_an_unreachable_cluster_fails_pending_and_new_publishes_within_the_budget() -> None:
    bus = KafkaBus(
        f"127.0.0.1:{closed_port()}",
        InMemoryRegistry(),
        producer=ProducerSettings(broker_down_timeout_ms=1500),
    )
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)

    async def publish() -> tuple[list[BaseException | DeliveryResult], float, PublishError]:
        started = time.monotonic()
        pending = await asyncio.gather(
            *(bus.publish(topic, agent_created(n), key="a") for n in range(3)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
        try:
            await bus.publish(topic, agent_created(), key="a")
        except PublishError as e:
            return pending, elapsed, e
        raise AssertionError("published to an unreachable cluster")

    try:
        pending, elapsed, subsequent = run(publish())
    finally:
        bus.close_sync(5)
    assert elapsed < 15  # the budget (1.5 s), not the delivery timeout (120 s)
    for error in [*pending, subsequent]:
        assert isinstance(error, PublishError) and type(error) is PublishError
        assert error.code == "_ALL_BROKERS_DOWN" and error.retriable and not error.possibly_persisted
        assert error.topic == topic.name and "reachable" in str(error)


def forward(port: int, target: str) -> socket.socket:
    """A TCP forwarder from ``port`` to ``target`` (``host:port``), in daemon threads; close the
    returned listening socket to stop accepting."""
    host, target_port = target.rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                upstream = socket.create_connection((host, int(target_port)))
                threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


def test_publishing_resumes_when_the_cluster_is_reachable_again(kafka_bootstrap: str) -> None:
    """Bootstrap through a port nobody listens on, then forward that port to the broker."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    ensure_topics(kafka_bootstrap, [topic])
    port = closed_port()
    bus = KafkaBus(f"127.0.0.1:{port}", InMemoryRegistry(), producer=ProducerSettings(broker_down_timeout_ms=1000))

    async def scenario() -> DeliveryResult:
        with pytest.raises(PublishError) as down:
            await bus.publish(topic, agent_created(), key="a")
        assert down.value.code == "_ALL_BROKERS_DOWN"
        listener = forward(port, kafka_bootstrap)
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    return await bus.publish(topic, agent_created(), key="a")
                except PublishError:  # until the probe reached the cluster again
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        finally:
            listener.close()

    try:
        result = run(scenario())
    finally:
        bus.close_sync(5)
    assert result.topic == topic.name and result.offset == 0


def test_a_delivery_timeout_is_possibly_persisted() -> None:
    settings = ProducerSettings(broker_down_timeout_ms=None, delivery_timeout_ms=1000)
    with KafkaBus(f"127.0.0.1:{closed_port()}", InMemoryRegistry(), producer=settings) as bus:
        started = time.monotonic()
        with pytest.raises(PublishError) as error:
            run(bus.publish(fresh(pe.AGENT_LIFECYCLE_CREATED), agent_created(), key="a"))
        assert time.monotonic() - started < 15
    assert error.value.code == "_MSG_TIMED_OUT"
    assert error.value.possibly_persisted and error.value.retriable
    assert "delivery timeout (1000 ms)" in str(error.value)


# --- back-pressure, flush, close, the sync facade -----------------------------------------


def test_a_full_queue_applies_back_pressure_without_losing_records(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    settings = ProducerSettings(queue_max_messages=5, linger_ms=1)
    with KafkaBus(kafka_bootstrap, registry_url, producer=settings) as bus:
        bus.ensure_topics([topic])

        async def publish() -> list[DeliveryResult]:
            concurrent = asyncio.gather(*(bus.publish(topic, agent_created(n), key=str(n)) for n in range(300)))
            nowait = [bus.publish_nowait(topic, agent_created(n), key=str(n)) for n in range(300, 500)]
            return [*await concurrent, *await asyncio.gather(*nowait)]

        results = run(publish())
    assert len({(r.partition, r.offset) for r in results}) == 500
    received = consume(kafka_bootstrap, [topic.name], 500)
    assert sorted(int(msg.key() or b"-1") for msg in received) == list(range(500))


def test_flush_and_close_deliver_everything(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = KafkaBus(kafka_bootstrap, registry_url, producer=ProducerSettings(linger_ms=50))
    bus.ensure_topics([topic])

    async def scenario() -> tuple[list[Any], list[Any]]:
        await bus.prepare(topic)
        flushed = [bus.publish_nowait(topic, agent_created(n), key=str(n)) for n in range(100)]
        assert await bus.flush() == 0
        assert all(f.done() for f in flushed)  # flush returns after every future is resolved
        closed = [bus.publish_nowait(topic, agent_created(n), key=str(n)) for n in range(100, 200)]
        await bus.close()
        assert all(f.done() for f in closed)
        with pytest.raises(PublishError, match="closed"):
            await bus.publish(topic, agent_created(), key="x")
        return [f.result() for f in flushed], [f.result() for f in closed]

    flushed, closed = run(scenario())
    assert len(flushed) == len(closed) == 100
    assert len(consume(kafka_bootstrap, [topic.name], 200)) == 200


def test_publish_sync_for_scripts(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    with KafkaBus(KafkaConfig(bootstrap_servers=kafka_bootstrap), RegistryConfig(url=registry_url)) as bus:
        bus.ensure_topics([topic])
        result = bus.publish_sync(topic, agent_created(), key="script")
    (msg,) = consume(kafka_bootstrap, [topic.name], 1)
    assert (msg.partition(), msg.offset(), msg.key()) == (result.partition, result.offset, b"script")


def test_closing_fails_what_an_unreachable_cluster_never_took_as_not_persisted() -> None:
    """close() waits up to its timeout, then purges what is still queued: each future fails with the
    reason (retriable, not persisted: the records never left this process), none is left hanging."""
    settings = ProducerSettings(broker_down_timeout_ms=None)
    bus = KafkaBus(f"127.0.0.1:{closed_port()}", InMemoryRegistry(), producer=settings)
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)

    async def scenario() -> tuple[list[BaseException | None], float]:
        await bus.prepare(topic)
        pending = [bus.publish_nowait(topic, agent_created(n), key=str(n)) for n in range(20)]
        started = time.monotonic()
        await bus.close(timeout=0.5)
        elapsed = time.monotonic() - started
        assert all(f.done() for f in pending)
        return [f.exception() for f in pending], elapsed

    errors, elapsed = run(scenario())
    assert elapsed < 10
    for error in errors:
        assert isinstance(error, PublishError), error
        assert "the bus was closed before delivery" in str(error) and error.topic == topic.name
        assert error.retriable and not error.possibly_persisted


def test_closing_while_the_broker_does_not_answer_fails_records_in_flight_as_possibly_persisted(
    fault_servers: FaultServers,
) -> None:
    """The broker took the records' produce request but does not answer (frozen): close() purges them
    in flight. They may be in the log once the broker goes on, so their errors say possibly persisted;
    what the broker does append is some of those records, once each (idempotence)."""
    bootstrap = fault_servers.bootstrap
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = KafkaBus(bootstrap, fault_servers.registry_url, producer=ProducerSettings(linger_ms=0))
    bus.ensure_topics([topic])

    async def scenario() -> list[BaseException | None]:
        await bus.publish(topic, agent_created(0), key="0")  # connected, with the topic's metadata
        with frozen(fault_servers.kafka):
            pending = [bus.publish_nowait(topic, agent_created(n), key=str(n)) for n in range(1, 11)]
            await asyncio.sleep(0.5)  # sent, unanswered
            await bus.close(timeout=1)
            assert all(f.done() for f in pending)
        return [f.exception() for f in pending]

    errors = run(scenario())
    for error in errors:
        assert isinstance(error, PublishError), error
        assert "the bus was closed before delivery" in str(error) and error.retriable
    # Those sent are possibly persisted; any still queued behind them (the idempotent producer keeps at
    # most 5 requests in flight) are not.
    assert any(isinstance(e, PublishError) and e.possibly_persisted for e in errors)
    received = consume(bootstrap, [topic.name], 11)
    keys = sorted(int(msg.key() or b"-1") for msg in received)
    assert keys[0] == 0 and keys == sorted(set(keys)) and set(keys) <= set(range(11))
