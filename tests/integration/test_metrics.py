"""Metrics on the real broker: publish and consume with metrics enabled, scrape /metrics over HTTP,
and find exactly what happened per topic and consumer group, the latency of every acknowledged
record, and librdkafka's statistics of both clients."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import urllib.request
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

import platform_events as pe
from schemabus.runtime import Event
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.health import HealthStatus
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.metrics import Metrics, serve_metrics
from schemabus.runtime.registry_client import ConfluentRegistry

pytestmark = pytest.mark.integration

TIMEOUT = 45.0


class Up:
    def health(self) -> HealthStatus:
        return HealthStatus("test", live=True, ready=True)


def agent(i: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=i),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        creator_id=f"user-{i}",
    )


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT}s waiting for {what}")
        await asyncio.sleep(0.1)


def test_counts_per_topic_and_group_are_exact_when_scraped(kafka_bootstrap: str, registry_url: str) -> None:
    topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:10]}.metrics.created")
    ensure_topics(kafka_bootstrap, [topic])
    metrics = Metrics(statistics_interval_ms=500)
    server = serve_metrics(metrics, port=0, host="127.0.0.1", health=[Up()])
    group_name = "metrics-it"
    failing = "user-7"
    singles, batch = 6, 25
    published = singles + batch

    @topic.handler(group=group_name)
    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        if event.value.creator_id == failing:
            raise ValueError("refused")  # not retryable: dead-lettered as handler-error

    async def scenario() -> Samples:
        registry = ConfluentRegistry(registry_url)
        bus = KafkaBus(kafka_bootstrap, registry, metrics=metrics)
        runner = ConsumerRunner(kafka_bootstrap, registry, [handle], service="it", metrics=metrics)
        task = asyncio.create_task(runner.run())
        try:
            for i in range(singles - 1):
                await bus.publish(topic, agent(i), key=f"a-{i}")
            await bus.publish_nowait(topic, agent(singles - 1), key="a-nowait")
            sent = await bus.publish_many(topic, [agent(100 + i) for i in range(batch - 1)] + [agent(7)])
            assert sent == batch
            # A poison record, from a producer of its own: not a publish of the bus.
            raw = Producer({"bootstrap.servers": kafka_bootstrap})
            raw.produce(topic.name, b"not avro", b"k")
            assert raw.flush(TIMEOUT) == 0

            def finished() -> bool:
                counters = runner.handler_metrics().get(group_name)
                return counters is not None and counters.handled + counters.dead_lettered == published + 1

            await until(finished, "every record handled or dead-lettered")

            def has_statistics(samples: Samples) -> bool:
                types = {dict(labels).get("type") for name, labels in samples if name.startswith("schemabus_kafka_")}
                return {"producer", "consumer"} <= types and any(
                    name == "schemabus_kafka_received_messages_total"
                    and dict(labels)["type"] == "consumer"
                    and value >= published + 1
                    for (name, labels), value in samples.items()
                )

            samples: Samples = {}

            def scraped() -> bool:
                samples.clear()
                samples.update(scrape(server.url))
                return has_statistics(samples)

            await until(scraped, "librdkafka statistics of the producer and the consumer")
            runner.stop()
            await asyncio.wait_for(task, TIMEOUT)
            await bus.close()
            return samples
        finally:
            runner.stop()
            if not task.done():
                task.cancel()
            await bus.close()
            registry.close()

    try:
        samples = asyncio.run(scenario())
    finally:
        server.stop()

    t = (("topic", topic.name),)
    tg = (("group", group_name), ("topic", topic.name))
    assert samples[("schemabus_published_total", t)] == published
    assert samples[("schemabus_publish_failures_total", t)] == 0
    assert samples[("schemabus_publish_latency_seconds_count", t)] == published
    assert samples[("schemabus_publish_latency_seconds_bucket", (("le", "+Inf"), *t))] == published
    assert 0 < samples[("schemabus_publish_latency_seconds_sum", t)] < published * TIMEOUT
    assert samples[("schemabus_consumed_total", tg)] == published + 1
    assert samples[("schemabus_handled_total", tg)] == published - 1
    assert samples[("schemabus_retries_total", tg)] == 0
    assert samples[("schemabus_poison_total", tg)] == 1
    for reason in ("handler-error", "bad-magic"):
        labels = (("group", group_name), ("reason", reason), ("topic", topic.name))
        assert samples[("schemabus_dead_lettered_total", labels)] == 1
    assert samples[("schemabus_handler_duration_seconds_count", tg)] == published  # the poison record never reached it
    assert samples[("schemabus_rebalances_total", tg)] >= 1
    assert samples[("schemabus_in_flight_records", tg)] == 0
    producers = [
        v
        for (n, labels), v in samples.items()
        if n == "schemabus_kafka_transmitted_messages_total" and dict(labels)["type"] == "producer"
    ]
    assert producers and max(producers) >= published
    lags = {
        dict(labels)["partition"]: v
        for (n, labels), v in samples.items()
        if n == "schemabus_kafka_consumer_lag" and dict(labels)["group"] == f"{group_name}"
    }
    assert all(v >= 0 for v in lags.values())
    rtts = [v for (n, _), v in samples.items() if n == "schemabus_kafka_broker_rtt_avg_seconds"]
    assert rtts and all(0 <= v < TIMEOUT for v in rtts)


def probe(url: str, path: str) -> tuple[int, dict[str, object]]:
    import json
    import urllib.error

    try:
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_probes_follow_a_real_bus_and_runner(kafka_bootstrap: str, registry_url: str) -> None:
    """/readyz is 503 until the runner holds its partitions, 200 then; /healthz turns 503 once they
    are stopped (what a Kubernetes probe sees)."""
    topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:10]}.probes.created")

    @topic.handler(group="probes-it")
    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        pass

    async def scenario() -> list[tuple[str, int, dict[str, object]]]:
        registry = ConfluentRegistry(registry_url)
        bus = KafkaBus(kafka_bootstrap, registry)
        runner = ConsumerRunner(kafka_bootstrap, registry, [handle], service="it")
        server = serve_metrics(None, port=0, host="127.0.0.1", health=[bus, runner])
        seen: list[tuple[str, int, dict[str, object]]] = []
        try:
            seen.append(("before", *await asyncio.to_thread(probe, server.url, "/readyz")))
            task = asyncio.create_task(runner.run())
            await bus.publish(topic, agent(1), key="a")
            await until(lambda: runner.health().ready, "the runner ready")
            seen.append(("running", *await asyncio.to_thread(probe, server.url, "/readyz")))
            runner.stop()
            await asyncio.wait_for(task, TIMEOUT)
            await bus.close()
            seen.append(("stopped", *await asyncio.to_thread(probe, server.url, "/healthz")))
        finally:
            server.stop()
            runner.stop()
            await bus.close()
            registry.close()
        return seen

    (before, running, stopped) = asyncio.run(scenario())
    assert before[1] == 503, before
    assert "not running yet" in str(before[2]), before
    assert running[1] == 200, running
    assert stopped[1] == 503, stopped
    assert "closed" in str(stopped[2]) and "stopped" in str(stopped[2]), stopped
