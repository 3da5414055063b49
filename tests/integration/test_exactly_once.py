"""Exactly-once where asked, on a real broker: transactional publishing and consume-transform-produce.

Every test uses its own topics, consumer groups and transactional ids (uuid). What a ``read_committed``
consumer sees is read to the end of each partition: until its position reaches the high watermark
taken after the producers finished, which it passes only once every transaction up to there is
decided (committed or aborted). Waits are bounded; no assertion depends on how fast anything runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export
from consumer_worker import ConfluentRegistry, agent_topic
from eos_worker import output_topic
from faults import FaultServers, frozen
from worker_process import WorkerProcess

import platform_events as pe
from schemabus.runtime import DeliveryResult, Event, FunctionBatchHandler, FunctionHandler, RecordCodec, Topic
from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.dlq import read_dead_letters
from schemabus.runtime.errors import (
    FatalProducerError,
    ProducerFencedError,
    PublishError,
    TransactionAbortedError,
    TransactionError,
    TransactionOutcomeUnknownError,
    TransactionStateError,
)
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.reading import read_events

pytestmark = pytest.mark.integration

T = TypeVar("T")
TIMEOUT = 45.0  # the longest any single wait may take; nothing here should come close
ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)


# --- helpers -----------------------------------------------------------------------------------


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 2 * TIMEOUT))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _thread_stacks() -> str:
    """Every thread's stack: where the poll thread is when a producer is not replaced in time."""
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"thread {names.get(ident, ident)}:\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in sys._current_frames().items()
    )


def fresh(topic: Topic[Any, Any]) -> Topic[Any, Any]:
    """A copy of a catalog topic under a unique name (its subjects are unique too)."""
    _, entity, action = topic.name.split(".")
    return dataclasses.replace(topic, name=f"t{_uid()}.{entity}.{action}")


def agent_created(n: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=n + 1),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=NOW,
        creator_id=f"user-{n}",
        labels={"n": str(n)},
    )


def tx_bus(bootstrap: str, registry_url: str, txn_id: str | None = None, **settings: Any) -> KafkaBus:
    producer = ProducerSettings(transactional_id=txn_id or f"txn-{_uid()}", **settings)
    return KafkaBus(bootstrap, registry_url, producer=producer)


