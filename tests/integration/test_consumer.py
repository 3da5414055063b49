"""ConsumerRunner on a real broker and registry: typed handlers, retries, the DLQ, commits, crashes, rebalances.

Each test uses its own topics and consumer groups. Records are framed with ``RecordCodec`` and sent
with a raw confluent ``Producer``, so the bytes are exactly what a schemabus publisher writes. Waits
are generous and bounded (``wait_for``); no assertion depends on how fast anything runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack the re-export
    AdminClient,
    ConfigResource,
    NewTopic,
)
from consumer_worker import ConfluentRegistry, agent_topic, execution_topic
from faults import FaultServers, frozen
from worker_process import WorkerProcess

import platform_events as pe
from schemabus.runtime import (
    DeserializationError,
    Event,
    FunctionHandler,
    RecordCodec,
    SchemaIds,
    Topic,
    consumer_group,
)
from schemabus.runtime.config import ConsumerSettings, RegistryConfig
from schemabus.runtime.consumer import (
    ConsumerRunner,
    HandlerFailedError,
    OffsetTracker,
    PartitionLag,
    consumer_lag,
)
from schemabus.runtime.devstack import restart_registry
from schemabus.runtime.dlq import (
    HEADER_ATTEMPTS,
    HEADER_PREFIX,
    HEADER_REASON,
    DeadLetter,
    DeadLetterError,
    DeadLetterRecord,
    DeadLetterWriter,
    build_dead_letter,
    dlq_topic_name,
    read_dead_letters,
    replay,
)
from schemabus.runtime.dlq_cli import dlq
from schemabus.runtime.errors import RegistryUnavailableError
from schemabus.runtime.registry_client import ConfluentRegistry as RuntimeRegistry
from schemabus.runtime.retry import RetryableError, RetryPolicy
from schemabus.runtime.serde import frame_header

pytestmark = pytest.mark.integration

TIMEOUT = 45.0  # the longest any single wait may take; nothing here should come close
ROOT = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------


def _name(kind: str) -> str:
    return f"t{uuid.uuid4().hex[:10]}.consumer.{kind}"


def _create_topics(bootstrap: str, partitions: int, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    for future in futures.values():
        future.result(timeout=TIMEOUT)


def _produce(
    bootstrap: str, topic: str, records: list[tuple[int, bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    """Send (partition, key, value, headers) records and wait until the broker has them all."""
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for partition, key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers, partition=partition, on_delivery=on_delivery)
    assert producer.flush(TIMEOUT) == 0
    assert failures == []


def _agent(i: int, creator: str | None = None) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=i),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, i % 60, tzinfo=dt.UTC),
        creator_id=creator or f"user-{i}",
        labels={"n": str(i)},
    )


def _execution(i: int) -> pe.AgentExecutionStarted:
    return pe.AgentExecutionStarted.model_validate(
        {
            "execution_id": str(uuid.UUID(int=1000 + i)),
            "agent_id": str(uuid.UUID(int=i)),
            "agent_type": "CODER",
            "trigger": {"kind": "user", "user_id": f"u{i}"},
            "started_at": "2026-11-28T10:00:00Z",
        }
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


async def async_wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def run_until(runner: ConsumerRunner, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``runner`` while ``scenario`` runs; then stop it gracefully and re-raise what either raised."""
    task = asyncio.create_task(runner.run())
    watch = asyncio.create_task(scenario())
    try:
        done, _ = await asyncio.wait([task, watch], return_when=asyncio.FIRST_COMPLETED)
        if watch in done:
            watch.result()
        else:
            task.result()  # the runner stopped on its own: show why
            raise AssertionError("the runner stopped before the scenario finished")
    finally:
        watch.cancel()
        runner.stop()
        await asyncio.wait_for(task, TIMEOUT)


def _lag(bootstrap: str, group: str, topic: str) -> dict[int, PartitionLag]:
    return {p.partition: p for p in consumer_lag(bootstrap, group, topic)}


def _all_committed(bootstrap: str, group: str, topic: str) -> bool:
    return all(p.committed == p.high_watermark for p in _lag(bootstrap, group, topic).values())


def _runner(bootstrap: str, registry: ConfluentRegistry, handlers: list[Any], **kwargs: Any) -> ConsumerRunner:
    kwargs.setdefault("retry", RetryPolicy(max_retries=2, initial_backoff=0.01, jitter=0))
    kwargs.setdefault("commit_interval", 0.1)
    kwargs.setdefault("service", f"s{uuid.uuid4().hex[:8]}")
    return ConsumerRunner(bootstrap, registry, handlers, **kwargs)


# --- no servers needed ----------------------------------------------------------------------------


def test_offset_tracker_commits_only_the_contiguous_finished_prefix() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 13, 14, 20):  # gaps, as after compaction or transaction markers
        tracker.add(offset)
    assert tracker.committable is None
    tracker.done(13)  # a later record finishing first does not move the commit
    tracker.done(14)
    assert tracker.committable is None
    tracker.done(10)
    assert tracker.committable == 11
    tracker.done(11)  # 11 done: 13 and 14 were already, so everything up to 14 is committable
    assert tracker.committable == 15
    assert tracker.pending == 1
    tracker.done(20)
    assert (tracker.committable, tracker.pending) == (21, 0)


# --- typed handlers, commits -------------------------------------------------------------------------


