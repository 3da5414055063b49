"""Batch handlers (topic.batch_handler(), BatchHandler) through the production handler loop, on the
in-memory bus: batches of one partition in offset order, offsets committed after the batch, a
failing event isolated (BatchFailedError naming it, or one at a time), dead letters with the
original bytes, poison records that do not block the partition."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

import platform_events as pe
from schemabus.runtime import BatchFailedError, BatchHandler, Event, RetryableError, RetryPolicy
from schemabus.runtime.consumer import HandlerFailedError
from schemabus.runtime.dlq import HEADER_ATTEMPTS, HEADER_EXCEPTION_CLASS, HEADER_ORIGINAL_OFFSET, HEADER_REASON
from schemabus.runtime.handler import FunctionBatchHandler
from schemabus.runtime.testing import InMemoryBus, StoredRecord

FAST = RetryPolicy(max_retries=2, initial_backoff=0.0, jitter=0.0)
TOPIC = pe.AGENT_LIFECYCLE_CREATED
DLQ = f"dlq.{TOPIC.name}"


def created(n: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=n),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        creator_id=f"user-{n}",
    )


def store(bus: InMemoryBus, numbers: range | list[int]) -> list[StoredRecord]:
    """Records ``numbers``, stored under one key (one partition) without running the handlers."""
    return [
        bus.append(TOPIC, bus.codec.encode_key(TOPIC, "k"), bus.codec.encode_value(TOPIC, created(n)), {"n": str(n)})
        for n in numbers
    ]


def users(events: list[Event[str, pe.AgentCreated]]) -> list[int]:
    return [int(e.value.creator_id.removeprefix("user-")) for e in events]


def committed(bus: InMemoryBus, group: str, record: StoredRecord) -> int | None:
    return bus.log.committed(group, TOPIC.name, record.partition)


def test_a_batch_handler_gets_the_partition_s_events_in_order_in_batches_of_at_most_max_batch() -> None:
    batches: list[list[int]] = []

    @TOPIC.batch_handler(group="loader", max_batch=4)
    async def load(events: list[Event[str, pe.AgentCreated]]) -> None:
        batches.append(users(events))
        assert all(e.topic == TOPIC.name and e.key == "k" for e in events)
        assert [e.offset for e in events] == sorted(e.offset for e in events)

    bus = InMemoryBus()
    bus.subscribe(load)
    records = store(bus, range(10))
    asyncio.run(bus.deliver())
    assert [n for batch in batches for n in batch] == list(range(10))
    assert max(len(b) for b in batches) <= 4
    assert len(batches) < 10  # batched: the ten records were fetched together
    assert committed(bus, "loader", records[-1]) == records[-1].offset + 1
    assert bus.records(DLQ) == []


def test_a_batch_s_offsets_are_committed_only_after_the_handler_returns() -> None:
    during: list[int | None] = []
    records: list[StoredRecord] = []

    @TOPIC.batch_handler(group="slow")
    async def slow(events: list[Event[str, pe.AgentCreated]]) -> None:
        await asyncio.sleep(0.05)  # several commit intervals of the in-memory runner pass meanwhile
        during.append(committed(bus, "slow", records[0]))

    bus = InMemoryBus()
    bus.subscribe(slow)
    records.extend(store(bus, range(5)))
    asyncio.run(bus.deliver())
    assert during == [None]  # nothing of the batch was committed while it was being handled
    assert committed(bus, "slow", records[-1]) == records[-1].offset + 1


def test_batch_failed_error_commits_the_events_before_it_dead_letters_it_and_handles_the_rest() -> None:
    calls: list[list[int]] = []
    records: list[StoredRecord] = []
    committed_at_retry: list[int | None] = []

    @TOPIC.batch_handler(group="strict")
    async def strict(events: list[Event[str, pe.AgentCreated]]) -> None:
        calls.append(users(events))
        if len(calls) > 1:
            committed_at_retry.append(committed(bus, "strict", records[0]))
        for i, n in enumerate(users(events)):
            if n == 2:
                raise BatchFailedError(i) from ValueError("no such user")

    bus = InMemoryBus(retry=FAST)
    bus.subscribe(strict)
    records.extend(store(bus, range(5)))
    asyncio.run(bus.deliver())
    # A ValueError is not retried: 2 goes to the dead-letter topic, the handler goes on after it.
    assert calls == [[0, 1, 2, 3, 4], [3, 4]]
    (dead,) = bus.records(DLQ)
    original = records[2]
    assert (dead.key, dead.value) == (original.key, original.value)  # the original bytes
    h = dict(dead.headers)
    assert h["n"] == b"2"  # the original headers too
    assert h[HEADER_EXCEPTION_CLASS] == b"builtins.ValueError"  # the cause, not BatchFailedError
    assert h[HEADER_ORIGINAL_OFFSET] == str(original.offset).encode()
    assert h[HEADER_REASON] == b"handler-error"
    assert committed(bus, "strict", records[-1]) == records[-1].offset + 1


def test_a_retryable_failure_is_retried_from_the_failing_event_then_dead_lettered() -> None:
    calls: list[list[int]] = []

    @TOPIC.batch_handler(group="busy")
    async def busy(events: list[Event[str, pe.AgentCreated]]) -> None:
        calls.append(users(events))
        for i, n in enumerate(users(events)):
            if n == 1:
                raise BatchFailedError(i) from RetryableError("the store is busy")

    bus = InMemoryBus(retry=FAST)
    bus.subscribe(busy)
    records = store(bus, range(3))
    asyncio.run(bus.deliver())
    # the first call, two retries from 1 (max_retries=2), then 1 is given up on and 2 handled
    assert calls == [[0, 1, 2], [1, 2], [1, 2], [2]]
    (dead,) = bus.records(DLQ)
    assert dead.value == records[1].value
    assert dict(dead.headers)[HEADER_ATTEMPTS] == b"3"
    assert bus.log.caught_up("busy", TOPIC.name)


def test_a_batch_that_fails_without_naming_the_event_is_handled_one_event_at_a_time() -> None:
    calls: list[list[int]] = []

    @TOPIC.batch_handler(group="picky")
    async def picky(events: list[Event[str, pe.AgentCreated]]) -> None:
        calls.append(users(events))
        if 2 in users(events):
            raise ValueError("2 is not welcome")

    bus = InMemoryBus(retry=FAST)
    bus.subscribe(picky)
    records = store(bus, range(5))
    asyncio.run(bus.deliver())
    assert calls == [[0, 1, 2, 3, 4], [0], [1], [2], [3], [4]]
    (dead,) = bus.records(DLQ)  # only the event that fails alone
    assert dead.value == records[2].value
    assert bus.log.caught_up("picky", TOPIC.name)


def test_a_poison_record_is_dead_lettered_alone_and_does_not_block_the_partition() -> None:
    batches: list[list[int]] = []

    @TOPIC.batch_handler(group="reader")
    async def reader(events: list[Event[str, pe.AgentCreated]]) -> None:
        batches.append(users(events))

    bus = InMemoryBus()
    bus.subscribe(reader)
    store(bus, [0, 1])
    poison = bus.append(TOPIC, b"k", b"\x00\x00\x00\x00\x07garbage")  # same key: same partition
    store(bus, [2, 3])
    asyncio.run(bus.deliver())
    assert [n for batch in batches for n in batch] == [0, 1, 2, 3]
    (dead,) = bus.records(DLQ)
    assert (dead.key, dead.value) == (poison.key, poison.value)
    assert dict(dead.headers)[HEADER_REASON] == b"unknown-schema-id"
    assert bus.log.caught_up("reader", TOPIC.name)


def test_without_dead_letters_a_failing_batch_stops_the_runner_with_its_earlier_events_committed() -> None:
    @TOPIC.batch_handler(group="fragile")
    async def fragile(events: list[Event[str, pe.AgentCreated]]) -> None:
        for i, n in enumerate(users(events)):
            if n == 1:
                raise BatchFailedError(i) from ValueError("broken")

    bus = InMemoryBus(retry=FAST, dead_letters=False)
    bus.subscribe(fragile)
    records = store(bus, range(3))
    with pytest.raises(HandlerFailedError, match=r"gave up on agent\.lifecycle\.created\[\d+\]@1 "):
        asyncio.run(bus.deliver())
    assert committed(bus, "fragile", records[0]) == records[1].offset  # 0 is, 1 is not: a restart begins there


class Unimplemented(BatchHandler[str, pe.AgentCreated]):
    topic = TOPIC


def test_an_unimplemented_batch_handler_stops_the_runner_instead_of_dead_lettering() -> None:
    bus = InMemoryBus(retry=FAST)
    bus.subscribe(Unimplemented())
    store(bus, range(2))
    with pytest.raises(NotImplementedError, match=r"Unimplemented\.handle_batch"):
        asyncio.run(bus.deliver())
    assert bus.records(DLQ) == []


class Counting(BatchHandler[str, pe.AgentCreated]):
    topic = TOPIC
    max_batch = 2

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def handle_batch(self, events: list[Event[str, pe.AgentCreated]]) -> None:
        self.batches.append(users(events))


def test_a_batch_handler_class_with_its_max_batch() -> None:
    handler = Counting()
    bus = InMemoryBus()
    bus.subscribe(handler)
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish_many([created(n) for n in range(5)], keys=["k"] * 5))
    assert [n for batch in handler.batches for n in batch] == list(range(5))
    assert max(len(b) for b in handler.batches) <= 2


# --- the generated stubs: <Topic>BatchHandler and <Topic>BatchHandlerFn ------------------------


class LoadCreated(pe.AgentLifecycleCreatedBatchHandler):  # topic and types from the generated stub
    group = "warehouse"
    max_batch = 3

    def __init__(self) -> None:
        self.batches: list[list[Event[str, pe.AgentCreated]]] = []

    async def handle_batch(self, events: list[Event[str, pe.AgentCreated]]) -> None:
        self.batches.append(events)


def test_a_generated_batch_handler_stub_gets_typed_batches_of_its_topic_through_the_runner() -> None:
    handler = LoadCreated()
    assert handler.topic is TOPIC
    bus = InMemoryBus()
    bus.subscribe(handler)
    records = store(bus, range(7))
    asyncio.run(bus.deliver())
    events = [e for batch in handler.batches for e in batch]
    assert users(events) == list(range(7))
    assert all(type(e.value) is pe.AgentCreated and e.key == "k" and e.topic == TOPIC.name for e in events)
    assert events[3].value == created(3) and dict(events[3].headers)["n"] == b"3"
    assert max(len(b) for b in handler.batches) <= 3 and len(handler.batches) >= 3
    assert committed(bus, "warehouse", records[-1]) == records[-1].offset + 1
    assert bus.records(DLQ) == []


class UnimplementedStub(pe.AgentLifecycleCreatedBatchHandler):
    pass


def test_an_unimplemented_generated_batch_handler_stub_stops_the_runner() -> None:
    bus = InMemoryBus(retry=FAST)
    bus.subscribe(UnimplementedStub())
    store(bus, range(2))
    with pytest.raises(NotImplementedError, match=r"UnimplementedStub\.handle_batch is not implemented"):
        asyncio.run(bus.deliver())
    assert bus.records(DLQ) == []


def test_a_function_of_the_generated_batch_handler_fn_type_handles_batches() -> None:
    seen: list[int] = []

    async def load(events: list[Event[str, pe.AgentCreated]]) -> None:
        seen.extend(users(events))

    typed: pe.AgentLifecycleCreatedBatchHandlerFn = load  # mypy checks the signature (tests/codegen too)
    bus = InMemoryBus()
    bus.subscribe(TOPIC.batch_handler(group="fn", max_batch=2)(typed))
    store(bus, range(5))
    asyncio.run(bus.deliver())
    assert seen == list(range(5))


def test_batch_handler_arguments_are_checked() -> None:
    async def fn(events: list[Event[str, Any]]) -> None:
        pass

    with pytest.raises(ValueError, match="max_batch"):
        FunctionBatchHandler(TOPIC, fn, max_batch=0)
    with pytest.raises(ValueError, match="index"):
        BatchFailedError(-1)
