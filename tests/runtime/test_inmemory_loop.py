"""The in-memory bus runs the production handler loop (ConsumerRunner over runtime/memory_log.py): retries,
dead letters with the original bytes and headers, poison records that do not block a partition, and
commits, all without a broker."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

import platform_events as pe
from schemabus.runtime import Event, RetryableError, RetryPolicy, consumer_group
from schemabus.runtime.consumer import HandlerFailedError
from schemabus.runtime.dlq import HEADER_ATTEMPTS, HEADER_EXCEPTION_CLASS, HEADER_ORIGINAL_OFFSET, HEADER_REASON
from schemabus.runtime.testing import InMemoryBus

FAST = RetryPolicy(max_retries=2, initial_backoff=0.0, jitter=0.0)
TOPIC = pe.AGENT_LIFECYCLE_CREATED


def created(n: int = 0) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=n),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        creator_id=f"user-{n}",
    )


def headers(record: Any) -> dict[str, bytes]:
    return dict(record.headers)


def test_a_failing_handler_is_retried_then_succeeds_and_its_record_is_committed() -> None:
    calls: list[int] = []

    @TOPIC.handler(group="flaky")
    async def flaky(event: Event[str, pe.AgentCreated]) -> None:
        calls.append(event.offset)
        if len(calls) < 3:
            raise RetryableError("the service is busy")

    bus = InMemoryBus(retry=FAST)
    bus.subscribe(flaky)
    result = asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(created(), key="a-1"))
    assert calls == [result.offset] * 3
    assert bus.records(f"dlq.{TOPIC.name}") == []
    assert bus.log.committed("flaky", TOPIC.name, result.partition) == result.offset + 1


def test_a_record_the_handler_gives_up_on_goes_to_the_dead_letter_topic_with_its_bytes() -> None:
    @TOPIC.handler(group="strict")
    async def strict(event: Event[str, pe.AgentCreated]) -> None:
        if event.value.creator_id == "user-1":
            raise ValueError("no such user")

    bus = InMemoryBus(retry=FAST)
    bus.subscribe(strict)
    publisher = pe.AgentLifecycleCreatedPublisher(bus)
    asyncio.run(publisher.publish_many([created(0), created(1), created(2)], headers={"trace": "t-9"}))
    (original,) = [r for r in bus.records(TOPIC.name) if bus.decode(TOPIC, r).value.creator_id == "user-1"]
    (dead,) = bus.records(f"dlq.{TOPIC.name}")
    assert (dead.key, dead.value) == (original.key, original.value)  # the original bytes
    h = headers(dead)
    assert h["trace"] == b"t-9"  # the original headers, and the dead-letter ones
    assert h[HEADER_EXCEPTION_CLASS] == b"builtins.ValueError"
    assert h[HEADER_ATTEMPTS] == b"1"  # a ValueError is not retried
    assert h[HEADER_ORIGINAL_OFFSET] == str(original.offset).encode()
    assert h[HEADER_REASON] == b"handler-error"
    # Every record is committed: the dead letter does not hold the partition up.
    assert bus.log.caught_up("strict", TOPIC.name)


def test_a_poison_record_is_dead_lettered_and_the_records_after_it_are_handled() -> None:
    seen: list[str] = []

    @TOPIC.handler(group="reader")
    async def reader(event: Event[str, pe.AgentCreated]) -> None:
        seen.append(event.value.creator_id)

    bus = InMemoryBus()
    bus.subscribe(reader)
    publisher = pe.AgentLifecycleCreatedPublisher(bus)
    asyncio.run(publisher.publish(created(0), key="k"))
    poison = bus.append(TOPIC, b"k", b"\x00\x00\x00\x00\x07garbage")  # same key: same partition
    asyncio.run(publisher.publish(created(1), key="k"))
    assert seen == ["user-0", "user-1"]
    (dead,) = bus.records(f"dlq.{TOPIC.name}")
    assert dead.value == poison.value
    assert headers(dead)[HEADER_REASON] == b"unknown-schema-id"


def test_without_dead_letters_a_record_given_up_on_fails_the_publish() -> None:
    @TOPIC.handler(group="fragile")
    async def fragile(event: Event[str, pe.AgentCreated]) -> None:
        raise ValueError("broken")

    bus = InMemoryBus(retry=FAST, dead_letters=False)
    bus.subscribe(fragile)
    with pytest.raises(HandlerFailedError, match=r"gave up on agent\.lifecycle\.created"):
        asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(created(), key="a"))
    assert not bus.log.caught_up("fragile", TOPIC.name)  # not committed: a restart handles it again


def test_a_group_subscribed_later_reads_from_the_earliest_record_and_each_group_commits_its_own() -> None:
    first: list[str] = []
    later: list[str] = []

    @TOPIC.handler(group="first")
    async def on_first(event: Event[str, pe.AgentCreated]) -> None:
        first.append(event.value.creator_id)

    @TOPIC.handler(group="later")
    async def on_later(event: Event[str, pe.AgentCreated]) -> None:
        later.append(event.value.creator_id)

    bus = InMemoryBus()
    bus.subscribe(on_first)
    publisher = pe.AgentLifecycleCreatedPublisher(bus)
    asyncio.run(publisher.publish(created(0), key="a"))
    bus.subscribe(on_later)
    asyncio.run(publisher.publish(created(1), key="a"))
    assert first == ["user-0", "user-1"]
    assert later == ["user-0", "user-1"]  # its group started at the earliest offset
    assert bus.log.caught_up(consumer_group(on_first), TOPIC.name)
    assert bus.log.caught_up(consumer_group(on_later), TOPIC.name)