def test_typed_handlers_receive_events_and_offsets_are_committed(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    avro_name, json_name = _name("created"), _name("started")
    _create_topics(kafka_bootstrap, 3, avro_name, json_name)
    created, started = agent_topic(avro_name, 3), execution_topic(json_name, 3)
    agents = [_agent(i) for i in range(30)]
    _produce(
        kafka_bootstrap,
        avro_name,
        [
            (
                i % 3,
                codec.encode_key(created, f"agent-{i}"),
                codec.encode_value(created, a),
                [("trace", f"t{i}".encode())],
            )
            for i, a in enumerate(agents)
        ],
    )
    executions = [_execution(i) for i in range(9)]
    _produce(
        kafka_bootstrap,
        json_name,
        [(i % 3, codec.encode_key(started, "k"), codec.encode_value(started, e), []) for i, e in enumerate(executions)],
    )

    received: list[Event[str, pe.AgentCreated]] = []
    started_seen: list[pe.AgentExecutionStarted] = []

    class RecordAgents(pe.AgentLifecycleCreatedHandler):  # a generated stub, pointed at this test's topic
        topic = created

        async def handle(self, event: Event[str, pe.AgentCreated]) -> None:
            received.append(event)

    @started.handler()
    async def on_started(event: Event[str, pe.AgentExecutionStarted]) -> None:
        started_seen.append(event.value)

    runner = _runner(kafka_bootstrap, registry, [RecordAgents(), on_started])

    async def scenario() -> None:
        await async_wait_for(lambda: len(received) == 30 and len(started_seen) == 9, "every record handled")

    asyncio.run(run_until(runner, scenario))

    assert sorted((e.value for e in received), key=lambda a: a.creator_id) == sorted(agents, key=lambda a: a.creator_id)
    for event in received:
        i = int(event.value.creator_id.split("-")[1])
        assert isinstance(event.value, pe.AgentCreated)
        assert (event.topic, event.key, event.partition) == (avro_name, f"agent-{i}", i % 3)
        assert event.header("trace") == f"t{i}".encode()
        assert event.offset == i // 3 and event.timestamp_ms > 0
    for partition in range(3):  # per partition, in offset order
        offsets = [e.offset for e in received if e.partition == partition]
        assert offsets == sorted(offsets) == list(range(10))
    assert sorted(started_seen, key=lambda e: str(e.execution_id)) == executions

    groups = runner.handler_metrics()
    group = next(g for g in groups if g.endswith(".record_agents"))
    assert group == f"{runner.service}.{avro_name}.record_agents"  # consumer_group(): one group per handler
    assert (groups[group].consumed, groups[group].handled, groups[group].dead_lettered) == (30, 30, 0)
    assert runner.metrics.handled == 39 and runner.metrics.committed >= 6
    # Shutdown committed everything: the lag is zero on every partition of both topics.
    assert _all_committed(kafka_bootstrap, group, avro_name)
    json_group = next(g for g in groups if g.endswith(".on_started"))
    assert _all_committed(kafka_bootstrap, json_group, json_name)


def test_lag_of_a_topic_that_does_not_exist_is_a_lookup_error(kafka_bootstrap: str) -> None:
    with pytest.raises(LookupError, match="does not exist"):
        consumer_lag(kafka_bootstrap, f"g{uuid.uuid4().hex}", _name("missing"), timeout=10)


def test_lag_reports_committed_against_high_watermark(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("lag")
    _create_topics(kafka_bootstrap, 2, name)
    topic = agent_topic(name, 2)
    _produce(kafka_bootstrap, name, [(i % 2, None, codec.encode_value(topic, _agent(i)), []) for i in range(6)])
    handled: list[int] = []

    @topic.handler()
    async def count(event: Event[str, pe.AgentCreated]) -> None:
        handled.append(event.offset)

    runner = _runner(kafka_bootstrap, registry, [count])
    lags: list[PartitionLag] = []

    async def scenario() -> None:
        await async_wait_for(lambda: len(handled) == 6, "6 records handled")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            lags[:] = await runner.lag()
            if len(lags) == 2 and all(p.lag == 0 for p in lags):
                return
            await asyncio.sleep(0.1)

    asyncio.run(run_until(runner, scenario))
    assert [(p.partition, p.committed, p.high_watermark, p.lag) for p in lags] == [(0, 3, 3, 0), (1, 3, 3, 0)]


def test_commits_never_pass_a_record_that_is_not_finished(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("contiguous")
    _create_topics(kafka_bootstrap, 2, name)
    topic = agent_topic(name, 2)
    _produce(kafka_bootstrap, name, [(i % 2, None, codec.encode_value(topic, _agent(i)), []) for i in range(10)])
    release = asyncio.Event()
    handled: list[tuple[int, int]] = []

    @topic.handler()
    async def slow_on_zero(event: Event[str, pe.AgentCreated]) -> None:
        if (event.partition, event.offset) == (0, 2):
            await release.wait()  # partition 0 stops at offset 2; partition 1 goes on
        handled.append((event.partition, event.offset))

    runner = _runner(kafka_bootstrap, registry, [slow_on_zero])
    group = f"{runner.service}.{name}.slow_on_zero"
    seen: list[dict[int, int | None]] = []

    def committed() -> dict[int, int | None]:
        now = {p: lag.committed for p, lag in _lag(kafka_bootstrap, group, name).items()}
        seen.append(now)
        return now

    async def scenario() -> None:
        await async_wait_for(lambda: sum(p == 1 for p, _ in handled) == 5, "partition 1 handled")
        # Partition 1 is committed to its end; partition 0 only up to the record that is not finished.
        await async_wait_for(lambda: committed() == {0: 2, 1: 5}, "commits of the finished records")
        for _ in range(5):  # several commit intervals later, still not past offset 2
            await asyncio.sleep(0.2)
            assert committed()[0] == 2
        release.set()
        await async_wait_for(lambda: committed() == {0: 5, 1: 5}, "partition 0 committed after the release")

    asyncio.run(run_until(runner, scenario))
    assert all((c[0] or 0) <= 2 for c in seen[:-1])  # never past the unfinished record before its release
    assert [o for p, o in handled if p == 0] == [0, 1, 2, 3, 4]


def test_slow_handlers_never_have_more_than_max_in_flight_records_fetched(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("backpressure")
    _create_topics(kafka_bootstrap, 2, name)
    topic = agent_topic(name, 2)
    _produce(kafka_bootstrap, name, [(i % 2, None, codec.encode_value(topic, _agent(i)), []) for i in range(16)])
    handled: list[tuple[int, int]] = []
    in_flight: list[int] = []
    runner: ConsumerRunner

    @topic.handler()
    async def slow(event: Event[str, pe.AgentCreated]) -> None:
        metrics = runner.metrics
        in_flight.append(metrics.consumed - metrics.handled)  # fetched and not finished, this one included
        await asyncio.sleep(0.1)
        handled.append((event.partition, event.offset))

    # Full for longer than backpressure_wait: the partitions are paused, then resumed.
    runner = _runner(kafka_bootstrap, registry, [slow], max_in_flight=3, backpressure_wait=0.05)

    async def scenario() -> None:
        await async_wait_for(lambda: len(handled) == 16, "16 records handled")

    asyncio.run(run_until(runner, scenario))
    assert max(in_flight) <= 3
    for partition in (0, 1):
        assert [o for p, o in handled if p == partition] == list(range(8))
    assert _all_committed(kafka_bootstrap, f"{runner.service}.{name}.slow", name)


def test_revoked_partitions_are_committed_up_to_the_finished_records_before_they_move(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("rebalance")
    _create_topics(kafka_bootstrap, 4, name)
    topic = agent_topic(name, 4)
    _produce(kafka_bootstrap, name, [(i % 4, None, codec.encode_value(topic, _agent(i)), []) for i in range(80)])
    handled: list[tuple[str, int, int]] = []
    second_assigned = asyncio.Event()

    def member(label: str) -> FunctionHandler[str, pe.AgentCreated]:
        @topic.handler(name="worker")  # the same handler name in both: one consumer group
        async def work(event: Event[str, pe.AgentCreated]) -> None:
            if label == "a" and event.offset == 10:
                await second_assigned.wait()  # every partition of the first member stops at offset 10
            handled.append((label, event.partition, event.offset))

        return work

    service = f"s{uuid.uuid4().hex[:8]}"
    group = f"{service}.{name}.worker"
    # The first member commits only when partitions are revoked (and at shutdown); the records it is
    # in the middle of are given up after revoke_timeout and left to the partitions' next owner.
    a = _runner(kafka_bootstrap, registry, [member("a")], service=service, commit_interval=3600, revoke_timeout=1.0)
    b = _runner(kafka_bootstrap, registry, [member("b")], service=service)

    async def scenario() -> None:
        await async_wait_for(lambda: len(handled) == 40, "offsets 0-9 of every partition handled by the first member")
        second = asyncio.create_task(b.run())
        try:
            await async_wait_for(lambda: bool(b.assignment().get(group)), "partitions for the second member")
            second_assigned.set()
            await async_wait_for(
                lambda: {(p, o) for _, p, o in handled} == {(p, o) for p in range(4) for o in range(20)},
                "every record handled",
            )
        finally:
            b.stop()
            await asyncio.wait_for(second, TIMEOUT)

    asyncio.run(run_until(a, scenario))
    moved = {p for label, p, _ in handled if label == "b"}
    assert len(moved) == 2  # cooperative-sticky: half the partitions moved, the others stayed
    for partition in moved:
        # The revoke committed offset 10: the new owner starts exactly there (nothing skipped, nothing redone).
        assert min(o for label, p, o in handled if label == "b" and p == partition) == 10
        assert sorted(o for label, p, o in handled if label == "a" and p == partition) == list(range(10))
    for partition in set(range(4)) - moved:
        assert sorted(o for label, p, o in handled if p == partition) == list(range(20))
    assert a.metrics.rebalances >= 2  # assigned, then revoked
    assert _all_committed(kafka_bootstrap, group, name)


# --- retries and the dead-letter topic ---------------------------------------------------------------


class ServiceUnavailable(RetryableError):
    pass


def test_a_retryable_failure_is_retried_then_succeeds(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("retry")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    _produce(kafka_bootstrap, name, [(0, None, codec.encode_value(topic, _agent(i)), []) for i in range(4)])
    attempts: dict[int, int] = {}
    handled: list[int] = []

    @topic.handler()
    async def flaky(event: Event[str, pe.AgentCreated]) -> None:
        attempts[event.offset] = attempts.get(event.offset, 0) + 1
        if event.offset == 1 and attempts[1] < 3:
            raise ServiceUnavailable("try again")
        handled.append(event.offset)

    runner = _runner(kafka_bootstrap, registry, [flaky], retry=RetryPolicy(max_retries=3, initial_backoff=0.01))

    async def scenario() -> None:
        await async_wait_for(lambda: len(handled) == 4, "4 records handled")

    asyncio.run(run_until(runner, scenario))
    assert handled == [0, 1, 2, 3]  # the retried record kept its place
    assert attempts == {0: 1, 1: 3, 2: 1, 3: 1}
    metrics = runner.metrics
    assert (metrics.retried, metrics.handled, metrics.dead_lettered) == (2, 4, 0)
    assert _all_committed(kafka_bootstrap, f"{runner.service}.{name}.flaky", name)


def test_without_a_dead_letter_topic_a_record_the_handler_gives_up_on_stops_the_runner(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    """dead_letters=False: a retryable failure, then a failure that is not retryable on the retry
    (which ends the retries at once), has nowhere to go: run() raises HandlerFailedError naming the
    record and its attempts, and commits only the records before it."""
    name = _name("nodlq")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    _produce(kafka_bootstrap, name, [(0, None, codec.encode_value(topic, _agent(i)), []) for i in range(3)])
    attempts: list[int] = []

    @topic.handler()
    async def strict(event: Event[str, pe.AgentCreated]) -> None:
        if event.offset == 1:
            attempts.append(1)
            raise ServiceUnavailable("busy") if len(attempts) == 1 else ValueError("broken record")

    retry = RetryPolicy(max_retries=5, initial_backoff=0.01, jitter=0)
    runner = _runner(kafka_bootstrap, registry, [strict], dead_letters=False, retry=retry)
    with pytest.raises(HandlerFailedError, match=rf"gave up on {name}\[0\]@1 after 2 attempts; no dead-letter topic"):
        asyncio.run(asyncio.wait_for(runner.run(), TIMEOUT))
    assert attempts == [1, 1]  # the non-retryable error ended the retries
    assert _lag(kafka_bootstrap, f"{runner.service}.{name}.strict", name)[0].committed == 1


def test_failed_records_go_to_the_dlq_with_original_bytes_and_replay_redelivers_them(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("failing")
    _create_topics(kafka_bootstrap, 2, name)
    topic = agent_topic(name, 2)
    records = [
        (i % 2, codec.encode_key(topic, f"agent-{i}"), codec.encode_value(topic, _agent(i, creator)), headers)
        for i, (creator, headers) in enumerate(
            [
                ("ok-0", [("trace", b"a")]),
                ("reject", [("trace", b"b"), ("tenant", b"acme"), ("trace", b"b2")]),
                ("ok-2", []),
                ("flaky-forever", [("trace", b"d")]),
                ("ok-4", []),
            ]
        )
    ]
    _produce(kafka_bootstrap, name, records)
    fixed = False
    calls: dict[str, int] = {}
    handled: list[Event[str, pe.AgentCreated]] = []

    @topic.handler(name="billing")
    async def bill(event: Event[str, pe.AgentCreated]) -> None:
        creator = event.value.creator_id
        calls[creator] = calls.get(creator, 0) + 1
        if not fixed and creator == "reject":
            raise ValueError("cannot bill this agent")  # not retryable: dead-lettered at once
        if not fixed and creator == "flaky-forever":
            raise ServiceUnavailable("still down")  # retried, then dead-lettered
        handled.append(event)

    runner = _runner(kafka_bootstrap, registry, [bill])
    group = f"{runner.service}.{name}.billing"
    dlq_topic = dlq_topic_name(name)

    async def scenario() -> None:
        await async_wait_for(lambda: len(handled) == 3 and runner.metrics.dead_lettered == 2, "3 handled, 2 dead")

    asyncio.run(run_until(runner, scenario))
    assert calls == {"ok-0": 1, "reject": 1, "ok-2": 1, "flaky-forever": 3, "ok-4": 1}
    assert _all_committed(kafka_bootstrap, group, name)  # dead-lettered records count as done

    by_value = {d.value: d for d in read_dead_letters(kafka_bootstrap, dlq_topic)}
    assert len(by_value) == 2
    for i in (1, 3):
        _, key, value, headers = records[i]
        letter = by_value[value]  # the original bytes, unchanged
        assert (letter.key, letter.headers) == (key, tuple(headers))
        assert (letter.original_topic, letter.original_partition, letter.original_offset) == (name, 1, i // 2)
        assert letter.original_timestamp_ms is not None and letter.original_timestamp_ms > 0
        assert letter.consumer_group == group
        assert letter.reason == "handler-error"
    rejected, flaky = by_value[records[1][2]], by_value[records[3][2]]
    assert (rejected.exception_class, rejected.exception_message, rejected.attempts) == (
        "builtins.ValueError",
        "cannot bill this agent",
        1,
    )
    assert flaky.exception_class == f"{__name__}.ServiceUnavailable" and flaky.attempts == 3
    assert flaky.stacktrace is not None and "in bill" in flaky.stacktrace

    # The CLI shows the same records.
    shown = CliRunner().invoke(dlq, ["inspect", name, "--bootstrap-servers", kafka_bootstrap, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert sorted(r["original"]["offset"] for r in json.loads(shown.output)) == [0, 1]
    text = CliRunner().invoke(dlq, ["inspect", dlq_topic, "--bootstrap-servers", kafka_bootstrap])
    assert "reason=handler-error" in text.output and "builtins.ValueError: cannot bill this agent" in text.output

    # Replay (through the CLI) sends both back to the original topic; the fixed handler takes them.
    fixed = True
    replayed = CliRunner().invoke(dlq, ["replay", dlq_topic, "--bootstrap-servers", kafka_bootstrap])
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed 2 records to {name}" in replayed.output
    assert replay(kafka_bootstrap, dlq_topic).total == 0  # already replayed: nothing twice
    handled.clear()
    second = _runner(kafka_bootstrap, registry, [bill], service=runner.service)  # same group: resumes after commits

    async def redelivered() -> None:
        await async_wait_for(lambda: len(handled) == 2, "the replayed records handled")

    asyncio.run(run_until(second, redelivered))
    assert sorted(e.value.creator_id for e in handled) == ["flaky-forever", "reject"]
    for event in handled:
        assert event.partition == 1 and event.offset >= 2  # appended to the original partition
        assert not any(k.startswith(HEADER_PREFIX) for k, _ in event.headers)  # dead-letter headers removed
    assert next(e for e in handled if e.value.creator_id == "reject").headers == (
        ("trace", b"b"),
        ("tenant", b"acme"),
        ("trace", b"b2"),
    )


def test_poison_messages_go_to_the_dlq_directly_with_their_bytes(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    avro_name, json_name = _name("poison"), _name("poisonjson")
    _create_topics(kafka_bootstrap, 1, avro_name, json_name)
    avro, js = agent_topic(avro_name, 1), execution_topic(json_name, 1)
    good_avro = codec.encode_value(avro, _agent(1))
    own_id = int.from_bytes(good_avro[1:5], "big")
    payload = good_avro[5:]
    good_json = codec.encode_value(js, _execution(1))
    json_id = int.from_bytes(good_json[1:5], "big")
    avro_poison = {
        b"\x01" + good_avro[1:]: "bad-magic",
        frame_header(2_000_000_000) + payload: "unknown-schema-id",
        b"\x00\x00\x00": "truncated",
    }
    # The frame is fine but the payload ends early: the generated decoder says how it noticed.
    cut = frame_header(own_id) + payload[:3]
    with pytest.raises(DeserializationError) as decoding:
        codec.decode_value(avro, cut)
    assert decoding.value.reason in ("truncated", "invalid-payload")
    avro_poison[cut] = decoding.value.reason
    json_poison = {
        frame_header(json_id) + b'{"execution_id": ': "invalid-payload",
        frame_header(json_id)
        + json.dumps({"execution_id": "not-a-uuid", "agent_type": "CODER"}).encode(): "validation",
        frame_header(2_000_000_001) + good_json[5:]: "unknown-schema-id",  # a valid document, unknown id
    }
    _produce(kafka_bootstrap, avro_name, [(0, b"k", v, [("h", b"1")]) for v in [*avro_poison, good_avro]])
    _produce(kafka_bootstrap, json_name, [(0, b"k", v, []) for v in [*json_poison, good_json]])
    seen: list[str] = []

    @avro.handler()
    async def on_agent(event: Event[str, pe.AgentCreated]) -> None:
        seen.append(event.value.creator_id)

    @js.handler()
    async def on_execution(event: Event[str, pe.AgentExecutionStarted]) -> None:
        seen.append(str(event.value.execution_id))

    runner = _runner(kafka_bootstrap, registry, [on_agent, on_execution], retry=RetryPolicy(max_retries=5))

    async def scenario() -> None:
        await async_wait_for(lambda: len(seen) == 2 and runner.metrics.dead_lettered == 7, "good handled, poison out")

    asyncio.run(run_until(runner, scenario))
    assert sorted(seen) == sorted(["user-1", str(uuid.UUID(int=1001))])  # the good records after the poison
    assert runner.metrics.poison == 7 and runner.metrics.retried == 0

    def reasons(letters: list[DeadLetter]) -> dict[bytes | None, str | None]:
        return {d.value: d.reason for d in letters}

    avro_letters = read_dead_letters(kafka_bootstrap, dlq_topic_name(avro_name))
    assert reasons(avro_letters) == avro_poison
    assert all(d.key == b"k" and d.headers == (("h", b"1"),) and d.attempts == 0 for d in avro_letters)
    assert all(d.exception_class == "schemabus.runtime.serde.DeserializationError" for d in avro_letters)
    json_letters = read_dead_letters(kafka_bootstrap, dlq_topic_name(json_name))
    assert reasons(json_letters) == json_poison
    assert all(dict(d.dlq_headers)[HEADER_REASON] == d.reason.encode() for d in json_letters if d.reason)
    assert all(dict(d.dlq_headers)[HEADER_ATTEMPTS] == b"0" for d in json_letters)
    assert _all_committed(kafka_bootstrap, f"{runner.service}.{avro_name}.on_agent", avro_name)


def test_a_failed_dead_letter_write_stops_the_consumer_without_committing_the_record(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("dlqdown")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    good = codec.encode_value(topic, _agent(1))
    _produce(kafka_bootstrap, name, [(0, None, v, []) for v in (good, b"\x07poison", good)])
    handled: list[int] = []

    @topic.handler()
    async def record(event: Event[str, pe.AgentCreated]) -> None:
        handled.append(event.offset)

    unreachable = DeadLetterWriter("127.0.0.1:1", timeout=2.0)  # nothing listens there
    runner = _runner(kafka_bootstrap, registry, [record], dead_letters=unreachable)
    with pytest.raises(DeadLetterError, match=f"dlq.{name}"):
        asyncio.run(asyncio.wait_for(runner.run(), TIMEOUT))
    assert handled == [0]  # the partition stopped at the poison record
    committed = _lag(kafka_bootstrap, f"{runner.service}.{name}.record", name)[0].committed
    assert committed == 1  # the record before it is committed; the poison record is not


def test_dlq_replay_reports_in_text_what_it_replayed_skipped_or_found_nothing_to_do(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """``schemabus dlq replay`` in its text format: a line per original topic replayed to (singular for
    one record), one per record it cannot replay (no original topic), and a line when nothing is
    left; ``--format json`` says the same."""
    name = _name("replaytext")
    _create_topics(kafka_bootstrap, 1, name)
    writer = DeadLetterWriter(kafka_bootstrap)
    letter = build_dead_letter(
        topic=name,
        partition=0,
        offset=41,
        timestamp_ms=1_700_000_000_000,
        key=b"k",
        value=b"v",
        headers=[("trace", b"t-1")],
        group="billing",
        error=ValueError("cannot bill"),
        attempts=1,
    )
    writer.write(letter)
    writer.close()
    dlq_topic = dlq_topic_name(name)
    _produce(kafka_bootstrap, dlq_topic, [(0, b"stray", b"no dead-letter headers", [])])  # not from schemabus
    args = [dlq_topic, "--bootstrap-servers", kafka_bootstrap]

    first = CliRunner().invoke(dlq, ["replay", *args])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        f"replayed 1 record to {name}",
        f"skipped {dlq_topic}[0]@1: it has no {HEADER_PREFIX}original.topic header",
    ]
    again = CliRunner().invoke(dlq, ["replay", *args])
    assert again.exit_code == 0 and again.output == f"{dlq_topic}: nothing to replay\n", again.output
    as_json = CliRunner().invoke(dlq, ["replay", *args, "--format", "json"])
    assert json.loads(as_json.output) == {"dlq_topic": dlq_topic, "replayed": {}, "skipped": []}

    (replayed,) = _read_all(kafka_bootstrap, name)
    assert (replayed.key(), replayed.value(), replayed.headers()) == (b"k", b"v", [("trace", b"t-1")])
    empty = CliRunner().invoke(dlq, ["inspect", f"{name}.none", "--bootstrap-servers", kafka_bootstrap])
    assert empty.exit_code != 0 and f"dlq.{name}.none" in empty.output  # no such topic: an error, not a list


def test_a_replay_the_original_topic_refuses_commits_nothing_and_fails_the_command(kafka_bootstrap: str) -> None:
    """The original topic now takes smaller records than the dead letter's (max.message.bytes): the
    broker refuses the republished record, so replay commits nothing (a later replay tries again) and
    the command fails with the broker's reason. An empty dead-letter topic is inspected as such."""
    name = _name("replaytoobig")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    small = NewTopic(name, num_partitions=1, replication_factor=1, config={"max.message.bytes": "2000"})
    for future in admin.create_topics([small]).values():
        future.result(timeout=TIMEOUT)
    dlq_topic = dlq_topic_name(name)
    _create_topics(kafka_bootstrap, 1, dlq_topic)
    empty = CliRunner().invoke(dlq, ["inspect", name, "--bootstrap-servers", kafka_bootstrap])
    assert empty.exit_code == 0 and empty.output == f"{dlq_topic}: no dead letters\n", empty.output

    letter = build_dead_letter(
        topic=name,
        partition=0,
        offset=0,
        timestamp_ms=0,
        key=None,
        value=b"x" * 5000,
        headers=[],
        group="g",
        error=ValueError("no"),
        attempts=1,
    )
    writer = DeadLetterWriter(kafka_bootstrap)
    writer.write(letter)
    writer.close()
    for _ in range(2):  # nothing committed the first time: the second replay meets the same record
        failed = CliRunner().invoke(dlq, ["replay", dlq_topic, "--bootstrap-servers", kafka_bootstrap])
        assert failed.exit_code != 0, failed.output
        assert f"replay of {dlq_topic}" in failed.output and "nothing committed" in failed.output
        assert "too large" in failed.output.lower()


# --- records near and past Kafka's default size limits ----------------------------------------------

MIB = 1024 * 1024


def _agent_of_size(codec: RecordCodec, topic: Topic[str, pe.AgentCreated], size: int, creator: str) -> bytes:
    """An AgentCreated record whose encoded value is exactly ``size`` bytes (a long label pads it)."""
    agent = _agent(1, creator)
    base = len(codec.encode_value(topic, agent))
    pad = size - base - 4  # the label's string and its length varint; corrected below
    for _ in range(5):
        value = codec.encode_value(topic, agent.model_copy(update={"labels": {"n": "1", "pad": "x" * pad}}))
        if len(value) == size:
            return value
        pad += size - len(value)
    raise AssertionError(f"cannot make a record of {size} bytes")


def _topic_config(bootstrap: str, topic: str, name: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT)
    value = entries[name].value
    assert value is not None
    return str(value)


def _big_producer_produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Like ``_produce``, with librdkafka's message.max.bytes raised for records past its default."""
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "message.max.bytes": 4 * MIB})
    for value in values:
        producer.produce(topic, key=b"k", value=value, headers=[("trace", b"t")], partition=0, on_delivery=on_delivery)
    assert producer.flush(TIMEOUT) == 0
    assert failures == []


def _create_topic(bootstrap: str, name: str, configs: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(name, num_partitions=1, replication_factor=1, config=configs)
    for future in admin.create_topics([new]).values():
        future.result(timeout=TIMEOUT)


def _fail_big_records(
    bootstrap: str, registry: ConfluentRegistry, topic: Topic[str, pe.AgentCreated]
) -> tuple[ConsumerRunner, list[str]]:
    """Run a handler that fails on the record of creator "big" (not retryable: dead-lettered at once)
    until the two records behind it are handled; return the runner and the creators handled."""
    handled: list[str] = []

    @topic.handler(name="sizes")
    async def on_agent(event: Event[str, pe.AgentCreated]) -> None:
        if event.value.creator_id == "big":
            raise ValueError("cannot take this one")
        handled.append(event.value.creator_id)

    runner = _runner(bootstrap, registry, [on_agent])

    async def scenario() -> None:
        await async_wait_for(lambda: len(handled) == 2 and runner.metrics.dead_lettered == 1, "2 handled, 1 dead")

    asyncio.run(run_until(runner, scenario))
    assert handled == ["after-1", "after-2"]
    assert _all_committed(bootstrap, f"{runner.service}.{topic.name}.sizes", topic.name)  # nothing stuck
    return runner, handled


def test_a_999_000_byte_record_is_dead_lettered_as_a_byte_exact_copy_and_the_records_behind_it_are_handled(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    """With its dead-letter headers the copy is over librdkafka's default message.max.bytes
    (1,000,000): the dead-letter producer takes more, and the topic it creates takes its source
    topic's limit plus 64 KiB."""
    name = _name("size999k")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    big = _agent_of_size(codec, topic, 999_000, "big")
    _produce(
        kafka_bootstrap,
        name,
        [
            (0, b"k", v, [("trace", b"t")])
            for v in (big, *(codec.encode_value(topic, _agent(i, f"after-{i}")) for i in (1, 2)))
        ],
    )
    _fail_big_records(kafka_bootstrap, registry, topic)

    (letter,) = read_dead_letters(kafka_bootstrap, dlq_topic_name(name))
    assert not letter.reference and letter.value == big  # byte for byte
    assert (letter.key, letter.headers) == (b"k", (("trace", b"t"),))
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (name, 0, 0)
    assert letter.exception_message == "cannot take this one"
    source_limit = int(_topic_config(kafka_bootstrap, name, "max.message.bytes"))
    assert int(_topic_config(kafka_bootstrap, dlq_topic_name(name), "max.message.bytes")) == source_limit + 64 * 1024


def test_a_1_040_000_byte_record_of_a_topic_that_takes_it_is_dead_lettered_as_a_copy_and_replayed(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("size1040k")
    _create_topic(kafka_bootstrap, name, {"max.message.bytes": str(2 * MIB)})
    topic = agent_topic(name, 1)
    big = _agent_of_size(codec, topic, 1_040_000, "big")
    _big_producer_produce(
        kafka_bootstrap, name, [big, *(codec.encode_value(topic, _agent(i, f"after-{i}")) for i in (1, 2))]
    )
    _fail_big_records(kafka_bootstrap, registry, topic)

    dlq_topic = dlq_topic_name(name)
    assert _topic_config(kafka_bootstrap, dlq_topic, "max.message.bytes") == str(2 * MIB + 64 * 1024)
    (letter,) = read_dead_letters(kafka_bootstrap, dlq_topic)
    assert not letter.reference and letter.value == big
    shown = CliRunner().invoke(dlq, ["inspect", name, "--bootstrap-servers", kafka_bootstrap])
    assert shown.exit_code == 0 and "(1040000 bytes" in shown.output and "not copied" not in shown.output

    replayed = CliRunner().invoke(dlq, ["replay", name, "--bootstrap-servers", kafka_bootstrap])
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output == f"replayed 1 record to {name}\n"
    last = _read_all(kafka_bootstrap, name)[-1]
    assert (last.offset(), last.key(), last.value(), last.headers()) == (3, b"k", big, [("trace", b"t")])


def test_a_record_its_dead_letter_topic_cannot_take_is_dead_lettered_as_a_reference_that_replay_reads_back(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec, caplog: pytest.LogCaptureFixture
) -> None:
    """The dead-letter topic exists already, with a smaller max.message.bytes than the record: the
    dead letter points to the record (topic, partition, offset) instead of copying it, the partition
    goes on, inspect says where the payload is, and replay republishes the record read from there,
    or, once the topic no longer has it, says so and fails."""
    name = _name("sizeref")
    dlq_topic = dlq_topic_name(name)
    _create_topic(kafka_bootstrap, name, {"max.message.bytes": str(2 * MIB)})
    _create_topic(kafka_bootstrap, dlq_topic, {"max.message.bytes": "100000"})
    topic = agent_topic(name, 1)
    big = _agent_of_size(codec, topic, 1_040_000, "big")
    _big_producer_produce(
        kafka_bootstrap, name, [big, *(codec.encode_value(topic, _agent(i, f"after-{i}")) for i in (1, 2))]
    )
    with caplog.at_level(logging.WARNING, logger="schemabus.dlq"):
        runner, _ = _fail_big_records(kafka_bootstrap, registry, topic)
    assert f"{dlq_topic} takes records of at most 100000 bytes" in caplog.text  # said once, at the start
    assert f"raise its max.message.bytes to {2 * MIB + 64 * 1024}" in caplog.text
    assert "written as a reference to its record" in caplog.text

    (letter,) = read_dead_letters(kafka_bootstrap, dlq_topic)
    assert letter.reference and letter.value == b"" and letter.payload_size == 1_040_000
    assert letter.omitted == ("value",) and (letter.key, letter.headers) == (b"k", (("trace", b"t"),))
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (name, 0, 0)
    assert letter.consumer_group == f"{runner.service}.{name}.sizes"
    assert letter.exception_message == "cannot take this one" and letter.reason == "handler-error"
    shown = CliRunner().invoke(dlq, ["inspect", name, "--bootstrap-servers", kafka_bootstrap])
    assert shown.exit_code == 0, shown.output
    assert f"value:    payload not copied: 1040000 bytes, read it from {name}[0]@0" in shown.output
    as_json = CliRunner().invoke(dlq, ["inspect", name, "--bootstrap-servers", kafka_bootstrap, "--format", "json"])
    assert json.loads(as_json.output)[0]["payload"] == {"copied": False, "size": 1_040_000, "omitted": ["value"]}

    replayed = CliRunner().invoke(dlq, ["replay", name, "--bootstrap-servers", kafka_bootstrap])
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.splitlines() == [
        f"replayed 1 record to {name}",
        f"  1 of them read back from {name}: its dead letter was a reference",
    ]
    last = _read_all(kafka_bootstrap, name)[-1]
    assert (last.offset(), last.key(), last.value(), last.headers()) == (3, b"k", big, [("trace", b"t")])

    # The original topic no longer has the record (deleted here; retention does the same): replay says so.
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_records([TopicPartition(name, 0, 1)]).values():
        future.result(timeout=TIMEOUT)
    # A writer that does not know the topic's limit (it creates no topics) learns it from the broker's
    # refusal of the copy, and writes the reference with the same producer.
    writer = DeadLetterWriter(kafka_bootstrap, create_topics=False)

    def failed(value: bytes) -> DeadLetterRecord:
        return build_dead_letter(
            topic=name,
            partition=0,
            offset=0,
            timestamp_ms=0,
            key=b"k",
            value=value,
            headers=[],
            group="g",
            error=ValueError("no"),
            attempts=1,
        )

    assert writer.write(failed(big)) == (0, 1)
    assert writer.write(failed(b"small")) == (0, 2)  # the producer goes on after the refusal
    writer.close()
    gone = CliRunner().invoke(dlq, ["replay", name, "--bootstrap-servers", kafka_bootstrap])
    assert gone.exit_code == 1, gone.output
    assert gone.output.splitlines() == [
        f"replayed 1 record to {name}",  # the small copy
        f"cannot replay {dlq_topic}[0]@1: its payload was not copied and {name}[0]@0 is no longer there "
        "(past the topic's retention, or compacted away)",
    ]
    again = CliRunner().invoke(dlq, ["replay", name, "--bootstrap-servers", kafka_bootstrap])
    assert again.exit_code == 0 and again.output == f"{dlq_topic}: nothing to replay\n", again.output


def _read_all(bootstrap: str, topic: str) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"r{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe([topic])
        out: list[Message] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                out.append(message)
        return out
    finally:
        consumer.close()


# --- schema evolution --------------------------------------------------------------------------------

V1 = {
    "type": "record",
    "name": "AgentCreated",
    "namespace": "io.schemabus.platform.agent.lifecycle",
    "fields": [
        {"name": "agent_id", "type": {"type": "string", "logicalType": "uuid"}},
        {
            "name": "agent_type",
            "type": {
                "type": "enum",
                "name": "AgentType",
                "namespace": "io.schemabus.platform.common",
                "symbols": [
                    "UNKNOWN",
                    "ASSISTANT",
                    "RESEARCHER",
                    "CODER",
                    "PLANNER",
                    "REVIEWER",
                    "ORCHESTRATOR",
                    "CUSTOM",
                ],
                "default": "UNKNOWN",
            },
        },
        {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "creator_id", "type": "string"},
        {"name": "legacy_note", "type": "string"},  # dropped later: the reader skips it
    ],
}


def test_records_written_with_an_older_schema_are_read_by_the_current_model(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("evolution")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    v1_text = json.dumps(V1)
    v1_id = registry.register_schema(topic.value_subject, v1_text, "AVRO")
    old = io.BytesIO()
    fastavro.schemaless_writer(
        old,
        fastavro.parse_schema(V1),
        {
            "agent_id": str(uuid.UUID(int=7)),
            "agent_type": "CODER",
            "created_at": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "creator_id": "old-writer",
            "legacy_note": "gone in v2",
        },
    )
    current = codec.encode_value(topic, _agent(8))  # registers the current schema as v2
    current_id = int.from_bytes(current[1:5], "big")
    assert current_id != v1_id
    _produce(kafka_bootstrap, name, [(0, None, frame_header(v1_id) + old.getvalue(), []), (0, None, current, [])])
    received: list[pe.AgentCreated] = []

    @topic.handler()
    async def read(event: Event[str, pe.AgentCreated]) -> None:
        received.append(event.value)

    runner = _runner(kafka_bootstrap, registry, [read])

    async def scenario() -> None:
        await async_wait_for(lambda: len(received) == 2, "both records handled")

    asyncio.run(run_until(runner, scenario))
    old_value, new_value = received
    assert isinstance(old_value, pe.AgentCreated)
    assert (old_value.agent_id, old_value.agent_type, old_value.creator_id) == (
        uuid.UUID(int=7),
        pe.AgentType.CODER,
        "old-writer",
    )
    assert old_value.created_at == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    # Fields v1 did not have take the current schema's defaults.
    assert (old_value.display_name, old_value.capabilities, old_value.labels, old_value.schema_version) == (
        None,
        [],
        {},
        1,
    )
    assert new_value == _agent(8)
    assert runner.metrics.dead_lettered == 0


# --- separate processes: a crash, and two members of one group ------------------------------------------


class Worker(WorkerProcess):
    """A tests/integration/consumer_worker.py process."""

    def __init__(
        self,
        tmp: Path,
        label: str,
        bootstrap: str,
        registry_url: str,
        topic: str,
        partitions: int,
        group: str,
        delay: float,
        *options: str,
    ) -> None:
        super().__init__(
            tmp,
            label,
            "consumer_worker.py",
            *("--bootstrap", bootstrap, "--registry", registry_url, "--topic", topic),
            *("--partitions", str(partitions), "--group", group, "--delay", str(delay)),
            *options,
        )

    def handled(self) -> list[tuple[int, int]]:
        return self.handled_pairs()

    def assignment(self) -> set[int]:
        path = Path(str(self.out) + ".assignment")
        text = path.read_text().strip() if path.exists() else ""
        return {int(p) for p in text.split(",") if p}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:  # whatever a failed test left running
        if worker.alive():
            worker.process.kill()
            worker.process.wait(TIMEOUT)


def _publish_many(
    bootstrap: str, codec: RecordCodec, topic: Topic[str, pe.AgentCreated], start: int, count: int
) -> None:
    _produce(
        bootstrap,
        topic.name,
        [(i % topic.partitions, None, codec.encode_value(topic, _agent(i)), []) for i in range(start, start + count)],
    )


def _expected(bootstrap: str, topic: str) -> set[tuple[int, int]]:
    lags = _lag(bootstrap, f"unused-{uuid.uuid4().hex}", topic)
    return {(p, o) for p, lag in lags.items() for o in range(lag.low_watermark, lag.high_watermark)}


def test_a_killed_consumer_loses_nothing_after_restart(
    kafka_bootstrap: str, registry_url: str, codec: RecordCodec, tmp_path: Path, workers: list[Worker]
) -> None:
    name, group = _name("crash"), _name("group")
    _create_topics(kafka_bootstrap, 3, name)
    topic = agent_topic(name, 3)
    _publish_many(kafka_bootstrap, codec, topic, 0, 240)
    expected = _expected(kafka_bootstrap, name)
    assert len(expected) == 240

    first = Worker(tmp_path, "first", kafka_bootstrap, registry_url, name, 3, group, delay=0.05)
    workers.append(first)
    wait_for(lambda: len(first.handled()) >= 30 or not first.alive(), "the first worker to get going")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # mid-batch: no shutdown, no final commit
    before = set(first.handled())
    assert before < expected  # it had not finished

    second = Worker(tmp_path, "second", kafka_bootstrap, registry_url, name, 3, group, delay=0.0)
    workers.append(second)
    wait_for(lambda: before | set(second.handled()) >= expected or not second.alive(), "every record handled")
    wait_for(lambda: _all_committed(kafka_bootstrap, group, name), "the second worker to commit everything")
    assert second.stop() == 0, (tmp_path / "second.log").read_text()
    assert before | set(second.handled()) == expected  # every record handled at least once, none skipped


def test_a_killed_instance_restarted_with_its_instance_id_handles_records_again_within_10s(
    kafka_bootstrap: str, registry_url: str, codec: RecordCodec, tmp_path: Path, workers: list[Worker]
) -> None:
    """Static membership (ConsumerSettings.instance_id) with librdkafka's default 45 s session: the
    restarted instance takes its partitions back at once instead of waiting for the killed one's
    session to expire. The time from the SIGKILL to the new records handled includes the new
    process's start-up. (With the KIP-848 protocol the broker refuses the instance id until the
    killed member's session expires, UNRELEASED_INSTANCE_ID: README, "Recovery after a restart".)"""
    protocol = "classic"
    name, group = _name("recover"), _name("group")
    _create_topics(kafka_bootstrap, 3, name)
    topic = agent_topic(name, 3)
    options = ("--instance-id", "pod-0", "--group-protocol", protocol, "--default-session")
    first = Worker(tmp_path, "first", kafka_bootstrap, registry_url, name, 3, group, 0.0, *options)
    workers.append(first)
    wait_for(lambda: first.assignment() == {0, 1, 2} or not first.alive(), "the first instance to get every partition")
    _publish_many(kafka_bootstrap, codec, topic, 0, 30)
    wait_for(lambda: len(first.handled()) >= 30 or not first.alive(), "the first batch handled")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    killed = time.monotonic()

    second = Worker(tmp_path, "second", kafka_bootstrap, registry_url, name, 3, group, 0.0, *options)
    workers.append(second)
    _publish_many(kafka_bootstrap, codec, topic, 30, 30)
    expected = _expected(kafka_bootstrap, name)
    wait_for(
        lambda: set(first.handled()) | set(second.handled()) >= expected or not second.alive(),
        "every record handled by the restarted instance",
        timeout=30,
    )
    resumed = time.monotonic() - killed
    logging.getLogger("schemabus.tests.recovery").info("%s protocol: resumed %.1fs after the kill", protocol, resumed)
    assert resumed < 10, f"{resumed:.1f}s from the kill to every new record handled"
    assert second.stop() == 0, (tmp_path / "second.log").read_text()


def test_two_processes_share_a_group_and_one_takes_over_when_the_other_leaves(
    kafka_bootstrap: str, registry_url: str, codec: RecordCodec, tmp_path: Path, workers: list[Worker]
) -> None:
    name, group = _name("shared"), _name("group")
    _create_topics(kafka_bootstrap, 4, name)
    topic = agent_topic(name, 4)
    a = Worker(tmp_path, "a", kafka_bootstrap, registry_url, name, 4, group, delay=0.0)
    workers.append(a)
    wait_for(lambda: a.assignment() == {0, 1, 2, 3} or not a.alive(), "the first member to get every partition")
    b = Worker(tmp_path, "b", kafka_bootstrap, registry_url, name, 4, group, delay=0.0)
    workers.append(b)
    wait_for(
        lambda: (
            (len(a.assignment()) == len(b.assignment()) == 2 and a.assignment() | b.assignment() == {0, 1, 2, 3})
            or not (a.alive() and b.alive())
        ),
        "the partitions split between the two members",
    )
    assert not a.assignment() & b.assignment()
    _publish_many(kafka_bootstrap, codec, topic, 0, 80)
    first_batch = _expected(kafka_bootstrap, name)
    wait_for(lambda: set(a.handled()) | set(b.handled()) >= first_batch, "the first batch handled")
    assert {p for p, _ in a.handled()} == a.assignment()  # each handled its own partitions
    assert {p for p, _ in b.handled()} == b.assignment()

    assert a.stop() == 0, (tmp_path / "a.log").read_text()  # leaves the group cleanly
    wait_for(lambda: b.assignment() == {0, 1, 2, 3} or not b.alive(), "the other member to take every partition")
    _publish_many(kafka_bootstrap, codec, topic, 80, 80)
    everything = _expected(kafka_bootstrap, name)
    wait_for(lambda: set(a.handled()) | set(b.handled()) >= everything, "the second batch handled")
    wait_for(lambda: _all_committed(kafka_bootstrap, group, name), "everything committed")
    assert b.stop() == 0, (tmp_path / "b.log").read_text()
    assert set(a.handled()) | set(b.handled()) == everything
    assert set(b.handled()) >= everything - first_batch  # the second batch went to the member that stayed


# --- real faults: a registry that stops answering, partitions lost, records arriving while paused ------------


def _v1_record(registry: Any, topic: Topic[str, pe.AgentCreated], creator: str) -> bytes:
    """An AgentCreated framed with V1 (registered as an older version of ``topic``'s subject)."""
    v1_id = registry.register_schema(topic.value_subject, json.dumps(V1), "AVRO")
    payload = io.BytesIO()
    fastavro.schemaless_writer(
        payload,
        fastavro.parse_schema(V1),
        {
            "agent_id": str(uuid.UUID(int=7)),
            "agent_type": "CODER",
            "created_at": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "creator_id": creator,
            "legacy_note": "gone in v2",
        },
    )
    return frame_header(v1_id) + payload.getvalue()


def _impatient_reader(url: str) -> RuntimeRegistry:
    """A runtime registry client that gives up on a silent registry after half a second, at once."""
    return RuntimeRegistry(RegistryConfig(url=url, timeout_s=0.5, max_retries=0))


def _old_and_new_records(own: FaultServers, topic: Topic[str, pe.AgentCreated]) -> list[bytes]:
    """A V1 record (its writer schema must be fetched to read it) and a current one, on the own registry."""
    writer = RuntimeRegistry(own.registry_url)
    old = _v1_record(writer, topic, "old-writer")  # first: the current schema is a compatible next version
    return [old, RecordCodec(SchemaIds(writer, "register")).encode_value(topic, _agent(8))]


def test_a_registry_that_stops_answering_delays_decoding_until_it_answers_again(
    kafka_bootstrap: str, fault_servers: FaultServers, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer schema of a record cannot be fetched while the registry is frozen: the runner
    retries the decode (the record is not poison), the partition waits, and once the registry
    answers the record and the one behind it are handled in order, nothing dead-lettered."""
    caplog.set_level(logging.WARNING, logger="schemabus.consumer")
    name = _name("registrydown")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    records = _old_and_new_records(fault_servers, topic)
    handled: list[str] = []

    @topic.handler()
    async def read(event: Event[str, pe.AgentCreated]) -> None:
        handled.append(event.value.creator_id)

    retry = RetryPolicy(max_retries=1000, initial_backoff=0.2, multiplier=1, jitter=0)
    runner = _runner(kafka_bootstrap, _impatient_reader(fault_servers.registry_url), [read], retry=retry)
    group = f"{runner.service}.{name}.read"

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    async def scenario() -> None:
        await async_wait_for(lambda: bool(runner.assignment().get(group)), "the partition assigned")
        assert runner.health().ready
        with frozen(fault_servers.registry):
            await asyncio.to_thread(_produce, kafka_bootstrap, name, [(0, None, v, []) for v in records])
            await async_wait_for(
                lambda: "waits for the schema registry" in runner.health().reason, "the partition waiting"
            )
            await asyncio.sleep(2.5)  # several decode retries (0.2 s apart), all failing
            assert handled == []  # the partition waits: the record behind it is not handled first
            assert not runner.health().ready and runner.health().live
        await async_wait_for(lambda: len(handled) == 2, "both records handled once the registry answers")
        assert runner.health().ready

    asyncio.run(run_until(runner, scenario))
    assert handled == ["old-writer", "user-8"]
    assert logged("cannot decode") == 1  # once per outage, not per retry
    assert logged("after waiting") == 1
    metrics = runner.metrics
    assert (metrics.handled, metrics.poison, metrics.dead_lettered) == (2, 0, 0)
    assert "is unavailable" in caplog.text  # the retry says why: the registry, not the record
    assert _all_committed(kafka_bootstrap, group, name)


def test_a_registry_killed_mid_stream_holds_only_the_partitions_that_need_it_until_it_is_back(
    kafka_bootstrap: str, fault_servers: FaultServers, caplog: pytest.LogCaptureFixture
) -> None:
    """The registry is SIGKILLed (a crash: connections refused, where a frozen one times out) while the
    runner reads two partitions. Records of a schema id the runner knows keep flowing on partition 1;
    partition 0, whose next record needs a writer schema not yet fetched, waits (not ready, still live)
    and nothing behind it is handled first. The registry is started again on its data (same port, same
    schema ids): partition 0's records are handled in order, nothing dead-lettered, all committed."""
    caplog.set_level(logging.WARNING, logger="schemabus.consumer")
    name = _name("registrykilled")
    _create_topics(kafka_bootstrap, 2, name)
    topic = agent_topic(name, 2)
    old, current = _old_and_new_records(fault_servers, topic)
    handled: list[tuple[int, str]] = []

    @topic.handler()
    async def read(event: Event[str, pe.AgentCreated]) -> None:
        handled.append((event.partition, event.value.creator_id))

    retry = RetryPolicy(max_retries=1000, initial_backoff=0.2, multiplier=1, jitter=0)
    runner = _runner(kafka_bootstrap, _impatient_reader(fault_servers.registry_url), [read], retry=retry)
    group = f"{runner.service}.{name}.read"
    server = fault_servers.registry
    killed_pid = server.pid

    def on(partition: int) -> list[str]:
        return [creator for p, creator in handled if p == partition]

    async def scenario() -> None:
        await async_wait_for(lambda: len(runner.assignment().get(group, ())) == 2, "both partitions assigned")
        await asyncio.to_thread(_produce, kafka_bootstrap, name, [(1, None, current, [])])
        await async_wait_for(lambda: on(1) == ["user-8"], "the current schema's id known to the runner")
        server.kill()  # SIGKILL
        try:
            await asyncio.to_thread(_produce, kafka_bootstrap, name, [(0, None, v, []) for v in (old, current)])
            await async_wait_for(
                lambda: "waits for the schema registry" in runner.health().reason, "partition 0 waiting"
            )
            await asyncio.to_thread(_produce, kafka_bootstrap, name, [(1, None, current, [])] * 3)
            await async_wait_for(lambda: len(on(1)) == 4, "partition 1 flowing while the registry is down")
            await asyncio.sleep(1.0)  # decode retries of partition 0 meanwhile, all refused
            assert on(0) == []  # the partition waits: the record behind the old one is not handled first
            health = runner.health()
            assert not health.ready and health.live, health
        finally:
            await asyncio.to_thread(restart_registry, server)
        assert server.pid != killed_pid
        await async_wait_for(lambda: on(0) == ["old-writer", "user-8"], "partition 0 handled once the registry is back")
        await async_wait_for(lambda: runner.health().ready, "ready again")

    asyncio.run(run_until(runner, scenario))
    assert on(0) == ["old-writer", "user-8"] and on(1) == ["user-8"] * 4
    assert sum("cannot decode" in r.getMessage() for r in caplog.records) == 1  # once per outage
    metrics = runner.metrics
    assert (metrics.handled, metrics.poison, metrics.dead_lettered) == (6, 0, 0)
    wait_for(lambda: _all_committed(kafka_bootstrap, group, name), "everything committed")


def test_a_registry_down_for_longer_than_the_retries_stops_the_runner_without_dead_lettering(
    kafka_bootstrap: str, fault_servers: FaultServers
) -> None:
    """The registry stays frozen past the outage limit: run() raises the registry's error, the
    record is neither dead-lettered nor committed, and a restart handles it once the registry is back."""
    name = _name("registrygone")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    records = _old_and_new_records(fault_servers, topic)
    handled: list[str] = []

    @topic.handler()
    async def read(event: Event[str, pe.AgentCreated]) -> None:
        handled.append(event.value.creator_id)

    retry = RetryPolicy(max_retries=2, initial_backoff=0.1, jitter=0)  # the handler's: not used while waiting
    settings = ConsumerSettings(registry_outage_limit=3.0)
    runner = _runner(
        kafka_bootstrap, _impatient_reader(fault_servers.registry_url), [read], retry=retry, settings=settings
    )
    group = f"{runner.service}.{name}.read"

    async def until_it_fails() -> None:
        task = asyncio.create_task(runner.run())
        await async_wait_for(lambda: bool(runner.assignment().get(group)) or task.done(), "the partition assigned")
        assert runner.health().ready, runner.health()
        with frozen(fault_servers.registry):
            await asyncio.to_thread(_produce, kafka_bootstrap, name, [(0, None, v, []) for v in records])
            await asyncio.wait_for(task, TIMEOUT)

    with pytest.raises(RegistryUnavailableError, match="is unavailable"):
        asyncio.run(until_it_fails())
    health = runner.health()  # what /healthz answers: the runner stopped on the registry outage
    assert (health.live, health.ready) == (False, False)
    assert health.reason.startswith("stopped by RegistryUnavailableError: schema registry "), health
    assert handled == []
    assert runner.metrics.dead_lettered == 0 and runner.metrics.poison == 0
    assert _lag(kafka_bootstrap, group, name)[0].committed is None  # nothing committed: the record is not lost
    assert (
        dlq_topic_name(name)
        not in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=TIMEOUT).topics
    )

    again = _runner(kafka_bootstrap, _impatient_reader(fault_servers.registry_url), [read], service=runner.service)

    async def resumed() -> None:
        await async_wait_for(lambda: len(handled) == 2, "both records handled after the restart")

    asyncio.run(run_until(again, resumed))
    assert handled == ["old-writer", "user-8"]
    assert _all_committed(kafka_bootstrap, group, name)


def test_a_record_found_poison_once_the_registry_answers_again_is_dead_lettered_and_the_runner_goes_on(
    kafka_bootstrap: str, fault_servers: FaultServers
) -> None:
    """Its schema id cannot be looked up while the registry is frozen (retried: not the record's fault);
    once the registry answers, it does not know the id: the record is poison after all, so it goes to
    the dead-letter topic like any other, and the record behind it is handled."""
    name = _name("latepoison")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    old, current = _old_and_new_records(fault_servers, topic)
    unknown_id = frame_header(2_000_000_000) + old[5:]
    handled: list[str] = []

    @topic.handler()
    async def read(event: Event[str, pe.AgentCreated]) -> None:
        handled.append(event.value.creator_id)

    retry = RetryPolicy(max_retries=1000, initial_backoff=0.2, multiplier=1, jitter=0)
    runner = _runner(kafka_bootstrap, _impatient_reader(fault_servers.registry_url), [read], retry=retry)
    group = f"{runner.service}.{name}.read"

    async def scenario() -> None:
        await async_wait_for(lambda: bool(runner.assignment().get(group)), "the partition assigned")
        with frozen(fault_servers.registry):
            await asyncio.to_thread(_produce, kafka_bootstrap, name, [(0, None, v, []) for v in (unknown_id, current)])
            await asyncio.sleep(2)  # decode retries meanwhile
            assert handled == []
        await async_wait_for(lambda: handled == ["user-8"], "the record behind the poison handled")

    asyncio.run(run_until(runner, scenario))
    (letter,) = read_dead_letters(kafka_bootstrap, dlq_topic_name(name))
    assert (letter.value, letter.reason, letter.attempts) == (unknown_id, "unknown-schema-id", 0)
    assert runner.metrics.poison == 1 and runner.metrics.dead_lettered == 1
    assert _all_committed(kafka_bootstrap, group, name)


# max.poll.interval.ms may not be below session.timeout.ms, whose broker minimum is 6 s.
_SHORT_POLL_INTERVAL = {"session.timeout.ms": 6000, "max.poll.interval.ms": 6000}
_STALL_S = 8.0


def test_partitions_lost_to_a_stalled_event_loop_are_taken_back_and_their_unfinished_records_redone(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that blocks the event loop (a synchronous call) for longer than max.poll.interval.ms:
    librdkafka leaves the group and reports the partitions lost, not revoked. The runner drops them
    without committing (the member no longer owns them), rejoins, and handles again from the last
    commit: the record that was in the handler is handled twice, the one committed before only once."""
    caplog.set_level(logging.INFO, logger="schemabus.consumer")
    name = _name("lost")
    _create_topics(kafka_bootstrap, 1, name)
    topic = agent_topic(name, 1)
    calls: list[int] = []

    @topic.handler()
    async def stall(event: Event[str, pe.AgentCreated]) -> None:
        calls.append(event.offset)
        if event.offset == 1 and calls.count(1) == 1:
            time.sleep(_STALL_S)  # blocks the event loop, so nothing polls the consumer

    runner = _runner(kafka_bootstrap, registry, [stall], extra_config=_SHORT_POLL_INTERVAL)
    group = f"{runner.service}.{name}.stall"

    async def scenario() -> None:
        await async_wait_for(lambda: bool(runner.assignment().get(group)), "the partition assigned")
        await asyncio.to_thread(_produce, kafka_bootstrap, name, [(0, None, codec.encode_value(topic, _agent(0)), [])])
        await async_wait_for(lambda: _lag(kafka_bootstrap, group, name)[0].committed == 1, "offset 0 committed")
        records = [(0, None, codec.encode_value(topic, _agent(i)), []) for i in (1, 2)]
        await asyncio.to_thread(_produce, kafka_bootstrap, name, records)
        await async_wait_for(lambda: calls.count(1) == 2 and 2 in calls, "offset 1 handled again after the loss")
        await async_wait_for(lambda: _all_committed(kafka_bootstrap, group, name), "everything committed")

    asyncio.run(run_until(runner, scenario))
    assert calls.count(0) == 1 and calls.count(1) == 2 and set(calls) == {0, 1, 2}
    assert f"lost {name}[0]" in caplog.text
    assert runner.metrics.rebalances >= 3  # assigned, lost, assigned again


class _IdleMember:
    """A plain confluent consumer in a group that holds its partitions without handling or committing
    anything, until ``leave()``: then its partitions move to the other members."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "partition.assignment.strategy": "cooperative-sticky",
            }
        )
        self.consumer.subscribe([topic])
        self.assignment: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        try:
            while not self._stop.is_set():
                self.consumer.poll(0.1)  # what it fetches, it drops: nothing is committed
                self.assignment = sorted(tp.partition for tp in self.consumer.assignment())
        finally:
            self.consumer.close()

    def leave(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)


def test_records_of_a_partition_assigned_while_paused_are_read_again_after_the_resume(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    """The runner is paused (its handler holds max_in_flight records) when another member leaves
    and its partition, records waiting, moves here: librdkafka assigns and fetches it within the
    poll that serves the rebalance, before the runner's next pause call covers it. What the paused
    runner polled from it is sought back rather than handled, and read again after the resume: every
    record of both partitions is handled exactly once, in offset order."""
    name = _name("pausedmove")
    _create_topics(kafka_bootstrap, 2, name)
    topic = agent_topic(name, 2)
    records = [(i % 2, None, codec.encode_value(topic, _agent(i)), []) for i in range(12)]
    _produce(kafka_bootstrap, name, records)
    release = asyncio.Event()
    handled: list[tuple[int, int]] = []

    @topic.handler()
    async def slow(event: Event[str, pe.AgentCreated]) -> None:
        await release.wait()
        handled.append((event.partition, event.offset))

    runner = _runner(kafka_bootstrap, registry, [slow], max_in_flight=2, backpressure_wait=0.05, poll_timeout=1.0)
    group = consumer_group(slow, runner.service)
    idle = _IdleMember(kafka_bootstrap, group, name)
    wait_for(lambda: idle.assignment == [0, 1], "the idle member holding both partitions")

    async def scenario() -> None:
        try:
            await async_wait_for(lambda: len(runner.assignment().get(group, [])) == 1, "one partition moved here")
            await async_wait_for(lambda: runner.metrics.consumed >= 2, "max_in_flight records fetched")
            await asyncio.sleep(0.5)  # longer than backpressure_wait: the runner pauses
            await asyncio.to_thread(idle.leave)
            await async_wait_for(lambda: runner.assignment().get(group) == [0, 1], "the other partition moved here")
            await asyncio.sleep(1.5)  # paused polls meanwhile
            assert handled == [] and runner.metrics.consumed == 2  # nothing of the new partition dispatched
        finally:
            idle.leave()
        release.set()
        await async_wait_for(lambda: len(handled) == 12, "every record handled")
        await async_wait_for(lambda: _all_committed(kafka_bootstrap, group, name), "everything committed")

    asyncio.run(run_until(runner, scenario))
    for partition in (0, 1):
        assert [o for p, o in handled if p == partition] == list(range(6))  # none lost, none twice, in order


def test_a_runner_on_the_kip_848_consumer_group_protocol_handles_and_commits(
    kafka_bootstrap: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    name = _name("kip848")
    _create_topics(kafka_bootstrap, 3, name)
    topic = agent_topic(name, 3)
    _publish_many(kafka_bootstrap, codec, topic, 0, 30)
    seen: list[int] = []

    @topic.handler()
    async def read(event: Event[str, pe.AgentCreated]) -> None:
        seen.append(event.offset)

    runner = _runner(kafka_bootstrap, registry, [read], settings=ConsumerSettings(group_protocol="consumer"))
    group = f"{runner.service}.{name}.read"

    async def scenario() -> None:
        await async_wait_for(lambda: len(seen) == 30, "every record handled")
        await async_wait_for(lambda: _all_committed(kafka_bootstrap, group, name), "every offset committed")

    asyncio.run(run_until(runner, scenario))
    assert runner.consumer_config(read)["group.protocol"] == "consumer"
