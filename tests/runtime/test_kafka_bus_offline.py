"""KafkaBus where no broker is needed: configuration, refusals of a closed bus, what an unreachable
cluster does to each way of publishing, and topics it cannot create (tests/integration/ has the rest)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

import platform_events as m
import platform_events as pe
from schemabus.runtime import Topic
from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.errors import PublishError, ServerUnavailableError
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.testing import InMemoryRegistry

T = TypeVar("T")
TIMEOUT = 30.0
# An unreachable cluster fails publishes after the delivery timeout, not after broker_down_timeout_ms.
PATIENT = ProducerSettings(broker_down_timeout_ms=None, delivery_timeout_ms=1000)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def fresh(topic: Topic[Any, Any] = pe.AGENT_LIFECYCLE_CREATED) -> Topic[Any, Any]:
    _, entity, action = topic.name.split(".")
    return dataclasses.replace(topic, name=f"t{uuid.uuid4().hex[:12]}.{entity}.{action}")


def agent_created(n: int = 0) -> m.AgentCreated:
    return m.AgentCreated(
        agent_id=uuid.UUID(int=n + 1),
        agent_type=m.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC),
        creator_id=f"user-{n}",
    )


def test_a_bus_from_the_environment_uses_the_registry_it_is_given() -> None:
    registry = InMemoryRegistry()
    env = {
        "SCHEMABUS_BOOTSTRAP_SERVERS": closed_port(),
        "SCHEMABUS_REGISTRY_URL": "http://127.0.0.1:1",
        "SCHEMABUS_PRODUCER_LINGER_MS": "7",
    }
    bus = KafkaBus.from_env(env, registry=registry)
    try:
        assert bus.registry is registry and bus.settings.linger_ms == 7
        assert repr(bus).endswith(", open)")
    finally:
        bus.close_sync(1)
    assert repr(bus).endswith(", closed)")
    bus.close_sync(1)  # twice: nothing left to do


def test_a_closed_bus_refuses_every_way_of_publishing() -> None:
    topic = fresh()
    bus = KafkaBus(closed_port(), InMemoryRegistry(), producer=PATIENT)
    run(bus.prepare(topic))
    bus.close_sync(1)

    async def nowait() -> None:
        bus.publish_nowait(topic, agent_created(), key="a")

    for attempt in (
        lambda: run(bus.publish(topic, agent_created(), key="a")),
        lambda: run(nowait()),
        lambda: bus.publish_sync(topic, agent_created(), key="a"),
        lambda: run(bus.publish_many(topic, [agent_created()])),
        lambda: run(bus.publish(fresh(), agent_created(), key="a")),  # a topic it has not seen yet
    ):
        with pytest.raises(PublishError, match="the bus is closed") as info:
            attempt()
        assert not info.value.retriable and not info.value.possibly_persisted


def test_publish_sync_gives_up_after_its_timeout_and_says_the_record_may_still_arrive() -> None:
    topic = fresh()
    with KafkaBus(closed_port(), InMemoryRegistry(), producer=PATIENT) as bus:
        started = time.monotonic()
        with pytest.raises(PublishError, match=r"no delivery report within 0\.3s") as info:
            bus.publish_sync(topic, agent_created(), key="a", headers={"trace": "t-1"}, timeout=0.3)
        assert time.monotonic() - started < 5
    assert info.value.code == "_TIMED_OUT" and info.value.retriable and info.value.possibly_persisted


def test_records_for_an_unreachable_cluster_time_out_whichever_way_they_were_published() -> None:
    topic = fresh()

    async def scenario() -> list[BaseException | None]:
        async with KafkaBus(closed_port(), InMemoryRegistry(), producer=PATIENT) as bus:
            await bus.prepare(topic)
            assert await bus.publish_many(topic, []) == 0  # nothing to send: nothing waits
            with_headers = bus.publish_nowait(topic, agent_created(1), key="a", headers={"trace": "t-1"})
            plain = bus.publish_nowait(topic, agent_created(2), key="b")
            await asyncio.wait([with_headers, plain], timeout=TIMEOUT)
            return [f.exception() for f in (with_headers, plain)]

    for error in run(scenario()):
        assert isinstance(error, PublishError) and error.code == "_MSG_TIMED_OUT" and error.possibly_persisted


def test_a_key_for_a_topic_without_a_key_schema_is_a_type_error() -> None:
    keyless = dataclasses.replace(fresh(), key=None)
    with (
        KafkaBus(closed_port(), InMemoryRegistry(), producer=PATIENT) as bus,
        pytest.raises(TypeError, match="has no key schema; publish without a key"),
    ):
        bus.publish_sync(keyless, agent_created(), key="a", timeout=1)


def test_ensure_topics_with_nothing_to_create_asks_nothing() -> None:
    assert ensure_topics(closed_port(), []) == []


def test_ensure_topics_on_a_down_cluster_fails_once_every_broker_is_down_not_at_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ServerUnavailableError, match="could not list the topics") as info:
        ensure_topics(closed_port(), [fresh()], timeout=30)
    assert time.monotonic() - started < 10
    assert "Connection refused" in str(info.value)
