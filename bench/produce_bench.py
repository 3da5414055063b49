"""Produce benchmark on a real broker: raw librdkafka vs schemabus typed publishing vs confluent's
AvroSerializer, on the same ~200-byte event (``platform_events.AgentCreated``), in one run.

    .venv/bin/python bench/produce_bench.py [--records 100000] [--rounds 3] [--batch 10000] [--in-flight 4]
                                            [--only raw,nowait,publish_many,...]

Uses ``SCHEMABUS_BOOTSTRAP_SERVERS`` / ``SCHEMABUS_REGISTRY_URL`` when set, else starts the dev stack
(``schemabus.runtime.devstack``) and stops it at the end. Every variant uses the same producer
settings (schemabus's defaults: acks=all, idempotence, lz4, linger 5 ms), its own fresh 6-partition
topic per round, and is timed from the first produce until every record is acknowledged. After an
unmeasured warm-up pass, rounds interleave the variants; the best round of each is reported (this
machine is small and shared), and for the publish variants the median over rounds of their rate over
raw produce's in the same round (the goal is judged on it: a round's ratio compares runs close in time).

  encode only            the encoder alone, no Kafka (a floor on any typed path's cost): the compiled
                         encoder (runtime/_speedups.c) when it is built
  encode only, Python    the generated Python writer alone (what runs without the compiled encoder)
  raw produce            pre-encoded bytes, no delivery callback: the ceiling of the client
  raw produce + callback pre-encoded bytes and a trivial delivery callback per record (passed
                         positionally, the faster way schemabus uses too)
  schemabus nowait       bus.publish_nowait(topic, model, key=...): encode + produce + a future per
                         record; then every future awaited in order (each carries partition, offset)
  schemabus publish_many await Publisher(bus).publish_many(models, keys=...) per --batch records,
                         --in-flight batches at a time: the generated publisher's type checks,
                         encode + produce per record, one future per batch
  schemabus publish      await Publisher(bus).publish(model, key=...) from 1024 concurrent tasks (the
                         generated publisher's type checks, one coroutine per record); each await
                         lasts linger + acknowledgement, so this variant is bound by concurrency
                         over latency, not by CPU
  confluent serializer   AvroSerializer (to_dict = model_dump, enums as symbols) + StringSerializer
                         + produce with a delivery callback: confluent-kafka's documented path
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

from serde_bench import to_dict  # model_dump with enums as symbols, as confluent's AvroSerializer takes it
from servers import servers

import platform_events as m
import platform_events as pe
from schemabus.runtime import Topic
from schemabus.runtime.config import KafkaConfig, ProducerSettings
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.serde import frame_header

EVENT = m.AgentCreated(
    agent_id=uuid.UUID("6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11"),
    agent_type=m.AgentType.RESEARCHER,
    display_name="Literature researcher (EU)",
    created_at=dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC),
    capabilities=["search", "summarize", "cite", "translate"],
    creator_id="user-4711",
    labels={"team": "research", "env": "prod", "cost-center": "cc-1234", "region": "eu-west-1"},
)
KEY = str(EVENT.agent_id)


class Bench:
    def __init__(self, bootstrap: str, registry_url: str, records: int, batch: int, in_flight: int) -> None:
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.records = records
        self.batch = batch
        self.in_flight = in_flight
        self.settings = ProducerSettings()
        self.conf: dict[str, Any] = {
            **KafkaConfig(bootstrap_servers=bootstrap).librdkafka_config(),
            **self.settings.librdkafka_config(),
        }
        self.bus = KafkaBus(bootstrap, registry_url, producer=self.settings)
        self.registry = SchemaRegistryClient({"url": registry_url, "timeout": 10})
        self.cpu_started = 0.0

    def clock(self) -> float:
        """``time.perf_counter()`` at the start of a variant's timing; the process's CPU time then too."""
        self.cpu_started = time.process_time()
        return time.perf_counter()

    def topic(self) -> Topic[Any, Any]:
        topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"bench{uuid.uuid4().hex[:10]}.lifecycle.created")
        ensure_topics(self.bootstrap, [topic])
        return topic

    def check_same_bytes(self) -> int:
        """schemabus and confluent's serializer write the same bytes for the event (same subject, same id)."""
        topic = self.topic()
        serializer = AvroSerializer(self.registry, topic.value.schema, to_dict=to_dict)
        confluent = serializer(EVENT, SerializationContext(topic.name, MessageField.VALUE))
        ours = self.bus.codec.encode_value(topic, EVENT)
        assert confluent == ours, "schemabus and confluent's AvroSerializer disagree"
        return len(ours)

    def encode_only(self, python: bool = False) -> float:
        """The encoder alone, no Kafka: what any typed path pays per record at least."""
        topic = self.topic()
        schema_id = self.bus.codec.ids.id_for(topic.value_subject, topic.value.schema, topic.value.format)
        serialize = topic.value.serializer(schema_id)
        if python:
            header, write = frame_header(schema_id), topic.value.write

            def serialize(value: Any) -> bytes:
                out = bytearray(header)
                write(value, out)
                return bytes(out)

        started = self.clock()
        for _ in range(self.records):
            serialize(EVENT)
            KEY.encode()
        return self.records / (time.perf_counter() - started)

    def encode_python(self) -> float:
        return self.encode_only(python=True)

    def _raw(self, callback: bool) -> float:
        topic = self.topic()
        value = self.bus.codec.encode_value(topic, EVENT)
        key = KEY.encode()
        producer = Producer(self.conf)
        # Connected, metadata known and the idempotent producer's id acquired before timing (as the
        # bus's producer has them): one record produced and acknowledged first.
        producer.produce(topic.name, value, key)
        assert producer.flush(30) == 0
        delivered = [0]

        def on_delivery(err: Any, msg: Any) -> None:
            delivered[0] += 1

        produce = producer.produce
        started = self.clock()
        for i in range(self.records):
            while True:
                try:
                    if callback:
                        produce(topic.name, value, key, -1, on_delivery)  # positionally, as the bus does
                    else:
                        produce(topic.name, value, key)
                    break
                except BufferError:
                    producer.poll(0.001)
            if i % 1000 == 0:
                producer.poll(0)
        assert producer.flush(60) == 0
        elapsed = time.perf_counter() - started
        assert not callback or delivered[0] == self.records
        return self.records / elapsed

    def raw(self) -> float:
        return self._raw(callback=False)

    def raw_callback(self) -> float:
        return self._raw(callback=True)

    def schemabus_nowait(self) -> float:
        topic = self.topic()
        bus = self.bus

        async def run() -> float:
            await bus.prepare(topic)
            await bus.publish(topic, EVENT, key=KEY)  # metadata known before timing
            publish = bus.publish_nowait
            started = self.clock()
            futures = [publish(topic, EVENT, key=KEY) for _ in range(self.records)]
            results = [await future for future in futures]
            elapsed = time.perf_counter() - started
            assert len(results) == self.records and results[-1].offset >= 0
            return self.records / elapsed

        return asyncio.run(run())

    def schemabus_many(self) -> float:
        topic = self.topic()

        class Publisher(pe.AgentLifecycleCreatedPublisher):
            pass

        Publisher.topic = topic
        publisher = Publisher(self.bus)
        batch = min(self.batch, self.records)
        values, keys = [EVENT] * batch, [KEY] * batch

        async def run() -> float:
            await publisher.publish(EVENT, key=KEY)
            room = asyncio.Semaphore(self.in_flight)

            async def one() -> int:
                async with room:
                    return await publisher.publish_many(values, keys=keys)

            started = self.clock()
            sent = sum(await asyncio.gather(*(one() for _ in range(self.records // batch))))
            elapsed = time.perf_counter() - started
            assert sent == self.records // batch * batch
            return sent / elapsed

        return asyncio.run(run())

    def schemabus_publish(self, tasks: int = 1024) -> float:
        topic = self.topic()

        class Publisher(pe.AgentLifecycleCreatedPublisher):
            pass

        Publisher.topic = topic
        publisher = Publisher(self.bus)
        per_task = self.records // tasks

        async def worker() -> None:
            publish = publisher.publish
            for _ in range(per_task):
                await publish(EVENT, key=KEY)

        async def run() -> float:
            await publisher.publish(EVENT, key=KEY)
            started = self.clock()
            await asyncio.gather(*(worker() for _ in range(tasks)))
            return per_task * tasks / (time.perf_counter() - started)

        return asyncio.run(run())

    def confluent(self) -> float:
        topic = self.topic()
        serializer = AvroSerializer(self.registry, topic.value.schema, to_dict=to_dict)
        key_serializer = StringSerializer()
        producer = Producer(self.conf)
        value_ctx = SerializationContext(topic.name, MessageField.VALUE)
        key_ctx = SerializationContext(topic.name, MessageField.KEY)
        serializer(EVENT, value_ctx)  # registered (and cached) before timing
        producer.produce(topic.name, serializer(EVENT, value_ctx), key_serializer(KEY, key_ctx))
        assert producer.flush(30) == 0  # connected, metadata and the producer id known before timing
        delivered = [0]

        def on_delivery(err: Any, msg: Any) -> None:
            delivered[0] += 1

        started = self.clock()
        for i in range(self.records):
            value = serializer(EVENT, value_ctx)
            key = key_serializer(KEY, key_ctx)
            while True:
                try:
                    producer.produce(topic.name, value, key, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.001)
            if i % 1000 == 0:
                producer.poll(0)
        assert producer.flush(60) == 0
        elapsed = time.perf_counter() - started
        assert delivered[0] == self.records
        return self.records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10_000, help="records per publish_many call")
    parser.add_argument("--in-flight", type=int, default=4, help="publish_many calls awaited at a time")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated words: run only the variants whose name contains one (raw produce always runs)",
    )
    args = parser.parse_args()
    only = [w.strip() for w in args.only.split(",") if w.strip()]

    with servers() as (bootstrap, registry_url):
        bench = Bench(bootstrap, registry_url, args.records, args.batch, args.in_flight)
        size = bench.check_same_bytes()
        variants: dict[str, Callable[[], float]] = {
            "encode only (no Kafka)": bench.encode_only,
            "encode only, Python": bench.encode_python,
            "raw produce": bench.raw,
            "raw produce + callback": bench.raw_callback,
            "schemabus nowait": bench.schemabus_nowait,
            "schemabus publish_many": bench.schemabus_many,
            "schemabus publish": bench.schemabus_publish,
            "confluent serializer": bench.confluent,
        }
        if only:
            variants = {n: f for n, f in variants.items() if n == "raw produce" or any(w in n for w in only)}
        # A short unmeasured pass first: a fresh broker (and JVM) is slow for its first records.
        bench.records = max(1000, args.records // 10)
        for fn in variants.values():
            fn()
        bench.records = args.records
        best = dict.fromkeys(variants, 0.0)
        per_round: dict[str, list[float]] = {name: [] for name in variants}
        # CPU seconds per record of the whole process (librdkafka's threads too), from the start of the
        # timing to the variant's end: steadier than rates on a shared machine.
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for round_ in range(1, args.rounds + 1):
            for name, fn in variants.items():
                rate = fn()
                cpu[name].append((time.process_time() - bench.cpu_started) / bench.records)
                best[name] = max(best[name], rate)
                per_round[name].append(rate)
                print(f"  round {round_}: {name:24s} {rate / 1000:8.1f} k msg/s", flush=True)
        bench.bus.close_sync()

    print(f"\n{args.records} records of {size} bytes (framed Avro value), best of {args.rounds} rounds")
    for name, rate in best.items():
        print(f"  {name:24s} {rate / 1000:8.1f} k msg/s")
    raw = best["raw produce"]
    print()
    goals = {"schemabus nowait": 0.35, "schemabus publish_many": 0.6, "schemabus publish": 0.18}
    for name, goal in goals.items():
        if name not in best:
            continue
        rate = best[name]
        others = "".join(
            f", {rate / best[other]:5.2f}x {label}"
            for other, label in (("raw produce + callback", "raw+callback"), ("confluent serializer", "confluent"))
            if other in best
        )
        median = statistics.median(r / w for r, w in zip(per_round[name], per_round["raw produce"], strict=True))
        verdict = "ok" if median >= goal else "BELOW GOAL"
        print(
            f"  {name:22s} {rate / raw:5.2f}x raw (goal >= {goal:.2f}x: {verdict}, median of rounds "
            f"{median:4.2f}x){others}"
        )
    print("\n  CPU per record (process, median of rounds), and raw produce's over the variant's:")
    raw_cpu = statistics.median(cpu["raw produce"])
    for name, samples in cpu.items():
        if "encode" not in name:
            us = statistics.median(samples) * 1e6
            print(f"  {name:24s} {us:6.2f} us  {raw_cpu * 1e6 / us:5.2f}x raw")
    if "encode only (no Kafka)" in best and "encode only, Python" in best:
        encoder, python = best["encode only (no Kafka)"], best["encode only, Python"]
        print(f"  (the encoder alone: {encoder / raw:5.2f}x raw; {encoder / python:4.1f}x the generated Python writer)")


if __name__ == "__main__":
    main()
