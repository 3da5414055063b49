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
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

import platform_events as pe
from schemabus.runtime import Event
from schemabus.runtime.config import ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.devstack import start_stack
from schemabus.runtime.dlq import HEADER_ORIGINAL_OFFSET
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
        agent_type=pe.avro_models.AgentType.RESEARCHER,
        created_at=dt.datetime.now(dt.UTC),
        creator_id=f"user-{i}",
        capabilities=["search"],
        labels={"soak": "1"},
    )


@dataclasses.dataclass
class Tally:
    acked: set[int] = dataclasses.field(default_factory=set)
    failed: int = 0
    handled: Counter[int] = dataclasses.field(default_factory=Counter)
    latencies: list[float] = dataclasses.field(default_factory=list)  # of the current minute
    all_latencies: list[float] = dataclasses.field(default_factory=list)
    kills: int = 0


def dead_lettered_offsets(bootstrap: str, topic: str) -> list[tuple[int, int]]:
    """(partition, offset) of every record of ``topic`` found in ``dlq.{topic}``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"soak-{uuid.uuid4().hex}"})
    dlq = f"dlq.{topic}"
    metadata = consumer.list_topics(dlq, timeout=30).topics.get(dlq)
    if metadata is None or metadata.error is not None:
        consumer.close()
        return []
    parts = [TopicPartition(dlq, p, OFFSET_BEGINNING) for p in metadata.partitions]
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=30)[1] for p in parts}
    consumer.assign(parts)
    out: list[tuple[int, int]] = []
    seen: dict[int, int] = {}
    while any(seen.get(p, 0) < end for p, end in ends.items()):
        message = consumer.poll(5)
        if message is None or message.error() is not None:
            continue
        seen[message.partition()] = message.offset() + 1  # type: ignore[operator]
        headers = dict(message.headers() or [])
        original = int(headers[HEADER_ORIGINAL_OFFSET])
        out.append((int(headers.get("schemabus.dlq.original.partition", b"-1")), original))
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
    ids_at: dict[tuple[int, int], int] = {}  # (partition, offset) -> id, for the dead letters

    @topic.handler(group="soak")
    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        i = event.value.agent_id.int
        if i % REFUSE_EVERY == 0:
            raise ValueError(f"record {i} refused on purpose")
        tally.handled[i] += 1

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
        result = future.result()
        ids_at[(result.partition, result.offset)] = i
        tally.acked.add(i)
        latency = time.monotonic() - sent
        tally.latencies.append(latency)
        tally.all_latencies.append(latency)

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
            handled = len(tally.handled)
            print(
                f"  [{time.monotonic() - started:6.0f}s] acked {len(tally.acked)}, handled {handled}, "
                f"failed {tally.failed}, rss {rss[-1][1]:.0f} MiB, "
                f"p99 {percentile(tally.latencies, 0.99) * 1000:.1f} ms",
                flush=True,
            )
            tally.latencies = []
    kill_task.cancel()
    await bus.flush()
    await bus.close()
    published = i
    # Wait for the consumer to handle (or dead-letter) everything acknowledged.
    refused = {x for x in tally.acked if x % REFUSE_EVERY == 0}
    wait_until = time.monotonic() + 180
    while time.monotonic() < wait_until and not (tally.acked - refused) <= set(tally.handled):
        await asyncio.sleep(1)
    runner.stop()
    await asyncio.wait_for(consuming, 120)
    dead = {ids_at[p] for p in dead_lettered_offsets(bootstrap, name) if p in ids_at}
    lost = tally.acked - set(tally.handled) - dead
    return {
        "minutes": args.minutes,
        "published": published,
        "acked": len(tally.acked),
        "failed": tally.failed,
        "handled": len(tally.handled),
        "dead_lettered": len(dead),
        "lost": len(lost),
        "duplicates": sum(tally.handled.values()) - len(tally.handled),
        "kills": tally.kills,
        "p50_ms": statistics.median(tally.all_latencies) * 1000 if tally.all_latencies else float("nan"),
        "p99_ms": percentile(tally.all_latencies, 0.99) * 1000,
        "max_ms": max(tally.all_latencies, default=float("nan")) * 1000,
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
