"""Liveness and readiness of KafkaBus and ConsumerRunner (runtime/health.py), without a broker: the
runner over the in-memory log (the production loop), the bus against a closed port."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import socket
import time
import uuid
from functools import partial
from typing import Any

import fastavro
import pytest

import platform_events as pe
from schemabus.runtime import Event, RetryPolicy
from schemabus.runtime.bus import RecordCodec
from schemabus.runtime.config import ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner, HandlerFailedError
from schemabus.runtime.health import HealthStatus, combined
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.memory_log import InMemoryConsumer, InMemoryLog
from schemabus.runtime.registry import SchemaIds
from schemabus.runtime.serde import frame_header
from schemabus.runtime.testing import InMemoryRegistry

TOPIC = pe.AGENT_LIFECYCLE_CREATED


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def created(n: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=n),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        creator_id=f"user-{n}",
    )


def runner_over(log: InMemoryLog, registry: InMemoryRegistry, handle: Any) -> ConsumerRunner:
    handler = TOPIC.handler(group="health")(handle)
    return ConsumerRunner(
        "in-memory",
        registry,
        [handler],
        settings=ConsumerSettings(topic_check="off", startup_timeout=None),
        retry=RetryPolicy(max_retries=0),
        dead_letters=False,
        poll_timeout=0.005,
        commit_interval=0.001,
        consumer_factory=partial(InMemoryConsumer, log=log),
    )


def store(log: InMemoryLog, registry: InMemoryRegistry, n: int) -> None:
    codec = RecordCodec(SchemaIds(registry, "register"))
    log.append(TOPIC.name, codec.encode_key(TOPIC, f"k{n}"), codec.encode_value(TOPIC, created(n)), partitions=3)


def test_a_runner_is_live_but_not_ready_before_it_runs_ready_while_assigned_and_not_live_once_stopped() -> None:
    log, registry = InMemoryLog(), InMemoryRegistry()
    log.declare(TOPIC.name, 3)
    seen: list[HealthStatus] = []
    runner: ConsumerRunner

    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        seen.append(runner.health())
        runner.stop()

    runner = runner_over(log, registry, handle)
    before = runner.health()
    assert (before.live, before.ready, before.reason) == (True, False, "not running yet")
    store(log, registry, 1)
    asyncio.run(asyncio.wait_for(runner.run(), 30))
    assert [(s.live, s.ready) for s in seen] == [(True, True)]
    after = runner.health()
    assert (after.live, after.ready, after.reason) == (False, False, "stopped")
    assert after.component == f"ConsumerRunner({TOPIC.name})"


def test_a_runner_stopped_by_an_error_is_not_live_and_says_why() -> None:
    log, registry = InMemoryLog(), InMemoryRegistry()
    log.declare(TOPIC.name, 3)

    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        raise ValueError("the ledger is gone")

    runner = runner_over(log, registry, handle)
    store(log, registry, 1)
    with pytest.raises(HandlerFailedError):
        asyncio.run(asyncio.wait_for(runner.run(), 30))
    status = runner.health()
    assert (status.live, status.ready) == (False, False)
    assert status.reason.startswith("stopped by HandlerFailedError: ")
    assert "the ledger is gone" in status.reason


def test_a_bus_is_ready_until_its_cluster_is_unreachable_and_not_live_once_closed() -> None:
    settings = ProducerSettings(broker_down_timeout_ms=500, topic_check="off")
    bus = KafkaBus(closed_port(), InMemoryRegistry(), producer=settings)
    try:
        deadline = time.monotonic() + 20
        while bus.health().ready:  # librdkafka reports every broker down within moments of trying
            bus.producer.poll(0.1)
            assert time.monotonic() < deadline, "the bus stayed ready on a closed port"
        status = bus.health()
        assert status.live and not status.ready
        assert status.reason, status
    finally:
        bus.close_sync(timeout=1)
    closed = bus.health()
    assert (closed.live, closed.ready, closed.reason) == (False, False, "closed")
    assert closed.component.startswith("KafkaBus(127.0.0.1:")


def test_combined_is_live_and_ready_only_when_every_component_is() -> None:
    class Fixed:
        def __init__(self, status: HealthStatus) -> None:
            self.status = status

        def health(self) -> HealthStatus:
            return self.status

    up = Fixed(HealthStatus("a", live=True, ready=True))
    starting = Fixed(HealthStatus("b", live=True, ready=False, reason="not running yet"))
    assert combined([up])[:2] == (True, True)
    live, ready, statuses = combined([up, starting])
    assert (live, ready) == (True, False)
    assert [s.to_json()["reason"] for s in statuses] == ["", "not running yet"]
    assert combined([])[:2] == (True, True)


class FlakyRegistry(InMemoryRegistry):
    """An in-memory registry that cannot be reached while ``down``."""

    down = False

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        if self.down:
            raise ConnectionError("the registry refused the connection")
        return super().schema_by_id(schema_id)


def store_with_an_older_writer(log: InMemoryLog, registry: InMemoryRegistry, n: int) -> None:
    """A record written with another (older) schema of the subject: reading it needs its writer schema,
    fetched from the registry by id."""
    schema = json.loads(TOPIC.value.schema or "")
    schema["fields"].append({"name": "legacy_note", "type": "string"})
    writer_id = registry.register_schema(TOPIC.value_subject, json.dumps(schema), "AVRO")
    codec = RecordCodec(SchemaIds(registry, "register"))
    current = codec.encode_value(TOPIC, created(n))  # the current schema: a compatible next version
    record = fastavro.schemaless_reader(
        io.BytesIO(current[5:]), fastavro.parse_schema(json.loads(TOPIC.value.schema or ""))
    )
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), {**record, "legacy_note": "old"})
    log.append(TOPIC.name, codec.encode_key(TOPIC, f"k{n}"), frame_header(writer_id) + body.getvalue(), partitions=3)


def waiting_runner(log: InMemoryLog, registry: InMemoryRegistry, handle: Any, limit: float) -> ConsumerRunner:
    handler = TOPIC.handler(group="health")(handle)
    return ConsumerRunner(
        "in-memory",
        registry,
        [handler],
        settings=ConsumerSettings(topic_check="off", startup_timeout=None, registry_outage_limit=limit),
        retry=RetryPolicy(max_retries=0, initial_backoff=0.02, jitter=0),
        dead_letters=False,
        poll_timeout=0.005,
        commit_interval=0.001,
        consumer_factory=partial(InMemoryConsumer, log=log),
    )


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_a_partition_waits_for_the_registry_not_ready_meanwhile_then_goes_on() -> None:
    log, registry = InMemoryLog(), FlakyRegistry()
    log.declare(TOPIC.name, 3)
    handled: list[str] = []

    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        handled.append(event.value.creator_id)

    store_with_an_older_writer(log, registry, 1)
    registry.down = True
    runner = waiting_runner(log, registry, handle, limit=60)

    async def scenario() -> HealthStatus:
        task = asyncio.create_task(runner.run())
        await until(lambda: "waits for the schema registry" in runner.health().reason, "the partition waiting")
        waiting = runner.health()
        await asyncio.sleep(0.2)  # several retries, all failing: still waiting, nothing handled
        assert handled == []
        registry.down = False
        await until(lambda: handled == ["user-1"], "the record handled once the registry answers")
        await until(lambda: runner.health().ready, "ready again")
        runner.stop()
        await asyncio.wait_for(task, 20)
        return waiting

    waiting = asyncio.run(scenario())
    assert waiting.live and not waiting.ready
    assert "agent.lifecycle.created[" in waiting.reason and "the registry refused the connection" in waiting.reason


def test_past_the_outage_limit_the_runner_stops_without_committing() -> None:
    log, registry = InMemoryLog(), FlakyRegistry()
    log.declare(TOPIC.name, 3)
    store_with_an_older_writer(log, registry, 1)
    registry.down = True

    async def handle(event: Event[str, pe.AgentCreated]) -> None:
        raise AssertionError("never decoded")

    runner = waiting_runner(log, registry, handle, limit=0.3)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        asyncio.run(asyncio.wait_for(runner.run(), 20))
    assert 0.3 <= time.monotonic() - started < 10
    status = runner.health()
    assert not status.live and "the registry refused the connection" in status.reason
    assert not log.caught_up("health", TOPIC.name)  # nothing committed: the record is read again
