"""Memory benchmark on a real broker: publishing and then handling many events (default 1,000,000)
keeps the process's memory flat. Prints resident memory (RSS) along the way, the peak, and how much
RSS grew after warm-up.

    .venv/bin/python bench/memory_bench.py [--records 1000000] [--window 10000] [--max-growth 16] [--publish-only]
                                           [--tracemalloc [FRAMES]] [--consumer-config KEY=VALUE ...]

Uses ``SCHEMABUS_BOOTSTRAP_SERVERS`` / ``SCHEMABUS_REGISTRY_URL`` when set, else starts the dev stack
(``schemabus.runtime.devstack``) and stops it at the end. Records are the ~200-byte
``platform_events.AgentCreated`` event of produce_bench.py in 1024 variants (ids, keys, times),
in a fresh 6-partition topic, deleted at the end.

  publish   bus.publish_nowait(topic, model, key=...) from a coroutine, schemabus's default producer
            settings. At most ``--window`` futures are pending: past that, the oldest is awaited
            before the next record is published. Holding all N futures (as produce_bench.py does)
            would measure the benchmark's own list, not the library. Progress counts acknowledged
            records.
  handle    ConsumerRunner with a generated handler class (AgentLifecycleCreatedHandler) that counts;
            the phase ends when all N were handled, then the runner stops (final commit) and the
            group's committed offsets are checked against the end of every partition.
  batch     the same with a batch handler (BatchHandler, lists of at most 100 events), a group of its own
            reading the same topic.
            ``--consumer-config`` adds librdkafka settings (the runner's ``extra_config``).

RSS is read from /proc/self/statm (current, not only the high-water mark) at the start and at every
5% of each phase, without forcing a garbage collection (a real process does not either). "Flat"
means bounded: memory that does not grow with the number of events. The gate is the RSS growth over
the second half of each phase (50% -> 100%): a leak grows there as much as anywhere, while bounded
buffers that fill up early (librdkafka's prefetch queue, pymalloc arenas) are full by then. Past
``--max-growth`` MiB in any phase the benchmark prints a WARNING and exits with 1. The growth from
the 10% mark is printed too (it includes the consumer's prefetch queue filling up: 15-20 MiB with
the runner's defaults). Throughputs are printed for information; this is not a timed test.

Most of the handle phase's RSS is librdkafka's prefetch queue, not Python objects: the consumer
fetches ahead of the runner, and each queued record costs several times its payload. ConsumerRunner
bounds that queue to 16 MiB of payload (``queued.max.messages.kbytes``; librdkafka's default is 64
MiB, which measured here as about 40 MiB more peak RSS); ``--consumer-config
queued.max.messages.kbytes=65536`` shows librdkafka's default.

``--tracemalloc`` traces Python allocations (slower, and its own tables add to RSS) and prints the
10 allocation sites that grew most between the 10% mark and the end of each phase (``--tracemalloc
10``: grouped by 10-frame tracebacks). librdkafka's own memory is not traced: it shows in RSS only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import resource
import sys
import time
import tracemalloc
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

from produce_bench import EVENT
from servers import servers

import platform_events as m
import platform_events as pe
from schemabus.runtime import BatchHandler, DeliveryResult, Event, Topic
from schemabus.runtime.consumer import ConsumerRunner, consumer_lag
from schemabus.runtime.handler import consumer_group
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.registry_client import ConfluentRegistry


def variant(i: int) -> tuple[m.AgentCreated, str]:
    """EVENT with its own agent id (the key), creator and time."""
    event = EVENT.model_copy(
        update={
            "agent_id": uuid.UUID(int=(EVENT.agent_id.int + i * 0x9E3779B97F4A7C15) % (1 << 128)),
            "creator_id": f"user-{4711 + i * 7919}",
            "created_at": EVENT.created_at + dt.timedelta(microseconds=i * 104_729),
        }
    )
    return event, str(event.agent_id)


# Records that compress like real ones: the same record over and over compresses about 20:1, and
# the consumer's prefetch (bounded in compressed bytes per fetch) would then hold ~20x more records.
POOL = [variant(i) for i in range(1024)]

MIB = 1024 * 1024
STEPS = 20  # a sample every 5%
WARM_UP = 2  # steps: growth is measured from the 10% mark
_PAGE = os.sysconf("SC_PAGE_SIZE")


def peak_mib() -> float:
    """The process's high-water mark of RSS (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def rss_mib() -> float:
    """The process's current RSS."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / MIB
    except OSError:  # no /proc (macOS): the high-water mark is the closest we have
        return peak_mib()


class Phase:
    """Samples RSS at the start and at every 5% of ``n`` events, printing a row each time."""

    def __init__(self, name: str, n: int, frames: int) -> None:
        self.name = name
        self.n = n
        self.frames = frames
        self.marks = deque(n * k // STEPS for k in range(1, STEPS + 1))
        self.next_mark = self.marks[0]
        self.samples: list[tuple[int, float]] = []
        self.started = 0.0
        self.elapsed = 0.0
        self.top: list[str] = []
        self._snapshot: tracemalloc.Snapshot | None = None
        self._traced = 0

    def start(self) -> None:
        self._sample(0)

    def reached(self, events: int) -> None:
        """Called once ``events`` >= ``next_mark``."""
        while self.marks and events >= self.marks[0]:
            self.marks.popleft()
        self.next_mark = self.marks[0] if self.marks else self.n + 1
        self._sample(events)
        if self.frames and len(self.samples) == WARM_UP + 1:
            self._traced = tracemalloc.get_traced_memory()[0]
            self._snapshot = _snapshot()
        elif self.frames and events >= self.n and self._snapshot is not None:
            traced = tracemalloc.get_traced_memory()[0]
            self.top = [
                f"  traced Python memory {self._traced / MIB:.1f} MiB at 10%, {traced / MIB:.1f} MiB at 100% "
                "(the rest of RSS is native: librdkafka, the interpreter, malloc)",
                *_top_growth(self._snapshot, _snapshot(), self.frames),
            ]
            self._snapshot = None

    def _sample(self, events: int) -> None:
        rss = rss_mib()
        self.samples.append((events, rss))
        print(f"  {self.name:8s} {100 * events / self.n:7.0f}% {events:10d} {rss:9.1f} {peak_mib():9.1f}", flush=True)

    @property
    def growth(self) -> float:
        """RSS at the end minus RSS at the 10% mark."""
        return self.samples[-1][1] - self.samples[WARM_UP][1]

    @property
    def second_half(self) -> float:
        """RSS at the end minus RSS at the 50% mark: a leak grows here too, a buffer filling up early does not."""
        return self.samples[-1][1] - self.samples[STEPS // 2][1]

    def summary(self) -> str:
        (warm, _), (end, _) = self.samples[WARM_UP], self.samples[-1]
        per_100k = self.growth / max(end - warm, 1) * 100_000
        return (
            f"  {self.name:8s} {self.n / self.elapsed / 1000:8.1f} k events/s ({self.elapsed:.1f} s); "
            f"RSS 10% -> 100%: {self.growth:+6.1f} MiB ({per_100k:+.2f} MiB per 100k events), "
            f"50% -> 100%: {self.second_half:+6.1f} MiB"
        )


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<unknown>"),
        ]
    )


def _top_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, frames: int) -> list[str]:
    stats = after.compare_to(before, "traceback" if frames > 1 else "lineno")
    lines = []
    for stat in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:10]:
        stack = list(reversed(stat.traceback))  # the allocating line first, then its callers
        lines.append(f"    {stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  {stack[0]}")
        lines.extend(f"{'':36s}<- {frame}" for frame in stack[1:])
    return lines


async def publish_all(bus: KafkaBus, topic: Topic[Any, Any], phase: Phase, window: int) -> None:
    """Publish ``phase.n`` events with ``publish_nowait``, at most ``window`` futures pending."""
    await bus.prepare(topic)
    publish = bus.publish_nowait
    pending: deque[asyncio.Future[DeliveryResult]] = deque()
    append, popleft = pending.append, pending.popleft
    acked = 0
    last: DeliveryResult | None = None
    phase.start()
    phase.started = time.perf_counter()
    for i in range(phase.n):
        event, key = POOL[i & 1023]
        append(publish(topic, event, key=key))
        if len(pending) >= window:
            last = await popleft()
            acked += 1
            if acked >= phase.next_mark:
                phase.reached(acked)
    while pending:
        last = await popleft()
        acked += 1
        if acked >= phase.next_mark:
            phase.reached(acked)
    phase.elapsed = time.perf_counter() - phase.started
    assert acked == phase.n and last is not None and last.offset >= 0


class Counter:
    """Counts the events handled, samples RSS at the phase's marks, sets ``done`` at the last one."""

    def __init__(self, phase: Phase, done: asyncio.Event) -> None:
        self.phase = phase
        self.done = done
        self.count = 0

    def handled(self, events: int) -> None:
        self.count += events
        phase = self.phase
        if self.count == events:
            phase.started = time.perf_counter()
        if self.count >= phase.next_mark:
            if self.count == phase.n:
                phase.elapsed = time.perf_counter() - phase.started
                self.done.set()
            phase.reached(self.count)


