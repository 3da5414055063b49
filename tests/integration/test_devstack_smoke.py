"""Smoke tests: the broker and the registry are real and configured for what schemabus needs.

Each test uses its own topic, group and subject names, so tests never see each other's data.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

pytestmark = pytest.mark.integration

# Generous for a 2-core machine, yet bounded: no test can hang.
TIMEOUT = 30.0


def _name(kind: str) -> str:
    return f"smoke-{kind}-{uuid.uuid4().hex[:12]}"


def _create_topic(bootstrap: str, partitions: int = 1) -> str:
    topic = _name("topic")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(timeout=TIMEOUT)
    return topic


def _produce(producer: Producer, topic: str, values: list[bytes]) -> None:
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error)

    for value in values:
        producer.produce(topic, value=value, on_delivery=on_delivery)
    assert producer.flush(TIMEOUT) == 0, "messages still queued after flush"
    assert failures == []


def _consume(consumer: Consumer, until: int, *, deadline_s: float = TIMEOUT) -> list[Message]:
    """Poll until ``until`` messages arrived or the deadline passed."""
    received: list[Message] = []
    deadline = time.monotonic() + deadline_s
    while len(received) < until and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        assert message.error() is None, message.error()
        received.append(message)
    return received


def _consumer(bootstrap: str, **extra: str | float | bool) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": _name("group"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **extra,
        }
    )


def test_idempotent_produce_and_group_consume_with_manual_commit(kafka_bootstrap: str) -> None:
    topic = _create_topic(kafka_bootstrap)
    values = [f"message-{i}".encode() for i in range(5)]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    _produce(producer, topic, values)

    consumer = _consumer(kafka_bootstrap)
    try:
        consumer.subscribe([topic])
        received = _consume(consumer, len(values))
        assert [m.value() for m in received] == values
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=TIMEOUT)
        assert committed[0].offset == len(values)
    finally:
        consumer.close()


def test_transactions_commit_and_abort(kafka_bootstrap: str) -> None:
    topic = _create_topic(kafka_bootstrap)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": _name("txn")})
    # Needs the one-node transaction-state settings; without them this times out.
    producer.init_transactions(TIMEOUT)
    producer.begin_transaction()
    _produce(producer, topic, [b"committed-1", b"committed-2"])
    producer.commit_transaction(TIMEOUT)
    producer.begin_transaction()
    _produce(producer, topic, [b"aborted"])
    producer.abort_transaction(TIMEOUT)
    # A last committed record: once it is read, everything before it has been decided.
    producer.begin_transaction()
    _produce(producer, topic, [b"committed-3"])
    producer.commit_transaction(TIMEOUT)

    committed_reader = _consumer(kafka_bootstrap, **{"isolation.level": "read_committed"})
    try:
        committed_reader.subscribe([topic])
        seen = [m.value() for m in _consume(committed_reader, 3)]
    finally:
        committed_reader.close()
    assert seen == [b"committed-1", b"committed-2", b"committed-3"]

    # The aborted record is really in the log: only the isolation level hid it.
    raw_reader = _consumer(kafka_bootstrap, **{"isolation.level": "read_uncommitted"})
    try:
        raw_reader.subscribe([topic])
        raw = [m.value() for m in _consume(raw_reader, 4)]
    finally:
        raw_reader.close()
    assert raw == [b"committed-1", b"committed-2", b"aborted", b"committed-3"]


def _record(name: str, fields: list[dict[str, object]]) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "schemabus.smoke", "fields": fields})


def test_registry_register_lookup_and_compatibility(registry_url: str) -> None:
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    avro_subject = _name("avro") + "-value"
    json_subject = _name("json") + "-value"
    avro_v1 = _record("Order", [{"name": "id", "type": "string"}])
    json_v1 = json.dumps(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"id": {"type": "string"}},
            "required": ["id"],
        }
    )
    avro_id = client.register_schema(avro_subject, Schema(avro_v1, "AVRO"))
    json_id = client.register_schema(json_subject, Schema(json_v1, "JSON"))
    assert avro_id != json_id

    # A fresh client: its lookups go to the server, not to the first client's cache.
    reader = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    by_id = reader.get_schema(avro_id)
    assert by_id.schema_str is not None and json.loads(by_id.schema_str) == json.loads(avro_v1)
    # Apicurio omits schemaType for AVRO; the client then takes the default, AVRO.
    assert by_id.schema_type in (None, "AVRO")
    json_by_id = reader.get_schema(json_id)
    assert json_by_id.schema_type == "JSON"
    assert json_by_id.schema_str is not None and json.loads(json_by_id.schema_str) == json.loads(json_v1)

    latest = reader.get_latest_version(avro_subject)
    assert (latest.schema_id, latest.version, latest.subject) == (avro_id, 1, avro_subject)
    assert reader.get_latest_version(json_subject).schema_id == json_id
    assert reader.get_versions(avro_subject) == [1]  # (not get_subjects(): a long-lived registry pages it)

    # (The client returns the raw response body here, despite its `str` annotation.)
    reader.set_compatibility(subject_name=avro_subject, level="BACKWARD")
    assert reader.get_compatibility(avro_subject) == "BACKWARD"

    # A new required field cannot be read from old data: BACKWARD refuses it.
    breaking = _record("Order", [{"name": "id", "type": "string"}, {"name": "qty", "type": "int"}])
    with pytest.raises(SchemaRegistryError) as refused:
        reader.register_schema(avro_subject, Schema(breaking, "AVRO"))
    assert refused.value.http_status_code == 409

    # The same field with a default is a compatible evolution.
    evolved = _record("Order", [{"name": "id", "type": "string"}, {"name": "qty", "type": "int", "default": 0}])
    evolved_id = reader.register_schema(avro_subject, Schema(evolved, "AVRO"))
    # Another fresh client: `reader` caches the latest version it looked up.
    latest = SchemaRegistryClient({"url": registry_url, "timeout": 10}).get_latest_version(avro_subject)
    assert (latest.schema_id, latest.version) == (evolved_id, 2)


def test_avro_serializer_framing_round_trip(kafka_bootstrap: str, registry_url: str) -> None:
    topic = _create_topic(kafka_bootstrap)
    schema = _record(
        "Payment",
        [{"name": "id", "type": "string"}, {"name": "cents", "type": "long"}],
    )
    serializer = AvroSerializer(SchemaRegistryClient({"url": registry_url, "timeout": 10}), schema)
    value = {"id": "p-1", "cents": 1234}
    framed = serializer(value, SerializationContext(topic, MessageField.VALUE))
    assert framed is not None
    # Confluent wire format: magic byte 0, then the 4-byte big-endian schema id.
    assert framed[0] == 0
    schema_id = int.from_bytes(framed[1:5], "big")
    registered = SchemaRegistryClient({"url": registry_url, "timeout": 10}).get_latest_version(f"{topic}-value")
    assert registered.schema_id == schema_id

    # Through the broker and back, decoded by a deserializer with its own (empty) cache.
    _produce(Producer({"bootstrap.servers": kafka_bootstrap}), topic, [framed])
    consumer = _consumer(kafka_bootstrap)
    try:
        consumer.subscribe([topic])
        received = _consume(consumer, 1)
    finally:
        consumer.close()
    assert len(received) == 1 and received[0].value() == framed
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url, "timeout": 10}))
    decoded = deserializer(received[0].value(), SerializationContext(topic, MessageField.VALUE))
    assert decoded == value
