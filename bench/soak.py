"""Soak: publish and handle at a moderate rate for a long time on a three-broker cluster while a
broker is killed every few minutes, and report what a user would want to know afterwards.

    .venv/bin/python bench/soak.py [--minutes 20] [--rate 500] [--kill-every 180] [--down 15]

Starts its own three-broker KRaft cluster (schemabus.runtime.devstack, in a temporary folder; the
schemas stay in an in-memory registry), creates a topic of 6 partitions (replication 3, min ISR 2),
then runs, in one process:

- a publisher: ``publish_nowait`` of ``AgentCreated`` records at ``--rate`` per second, each with a
  unique id, timing each from the call to its acknowledgement;
- a ConsumerRunner whose handler records every id it handled and refuses 1 record in 100
  (dead-lettered to ``dlq.{topic}`` with its original bytes);
- a killer: every ``--kill-every`` seconds it SIGKILLs a broker (in turn), and starts it again on its
  data ``--down`` seconds later.

Every minute it prints acknowledged, handled, dead-lettered, failed publishes, RSS and the p99
publish latency of that minute. At the end it waits for the consumer to catch up and prints lost
(acknowledged, yet neither handled nor dead-lettered: must be 0), duplicates, the RSS trend and the
latency. Not part of CI (it runs for as long as it is told).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import logging
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

import platform_events as pe
from schemabus.runtime import Event, RecordCodec, SchemaIds
from schemabus.runtime.config import ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.devstack import start_stack
from schemabus.runtime.errors import PublishError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry

PARTITIONS = 6
REFUSE_EVERY = 100  # 1 record in 100 is refused by the handler: dead-lettered


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def agent(i: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=i),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime.now(dt.UTC),
        creator_id=f"user-{i}",
        capabilities=["search"],
        labels={"soak": "1"},
    )


class Flags:
    """One byte per record id (a count up to 255): the bench's own bookkeeping stays small and flat,
    so that the RSS it reports is the runtime's."""

    def __init__(self) -> None:
        self.bytes = bytearray()

    def add(self, i: int) -> None:
        if i >= len(self.bytes):
            self.bytes.extend(bytes(max(i + 1 - len(self.bytes), 65536)))
        self.bytes[i] = min(self.bytes[i] + 1, 255)

    def ids(self) -> set[int]:
        return {i for i, n in enumerate(self.bytes) if n}

    def total(self) -> int:
        return sum(self.bytes)


class Latencies:
    """Publish latencies in 1 ms bins up to 60 s (fixed memory), and the current minute's as a list."""

    def __init__(self) -> None:
        self.bins = [0] * 60_001
        self.minute: list[float] = []
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.bins[min(int(seconds * 1000), 60_000)] += 1
        self.minute.append(seconds)
        self.max = max(self.max, seconds)

    def quantile_ms(self, q: float) -> float:
        total, seen = sum(self.bins), 0
        for ms, n in enumerate(self.bins):
            seen += n
            if total and seen >= q * total:
                return float(ms)
        return float("nan")


@dataclasses.dataclass
class Tally:
    acked: Flags = dataclasses.field(default_factory=Flags)
    failed: int = 0
    handled: Flags = dataclasses.field(default_factory=Flags)
    latencies: Latencies = dataclasses.field(default_factory=Latencies)
    kills: int = 0


