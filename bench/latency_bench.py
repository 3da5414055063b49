"""Latency benchmark on a real broker: schemabus's awaited ``publish`` next to confluent-kafka's
``produce`` with a delivery callback, at a fixed rate (default 5,000 records/s), in interleaved rounds.

    .venv/bin/python bench/latency_bench.py [--rate 5000] [--seconds 5] [--rounds 3]

Uses ``SCHEMABUS_BOOTSTRAP_SERVERS`` / ``SCHEMABUS_REGISTRY_URL`` when set, else starts the dev stack
(``schemabus.runtime.devstack``) and stops it at the end. Both variants send the ~200-byte event of
produce_bench.py with the same producer settings (schemabus's defaults: acks=all, idempotence, lz4,
linger 5 ms) to one 6-partition topic each, made and warmed up (schema id, metadata, connections)
before the first round. A record's latency runs from the call that sends it to its acknowledgement:

  schemabus publish     a task per record, ``await bus.publish(topic, model, key=...)``, started on
                        schedule by a pacing coroutine of the event loop
  confluent callback    pre-encoded bytes, ``produce(..., on_delivery=callback)`` on schedule from a
                        plain thread that ``poll()``s until the next record is due

Each round prints p50 / p99 / p99.9 / max, where in the round the slowest record was sent, and the
garbage collections that ran during the round (their count by generation and their longest pause);
the summary pools every round of each variant and prints schemabus / confluent per percentile next
to the 1.1x goal.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

from produce_bench import EVENT, KEY
from servers import servers

import platform_events as pe
from schemabus.runtime import Topic
from schemabus.runtime.config import KafkaConfig, ProducerSettings
from schemabus.runtime.kafka import KafkaBus, ensure_topics

GOAL = 1.1  # schemabus's p99 within 1.1x confluent's
WARM_UP = 2000  # records sent unmeasured before the first round (per variant)


class GcWatch:
    """The garbage collections of the process while it is on: generation and pause of each."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, float]] = []  # (generation, started, seconds)
        self._started = 0.0

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self.pauses.append((info["generation"], self._started, now - self._started))

    def summary(self) -> str:
        if not self.pauses:
            return "no gc"
        counts = [sum(1 for g, _, _ in self.pauses if g == gen) for gen in range(3)]
        longest = max(p for _, _, p in self.pauses)
        return f"gc {counts[0]}/{counts[1]}/{counts[2]} (gen 0/1/2), longest {longest * 1000:.2f} ms"


@dataclasses.dataclass
class Round:
    latencies: list[float]  # seconds, by record
    sent_at: list[float]  # perf_counter at each send
    started: float
    gc: GcWatch

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        slowest = max(range(len(self.latencies)), key=self.latencies.__getitem__)
        at = self.sent_at[slowest] - self.started
        sent, done = self.sent_at[slowest], self.sent_at[slowest] + self.latencies[slowest]
        during = [p for _, s, p in self.gc.pauses if s < done and s + p > sent]
        in_gc = f"; {len(during)} gc pause(s) of {sum(during) * 1000:.1f} ms during it" if during else ""
        return (
            f"p50 {quantile(ms, 0.5):6.2f}  p99 {quantile(ms, 0.99):6.2f}  p99.9 {quantile(ms, 0.999):6.2f}  "
            f"max {ms[-1]:7.2f} ms (record {slowest} at {at:.2f}s{in_gc}); {self.gc.summary()}; "
            f"max of records clear of gen-2 gc {self.max_clear_of_gc() * 1000:.2f} ms"
        )

    def max_clear_of_gc(self) -> float:
        """The slowest record whose flight no full (generation 2) collection overlapped."""
        full = [(s, s + p) for g, s, p in self.gc.pauses if g == 2]
        return max(
            (
                lat
                for sent, lat in zip(self.sent_at, self.latencies, strict=True)
                if not any(a < sent + lat and b > sent for a, b in full)
            ),
            default=0.0,
        )


def quantile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