class CountingHandler(pe.AgentLifecycleCreatedHandler, Counter):
    """The generated handler class, counting."""

    async def handle(self, event: Event[str, pe.AgentCreated]) -> None:
        self.handled(1)


class CountingBatchHandler(BatchHandler[str, pe.AgentCreated], Counter):
    """A batch handler (at most 100 events a call, the default), counting."""

    async def handle_batch(self, events: list[Event[str, pe.AgentCreated]]) -> None:
        self.handled(len(events))


async def handle_all(
    bootstrap: str,
    registry_url: str,
    topic: Topic[Any, Any],
    phase: Phase,
    extra_config: dict[str, str],
    batch: bool = False,
) -> None:
    """Handle ``phase.n`` events with a ConsumerRunner (``batch``: with a batch handler); stop it once all
    are handled; check the commits."""

    class Handler(CountingBatchHandler if batch else CountingHandler):  # type: ignore[misc]
        pass

    Handler.topic = topic
    done = asyncio.Event()
    handler = Handler(phase, done)
    service = f"bench-{uuid.uuid4().hex[:8]}"
    registry = ConfluentRegistry(registry_url)
    runner = ConsumerRunner(bootstrap, registry, [handler], service=service, extra_config=extra_config)
    phase.start()
    task = asyncio.create_task(runner.run())
    finished = asyncio.create_task(done.wait())
    await asyncio.wait([task, finished], return_when=asyncio.FIRST_COMPLETED)
    if not done.is_set():
        finished.cancel()
        await task  # raises what stopped the runner
        raise RuntimeError(f"the runner stopped after {handler.count} of {phase.n} events")
    runner.stop()
    await task
    registry.close()
    handled = runner.metrics.handled
    lag = await asyncio.to_thread(consumer_lag, bootstrap, consumer_group(handler, service), topic.name)
    behind = sum(p.lag for p in lag)
    assert handled == phase.n == handler.count, f"handled {handled}, counted {handler.count}, expected {phase.n}"
    assert behind == 0, f"{behind} records not committed after the runner stopped"


