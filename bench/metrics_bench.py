"""Metrics overhead on a real broker: ``publish_many`` and ``ConsumerRunner`` throughput with metrics
enabled (``metrics=Metrics()``: every delivery report counted with its latency, every handler call
timed, librdkafka statistics every second) against the same without, in one run.

    .venv/bin/python bench/metrics_bench.py [--records 100000] [--consume-records 50000] [--rounds 5]

Uses ``SCHEMABUS_BOOTSTRAP_SERVERS`` / ``SCHEMABUS_REGISTRY_URL`` when set, else starts the dev stack
and stops it at the end. Rounds interleave the two variants (off, on, off, on...), each on a fresh
topic (publishing) or a fresh consumer group over the same records (consuming); after an unmeasured
warm-up pass, the best round of each variant is reported with the ratio of the two bests, and the
median of the rounds' own on/off ratios (less sensitive to a shared machine's bursts). The metrics are
scraped once per round (the Prometheus text of everything counted) so that the scrape is part of
what is measured, as in production. CPU time per record (of this process, all its threads: librdkafka's
too) is reported beside the throughput: other processes on the machine move it less.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

from consume_bench import fill
from produce_bench import EVENT, KEY
from servers import servers

import platform_events as pe
from schemabus.runtime import Event, Topic
from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.metrics import Metrics
from schemabus.runtime.registry_client import ConfluentRegistry

STATISTICS_MS = 1000  # far more often than the default 15 s: the cost of parsing them shows


class Bench:
    def __init__(self, bootstrap: str, registry_url: str, records: int, batch: int, in_flight: int) -> None:
        self.bootstrap = bootstrap
        self.registry = ConfluentRegistry(registry_url)
        self.records = records
        self.batch = batch
        self.in_flight = in_flight
        self.metrics = Metrics(statistics_interval_ms=STATISTICS_MS)
        self.buses = {
            False: KafkaBus(bootstrap, self.registry, producer=ProducerSettings()),
            True: KafkaBus(bootstrap, self.registry, producer=ProducerSettings(), metrics=self.metrics),
        }
        self.scraped = 0

    def scrape(self) -> None:
        self.scraped += len(self.metrics.exposition()[0])

    def publish_many(self, on: bool) -> tuple[float, float]:
        topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"bench{uuid.uuid4().hex[:10]}.metrics")
        ensure_topics(self.bootstrap, [topic])
        bus = self.buses[on]
        batch = min(self.batch, self.records)
        values, keys = [EVENT] * batch, [KEY] * batch

        async def run() -> tuple[float, float]:
            await bus.publish(topic, EVENT, key=KEY)  # schema ids and metadata known before timing
            room = asyncio.Semaphore(self.in_flight)

            async def one() -> int:
                async with room:
                    return await bus.publish_many(topic, values, keys=keys)

            started, cpu = time.perf_counter(), time.process_time()
            sent = sum(await asyncio.gather(*(one() for _ in range(self.records // batch))))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert sent == self.records // batch * batch
            return sent / elapsed, cpu / sent

        rate = asyncio.run(run())
        if on:
            self.scrape()
        return rate

    def consume(self, topic: Topic[Any, Any], n: int, on: bool) -> tuple[float, float]:
        async def go() -> tuple[float, float]:
            count = 0
            started: float | None = None
            cpu = 0.0
            done = asyncio.Event()

            @topic.handler()
            async def handle(event: Event[str, pe.AgentCreated]) -> None:
                nonlocal count, started, cpu
                if started is None:
                    started, cpu = time.perf_counter(), time.process_time()
                count += 1
                if count == n:
                    done.set()

            runner = ConsumerRunner(
                self.bootstrap,
                self.registry,
                [handle],
                service=f"bench-{uuid.uuid4().hex}",
                metrics=self.metrics if on else None,
            )
            task = asyncio.create_task(runner.run())
            await done.wait()
            elapsed, cpu = time.perf_counter() - (started or time.perf_counter()), time.process_time() - cpu
            runner.stop()
            await task
            return n / elapsed, cpu / n

        rate = asyncio.run(go())
        if on:
            self.scrape()
        return rate

    def close(self) -> None:
        for bus in self.buses.values():
            bus.close_sync()
        self.registry.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="records per publish_many round")
    parser.add_argument("--consume-records", type=int, default=50_000, help="records per ConsumerRunner round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10_000, help="records per publish_many call")
    parser.add_argument("--in-flight", type=int, default=4, help="publish_many calls awaited at a time")
    args = parser.parse_args()

    with servers() as (bootstrap, registry_url):
        bench = Bench(bootstrap, registry_url, args.records, args.batch, args.in_flight)
        name = f"bench.metrics.consume.{uuid.uuid4().hex[:8]}"
        topic = Topic(name, pe.AGENT_LIFECYCLE_CREATED.key, pe.AGENT_LIFECYCLE_CREATED.value, partitions=1)
        ensure_topics(bootstrap, [topic])
        fill(bootstrap, bench.registry, topic, args.consume_records)
        variants: dict[tuple[str, bool], Callable[[], tuple[float, float]]] = {
            ("publish_many", False): lambda: bench.publish_many(False),
            ("publish_many", True): lambda: bench.publish_many(True),
            ("ConsumerRunner", False): lambda: bench.consume(topic, args.consume_records, False),
            ("ConsumerRunner", True): lambda: bench.consume(topic, args.consume_records, True),
        }
        # A short unmeasured pass first: a fresh broker (and JVM) is slow for its first records.
        records = bench.records
        bench.records = max(1000, records // 10)
        for (kind, _), fn in variants.items():
            if kind == "publish_many":
                fn()  # unmeasured
        bench.records = records
        best = dict.fromkeys(variants, 0.0)
        ratios: dict[str, list[float]] = {"publish_many": [], "ConsumerRunner": []}
        cpu: dict[tuple[str, bool], list[float]] = {key: [] for key in variants}  # CPU seconds per record
        for round_ in range(1, args.rounds + 1):
            order = list(variants.items())
            if round_ % 2 == 0:  # alternate which of the two goes first
                order = [order[1], order[0], order[3], order[2]]
            rates = {}
            for (kind, on), fn in order:
                rate, per_record = fn()
                rates[(kind, on)] = rate
                cpu[(kind, on)].append(per_record)
                best[(kind, on)] = max(best[(kind, on)], rate)
                print(
                    f"  round {round_}: {kind:15s} metrics {'on ' if on else 'off'} {rate / 1000:8.1f} k msg/s"
                    f"   {per_record * 1e6:6.2f} µs CPU per record (this process, every thread)",
                    flush=True,
                )
            for kind in ratios:
                ratios[kind].append(rates[(kind, True)] / rates[(kind, False)])
        snapshot = bench.metrics.snapshot()
        bench.close()

    print(
        f"\npublish_many: {args.records} records per round; ConsumerRunner: {args.consume_records}; "
        f"best of {args.rounds}"
    )
    for kind in ("publish_many", "ConsumerRunner"):
        off, on = best[(kind, False)], best[(kind, True)]
        print(
            f"  {kind:15s} off {off / 1000:8.1f} k/s   on {on / 1000:8.1f} k/s   on/off {on / off:5.3f}x"
            f"   median of rounds {statistics.median(ratios[kind]):5.3f}x"
        )
    print("CPU per record, median of rounds (less exposed to other processes than the wall clock):")
    for kind in ("publish_many", "ConsumerRunner"):
        off, on = statistics.median(cpu[(kind, False)]), statistics.median(cpu[(kind, True)])
        print(f"  {kind:15s} off {off * 1e6:6.2f} µs   on {on * 1e6:6.2f} µs   off/on {off / on:5.3f}x")
    published = sum(t["published"] for t in snapshot["topics"].values())
    handled = sum(g["handled"] for g in snapshot["groups"])
    print(f"  (counted with metrics on: {published} published, {handled} handled; {bench.scraped} bytes scraped)")
    print("goal: on/off >= 0.95x")


if __name__ == "__main__":
    main()
