"""Consume benchmark on the real broker, every variant in one run, on the same records:

  raw            Consumer.consume() of the bytes, no decoding (the ceiling)
  confluent      Consumer.consume() + AvroDeserializer(from_dict=model_validate) + a sync commit per batch
  schemabus      ConsumerRunner: decode with the generated decoder + typed handler + at-least-once commits
  batch          ConsumerRunner with a batch handler (topic.batch_handler(): lists of one partition's
                 events, committed after each batch), the same decoding and commits; with the default
                 max_batch (100), and with 500

    .venv/bin/python bench/consume_bench.py [--records 50000] [--rounds 3]

Uses SCHEMABUS_BOOTSTRAP_SERVERS / SCHEMABUS_REGISTRY_URL when set, else starts the dev stack
(and stops it). Records are ~130-byte ``AgentCreated`` events in one partition. Rounds interleave
the variants (each reads the whole topic with a fresh group); the best round of each is reported,
with its ratio to raw consume() and to confluent's path, and the goals (issue 15): the per-record
runner at >= 0.3x raw consume(), the batch runner at >= 0.5x. Run on a runtime without batch
handlers (an older checkout), the batch variant is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))

from servers import servers

import platform_events as pe
from schemabus.runtime import Event, RecordCodec, SchemaIds, Topic
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.registry_client import ConfluentRegistry

RAW = "raw consume (bytes)"
CONFLUENT = "confluent AvroDeserializer + model_validate"
OURS = "schemabus ConsumerRunner (models, commits)"
BATCH = "schemabus batch handler (models, commits)"
BIG_BATCH = "schemabus batch handler, max_batch=500"


def fill(bootstrap: str, registry: ConfluentRegistry, topic: Topic[Any, Any], n: int) -> None:
    codec = RecordCodec(SchemaIds(registry, "register"))
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    now = dt.datetime.now(dt.UTC)
    for i in range(n):
        value = pe.AgentCreated(
            agent_id=uuid.UUID(int=i),
            agent_type=pe.AgentType.CODER,
            created_at=now,
            creator_id=f"user-{i}",
            capabilities=["search", "summarize"],
            labels={"team": "research"},
        )
        while True:
            try:
                producer.produce(topic.name, value=codec.encode_value(topic, value), key=f"agent-{i}".encode())
                break
            except BufferError:
                producer.poll(0.1)
        if i % 5000 == 0:
            producer.poll(0)
    producer.flush(120)


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def raw(bootstrap: str, name: str, n: int) -> float:
    c = _consumer(bootstrap)
    c.subscribe([name])
    count, started = 0, None
    while count < n:
        batch = c.consume(1000, 1.0)
        if batch and started is None:
            started = time.perf_counter()
        count += len(batch)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    c.close()
    return n / elapsed


def confluent(bootstrap: str, registry_url: str, name: str, n: int) -> float:
    deserializer = AvroDeserializer(
        SchemaRegistryClient({"url": registry_url, "timeout": 10}),
        from_dict=lambda d, _ctx: pe.AgentCreated.model_validate(d),
    )
    ctx = SerializationContext(name, MessageField.VALUE)
    c = _consumer(bootstrap)
    c.subscribe([name])
    count, started = 0, None
    while count < n:
        batch = c.consume(1000, 1.0)
        if batch and started is None:
            started = time.perf_counter()
        for message in batch:
            deserializer(message.value(), ctx)
        count += len(batch)
        if batch:
            c.commit(asynchronous=False)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    c.close()
    return n / elapsed


def schemabus(bootstrap: str, registry: ConfluentRegistry, topic: Topic[Any, Any], n: int) -> float:
    async def go() -> float:
        count = 0
        started: float | None = None
        done = asyncio.Event()

        @topic.handler()
        async def handle(event: Event[str, pe.AgentCreated]) -> None:
            nonlocal count, started
            if started is None:
                started = time.perf_counter()
            count += 1
            if count == n:
                done.set()

        runner = ConsumerRunner(bootstrap, registry, [handle], service=f"bench-{uuid.uuid4().hex}")
        task = asyncio.create_task(runner.run())
        await done.wait()
        elapsed = time.perf_counter() - (started or time.perf_counter())
        runner.stop()
        await task
        return n / elapsed

    return asyncio.run(go())


def batch(bootstrap: str, registry: ConfluentRegistry, topic: Topic[Any, Any], n: int, max_batch: int) -> float:
    async def go() -> float:
        count = 0
        started: float | None = None
        done = asyncio.Event()

        @topic.batch_handler(max_batch=max_batch)
        async def handle(events: list[Event[str, pe.AgentCreated]]) -> None:
            nonlocal count, started
            if started is None:
                started = time.perf_counter()
            count += len(events)
            if count >= n:
                done.set()

        runner = ConsumerRunner(bootstrap, registry, [handle], service=f"bench-{uuid.uuid4().hex}")
        task = asyncio.create_task(runner.run())
        await done.wait()
        elapsed = time.perf_counter() - (started or time.perf_counter())
        runner.stop()
        await task
        return n / elapsed

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with servers() as (bootstrap, registry_url):
        name = f"bench.consume.{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the topic exists
        admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
        topic = Topic(name, pe.AGENT_LIFECYCLE_CREATED.key, pe.AGENT_LIFECYCLE_CREATED.value, partitions=1)
        registry = ConfluentRegistry(registry_url)
        fill(bootstrap, registry, topic, args.records)
        variants = {
            RAW: lambda: raw(bootstrap, name, args.records),
            CONFLUENT: lambda: confluent(bootstrap, registry_url, name, args.records),
            OURS: lambda: schemabus(bootstrap, registry, topic, args.records),
        }
        if hasattr(Topic, "batch_handler"):
            variants[BATCH] = lambda: batch(bootstrap, registry, topic, args.records, 100)
            variants[BIG_BATCH] = lambda: batch(bootstrap, registry, topic, args.records, 500)
        rates = dict.fromkeys(variants, 0.0)
        for round_ in range(1, args.rounds + 1):
            for label, variant in variants.items():
                rate = variant()
                rates[label] = max(rates[label], rate)
                print(f"  round {round_}: {label:44s} {rate / 1000:8.1f} k/s", flush=True)
    print(f"\n{args.records} AgentCreated records, one partition, best of {args.rounds} rounds")
    raw_rate, confluent_rate = rates[RAW], rates[CONFLUENT]
    print(f"  {'':44s} {'k/s':>8s} {'us/record':>10s} {'x raw':>7s} {'x confluent':>12s}")
    for label, rate in rates.items():
        print(
            f"  {label:44s} {rate / 1000:8.1f} {1e6 / rate:10.2f} {rate / raw_rate:7.2f} {rate / confluent_rate:12.2f}"
        )
    print(f"goal: schemabus >= 3x confluent's AvroDeserializer path: {rates[OURS] / confluent_rate:.2f}x")
    print(f"goal: schemabus >= 0.3x raw consume(): {rates[OURS] / raw_rate:.2f}x")
    if BATCH in rates:
        print(f"goal: schemabus batch handler >= 0.5x raw consume(): {rates[BATCH] / raw_rate:.2f}x")


if __name__ == "__main__":
    main()