def _create_topics(bootstrap: str, partitions: int, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    for future in futures.values():
        future.result(timeout=TIMEOUT)


def read_to_end(bootstrap: str, topic: str, isolation: str, timeout: float = TIMEOUT) -> list[Message]:
    """Every record of ``topic`` a consumer with ``isolation.level=isolation`` sees, read up to the high
    watermarks as they are now. read_committed gets there only once every transaction before them is
    decided: an open (hanging) transaction makes this time out."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{_uid()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=timeout).topics[topic].partitions)
        marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout) for p in partitions}
        ends = {p: high for p, (low, high) in marks.items() if high > low}  # empty partitions have no position
        consumer.assign([TopicPartition(topic, p, marks[p][0]) for p in ends])
        received: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            positions = {tp.partition: tp.offset for tp in consumer.position([TopicPartition(topic, p) for p in ends])}
            if all(positions[p] >= end for p, end in ends.items()):
                return received
            if time.monotonic() > deadline:
                raise AssertionError(f"{isolation} reader stuck at {positions}, high watermarks {ends}")
            message = consumer.poll(0.2)
            if message is None or (message.error() is not None and message.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert message.error() is None, message.error()
            received.append(message)
    finally:
        consumer.close()


def keys(messages: list[Message]) -> list[str]:
    return sorted((m.key() or b"").decode() for m in messages)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


# --- transactional publishing ------------------------------------------------------------------


def test_an_aborted_transaction_is_invisible_to_read_committed_and_committed_ones_appear_once(
    kafka_bootstrap: str, registry_url: str
) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(kafka_bootstrap, registry_url)
    bus.ensure_topics([topic])

    async def scenario() -> tuple[DeliveryResult, list[Any]]:
        async with bus:
            async with bus.transaction() as tx:
                for n in range(4):
                    await tx.publish(topic, agent_created(n), key=f"committed-{n}")
                tx.publish_nowait(topic, agent_created(4), key="committed-4")  # the commit flushes it
            pending: list[asyncio.Future[DeliveryResult]] = []
            with pytest.raises(RuntimeError, match="boom"):
                async with bus.transaction():
                    written = await bus.publish(topic, agent_created(10), key="aborted-10")  # on the broker's log
                    pending = [bus.publish_nowait(topic, agent_created(n), key=f"aborted-{n}") for n in range(11, 16)]
                    raise RuntimeError("boom")
            outcomes = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), TIMEOUT)
            async with bus.transaction():
                for n in range(20, 25):
                    bus.publish_nowait(topic, agent_created(n), key=f"committed-{n}")  # the commit flushes them
            return written, outcomes

    written, outcomes = run(scenario())
    for outcome in outcomes:  # each pending record failed with the abort, or had reached the log before it
        assert isinstance(outcome, DeliveryResult | TransactionAbortedError), outcome
        if isinstance(outcome, TransactionAbortedError):
            assert outcome.retriable and not outcome.possibly_persisted and outcome.topic == topic.name
    committed = sorted(f"committed-{n}" for n in [*range(5), *range(20, 25)])
    assert keys(read_to_end(kafka_bootstrap, topic.name, "read_committed")) == committed  # each exactly once
    uncommitted = keys(read_to_end(kafka_bootstrap, topic.name, "read_uncommitted"))
    assert "aborted-10" in uncommitted and set(committed) <= set(uncommitted)  # the aborted record was written
    assert written.topic == topic.name


def test_publishing_outside_a_transaction_is_a_typed_error(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(kafka_bootstrap, registry_url)
    bus.ensure_topics([topic])

    async def scenario() -> None:
        async with bus:
            await bus.prepare(topic)
            with pytest.raises(TransactionStateError, match="no transaction is open") as error:
                await bus.publish(topic, agent_created(0), key="outside")
            assert error.value.topic == topic.name and not error.value.retriable
            with pytest.raises(TransactionStateError, match="no transaction is open"):
                bus.publish_nowait(topic, agent_created(1), key="outside")
            with pytest.raises(TransactionStateError, match="no transaction is open"):
                await bus.publish_many(topic, [agent_created(5)], keys=["outside"])
            async with bus.transaction() as tx:
                await bus.publish(topic, agent_created(2), key="inside")
                assert await tx.publish_many(topic, [agent_created(6), agent_created(7)], keys=["many", "many"]) == 2
            with pytest.raises(TransactionStateError, match="no transaction is open"):  # after a commit too
                await asyncio.to_thread(bus.publish_sync, topic, agent_created(3), key="outside")

    run(scenario())
    with tx_bus(kafka_bootstrap, registry_url) as script, script.transaction_sync() as tx:  # for scripts
        with pytest.raises(TransactionStateError, match="already open"), script.transaction_sync():
            pass  # not re-entrant (and no deadlock either)
        tx.publish_sync(topic, agent_created(4), key="inside-sync")
    assert keys(read_to_end(kafka_bootstrap, topic.name, "read_uncommitted")) == [
        "inside",
        "inside-sync",
        "many",
        "many",
    ]

    with (
        KafkaBus(kafka_bootstrap, registry_url) as plain,
        pytest.raises(TransactionStateError, match="not transactional"),
        plain.transaction_sync(),
    ):
        pass


def test_concurrent_transactions_on_one_bus_take_turns(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(kafka_bootstrap, registry_url)
    bus.ensure_topics([topic])
    inside: list[int] = []
    overlaps: list[int] = []

    async def one(n: int) -> None:
        async with bus.transaction():
            if inside:
                overlaps.append(n)
            inside.append(n)
            await bus.publish(topic, agent_created(n), key=f"k{n}")
            await asyncio.sleep(0.01)
            inside.remove(n)

    async def scenario() -> None:
        async with bus:
            await asyncio.gather(*(one(n) for n in range(8)))

    run(scenario())
    assert overlaps == []
    assert keys(read_to_end(kafka_bootstrap, topic.name, "read_committed")) == sorted(f"k{n}" for n in range(8))


def test_a_newer_bus_with_the_same_transactional_id_fences_the_older_one(
    kafka_bootstrap: str, registry_url: str
) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    txn_id = f"txn-fence-{_uid()}"
    old = tx_bus(kafka_bootstrap, registry_url, txn_id)
    new = tx_bus(kafka_bootstrap, registry_url, txn_id)
    old.ensure_topics([topic])

    async def scenario() -> None:
        await old.start()
        with pytest.raises(ProducerFencedError) as error:
            async with old.transaction():
                await old.publish(topic, agent_created(0), key="zombie")
                await new.start()  # init_transactions: the newer instance takes over the id
        assert isinstance(error.value, FatalProducerError)
        with pytest.raises(ProducerFencedError):  # and the zombie stays fenced
            await old.publish(topic, agent_created(1), key="zombie")
        with pytest.raises(ProducerFencedError):
            async with old.transaction():
                pass
        async with new.transaction():
            await new.publish(topic, agent_created(2), key="new")

    try:
        run(scenario())
    finally:
        old.close_sync(TIMEOUT)
        new.close_sync(TIMEOUT)
    assert keys(read_to_end(kafka_bootstrap, topic.name, "read_committed")) == ["new"]


def test_a_sync_transaction_whose_block_raises_is_aborted(kafka_bootstrap: str, registry_url: str) -> None:
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    with tx_bus(kafka_bootstrap, registry_url) as bus:
        bus.ensure_topics([topic])
        with pytest.raises(ValueError, match="changed my mind"), bus.transaction_sync() as tx:
            tx.publish_sync(topic, agent_created(0), key="aborted")
            raise ValueError("changed my mind")
        with bus.transaction_sync() as tx:
            tx.publish_sync(topic, agent_created(1), key="committed")
    assert keys(read_to_end(kafka_bootstrap, topic.name, "read_committed")) == ["committed"]


def test_closing_a_bus_with_a_transaction_open_aborts_it(kafka_bootstrap: str, registry_url: str) -> None:
    """A service shuts its bus down while another task is inside a transaction: close() aborts it rather
    than leave read_committed readers waiting for the transaction timeout; the task's block then cannot
    commit and says so."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(kafka_bootstrap, registry_url)
    bus.ensure_topics([topic])

    async def scenario() -> None:
        await bus.start()
        inside, release = asyncio.Event(), asyncio.Event()

        async def worker() -> None:
            async with bus.transaction():
                await bus.publish(topic, agent_created(0), key="in-flight-at-close")
                inside.set()
                await release.wait()

        task = asyncio.create_task(worker())
        await inside.wait()
        await bus.close()
        release.set()
        with pytest.raises(TransactionStateError, match="no transaction is open to commit"):
            await task

    run(scenario())
    started = time.monotonic()
    assert read_to_end(kafka_bootstrap, topic.name, "read_committed") == []
    assert time.monotonic() - started < 10  # decided at once, not at the transaction timeout


# --- consume-transform-produce ---------------------------------------------------------------------


def _produce_inputs(bootstrap: str, codec: RecordCodec, topic: Topic[str, pe.AgentCreated], count: int) -> set[str]:
    """Send ``count`` AgentCreated records (plain, idempotent producer); return their ``partition-offset``."""
    delivered: list[str] = []
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(error)
        else:
            delivered.append(f"{message.partition()}-{message.offset()}")

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(count):
        value = codec.encode_value(topic, agent_created(i))
        producer.produce(topic.name, value=value, partition=i % topic.partitions, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(TIMEOUT) == 0
    assert failures == []
    return set(delivered)


def _eos_runner(
    bootstrap: str, registry: ConfluentRegistry, bus: KafkaBus, handler: Any, **kwargs: Any
) -> ConsumerRunner:
    kwargs.setdefault("commit_interval", 0.2)
    return ConsumerRunner(bootstrap, registry, [handler], exactly_once=bus, **kwargs)


def _committed_everything(bootstrap: str, group: str, topic: str) -> bool:
    from schemabus.runtime.consumer import consumer_lag

    return all(p.committed == p.high_watermark for p in consumer_lag(bootstrap, group, topic) if p.high_watermark)


def test_consume_transform_produce_commits_outputs_with_offsets_and_dead_letters_in_the_transaction(
    kafka_bootstrap: str, registry_url: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    source, target = agent_topic(f"t{_uid()}.eos.in", 3), output_topic(f"t{_uid()}.eos.out", 3)
    _create_topics(kafka_bootstrap, 3, source.name, target.name)
    inputs = _produce_inputs(kafka_bootstrap, codec, source, 60)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(source.name, value=b"not a framed record", partition=1)  # poison: to the dead-letter topic
    assert producer.flush(TIMEOUT) == 0
    group = f"g{_uid()}"
    bus = tx_bus(kafka_bootstrap, registry_url)

    async def transform(event: Event[str, pe.AgentCreated]) -> None:
        await bus.publish(target, event.value, key=f"{event.partition}-{event.offset}")

    runner = _eos_runner(kafka_bootstrap, registry, bus, FunctionHandler(source, transform, group=group))
    assert runner.consumer_config(runner.handlers[0])["isolation.level"] == "read_committed"

    async def scenario() -> None:
        async with bus:
            task = asyncio.create_task(runner.run())
            try:
                deadline = time.monotonic() + TIMEOUT
                while not await asyncio.to_thread(_committed_everything, kafka_bootstrap, group, source.name):
                    assert not task.done(), task.exception()
                    assert time.monotonic() < deadline, "the runner did not commit everything in time"
                    await asyncio.sleep(0.2)
            finally:
                runner.stop()
                await asyncio.wait_for(task, TIMEOUT)

    run(scenario())
    assert keys(read_to_end(kafka_bootstrap, target.name, "read_committed")) == sorted(inputs)
    (letter,) = read_to_end(kafka_bootstrap, f"dlq.{source.name}", "read_committed")
    assert letter.value() == b"not a framed record"
    # The dead-letter topic ends in a transaction marker (an offset no record has): read to its end anyway.
    (parsed,) = read_dead_letters(kafka_bootstrap, f"dlq.{source.name}", timeout=TIMEOUT)
    assert (parsed.value, parsed.reason, parsed.original_topic) == (b"not a framed record", "bad-magic", source.name)
    assert runner.metrics.dead_lettered == runner.metrics.poison == 1 and runner.metrics.handled == 60


def test_a_batch_handler_s_outputs_commit_with_its_batches_offsets_in_the_transactions(
    kafka_bootstrap: str, registry_url: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    source, target = agent_topic(f"t{_uid()}.eos.bin", 3), output_topic(f"t{_uid()}.eos.bout", 3)
    _create_topics(kafka_bootstrap, 3, source.name, target.name)
    inputs = _produce_inputs(kafka_bootstrap, codec, source, 60)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(source.name, value=b"not a framed record", partition=2)  # poison: to the dead-letter topic
    assert producer.flush(TIMEOUT) == 0
    group = f"g{_uid()}"
    bus = tx_bus(kafka_bootstrap, registry_url)
    sizes: list[int] = []

    async def transform(events: list[Event[str, pe.AgentCreated]]) -> None:
        sizes.append(len(events))
        await bus.publish_many(target, [e.value for e in events], keys=[f"{e.partition}-{e.offset}" for e in events])

    handler = FunctionBatchHandler(source, transform, group=group, max_batch=8)
    runner = _eos_runner(kafka_bootstrap, registry, bus, handler)

    async def scenario() -> None:
        async with bus:
            task = asyncio.create_task(runner.run())
            try:
                deadline = time.monotonic() + TIMEOUT
                while not await asyncio.to_thread(_committed_everything, kafka_bootstrap, group, source.name):
                    assert not task.done(), task.exception()
                    assert time.monotonic() < deadline, "the runner did not commit everything in time"
                    await asyncio.sleep(0.2)
            finally:
                runner.stop()
                await asyncio.wait_for(task, TIMEOUT)

    run(scenario())
    assert keys(read_to_end(kafka_bootstrap, target.name, "read_committed")) == sorted(inputs)
    (letter,) = read_to_end(kafka_bootstrap, f"dlq.{source.name}", "read_committed")
    assert letter.value() == b"not a framed record"
    assert max(sizes) <= 8 and sum(sizes) == 60
    assert runner.metrics.dead_lettered == runner.metrics.poison == 1 and runner.metrics.handled == 60


def test_a_handler_error_aborts_the_transaction_stops_the_runner_and_a_restart_reprocesses(
    kafka_bootstrap: str, registry_url: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    from schemabus.runtime.consumer import HandlerFailedError

    source, target = agent_topic(f"t{_uid()}.eos.in", 2), output_topic(f"t{_uid()}.eos.out", 2)
    _create_topics(kafka_bootstrap, 2, source.name, target.name)
    inputs = _produce_inputs(kafka_bootstrap, codec, source, 40)
    group, txn_id = f"g{_uid()}", f"txn-{_uid()}"
    fail_on = {"0-15"}  # publishes its output, then raises

    async def run_once(failing: bool) -> BaseException | None:
        bus = tx_bus(kafka_bootstrap, registry_url, txn_id)

        async def transform(event: Event[str, pe.AgentCreated]) -> None:
            key = f"{event.partition}-{event.offset}"
            await bus.publish(target, event.value, key=key)
            if failing and key in fail_on:
                raise ValueError("the handler gives up after publishing")

        runner = _eos_runner(kafka_bootstrap, registry, bus, FunctionHandler(source, transform, group=group))
        async with bus:
            task = asyncio.create_task(runner.run())
            try:
                deadline = time.monotonic() + TIMEOUT
                while not task.done():
                    if await asyncio.to_thread(_committed_everything, kafka_bootstrap, group, source.name):
                        break
                    assert time.monotonic() < deadline, "the runner neither failed nor finished in time"
                    await asyncio.sleep(0.2)
            finally:
                runner.stop()
                outcome = await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), TIMEOUT)
        return outcome[0]

    error = run(run_once(failing=True))
    assert isinstance(error, HandlerFailedError) and isinstance(error.__cause__, ValueError)
    assert "0-15" not in keys(read_to_end(kafka_bootstrap, target.name, "read_committed"))  # aborted
    assert run(run_once(failing=False)) is None  # a restart handles the rest, the aborted ones included
    assert keys(read_to_end(kafka_bootstrap, target.name, "read_committed")) == sorted(inputs)  # exactly once


class EosWorker(WorkerProcess):
    """A tests/integration/eos_worker.py process."""

    def __init__(self, tmp: Path, label: str, bootstrap: str, registry_url: str, *args: str) -> None:
        super().__init__(tmp, label, "eos_worker.py", "--bootstrap", bootstrap, "--registry", registry_url, *args)

    def handled(self) -> list[str]:
        return [f"{p}-{o}" for p, o in self.handled_pairs()]


@pytest.fixture
def eos_workers() -> Iterator[list[EosWorker]]:
    started: list[EosWorker] = []
    yield started
    for worker in started:  # whatever a failed test left running
        if worker.alive():
            worker.process.kill()
            worker.process.wait(TIMEOUT)


def test_a_killed_exactly_once_consumer_writes_each_output_exactly_once_after_restart(
    kafka_bootstrap: str, registry_url: str, codec: RecordCodec, tmp_path: Path, eos_workers: list[EosWorker]
) -> None:
    source, target = agent_topic(f"t{_uid()}.eos.in", 3), output_topic(f"t{_uid()}.eos.out", 3)
    _create_topics(kafka_bootstrap, 3, source.name, target.name)
    inputs = _produce_inputs(kafka_bootstrap, codec, source, 150)
    group, txn_id = f"g{_uid()}", f"txn-{_uid()}"  # the restarted instance keeps its transactional id
    common = ("--topic", source.name, "--output", target.name, "--partitions", "3", "--group", group)
    common += ("--transactional-id", txn_id)

    first = EosWorker(
        tmp_path, "first", kafka_bootstrap, registry_url, *common, "--delay", "0.01", "--hang-after", "40"
    )
    eos_workers.append(first)
    wait_for(lambda: len(first.handled()) > 40 or not first.alive(), "the first worker to get stuck mid-record")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL, first.log_path.read_text()  # a transaction is open
    before = set(first.handled())
    assert before < inputs

    second = EosWorker(tmp_path, "second", kafka_bootstrap, registry_url, *common)
    eos_workers.append(second)
    wait_for(
        lambda: _committed_everything(kafka_bootstrap, group, source.name) or not second.alive(),
        "the second worker to commit everything",
    )
    assert second.stop() == 0, second.log_path.read_text()
    assert before | set(second.handled()) == inputs
    assert before & set(second.handled())  # some inputs were handled twice: their first outputs were written...

    committed = keys(read_to_end(kafka_bootstrap, target.name, "read_committed"))
    assert committed == sorted(inputs)  # ...yet a read_committed reader sees each output exactly once
    uncommitted = keys(read_to_end(kafka_bootstrap, target.name, "read_uncommitted"))
    assert len(uncommitted) > len(committed)  # at-least-once would have shown these duplicates


# --- real faults: partitions lost mid-transaction, a broker that stops answering a commit or an abort -----


# max.poll.interval.ms may not be below session.timeout.ms, whose broker minimum is 6 s.
_SHORT_POLL_INTERVAL = {"session.timeout.ms": 6000, "max.poll.interval.ms": 6000}


def test_partitions_lost_mid_transaction_abort_it_stop_the_runner_and_a_restart_does_the_work_once(
    kafka_bootstrap: str, registry_url: str, registry: ConfluentRegistry, codec: RecordCodec
) -> None:
    """A handler blocks the event loop past max.poll.interval.ms while a transaction is open: librdkafka
    leaves the group and reports the partition lost. The outputs already in the transaction cannot be
    committed with offsets the member no longer owns, so the runner aborts it and stops with a
    TransactionAbortedError; nothing of it is visible, and a restart produces each output once."""
    source, target = agent_topic(f"t{_uid()}.eos.in", 1), output_topic(f"t{_uid()}.eos.out", 1)
    _create_topics(kafka_bootstrap, 1, source.name, target.name)
    inputs = _produce_inputs(kafka_bootstrap, codec, source, 3)
    group, txn_id = f"g{_uid()}", f"txn-{_uid()}"

    def runner_for(bus: KafkaBus, stall: bool) -> ConsumerRunner:
        stalled: list[str] = []

        async def transform(event: Event[str, pe.AgentCreated]) -> None:
            key = f"{event.partition}-{event.offset}"
            await bus.publish(target, event.value, key=key)
            if stall and event.offset == 1 and not stalled:
                stalled.append(key)
                time.sleep(8)  # a synchronous call: the event loop, and so the consumer's polls, stop

        # No commit point during the stall: the one transaction holds every record handled.
        interval = 3600 if stall else 0.2
        handler = FunctionHandler(source, transform, group=group)
        return _eos_runner(
            kafka_bootstrap, registry, bus, handler, commit_interval=interval, extra_config=_SHORT_POLL_INTERVAL
        )

    async def stalled_run() -> BaseException | None:
        bus = tx_bus(kafka_bootstrap, registry_url, txn_id)
        runner = runner_for(bus, stall=True)
        async with bus:
            outcome = await asyncio.wait_for(asyncio.gather(runner.run(), return_exceptions=True), TIMEOUT)
        return outcome[0]

    error = run(stalled_run())
    assert isinstance(error, TransactionAbortedError), repr(error)
    assert "partitions were lost without a revocation" in str(error) and error.retriable
    assert read_to_end(kafka_bootstrap, target.name, "read_committed") == []  # aborted: nothing visible
    assert len(read_to_end(kafka_bootstrap, target.name, "read_uncommitted")) >= 2  # though written

    async def restarted() -> None:
        bus = tx_bus(kafka_bootstrap, registry_url, txn_id)
        runner = runner_for(bus, stall=False)
        async with bus:
            task = asyncio.create_task(runner.run())
            try:
                deadline = time.monotonic() + TIMEOUT
                while not await asyncio.to_thread(_committed_everything, kafka_bootstrap, group, source.name):
                    assert not task.done(), task.exception()
                    assert time.monotonic() < deadline, "the restarted runner did not commit everything in time"
                    await asyncio.sleep(0.2)
            finally:
                runner.stop()
                await asyncio.wait_for(task, TIMEOUT)

    run(restarted())
    assert keys(read_to_end(kafka_bootstrap, target.name, "read_committed")) == sorted(inputs)  # each once


def test_a_commit_the_frozen_broker_never_answers_has_an_unknown_outcome_and_a_new_producer_settles_it(
    fault_servers: FaultServers,
) -> None:
    """The broker stops answering while a transaction commits: the commit keeps timing out (retriable)
    until the transaction timeout; librdkafka then refuses an abort, so the outcome is unknown. The bus
    says so (TransactionOutcomeUnknownError, possibly persisted) and replaces its producer; once the
    broker answers again, the next transaction initializes the new producer, which settles the old
    transaction, and commits. The record of the unknown transaction is visible at most once."""
    bootstrap = fault_servers.bootstrap
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(bootstrap, fault_servers.registry_url, transaction_timeout_ms=2000)
    bus.ensure_topics([topic])

    async def scenario() -> tuple[TransactionOutcomeUnknownError, Any, DeliveryResult]:
        async with bus:
            async with bus.transaction():
                await bus.publish(topic, agent_created(0), key="committed-before")
            old = bus.producer
            # The broker answers again when the ExitStack ends, after the failed commit.
            with contextlib.ExitStack() as thaw, pytest.raises(TransactionOutcomeUnknownError) as unknown:
                async with bus.transaction():
                    await bus.publish(topic, agent_created(1), key="unknown")  # acknowledged: in the log
                    thaw.enter_context(frozen(fault_servers.kafka))  # then the commit gets no answer
            deadline = time.monotonic() + TIMEOUT
            while bus.producer is old:
                assert time.monotonic() < deadline, "the producer was not replaced; threads:\n" + _thread_stacks()
                await asyncio.sleep(0.05)
            async with bus.transaction():
                after = await bus.publish(topic, agent_created(2), key="committed-after")
            return unknown.value, old, after

    error, _, after = run(scenario())
    assert error.possibly_persisted and not error.retriable and "may have committed or not" in str(error)
    assert after.topic == topic.name
    seen = keys(read_to_end(bootstrap, topic.name, "read_committed"))
    assert seen in (["committed-after", "committed-before"], ["committed-after", "committed-before", "unknown"])


def test_an_abort_the_frozen_broker_never_answers_is_noted_on_the_error_and_a_new_producer_goes_on(
    fault_servers: FaultServers,
) -> None:
    """The transaction's block raises while the broker stops answering: the abort times out, the error
    the block raised gets a note saying so (the caller still sees its own error), and the producer
    is replaced; its initialization aborts the old transaction at the coordinator, so its record is
    never visible, and the next transaction commits."""
    bootstrap = fault_servers.bootstrap
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(bootstrap, fault_servers.registry_url, transaction_timeout_ms=2000)
    bus.ensure_topics([topic])

    async def scenario() -> list[str]:
        async with bus:
            old = bus.producer
            # The broker answers again when the ExitStack ends, after the failed abort.
            with contextlib.ExitStack() as thaw, pytest.raises(RuntimeError, match="boom") as info:
                async with bus.transaction():
                    await bus.publish(topic, agent_created(0), key="aborted")  # acknowledged: in the log
                    thaw.enter_context(frozen(fault_servers.kafka))
                    raise RuntimeError("boom")
            deadline = time.monotonic() + TIMEOUT
            while bus.producer is old:
                assert time.monotonic() < deadline, "the producer was not replaced; threads:\n" + _thread_stacks()
                await asyncio.sleep(0.05)
            async with bus.transaction():
                await bus.publish(topic, agent_created(1), key="committed-after")
            return getattr(info.value, "__notes__", [])

    notes = run(scenario())
    assert any("aborting the transaction failed too" in note and "cannot abort" in note for note in notes), notes
    assert keys(read_to_end(bootstrap, topic.name, "read_committed")) == ["committed-after"]
    assert keys(read_to_end(bootstrap, topic.name, "read_uncommitted")) == ["aborted", "committed-after"]


def test_a_transactional_bus_whose_cluster_cannot_be_reached_fails_its_async_with_and_is_closed() -> None:
    """``async with bus`` initializes transactions; when that fails (no broker within the transaction
    timeout) the bus is closed again and the error is typed."""
    bus = tx_bus(f"127.0.0.1:{_closed_port()}", "http://127.0.0.1:1", transaction_timeout_ms=1000)

    async def scenario() -> None:
        async with bus:
            raise AssertionError("the block must not run")

    started = time.monotonic()
    with pytest.raises(TransactionError, match="cannot initialize transactions") as info:
        run(scenario())
    assert time.monotonic() - started < 15
    assert info.value.retriable and info.value.code == "_TIMED_OUT"
    with pytest.raises(PublishError, match="the bus is closed"):
        run(bus.publish(fresh(pe.AGENT_LIFECYCLE_CREATED), agent_created(0), key="x"))


def test_read_events_returns_every_committed_record_decoded_and_none_of_an_aborted_transaction(
    kafka_bootstrap: str, registry_url: str
) -> None:
    """``read_events`` (how a service restores its state from a topic) reads a keyed topic to its end:
    typed keys and values with their partitions and offsets, the records of a committed transaction,
    not those of an aborted one, and nothing after the call began; a missing topic is a LookupError."""
    topic = fresh(pe.AGENT_LIFECYCLE_CREATED)
    bus = tx_bus(kafka_bootstrap, registry_url)
    bus.ensure_topics([topic])

    async def scenario() -> None:
        async with bus:
            async with bus.transaction():
                for n in range(3):
                    await bus.publish(topic, agent_created(n), key=f"k{n}")
            with contextlib.suppress(RuntimeError):
                async with bus.transaction():
                    await bus.publish(topic, agent_created(9), key="aborted")
                    raise RuntimeError("abort it")
            async with bus.transaction():
                await bus.publish(topic, agent_created(3), key="k3")

    run(scenario())
    events = read_events(kafka_bootstrap, bus.codec, topic, timeout=TIMEOUT)
    assert sorted((e.key, e.value.creator_id) for e in events) == [(f"k{n}", f"user-{n}") for n in range(4)]
    assert all(e.topic == topic.name and e.offset >= 0 and e.partition >= 0 for e in events)
    assert all(isinstance(e.value, pe.AgentCreated) for e in events)
    with pytest.raises(LookupError, match="does not exist"):
        read_events(kafka_bootstrap, bus.codec, fresh(pe.AGENT_LIFECYCLE_CREATED), timeout=5)
