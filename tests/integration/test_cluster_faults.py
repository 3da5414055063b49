"""Broker faults under publishing on a three-broker KRaft cluster (``kafka_cluster``), modelled on
Kafka's own system test ``replication_test``: while ``publish_nowait`` and ``publish_many`` write, a
broker is SIGKILLed (a crash) or stopped cleanly, then started again on its data. Every record the
bus acknowledged must be read back afterwards (acked ⊆ consumed, lost = 0); a record may fail with
a typed ``PublishError`` instead (then it was not acknowledged). Duplicates are counted and
reported, not failed on: the bus's producer is idempotent, so none are expected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource, ResourceType  # type: ignore[attr-defined]
from faults import FaultCluster

import platform_events as pe
from schemabus.runtime import DeliveryResult
from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.errors import PublishBatchError, PublishError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_kafka_bus import agent_created

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PARTITIONS = 3
RECORDS = 20_000
SLICES = 100  # the records go out in slices, half through publish_nowait, half as one publish_many
PACE_S = 0.2  # between slices: publishing spans ~20 s, so the fault lands mid-stream
FAULT_AT_SLICE = 10
# How long the broker stays down before it is started again: longer than the controller takes to
# fence a SIGKILLed broker (broker.session.timeout.ms, 9 s), so writes go on with two in-sync
# replicas (min.insync.replicas=2) for a while, and the broker comes back behind and catches up
# while records are still being written.
DOWN_S = 12.0
# A SIGKILLed broker is fenced after broker.session.timeout.ms (9 s); until then, acks=all writes
# that wait for it stall. Well below the default 120 s, so a case stays within a minute.
DELIVERY_TIMEOUT_MS = 45_000
READ_TIMEOUT_S = 30.0


@dataclass
class Outcome:
    acked: set[int]
    failed: dict[int, str]  # id -> the PublishError's code
    slowest_s: float  # the longest publish_many call: how long the fault held writes up
    fault_s: float  # seconds after the first record: when the broker was down
    back_s: float  # and when the cluster listed it again

    def report(self, seen: Counter[int]) -> tuple[int, int]:
        lost = len(self.acked - seen.keys())
        duplicates = sum(count - 1 for count in seen.values())
        return lost, duplicates


def _topic() -> Any:
    # The catalog topic under a fresh name, with three partitions and the broker's default
    # replication (3) and min.insync.replicas (2): what a catalog topic gets on this cluster.
    return dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:12]}.agent.created", partitions=3)


def _assert_replicated(cluster: FaultCluster, name: str) -> None:
    admin = cluster.admin()
    partitions = admin.list_topics(name, timeout=10).topics[name].partitions
    assert len(partitions) == PARTITIONS and all(len(p.replicas) == 3 for p in partitions.values())
    resource = ConfigResource(ResourceType.TOPIC, name)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["min.insync.replicas"].value == "2"


async def _publish(bus: KafkaBus, topic: Any, fault: Callable[[], None], restart: Callable[[], None]) -> Outcome:
    """Publish RECORDS ids (the value's label ``n``) while ``fault`` and then ``restart`` run in a thread."""
    await bus.prepare(topic)
    nowait: dict[int, asyncio.Future[DeliveryResult]] = {}
    batches: list[tuple[list[int], asyncio.Task[tuple[int, float]]]] = []
    failed: dict[int, str] = {}
    per_slice = RECORDS // SLICES
    fault_task: asyncio.Task[None] | None = None
    began = time.monotonic()
    times: list[float] = []

    async def timed(ids: list[int]) -> tuple[int, float]:
        started = time.monotonic()
        count = await bus.publish_many(topic, [agent_created(n) for n in ids], keys=map(str, ids))
        return count, time.monotonic() - started

    async def fault_then_restart() -> None:
        await asyncio.to_thread(fault)
        times.append(time.monotonic() - began)
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(restart)
        times.append(time.monotonic() - began)

    for index in range(SLICES):
        first = index * per_slice
        for n in range(first, first + per_slice // 2):
            try:
                nowait[n] = bus.publish_nowait(topic, agent_created(n), key=str(n))
            except PublishError as e:  # refused before it was sent
                failed[n] = e.code or type(e).__name__
        many = list(range(first + per_slice // 2, first + per_slice))
        task = asyncio.create_task(timed(many))
        batches.append((many, task))
        if index == FAULT_AT_SLICE:
            fault_task = asyncio.create_task(fault_then_restart())
        await asyncio.sleep(PACE_S)
    assert fault_task is not None
    await fault_task

    acked: set[int] = set()
    slowest = 0.0
    await asyncio.gather(*nowait.values(), *(task for _, task in batches), return_exceptions=True)
    for n, future in nowait.items():
        error = future.exception()
        if error is None:
            acked.add(n)
        elif isinstance(error, PublishError):
            failed[n] = error.code or type(error).__name__
        else:
            raise error
    for ids, task in batches:
        error = task.exception()
        if error is None:
            acked.update(ids)
            slowest = max(slowest, task.result()[1])
        elif isinstance(error, PublishBatchError):
            failed.update({ids[position]: e.code or type(e).__name__ for position, e in error.failed.items()})
            acked.update(n for position, n in enumerate(ids) if position not in error.failed)
        elif isinstance(error, PublishError):
            failed.update(dict.fromkeys(ids, error.code or type(error).__name__))
        else:
            raise error
    return Outcome(acked, failed, slowest, *times)


def _read_all(bootstrap: str, name: str, decode: Callable[[bytes], int]) -> Counter[int]:
    """Every record of ``name``, from the beginning up to each partition's high watermark, by id."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g{uuid.uuid4().hex[:12]}", "enable.auto.commit": False}
    )
    seen: Counter[int] = Counter()
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1] for p in range(PARTITIONS)}
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        pending = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + READ_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                assert message.error() is None, message.error()
                value = message.value()
                assert value is not None
                seen[decode(value)] += 1
                if message.offset() + 1 >= ends[message.partition()]:
                    pending.discard(message.partition())
        assert not pending, f"partitions {sorted(pending)} not read to their end within {READ_TIMEOUT_S:.0f} s"
    finally:
        consumer.close()
    return seen


@pytest.mark.parametrize(
    ("target", "how"),
    [("leader", "sigkill"), ("leader", "sigterm"), ("controller", "sigkill")],
    ids=["leader-sigkill", "leader-sigterm", "controller-sigkill"],
)
def test_every_acknowledged_record_survives_a_broker_fault(
    kafka_cluster: FaultCluster, target: str, how: str, record_property: Callable[[str, object], None]
) -> None:
    cluster = kafka_cluster
    topic = _topic()
    bus = KafkaBus(
        cluster.bootstrap, InMemoryRegistry(), producer=ProducerSettings(delivery_timeout_ms=DELIVERY_TIMEOUT_MS)
    )
    try:
        bus.ensure_topics([topic])
        _assert_replicated(cluster, topic.name)
        victim = cluster.leader_of(topic.name, 0) if target == "leader" else cluster.active_controller()
        leader_before = cluster.leader_of(topic.name, 0)

        def fault() -> None:
            if how == "sigkill":
                cluster.kill(victim)
            else:
                cluster.stop(victim)

        started = time.monotonic()
        outcome = asyncio.run(_publish(bus, topic, fault, lambda: cluster.start(victim)))
        published_s = time.monotonic() - started

        def decode(value: bytes) -> int:
            return int(bus.codec.decode_value(topic, value).labels["n"])

        seen = _read_all(cluster.bootstrap, topic.name, decode)
        # The broker came back on its own data: it catches up and rejoins every partition's ISR.
        in_sync_s = cluster.wait_in_sync(topic.name)
        lost, duplicates = outcome.report(seen)
        codes = Counter(outcome.failed.values())
        summary = (
            f"{target} {how} (node {victim}; partition 0 led by {leader_before}; down at {outcome.fault_s:.1f} s, "
            f"back at {outcome.back_s:.1f} s): published {RECORDS} in {published_s:.1f} s (slowest publish_many {outcome.slowest_s:.1f} s), acked {len(outcome.acked)}, failed {len(outcome.failed)} {dict(codes)}, "
            f"read {sum(seen.values())}, lost {lost}, duplicates {duplicates}; all replicas in sync {in_sync_s:.1f} s later"
        )
        print(summary)
        for key, value in (("acked", len(outcome.acked)), ("lost", lost), ("duplicates", duplicates)):
            record_property(key, value)
        assert len(outcome.acked) + len(outcome.failed) == RECORDS, summary
        assert outcome.acked <= seen.keys(), summary
        assert set(seen) <= set(range(RECORDS)), summary
    finally:
        bus.close_sync(10)
        cluster.heal()
