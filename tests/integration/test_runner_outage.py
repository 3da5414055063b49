"""A running ConsumerRunner whose cluster goes away: past ``cluster_down_timeout`` it is not ready and
says so once (not once per reconnect); when the broker is back it is ready again, says so once, and
goes on handling. The broker is this test's own (a dev stack it stops and starts on its data)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import platform_events as pe
from schemabus.runtime import Event
from schemabus.runtime.config import ConsumerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.devstack import DevStack, start_stack
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_kafka_bus import agent_created

pytestmark = pytest.mark.integration

TIMEOUT = 60.0


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[DevStack]:
    stack = start_stack(tmp_path / "servers", kafka=True, registry=False)
    try:
        yield stack
    finally:
        stack.stop()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {TIMEOUT}s waiting for {what}"
        await asyncio.sleep(0.1)


def test_a_runner_is_not_ready_while_its_cluster_is_down_and_says_so_once_each_way(
    own_kafka: DevStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="schemabus.consumer")
    bootstrap = own_kafka.bootstrap_servers
    topic = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:10]}.outage.created")
    ensure_topics(bootstrap, [topic])
    registry = InMemoryRegistry()
    handled: list[str] = []

    @topic.handler(group="outage")
    async def handle(event: Event[str, Any]) -> None:
        handled.append(event.key or "")

    settings = ConsumerSettings(cluster_down_timeout=2.0)
    runner = ConsumerRunner(bootstrap, registry, [handle], settings=settings, dead_letters=False)
    broker = own_kafka.brokers[0]

    async def scenario() -> tuple[str, float]:
        task = asyncio.create_task(runner.run())
        with KafkaBus(bootstrap, registry) as bus:
            await bus.publish(topic, agent_created(), key="before")
        await until(lambda: handled == ["before"] and runner.health().ready, "the first record handled")
        stopped = time.monotonic()  # the broker stops answering as its shutdown begins, not when it ends
        broker.stop()
        await until(lambda: "waiting for Kafka" in runner.health().reason, "the runner not ready")
        not_ready = runner.health()
        assert not_ready.live and not not_ready.ready
        waited = time.monotonic() - stopped
        await asyncio.sleep(3)  # librdkafka keeps reconnecting meanwhile
        await asyncio.to_thread(own_kafka.restart_broker, broker.node_id)
        await until(lambda: runner.health().ready, "the runner ready again")
        with KafkaBus(bootstrap, registry) as bus:
            await bus.publish(topic, agent_created(1), key="after")
        # "before" may come again (at least once: its commit may not have reached the broker in time).
        await until(lambda: "after" in handled, "the record published after the restart handled")
        runner.stop()
        await asyncio.wait_for(task, TIMEOUT)
        return not_ready.reason, waited

    reason, waited = asyncio.run(scenario())
    assert set(handled) == {"before", "after"}
    assert "(group outage)" in reason
    assert 2.0 <= waited < 2.0 + 15, waited
    messages = [r.getMessage() for r in caplog.records if r.name == "schemabus.consumer"]
    assert sum("waiting for Kafka" in m and "not ready until it does" in m for m in messages) == 1, messages
    assert sum("the cluster answers again" in m for m in messages) == 1, messages
