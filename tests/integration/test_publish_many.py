"""publish_many on a real broker: every record delivered in order per key, through back-pressure;
records the broker or the client refuses named by position, with everything else published; a
value that cannot be encoded sends nothing; a bus that fails or closes mid-batch ends the batch."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

import platform_events as m
import platform_events as pe
from schemabus.runtime.config import KafkaConfig, ProducerSettings
from schemabus.runtime.errors import PublishBatchError, PublishError
from schemabus.runtime.kafka import KafkaBus
from tests.integration.test_kafka_bus import TIMEOUT, agent_created, consume, fresh, run

pytestmark = pytest.mark.integration


def publisher_for(topic: Any, bus: KafkaBus) -> pe.AgentLifecycleCreatedPublisher:
    class Publisher(pe.AgentLifecycleCreatedPublisher):
        pass

    Publisher.topic = topic
    return Publisher(bus)


def numbers(messages: list[Any], topic: Any, bus: KafkaBus) -> list[int]:
    return [int(bus.codec.decode_value(topic, msg.value()).labels["n"]) for msg in messages]


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"w{uuid.uuid4().hex[:8]}"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT)[1] for p in range(partitions)
        )
    finally:
        consumer.close()


def test_publish_many_delivers_every_record_in_order_per_key(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    # A small local queue: publish_many waits for room (back-pressure) many times over.
    with KafkaBus(kafka_bootstrap, registry_url, producer=ProducerSettings(queue_max_messages=200)) as bus:
        bus.ensure_topics([topic])
        events = [agent_created(n) for n in range(3000)]
        keys = [f"key-{n % 7}" for n in range(3000)]
        assert run(publisher_for(topic, bus).publish_many(events, keys=keys, headers={"batch": "b-1"})) == 3000
        received = consume(kafka_bootstrap, [topic.name], 3000)
        assert sorted(numbers(received, topic, bus)) == list(range(3000))
        for k in range(7):
            of_key = [msg for msg in received if msg.key() == f"key-{k}".encode()]
            assert numbers(of_key, topic, bus) == list(range(k, 3000, 7))  # one partition per key: in order
        assert all(msg.headers() == [("batch", b"b-1")] for msg in received)


def big(n: int) -> m.AgentCreated:
    """An event of ~20 kB that lz4 cannot shrink below 2 kB."""
    return agent_created(n).model_copy(update={"display_name": os.urandom(10_000).hex()})


def test_records_the_broker_refuses_are_named_by_position(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created = admin.create_topics([NewTopic(topic.name, 3, 1, config={"max.message.bytes": "4000"})])
    created[topic.name].result(TIMEOUT)
    with KafkaBus(kafka_bootstrap, registry_url, producer=ProducerSettings(linger_ms=0)) as bus:
        events = [big(n) if n in (10, 30) else agent_created(n) for n in range(50)]
        with pytest.raises(PublishBatchError) as info:
            run(publisher_for(topic, bus).publish_many(events, keys=[str(n) for n in range(50)]))
        error = info.value
        # The broker refuses a whole record batch: other records that shared one with a big record
        # may fail with it. Whatever failed is named, and everything else was published.
        assert {10, 30} <= set(error.failed)
        assert all(e.code == KafkaError(KafkaError.MSG_SIZE_TOO_LARGE).name() for e in error.failed.values())
        assert error.total == 50 and error.delivered == 50 - len(error.failed)
        assert "records were not published; the first (at position" in str(error)
        received = consume(kafka_bootstrap, [topic.name], error.delivered)
        assert sorted(numbers(received, topic, bus)) == sorted(set(range(50)) - set(error.failed))


def test_a_record_the_client_refuses_fails_the_rest_of_the_batch(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    kafka = KafkaConfig(bootstrap_servers=kafka_bootstrap, extra={"message.max.bytes": 10_000})
    with KafkaBus(kafka, registry_url) as bus:
        bus.ensure_topics([topic])
        events = [big(n) if n == 6 else agent_created(n) for n in range(10)]
        with pytest.raises(PublishBatchError) as info:
            run(publisher_for(topic, bus).publish_many(events))
        error = info.value
        assert sorted(error.failed) == [6, 7, 8, 9]  # refused by produce(): nothing after it was sent
        assert not any(e.possibly_persisted for e in error.failed.values())
        assert not error.possibly_persisted and error.delivered == 6
        received = consume(kafka_bootstrap, [topic.name], 6)
        assert sorted(numbers(received, topic, bus)) == list(range(6))


def test_a_value_that_cannot_be_encoded_sends_nothing(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    with KafkaBus(kafka_bootstrap, registry_url) as bus:
        bus.ensure_topics([topic])
        publisher = publisher_for(topic, bus)
        broken = agent_created(5).model_copy(update={"labels": {"n": 5}})  # past validation
        events = [agent_created(n) for n in range(5)] + [broken]
        with pytest.raises((TypeError, AttributeError)):  # compiled encoder / generated Python writer
            run(publisher.publish_many(events))
        run(publisher.publish(agent_created(99)))
        (only,) = consume(kafka_bootstrap, [topic.name], 1)
        assert numbers([only], topic, bus) == [99]
        assert high_watermarks(kafka_bootstrap, topic.name, topic.partitions) == 1


def test_a_failure_after_the_last_record_was_sent_does_not_fail_the_batch(
    kafka_bootstrap: str, registry_url: str
) -> None:
    """The bus fails (here: simulated during the batch's last inline poll) once every record is sent:
    they are all acknowledged, so the batch succeeds; a next batch is refused as publish() would be."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    with KafkaBus(kafka_bootstrap, registry_url) as bus:
        bus.ensure_topics([topic])
        serve = bus._serve_inline

        def serve_then_fail(loop: Any, timeout: float = 0) -> None:
            serve(loop, timeout)
            bus._health.failure = PublishError("", "brokers down (simulated)", retriable=True)

        bus._serve_inline = serve_then_fail  # type: ignore[method-assign]
        assert run(bus.publish_many(topic, [agent_created(n) for n in range(256)])) == 256
        with pytest.raises(PublishError, match="brokers down"):
            run(bus.publish_many(topic, [agent_created(256)]))
        bus._health.failure = None
    assert len(consume(kafka_bootstrap, [topic.name], 256)) == 256


def test_closing_the_bus_during_a_batch_ends_the_batch(kafka_bootstrap: str, registry_url: str) -> None:
    """Another thread closes the bus while a large batch is being sent (as soon as the first records
    are queued): the records sent before are delivered, the rest are named as not sent, none hangs."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    count = 50_000
    bus = KafkaBus(kafka_bootstrap, registry_url, producer=ProducerSettings(linger_ms=50))
    bus.ensure_topics([topic])
    run(bus.prepare(topic))
    events = [agent_created(n) for n in range(count)]

    def close_once_sending() -> None:
        deadline = time.monotonic() + 30
        while len(bus.producer) == 0 and time.monotonic() < deadline:  # the batch has begun sending
            time.sleep(0.0005)
        bus.close_sync()

    closer = threading.Thread(target=close_once_sending)
    closer.start()
    try:
        with pytest.raises(PublishBatchError) as info:
            run(bus.publish_many(topic, events))
    finally:
        closer.join()
    error = info.value
    assert "closed" in str(error) and 0 < error.delivered < count  # the rest named, nothing left hanging
    assert all(not e.possibly_persisted for e in error.failed.values())
    assert high_watermarks(kafka_bootstrap, topic.name, topic.partitions) == error.delivered
