"""Fewer in-sync replicas than a topic requires, on the three-broker KRaft cluster (``kafka_cluster``).

A topic with 3 replicas and ``min.insync.replicas=3`` loses one broker (stopped cleanly, so it leaves
every ISR at once): its partitions keep a leader but have 2 in-sync replicas, and the brokers refuse
``acks=all`` writes with NOT_ENOUGH_REPLICAS. That is the code path of "RF 3, min ISR 2, two brokers
down", reached without stopping two of the cluster's three nodes: each node is a KRaft controller
too, so stopping two would lose the controller quorum as well, and then no ISR can shrink (the
leader keeps waiting for the dead followers: requests time out) and no leader can move, which tests
something else than too few in-sync replicas.

- librdkafka retries NOT_ENOUGH_REPLICAS (the record was not written) until the delivery timeout, and
  then reports ``_MSG_TIMED_OUT``; a bus with its default settings asks the cluster why, and fails the
  record with ``PublishError(code="NOT_ENOUGH_REPLICAS")`` (retriable; possibly persisted, as any
  timeout) naming the partition, its in-sync replicas and ``min.insync.replicas``, at the delivery
  timeout: ``publish`` and every record of a ``publish_many``;
- with retries bounded (``KafkaConfig(extra={"retries": 3})``) the broker's error reaches the caller
  sooner: ``PublishError(code="NOT_ENOUGH_REPLICAS")``, retriable, not persisted.

Once the broker is back in every ISR, both buses publish again (no new bus). Every acknowledged
record is read back, and no record refused with NOT_ENOUGH_REPLICAS is in the log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export
from faults import FaultCluster, read_counts

import platform_events as pe
from schemabus.runtime.config import KafkaConfig, ProducerSettings
from schemabus.runtime.errors import PublishBatchError, PublishError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_kafka_bus import agent_created

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PARTITIONS = 3
DELIVERY_TIMEOUT_MS = 8_000
BATCH = 100  # records per publish_many
RESUME_TIMEOUT_S = 60.0


def _wait_isr(cluster: FaultCluster, topic: str, size: int, timeout: float = 30.0) -> None:
    """Wait until every partition of ``topic`` has exactly ``size`` in-sync replicas."""
    deadline = time.monotonic() + timeout
    while True:
        partitions = cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions.values()
        sizes = {p.id: len(p.isrs) for p in partitions}
        if all(n == size for n in sizes.values()):
            return
        assert time.monotonic() < deadline, f"{topic}: in-sync replicas {sizes}, expected {size} each"
        time.sleep(0.2)


def test_too_few_in_sync_replicas_fail_publishing_with_a_typed_error_until_a_broker_returns(
    kafka_cluster: FaultCluster, record_property: Callable[[str, object], None]
) -> None:
    cluster = kafka_cluster
    topic: Any = dataclasses.replace(
        pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:12]}.agent.created", partitions=PARTITIONS
    )
    admin = cluster.admin()  # kept: a dropped admin client fails its futures
    created = admin.create_topics(
        [NewTopic(topic.name, num_partitions=PARTITIONS, replication_factor=3, config={"min.insync.replicas": "3"})]
    )
    created[topic.name].result(timeout=30)
    settings = ProducerSettings(delivery_timeout_ms=DELIVERY_TIMEOUT_MS)
    registry = InMemoryRegistry()  # both buses: the same schema id
    bounded = KafkaBus(
        KafkaConfig(bootstrap_servers=cluster.bootstrap, extra={"retries": 3}), registry, producer=settings
    )
    default = KafkaBus(cluster.bootstrap, registry, producer=settings)
    acked: set[int] = set()
    refused: set[int] = set()  # failed with NOT_ENOUGH_REPLICAS: never written
    victim = -1

    async def publish_batch(bus: KafkaBus, first: int) -> None:
        ids = list(range(first, first + BATCH))
        await bus.publish_many(topic, [agent_created(n) for n in ids], keys=map(str, ids))
        acked.update(ids)

    async def scenario() -> dict[str, float]:
        nonlocal victim
        times: dict[str, float] = {}
        await bounded.prepare(topic)
        await default.prepare(topic)
        cluster.wait_in_sync(topic.name)
        await publish_batch(bounded, 0)
        await publish_batch(default, 1000)

        victim = next(b.node_id for b in cluster.brokers if b.node_id != cluster.active_controller())
        await asyncio.to_thread(cluster.stop, victim)
        await asyncio.to_thread(_wait_isr, cluster, topic.name, 2)

        started = time.monotonic()
        with pytest.raises(PublishError) as single:
            await bounded.publish(topic, agent_created(2000), key="2000")
        times["single"] = time.monotonic() - started
        error = single.value
        assert (type(error), error.code, error.retriable, error.possibly_persisted) == (
            PublishError,
            "NOT_ENOUGH_REPLICAS",
            True,
            False,
        ), repr(error)
        assert "fewer in-sync replicas than the topic's min.insync.replicas" in str(error)
        refused.add(2000)

        ids = list(range(3000, 3000 + BATCH))
        started = time.monotonic()
        with pytest.raises(PublishBatchError) as batch:
            await bounded.publish_many(topic, [agent_created(n) for n in ids], keys=map(str, ids))
        times["batch"] = time.monotonic() - started
        assert {e.code for e in batch.value.failed.values()} == {"NOT_ENOUGH_REPLICAS"}, repr(batch.value)
        acked.update(n for position, n in enumerate(ids) if position not in batch.value.failed)
        refused.update(ids[position] for position in batch.value.failed)

        started = time.monotonic()
        with pytest.raises(PublishError) as timed_out:
            await default.publish(topic, agent_created(4000), key="4000")
        times["default"] = time.monotonic() - started
        error = timed_out.value
        assert (type(error), error.code, error.retriable, error.possibly_persisted) == (
            PublishError,
            "NOT_ENOUGH_REPLICAS",
            True,
            True,
        ), repr(error)
        assert f"not acknowledged within the delivery timeout ({DELIVERY_TIMEOUT_MS} ms): partition " in str(error)
        assert "has 2 in-sync replicas of 3, fewer than the topic's min.insync.replicas=3" in str(error), str(error)
        refused.add(4000)  # never written: the leader refused every attempt

        ids = list(range(4100, 4100 + BATCH))
        started = time.monotonic()
        with pytest.raises(PublishBatchError) as batch:
            await default.publish_many(topic, [agent_created(n) for n in ids], keys=map(str, ids))
        times["default batch"] = time.monotonic() - started
        assert len(batch.value.failed) == BATCH, repr(batch.value)
        assert {e.code for e in batch.value.failed.values()} == {"NOT_ENOUGH_REPLICAS"}, repr(batch.value)
        refused.update(ids)

        await asyncio.to_thread(cluster.start, victim)
        started = time.monotonic()
        while True:  # the broker rejoins the ISRs after catching up; until then writes are still refused
            try:
                await publish_batch(bounded, 5000)
                break
            except PublishError as e:
                assert e.retriable and time.monotonic() - started < RESUME_TIMEOUT_S, repr(e)
                await asyncio.sleep(0.5)
        times["resumed"] = time.monotonic() - started
        await publish_batch(default, 6000)
        return times

    try:
        times = asyncio.run(scenario())
        seen = read_counts(
            cluster.bootstrap, topic.name, lambda m: int(bounded.codec.decode_value(topic, m.value()).labels["n"])
        )
        lost = len(acked - seen.keys())
        written_refused = sorted(refused & seen.keys())
        summary = (
            f"node {victim} stopped: NOT_ENOUGH_REPLICAS after {times['single']:.1f} s (one record) and "
            f"{times['batch']:.1f} s ({BATCH} records); with default retries after {times['default']:.1f} s (one record) "
            f"and {times['default batch']:.1f} s ({BATCH} records) "
            f"(delivery timeout {DELIVERY_TIMEOUT_MS / 1000:.0f} s); publishing resumed {times['resumed']:.1f} s after "
            f"the restart; acked {len(acked)}, refused {len(refused)}, read {sum(seen.values())}, lost {lost}, "
            f"refused yet written {len(written_refused)}"
        )
        print(summary)
        record_property("lost", lost)
        assert times["single"] < DELIVERY_TIMEOUT_MS / 1000 and times["batch"] < DELIVERY_TIMEOUT_MS / 1000, summary
        for what in ("default", "default batch"):  # the delivery timeout, and the question to the cluster
            assert DELIVERY_TIMEOUT_MS / 1000 <= times[what] < DELIVERY_TIMEOUT_MS / 1000 + 3, summary
        assert lost == 0 and not written_refused, summary
        assert len(acked) >= 4 * BATCH, summary
    finally:
        bounded.close_sync(10)
        default.close_sync(10)
        cluster.heal()