class Bench:
    def __init__(self, bootstrap: str, registry_url: str, rate: int, seconds: float) -> None:
        self.bootstrap = bootstrap
        self.rate = rate
        self.records = int(rate * seconds)
        settings = ProducerSettings()
        self.conf: dict[str, Any] = {
            **KafkaConfig(bootstrap_servers=bootstrap).librdkafka_config(),
            **settings.librdkafka_config(),
        }
        self.bus = KafkaBus(bootstrap, registry_url, producer=settings)
        self.bus_topic = self.topic()
        self.raw_topic = self.topic()
        self.value = self.bus.codec.encode_value(self.raw_topic, EVENT)
        self.producer = Producer(self.conf)
        self.loop = asyncio.new_event_loop()

    def topic(self) -> Topic[Any, Any]:
        topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"latency{uuid.uuid4().hex[:10]}.created")
        ensure_topics(self.bootstrap, [topic])
        return topic

    def warm_up(self) -> None:
        self.loop.run_until_complete(self._schemabus(WARM_UP))
        self._confluent(WARM_UP)

    def schemabus(self) -> Round:
        return self.loop.run_until_complete(self._schemabus(self.records))

    def confluent(self) -> Round:
        return self._confluent(self.records)

    async def _schemabus(self, n: int) -> Round:
        bus, topic = self.bus, self.bus_topic
        await bus.prepare(topic)
        latencies = [0.0] * n
        sent_at = [0.0] * n
        clock = time.perf_counter
        interval = 1 / self.rate

        async def one(i: int) -> None:
            sent = sent_at[i] = clock()
            await bus.publish(topic, EVENT, key=KEY)
            latencies[i] = clock() - sent

        tasks = set()
        with GcWatch() as watch:
            started = clock()
            i = 0
            while i < n:
                due = started + i * interval
                now = clock()
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                task = asyncio.create_task(one(i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            while tasks:
                await asyncio.gather(*tasks)
        return Round(latencies, sent_at, started, watch)

    def _confluent(self, n: int) -> Round:
        producer, topic, value, key = self.producer, self.raw_topic.name, self.value, KEY.encode()
        latencies = [0.0] * n
        sent_at = [0.0] * n
        clock = time.perf_counter
        interval = 1 / self.rate
        pending = [0]

        def on_delivery(i: int, err: Any, msg: Any) -> None:
            latencies[i] = clock() - sent_at[i]
            pending[0] -= 1
            assert err is None, err

        with GcWatch() as watch:
            started = clock()
            i = 0
            while i < n:
                due = started + i * interval
                now = clock()
                if due > now:
                    producer.poll(due - now)
                    continue
                sent_at[i] = clock()
                producer.produce(topic, value, key, on_delivery=partial(on_delivery, i))
                pending[0] += 1
                i += 1
            while pending[0]:
                producer.poll(0.1)
        return Round(latencies, sent_at, started, watch)

    def close(self) -> None:
        self.producer.flush(10)
        self.bus.close_sync()
        self.loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5000, help="records per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up: full collections then skip what the process had by then",
    )
    args = parser.parse_args()

    with servers() as (bootstrap, registry_url):
        bench = Bench(bootstrap, registry_url, args.rate, args.seconds)
        bench.warm_up()
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        variants = {"schemabus publish": bench.schemabus, "confluent callback": bench.confluent}
        pooled: dict[str, list[float]] = {name: [] for name in variants}
        for round_ in range(1, args.rounds + 1):
            for name, fn in variants.items():
                result = fn()
                pooled[name].extend(result.latencies)
                print(f"  round {round_}: {name:18s} {result.line()}", flush=True)
        bench.close()

    print(f"\n{bench.records} records per round at {args.rate}/s, {args.rounds} rounds pooled (ms)")
    table: dict[str, list[float]] = {}
    for name, latencies in pooled.items():
        ms = sorted(x * 1000 for x in latencies)
        table[name] = [quantile(ms, 0.5), quantile(ms, 0.99), quantile(ms, 0.999), ms[-1], statistics.fmean(ms)]
        p50, p99, p999, top, mean = table[name]
        print(f"  {name:18s} p50 {p50:6.2f}  p99 {p99:6.2f}  p99.9 {p999:6.2f}  max {top:7.2f}  mean {mean:6.2f}")
    ours, theirs = table["schemabus publish"], table["confluent callback"]
    ratios = "  ".join(f"{label} {a / b:4.2f}x" for label, a, b in zip(("p50", "p99", "p99.9", "max"), ours, theirs))
    verdict = "ok" if ours[1] / theirs[1] <= GOAL else "ABOVE GOAL"
    print(f"  schemabus / confluent: {ratios}")
    print(f"  goal: p99 within {GOAL}x confluent's: {ours[1] / theirs[1]:4.2f}x ({verdict})")


if __name__ == "__main__":
    main()