def dead_lettered_ids(bootstrap: str, topic: Any, codec: RecordCodec) -> set[int]:
    """The ids of the records in ``dlq.{topic}`` (their values are the original bytes)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"soak-{uuid.uuid4().hex}"})
    dlq = f"dlq.{topic.name}"
    metadata = consumer.list_topics(dlq, timeout=30).topics.get(dlq)
    if metadata is None or metadata.error is not None:
        consumer.close()
        return set()
    parts = [TopicPartition(dlq, p, OFFSET_BEGINNING) for p in metadata.partitions]
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=30)[1] for p in parts}
    consumer.assign(parts)
    out: set[int] = set()
    seen: dict[int, int] = {}
    while any(seen.get(p, 0) < end for p, end in ends.items()):
        message = consumer.poll(5)
        if message is None or message.error() is not None:
            continue
        seen[message.partition()] = message.offset() + 1  # type: ignore[operator]
        out.add(codec.decode_value(topic, message.value()).agent_id.int)
    consumer.close()
    return out


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="schemabus-soak-"))
    print(f"starting 3 brokers in {run_dir} ...", flush=True)
    stack = start_stack(run_dir, kafka=True, registry=False, brokers=3)
    try:
        return await _soak(args, stack)
    finally:
        stack.stop()


async def _soak(args: argparse.Namespace, stack: Any) -> dict[str, Any]:
    bootstrap = stack.bootstrap_servers
    name = f"soak{uuid.uuid4().hex[:8]}.agent.created"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, replication_factor=3, config={"min.insync.replicas": "2"})])[
        name
    ].result(timeout=60)
    topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=name, partitions=PARTITIONS)
    registry = InMemoryRegistry()
    tally = Tally()

    @topic.handler(group="soak")
    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        i = event.value.agent_id.int
        if i % REFUSE_EVERY == 0:
            raise ValueError(f"record {i} refused on purpose")
        tally.handled.add(i)

    runner = ConsumerRunner(bootstrap, registry, [handle], settings=ConsumerSettings(instance_id="soak-0"))
    consuming = asyncio.create_task(runner.run())
    bus = KafkaBus(bootstrap, registry, producer=ProducerSettings(delivery_timeout_ms=60_000))
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()

    async def killer() -> None:
        node = 1
        while time.monotonic() + args.kill_every < deadline:
            await asyncio.sleep(args.kill_every)
            print(f"  [{time.monotonic() - started:6.0f}s] SIGKILL broker {node}", flush=True)
            stack.broker(node).kill()
            tally.kills += 1
            await asyncio.sleep(args.down)
            await asyncio.to_thread(stack.restart_broker, node)
            print(f"  [{time.monotonic() - started:6.0f}s] broker {node} back", flush=True)
            node = node % 3 + 1

    def acked(i: int, sent: float, future: asyncio.Future[Any]) -> None:
        if future.exception() is not None:
            tally.failed += 1
            return
        tally.acked.add(i)
        tally.latencies.add(time.monotonic() - sent)

    rss: list[tuple[float, float]] = []
    kill_task = asyncio.create_task(killer())
    i = 0
    next_report = started + 60
    interval = 1 / args.rate
    next_send = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now < next_send:
            await asyncio.sleep(next_send - now)
        next_send += interval
        i += 1
        try:
            future = bus.publish_nowait(topic, agent(i), key=f"agent-{i}")
        except PublishError:
            tally.failed += 1
            continue
        future.add_done_callback(partial(acked, i, time.monotonic()))
        if time.monotonic() >= next_report:
            next_report += 60
            rss.append((time.monotonic() - started, rss_mib()))
            print(
                f"  [{time.monotonic() - started:6.0f}s] acked {tally.acked.total()}, handled {tally.handled.total()}, "
                f"failed {tally.failed}, rss {rss[-1][1]:.0f} MiB, "
                f"p99 {percentile(tally.latencies.minute, 0.99) * 1000:.1f} ms",
                flush=True,
            )
            tally.latencies.minute = []
    kill_task.cancel()
    await bus.flush()
    await bus.close()
    published = i
    # Wait for the consumer to handle (or dead-letter) everything acknowledged.
    acked = tally.acked.ids()
    refused = {x for x in acked if x % REFUSE_EVERY == 0}
    wait_until = time.monotonic() + 180
    while time.monotonic() < wait_until and not (acked - refused) <= tally.handled.ids():
        await asyncio.sleep(1)
    runner.stop()
    await asyncio.wait_for(consuming, 120)
    dead = dead_lettered_ids(bootstrap, topic, RecordCodec(SchemaIds(registry, "register")))
    handled = tally.handled.ids()
    lost = acked - handled - dead
    return {
        "minutes": args.minutes,
        "published": published,
        "acked": len(acked),
        "failed": tally.failed,
        "handled": len(handled),
        "dead_lettered": len(dead),
        "lost": len(lost),
        "duplicates": tally.handled.total() - len(handled),
        "kills": tally.kills,
        "p50_ms": tally.latencies.quantile_ms(0.5),
        "p99_ms": tally.latencies.quantile_ms(0.99),
        "p999_ms": tally.latencies.quantile_ms(0.999),
        "max_ms": tally.latencies.max * 1000,
        "rss_mib": rss,
    }


def main() -> None:
    # The 1 % of records dead-lettered on purpose would fill the screen: warnings of the consumer off.
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0, help="records per second")
    parser.add_argument("--kill-every", type=float, default=180.0, help="seconds between broker kills")
    parser.add_argument("--down", type=float, default=15.0, help="seconds a killed broker stays down")
    result = asyncio.run(soak(parser.parse_args()))
    rss = result.pop("rss_mib")
    print("\nsoak result")
    for key, value in result.items():
        print(f"  {key:14} {value:.1f}" if isinstance(value, float) else f"  {key:14} {value}")
    if len(rss) >= 3:
        later = [m for _, m in rss[1:]]  # after the first minute's warm-up
        print(f"  rss_mib        first {rss[0][1]:.0f}, then {min(later):.0f}..{max(later):.0f} (per minute)")
    if result["lost"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
