"""Batch handlers (``topic.batch_handler()``) in a ConsumerRunner on a real broker and registry: batches of
one partition in offset order, a failing event isolated and dead-lettered with its original bytes,
poison records dead-lettered alone, every offset committed. Waits are bounded; nothing is timed."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export
from consumer_worker import ConfluentRegistry, agent_topic

import platform_events as pe
from schemabus.runtime import BatchFailedError, Event, RecordCodec, RetryPolicy
from schemabus.runtime.consumer import ConsumerRunner, consumer_lag
from schemabus.runtime.dlq import HEADER_REASON, dlq_topic_name, read_dead_letters
from schemabus.runtime.serde import frame_header

pytestmark = pytest.mark.integration

TIMEOUT = 45.0
PARTITIONS = 3
PER_PARTITION = 40


def _agent(i: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=i),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, i % 60, tzinfo=dt.UTC),
        creator_id=f"user-{i}",
    )


def _produce(bootstrap: str, topic: str, records: list[tuple[int, bytes, bytes]]) -> None:
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for partition, key, value in records:
        producer.produce(topic, key=key, value=value, partition=partition, on_delivery=on_delivery)
    assert producer.flush(TIMEOUT) == 0
    assert failures == []


async def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT}s waiting for {what}")
        await asyncio.sleep(0.05)


def test_a_batch_handler_handles_every_partition_in_order_and_dead_letters_only_what_fails(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = f"t{uuid.uuid4().hex[:10]}.consumer.batch"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])[name].result(TIMEOUT)
    topic = agent_topic(name, PARTITIONS)
    poison = frame_header(2_000_000_000) + b"\x02"  # an unknown schema id, on partition 1
    failing = 2 * PER_PARTITION + 7  # the handler fails on this one, on partition 2
    records: list[tuple[int, bytes, bytes]] = []
    for p in range(PARTITIONS):
        for i in range(p * PER_PARTITION, (p + 1) * PER_PARTITION):
            records.append((p, f"k{i}".encode(), codec.encode_value(topic, _agent(i))))
            if i == PER_PARTITION + 5:
                records.append((p, b"poison", poison))
    _produce(kafka_bootstrap, name, records)
    seen: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    sizes: list[int] = []

    @topic.batch_handler(max_batch=16)
    async def load(events: list[Event[str, pe.AgentCreated]]) -> None:
        assert len({e.partition for e in events}) == 1
        sizes.append(len(events))
        for i, event in enumerate(events):
            n = int(event.value.creator_id.removeprefix("user-"))
            if n == failing:
                raise BatchFailedError(i) from ValueError("user 87 is unknown")
            seen[event.partition].append(n)

    runner = ConsumerRunner(
        kafka_bootstrap,
        registry,
        [load],
        service=f"s{uuid.uuid4().hex[:8]}",
        retry=RetryPolicy(max_retries=2, initial_backoff=0.01, jitter=0),
        commit_interval=0.1,
    )
    group = f"{runner.service}.{name}.load"
    total = PARTITIONS * PER_PARTITION

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        try:
            await _wait_for(lambda: sum(map(len, seen.values())) == total - 1, "every record but one handled")
            await _wait_for(lambda: runner.metrics.dead_lettered == 2, "two dead letters")
            await _wait_for(
                lambda: all(p.committed == p.high_watermark for p in consumer_lag(kafka_bootstrap, group, name)),
                "every offset committed",
            )
        finally:
            runner.stop()
            await asyncio.wait_for(task, TIMEOUT)

    asyncio.run(scenario())
    for p in range(PARTITIONS):  # in order, each once (a batch ends where the failing event was)
        expected = [i for i in range(p * PER_PARTITION, (p + 1) * PER_PARTITION) if i != failing]
        assert seen[p] == expected
    assert max(sizes) <= 16
    letters = {d.value: d for d in read_dead_letters(kafka_bootstrap, dlq_topic_name(name))}
    assert set(letters) == {poison, records[failing + 1][2]}  # the original bytes (+1: the poison before it)
    assert letters[poison].reason == "unknown-schema-id"
    assert letters[records[failing + 1][2]].exception_class == "builtins.ValueError"
    assert dict(letters[records[failing + 1][2]].dlq_headers)[HEADER_REASON] == b"handler-error"
    assert runner.metrics.poison == 1