def run_phases(
    bootstrap: str, registry_url: str, phases: list[Phase], window: int, consumer_config: dict[str, str]
) -> None:
    """Publish, then handle, on a fresh topic; delete it at the end."""
    topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"bench{uuid.uuid4().hex[:10]}.memory.created")
    ensure_topics(bootstrap, [topic])
    try:
        bus = KafkaBus(bootstrap, registry_url)
        size = len(bus.codec.encode_value(topic, EVENT))
        print(
            f"{phases[0].n} records of {size} bytes (framed Avro value), {topic.partitions} partitions, "
            f"at most {window} publish futures pending"
        )
        print(f"  {'phase':8s} {'progress':>8s} {'events':>10s} {'RSS MiB':>9s} {'peak MiB':>9s}")

        async def run() -> None:
            async with bus:
                await publish_all(bus, topic, phases[0], window)
            if len(phases) > 1:
                await handle_all(bootstrap, registry_url, topic, phases[1], consumer_config)
                await handle_all(bootstrap, registry_url, topic, phases[2], consumer_config, batch=True)

        asyncio.run(run())
    finally:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        with contextlib.suppress(Exception):
            admin.delete_topics([topic.name], operation_timeout=30)[topic.name].result(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=10_000, help="futures pending at most while publishing")
    parser.add_argument(
        "--max-growth", type=float, default=16.0, help="MiB of RSS growth allowed over a phase's second half"
    )
    parser.add_argument("--tracemalloc", type=int, nargs="?", const=1, default=0, metavar="FRAMES")
    parser.add_argument(
        "--consumer-config", action="append", default=[], metavar="KEY=VALUE", help="librdkafka consumer setting"
    )
    parser.add_argument("--publish-only", action="store_true", help="run the publish phase alone")
    args = parser.parse_args()
    if args.records < STEPS or args.window < 1:
        parser.error(f"--records must be >= {STEPS} and --window >= 1")
    if any("=" not in item for item in args.consumer_config):
        parser.error("--consumer-config takes KEY=VALUE")
    consumer_config = dict(item.split("=", 1) for item in args.consumer_config)

    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    phases = [Phase(name, args.records, args.tracemalloc) for name in ("publish", "handle", "batch")]
    if args.publish_only:
        del phases[1:]
    began = time.perf_counter()
    with servers() as (bootstrap, registry_url):
        run_phases(bootstrap, registry_url, phases, args.window, consumer_config)

    for phase in phases:
        if phase.top:
            print(f"\n{phase.name}: allocation sites growing most from 10% to 100% (tracemalloc)")
            print("\n".join(phase.top))
    print(f"\npeak RSS (ru_maxrss): {peak_mib():.1f} MiB; total {time.perf_counter() - began:.1f} s")
    for phase in phases:
        print(phase.summary())
    leaking = [p for p in phases if p.second_half > args.max_growth]
    for phase in leaking:
        print(
            f"WARNING: RSS grew {phase.second_half:.1f} MiB over the second half of {phase.name} "
            f"(more than {args.max_growth:g} MiB): memory is not flat"
        )
    if not leaking:
        worst = max(p.second_half for p in phases)
        print(f"memory is flat: RSS grew at most {worst:+.1f} MiB over the second half of a phase")
    print(f"goal: no phase's RSS grows more than {args.max_growth:g} MiB over its second half")
    if leaking:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
