"""Consumer group members killed while records arrive, on the three-broker KRaft cluster
(``kafka_cluster``; a topic with 6 partitions, 3 replicas and ``min.insync.replicas=2``).

Three ``consumer_worker.py`` processes (at-least-once ``ConsumerRunner``s, one group, session
timeout 6 s) consume a topic while a feeder publishes RECORDS records to it, paced over ~30 s. Each
handled record is appended to the process's own file the moment its handler returns. Three times, one
process is SIGKILLed (no revocation, no final commit) and a replacement is started at once, as a
supervisor would: its partitions stay with the dead member until the session expires, then move.

At the end, once the group has committed every partition to its end, every record in the topic was
handled by some process (missing = 0). Records a killed process handled but had not committed yet
are handled again by their partition's next owner: those duplicates are counted and printed, not
failed on (at-least-once).
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faults import FaultCluster, read_counts
from worker_process import WorkerProcess

import platform_events as pe
from schemabus.runtime.consumer import consumer_lag
from schemabus.runtime.errors import PublishBatchError, PublishError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_kafka_bus import agent_created

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PARTITIONS = 6
MEMBERS = 3
RECORDS = 6_000
SLICES = 30
PACE_S = 1.0  # between the feeder's slices: it publishes for ~30 s
KILL_AT_S = (4.0, 12.0, 20.0)  # seconds after the feeder started: one kill each, a different member
CATCH_UP_TIMEOUT_S = 60.0


class Member(WorkerProcess):
    """A consumer_worker.py process of the group (``--registry memory``: the cluster has no registry)."""

    def __init__(self, tmp: Path, label: str, bootstrap: str, topic: str, group: str) -> None:
        super().__init__(
            tmp,
            label,
            "consumer_worker.py",
            "--bootstrap",
            bootstrap,
            "--registry",
            "memory",
            "--topic",
            topic,
            "--partitions",
            str(PARTITIONS),
            "--group",
            group,
        )

    def assignment(self) -> list[int]:
        """The partitions the process holds now (from the file it rewrites on each change)."""
        path = self.out.with_name(self.out.name + ".assignment")
        text = path.read_text() if path.exists() else ""
        return [int(p) for p in text.split(",") if p]


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:  # whatever a failed test left running
        if member.alive():
            member.process.kill()
            member.process.wait(30)


def _committed_everything(bootstrap: str, group: str, topic: str) -> bool:
    lag = consumer_lag(bootstrap, group, topic)
    return len(lag) == PARTITIONS and all(p.committed == p.high_watermark for p in lag)


def test_every_record_is_handled_while_group_members_are_killed(
    kafka_cluster: FaultCluster, tmp_path: Path, members: list[Member], record_property: Callable[[str, object], None]
) -> None:
    cluster = kafka_cluster
    topic: Any = dataclasses.replace(
        pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:12]}.agent.created", partitions=PARTITIONS
    )
    feeder = KafkaBus(cluster.bootstrap, InMemoryRegistry())  # its schema gets id 1, as in the workers
    feeder.ensure_topics([topic])
    group = f"g{uuid.uuid4().hex[:10]}"
    acked: set[int] = set()
    failed: dict[int, str] = {}
    kills: list[str] = []

    def start(label: str) -> Member:
        member = Member(tmp_path, label, cluster.bootstrap, topic.name, group)
        members.append(member)
        return member

    async def feed() -> None:
        await feeder.prepare(topic)
        per_slice = RECORDS // SLICES
        for index in range(SLICES):
            ids = list(range(index * per_slice, (index + 1) * per_slice))
            try:
                await feeder.publish_many(topic, [agent_created(n) for n in ids], keys=map(str, ids))
                acked.update(ids)
            except PublishBatchError as e:
                failed.update({ids[p]: f.code or type(f).__name__ for p, f in e.failed.items()})
                acked.update(n for p, n in enumerate(ids) if p not in e.failed)
            except PublishError as e:
                failed.update(dict.fromkeys(ids, e.code or type(e).__name__))
            await asyncio.sleep(PACE_S)

    async def kill_three(began: float) -> None:
        for round_, at in enumerate(KILL_AT_S):
            await asyncio.sleep(max(0.0, began + at - time.monotonic()))
            slot = round_ % MEMBERS
            victim = live[slot]
            deadline = time.monotonic() + 15
            while not victim.handled_pairs():  # kill a member at work, not one still joining
                assert time.monotonic() < deadline, f"member {slot} handled nothing"
                await asyncio.sleep(0.1)
            handled = len(victim.handled_pairs())
            assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
            live[slot] = start(f"member{slot}-{round_ + 1}")
            kills.append(f"{time.monotonic() - began:.1f} s: member {slot} (had handled {handled})")

    live = [start(f"member{slot}-0") for slot in range(MEMBERS)]

    async def scenario() -> tuple[float, float]:
        deadline = time.monotonic() + 30
        while sorted(p for m in live for p in m.assignment()) != list(range(PARTITIONS)):
            assert time.monotonic() < deadline, "the three members did not share the partitions in time"
            await asyncio.sleep(0.1)
        began = time.monotonic()
        await asyncio.gather(feed(), kill_three(began))
        fed = time.monotonic() - began
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while not await asyncio.to_thread(_committed_everything, cluster.bootstrap, group, topic.name):
            dead = [m.log_path.name for m in live if not m.alive()]
            assert not dead, f"a member exited by itself: {dead}"
            assert time.monotonic() < deadline, "the group did not commit every record in time"
            await asyncio.sleep(0.5)
        return fed, time.monotonic() - began

    try:
        fed_s, done_s = asyncio.run(scenario())
        for member in live:
            assert member.stop(signal.SIGTERM) == 0, member.log_path.read_text()[-2000:]
        records = read_counts(cluster.bootstrap, topic.name, lambda m: (m.partition(), m.offset()))
        handled: Counter[tuple[int, int]] = Counter()
        for member in members:
            handled.update(member.handled_pairs())
        missing = len(records.keys() - handled.keys())
        duplicates = sum(count - 1 for count in handled.values())
        summary = (
            f"kills {kills}; feeder acked {len(acked)} of {RECORDS} (failed {len(failed)}) in {fed_s:.1f} s; "
            f"topic holds {sum(records.values())}; every record committed after {done_s:.1f} s; "
            f"handled {sum(handled.values())}: missing {missing}, duplicates {duplicates}"
        )
        print(summary)
        for name, value in (("missing", missing), ("duplicates", duplicates)):
            record_property(name, value)
        assert len(kills) == 3 and len(acked) + len(failed) == RECORDS, summary
        assert missing == 0, summary
        assert set(handled) <= set(records), summary
    finally:
        feeder.close_sync(10)
