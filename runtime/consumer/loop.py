"""The loop of one handler: its confluent Consumer on a thread of its own (polls, commits, rebalance
callbacks), fetching within the in-flight bound (back-pressure), one worker per assigned partition
handling its records in order, and the commits of what they finished."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from ..config import redact, secret_values
from ..dlq import HEADER_REASON, DeadLetterError, DeadLetterWriter, dead_letter_of
from ..errors import AuthenticationError, AuthorizationError, PublishError
from ..handler import (
    AnyHandler,
    BatchFailedError,
    BatchHandler,
    FunctionBatchHandler,
    FunctionHandler,
    Handler,
    consumer_group,
)
from ..kafka.errors import AUTHENTICATION_CODES, AUTHORIZATION_CODES
from ..kafka_logging import librdkafka_logger
from ..topic import Event, Topic, event_of
from .lag import PartitionLag, partition_lags
from .partition import OffsetTracker, PartitionState, offsets_to_commit
from .policy import DeadLetter, Retry, Stop, on_handler_error, on_undecodable

if TYPE_CHECKING:
    from ..metrics import Histogram
    from ..metrics.consuming import LoopRegistration
    from .runner import ConsumerRunner

__all__ = ["ConsumerMetrics", "HandlerLoop", "where"]

log = logging.getLogger("schemabus.consumer")


# librdkafka errors after which the cluster may be unreachable (each checked with a metadata request).
_CONNECTION_LOST = frozenset({KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE})


class _GaveWay(enum.Enum):
    GAVE_WAY = "gave way"


# What waiting for the registry returns when the runner stops or the partition goes meanwhile.
GAVE_WAY = _GaveWay.GAVE_WAY


@dataclass
class ConsumerMetrics:
    """Counters of one handler's consumer (or their sum across handlers)."""

    consumed: int = 0  # records fetched
    handled: int = 0  # records the handler finished without error
    retried: int = 0  # handler retries (attempts after the first)
    dead_lettered: int = 0  # records written to the dead-letter topic (poison included)
    poison: int = 0  # of those, records that could not be decoded
    committed: int = 0  # partition offsets committed
    rebalances: int = 0  # assignment changes (assigned, revoked or lost)
    # dead_lettered by the reason the dead letter carries (handler-error, or the poison reason)
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: ConsumerMetrics) -> ConsumerMetrics:
        reasons = dict(self.dead_letter_reasons)
        for reason, n in other.dead_letter_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
        counts: dict[str, Any] = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "dead_letter_reasons"
        }
        return ConsumerMetrics(**counts, dead_letter_reasons=reasons)


class HandlerLoop:
    """One handler: its confluent Consumer (used on one thread only), its partitions and their workers.
    It runs until ``stop`` is set (or it fails: then it stops the runner)."""

    transactional = False  # exactly-once mode: a handler error stops the runner (policy.on_handler_error)

    def __init__(
        self, runner: ConsumerRunner, handler: AnyHandler, writer: DeadLetterWriter | None, stop: asyncio.Event
    ) -> None:
        self.runner = runner
        self.stop = stop
        self.handler = handler
        self.topic: Topic[Any, Any] = handler.topic
        # The callable the partition workers await: the handler's function or method itself when its
        # __call__ only forwards to it (one coroutine per record fewer).
        self.batch = isinstance(handler, BatchHandler | FunctionBatchHandler)
        self.call: Callable[[Any], Awaitable[None]] = _direct(handler)
        self._decode_value = runner.codec.value_decoder(self.topic)
        self.group = consumer_group(handler, runner.service)
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"schemabus-{self.group}")
        self.consumer: Consumer | None = None
        self.partitions: dict[int, PartitionState] = {}
        # partition -> why it waits for the schema registry (read by the runner's health)
        self.waiting: dict[int, str] = {}
        self.metrics = ConsumerMetrics()
        self.failure: BaseException | None = None
        self.paused = False
        self.in_flight = 0  # records dispatched to a partition worker and not finished (or dropped)
        self._room_at = -1  # while the poll loop waits for room: wake it when in_flight gets down to this
        self._room_event = asyncio.Event()
        self._fatal: KafkaError | None = None
        self._refused: PublishError | None = None  # the brokers refused our credentials
        # Set by a lost connection, cleared by the next sign of life (a record, a metadata answer); past
        # ConsumerSettings.cluster_down_timeout the runner is not ready and says so once.
        self.down_since: float | None = None
        self.cycle_since: float | None = None  # when the consumer thread's current round began
        self._down_reported = False
        self._next_probe = 0.0
        self._watch: asyncio.TimerHandle | None = None  # the once-a-second _watch_tick
        self._secrets = secret_values(runner.config)
        # With metrics: where the handler's durations go (None: the handler is not timed).
        self.registration: LoopRegistration | None = None
        self.durations: Histogram | None = None
        sink = runner.metrics_sink
        if sink is not None:
            self.registration = sink.consuming.register(self.topic.name, self.group, self.metrics, self._in_flight)
            self.durations = self.registration.durations

    def _in_flight(self) -> int:
        return self.in_flight

    # --- the consumer thread -------------------------------------------------------------------

    def _create(self) -> Consumer:
        conf = self.runner.consumer_config(self.handler)
        sink = self.runner.metrics_sink
        if sink is not None and "statistics.interval.ms" not in conf:
            conf.update(sink.client_config(self.group))
        conf.setdefault("error_cb", self._on_error)
        conf.setdefault("logger", librdkafka_logger())  # librdkafka's lines, each condition once
        consumer: Consumer = self.runner.consumer_factory(conf)  # or one that quacks alike (in memory)
        consumer.subscribe(
            [self.topic.name], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        return consumer

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error_cb. A refused login is reported here only (not fatal, again on every
        reconnect): it stops the handler with an :class:`AuthenticationError`, as a fatal error does."""
        text = redact(error.str(), self._secrets)
        if error.fatal():
            self._fatal = error
        elif error.code() in _CONNECTION_LOST:
            # A suspicion only: _watch_cluster's metadata probe clears it when any broker answers.
            if self.down_since is None:
                self.down_since = time.monotonic()
        elif error.code() in AUTHENTICATION_CODES and self._refused is None:
            self._refused = AuthenticationError(self.topic.name, f"authentication failed: {text}", code=error.name())
        librdkafka_logger().warning("%s: %s", self.group, text)  # each condition once a minute

    def _on_loop(self, coro: Any, timeout: float) -> Any:
        """Run ``coro`` on the event loop from the consumer thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self._on_loop(self._assigned([tp.partition for tp in partitions]), self.runner.revoke_timeout)
        except Exception:  # an exception here would surface from poll(); log it instead
            log.exception("%s: on_assign failed", self.group)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            offsets = self._on_loop(
                self._revoked([tp.partition for tp in partitions], lost=False), self.runner.revoke_timeout + 5.0
            )
            committed = self._commit(offsets)  # still assigned: librdkafka unassigns after this callback
            self.loop.call_soon_threadsafe(self._count_commits, len(committed))
        except Exception:
            log.exception("%s: on_revoke failed", self.group)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self._on_loop(self._revoked([tp.partition for tp in partitions], lost=True), self.runner.revoke_timeout)
        except Exception:
            log.exception("%s: on_lost failed", self.group)

    def _commit(self, offsets: list[TopicPartition]) -> list[TopicPartition]:
        if not offsets or self.consumer is None:
            return []
        try:
            result = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            log.warning("%s: commit failed (will retry): %s", self.group, e)
            return []
        ok = [tp for tp in result if tp.error is None]
        for tp in result:
            if tp.error is not None:
                log.warning("%s: commit of %s[%d] failed: %s", self.group, tp.topic, tp.partition, tp.error)
        return ok

    def _cycle(
        self, commits: list[TopicPartition], pause: bool | None, want: int
    ) -> tuple[list[TopicPartition], list[Message]]:
        """One round on the consumer thread: commit, pause or resume, then fetch up to ``want`` records."""
        consumer = self.consumer
        assert consumer is not None
        committed = self._commit(commits)
        if pause is not None:
            assignment = consumer.assignment()
            if assignment:
                (consumer.pause if pause else consumer.resume)(assignment)
        timeout = self.runner.poll_timeout
        if want <= 0:  # paused: poll only to serve rebalances (and stay in the group)
            message = consumer.poll(timeout)
            if message is None:
                return committed, []
            if message.error() is None:  # fetched before the pause: read it again after the resume
                try:
                    consumer.seek(TopicPartition(message.topic(), message.partition(), message.offset()))  # type: ignore[arg-type]
                    return committed, []
                except KafkaException:
                    pass
            return committed, [message]
        messages = consumer.consume(want, 0)
        if not messages:
            # consume() with a timeout waits for a full batch; poll() returns with the first record.
            message = consumer.poll(timeout)
            if message is not None:
                messages = [message]
                if want > 1:
                    messages.extend(consumer.consume(want - 1, 0))
        if self.down_since is not None:
            self._watch_cluster(consumer, bool(messages))
        return committed, messages

    def _watch_cluster(self, consumer: Consumer, fetched: bool) -> None:
        """After a lost connection: probe the cluster once a second (a metadata request) until a record
        or an answer shows that a broker is reachable again (the event loop reports the state)."""
        now = time.monotonic()
        if not fetched and now >= self._next_probe:
            self._next_probe = now + 1.0
            try:
                consumer.list_topics(self.topic.name, timeout=0.5)
                fetched = True
            except KafkaException:
                pass
        if fetched:
            self.down_since = None

    def unreachable_since(self) -> float | None:
        """Since when Kafka has not answered: a lost connection not cleared yet, or a round on the consumer
        thread that has not returned (a commit waits for the group's coordinator); or None."""
        since = [t for t in (self.down_since, self.cycle_since) if t is not None]
        return min(since) if since else None

    def _report_cluster(self, now: float) -> None:
        """Log once when the cluster has been unreachable for ``cluster_down_timeout``, once when it answers."""
        since = self.unreachable_since()
        if since is not None and not self._down_reported and now - since >= self.runner.settings.cluster_down_timeout:
            self._down_reported = True
            servers = self.runner.config.get("bootstrap.servers", "?")
            log.error(
                "%s: waiting for Kafka (%s) for %.0fs: no broker, or not the group's coordinator, answers "
                "(not ready until it does)",
                self.group,
                servers,
                now - since,
            )
        elif since is None and self._down_reported:
            self._down_reported = False
            log.warning("%s: the cluster answers again", self.group)

    def _close(self, commits: list[TopicPartition]) -> list[TopicPartition]:
        committed = self._commit(commits)
        if self.consumer is not None:
            self.consumer.close()  # leaves the group; on_revoke runs for what is still assigned
        return committed

    def _lag(self, timeout: float) -> list[PartitionLag]:
        consumer = self.consumer
        if consumer is None:
            return []
        assignment = consumer.assignment()
        if not assignment:
            return []
        return sorted(partition_lags(consumer, self.group, assignment, timeout), key=lambda p: p.partition)

    # --- the event loop ---------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.loop.run_in_executor(self.executor, fn, *args)

    async def lag(self, timeout: float) -> list[PartitionLag]:
        result: list[PartitionLag] = await self._call(self._lag, timeout)
        return result

    async def _room(self) -> bool:
        """Wait (without polling) until half the in-flight records are done; False after ``backpressure_wait``.

        Pausing makes librdkafka drop the records it prefetched, so a short wait is cheaper when handlers
        are fast; not polling for that long delays a rebalance by as much, and nothing else.
        """
        self._room_at = self.runner.max_in_flight // 2
        self._room_event.clear()
        try:
            await asyncio.wait_for(self._room_event.wait(), self.runner.backpressure_wait)
            return True
        except TimeoutError:
            return False
        finally:
            self._room_at = -1

    async def run(self) -> None:
        runner = self.runner
        stop = self.stop
        self._watch = self.loop.call_later(1.0, self._watch_tick)
        try:
            self.consumer = await self._call(self._create)
            next_commit = 0.0
            max_in_flight = runner.max_in_flight
            while not stop.is_set() and self.failure is None:
                if self._fatal is not None:
                    raise KafkaException(self._fatal)
                if self._refused is not None:
                    raise self._refused
                if self.in_flight >= max_in_flight and not self.paused and not await self._room():
                    # Still full: pause fetching (librdkafka drops what it prefetched) and keep polling.
                    self.paused = True
                    log.debug("%s: %d records in flight: pausing", self.group, self.in_flight)
                pause: bool | None = None
                if self.paused:
                    if self.in_flight <= max_in_flight // 2:
                        pause = self.paused = False
                        log.debug("%s: %d records in flight: resuming", self.group, self.in_flight)
                    else:
                        pause = True  # partitions assigned since need pausing too
                now = time.monotonic()
                commits: list[TopicPartition] = []
                if now >= next_commit:
                    commits = await self._commit_point()
                    next_commit = now + runner.commit_interval
                want = 0 if self.paused else max_in_flight - self.in_flight
                self.cycle_since = time.monotonic()
                committed, messages = await self._call(self._cycle, commits, pause, want)
                self.cycle_since = None
                if self._down_reported:  # say at once that it answers again (the tick says when it stops)
                    self._report_cluster(time.monotonic())
                self._committed(committed)
                if messages:
                    self._dispatch(messages)
        finally:
            if self._watch is not None:
                self._watch.cancel()
            await self._shutdown()
        if self.failure is not None:
            raise self.failure

    def _watch_tick(self) -> None:
        """Once a second on the event loop, off the poll loop's path: report the cluster's state."""
        self._report_cluster(time.monotonic())
        self._watch = self.loop.call_later(1.0, self._watch_tick)

    def _dispatch(self, messages: list[Message]) -> None:
        partitions = self.partitions
        count = 0
        fed: set[PartitionState] = set()  # whose workers to wake, once each
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal() or error.code() == KafkaError._FATAL:  # a group consumer's fatal error comes here
                    raise KafkaException(error)
                if error.code() in AUTHORIZATION_CODES:  # no READ on the topic or the group: stop, loudly
                    text = redact(error.str(), self._secrets)
                    raise AuthorizationError(self.topic.name, f"not authorized: {text}", code=error.name())
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: %s", self.group, error.str())
                continue
            partition = partitions.get(message.partition())  # type: ignore[arg-type]
            if partition is None or partition.closing:
                continue  # revoked meanwhile: its next owner reads it from the committed offset
            partition.tracker.add(message.offset())  # type: ignore[arg-type]
            partition.queue.append(message)
            fed.add(partition)
            count += 1
        for partition in fed:
            partition.wake.set()
        self.in_flight += count
        self.metrics.consumed += count

    async def _commit_point(self) -> list[TopicPartition]:
        """The offsets to commit now (the transactional loop first lets every fetched record finish)."""
        return self._commits()

    def _commits(self) -> list[TopicPartition]:
        return offsets_to_commit(self.topic.name, self.partitions.values())

    def _committed(self, committed: list[TopicPartition]) -> None:
        for tp in committed:
            partition = self.partitions.get(tp.partition)
            if partition is not None:
                partition.committed = tp.offset
        self.metrics.committed += len(committed)

    async def _assigned(self, numbers: list[int]) -> None:
        self.metrics.rebalances += 1
        for number in numbers:
            if number not in self.partitions:
                partition = PartitionState(number)
                worker = self._work_batches if self.batch else self._work
                partition.task = asyncio.create_task(worker(partition), name=f"{self.group}[{number}]")
                self.partitions[number] = partition
        log.info("%s: assigned %s[%s]", self.group, self.topic.name, ",".join(map(str, sorted(numbers))))

    async def _revoked(self, numbers: list[int], *, lost: bool) -> list[TopicPartition]:
        """Stop the workers of revoked partitions; return the offsets to commit (none when lost)."""
        self.metrics.rebalances += 1
        gone = [self.partitions.pop(n) for n in numbers if n in self.partitions]
        for partition in gone:
            partition.closing = True
            self.in_flight -= len(partition.queue)
            partition.queue.clear()  # not started: the next owner reads them from the committed offset
            partition.wake.set()
        tasks = [p.task for p in gone if p.task is not None]
        if lost:
            for task in tasks:
                task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.runner.revoke_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        log.info(
            "%s: %s %s[%s]", self.group, "lost" if lost else "revoked", self.topic.name, ",".join(map(str, numbers))
        )
        if lost:
            return []
        return offsets_to_commit(self.topic.name, gone)

    def _count_commits(self, count: int) -> None:
        self.metrics.committed += count

    async def _shutdown(self) -> None:
        """Stop fetching (the caller did); finish fetched records; commit; close the consumer."""
        parts = list(self.partitions.values())
        for partition in parts:
            partition.closing = True
            partition.wake.set()
        tasks = [p.task for p in parts if p.task is not None]
        if tasks:
            if self.failure is not None:
                for task in tasks:
                    task.cancel()
            _, pending = await asyncio.wait(tasks, timeout=self.runner.shutdown_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            if self.consumer is not None:
                commits = self._commits()
                self.partitions.clear()  # so that on_revoke, run by close(), finds nothing left to do
                committed = await self._call(self._close, commits)
                self.metrics.committed += len(committed)
        finally:
            self.executor.shutdown(wait=False)
            if self.registration is not None:
                self.registration.retire()

    # --- handling one partition -----------------------------------------------------------------

    async def _work(self, partition: PartitionState) -> None:
        """Handle one partition's records in order. The fast path (decode, handler) is inlined here."""
        queue, wake, tracker = partition.queue, partition.wake, partition.tracker
        codec, topic, handler, metrics = self.runner.codec, self.topic, self.call, self.metrics
        durations, clock = self.durations, time.perf_counter
        decode_key, decode_value, name = codec.decode_key, self._decode_value, topic.name
        keyed = topic.key is not None
        try:
            while True:
                if not queue:
                    if partition.closing:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                message = queue.popleft()
                offset: int = message.offset()  # type: ignore[assignment]
                try:
                    try:
                        key = decode_key(topic, message.key()) if keyed else None
                        value = decode_value(message.value())
                    except Exception as e:
                        decoded = await self._undecodable(message, e, partition)
                        if decoded is None:  # a poison message, now in the dead-letter topic
                            tracker.done(offset)
                            continue
                        if decoded is GAVE_WAY:
                            return
                        key, value = decoded
                    headers = message.headers()
                    event = event_of(
                        name,
                        key,
                        value,
                        tuple(headers) if headers else (),  # type: ignore[arg-type]
                        message.partition(),  # type: ignore[arg-type]
                        offset,
                        message.timestamp()[1],
                    )
                    try:
                        if durations is None:
                            await handler(event)
                        else:  # the one test per record metrics cost when they are off
                            started = clock()
                            try:
                                await handler(event)
                            finally:
                                durations.observe_since(started)
                        metrics.handled += 1
                    except Exception as e:
                        await self._failed(message, event, e)
                finally:
                    self.in_flight -= 1
                    if self.in_flight <= self._room_at:
                        self._room_event.set()
                tracker.done(offset)
                if self._room_at >= 0 and self._room_event.is_set():
                    await self._let_poll()
        except Exception as e:
            self._stopping_on(e)

    async def _work_batches(self, partition: PartitionState) -> None:
        """Handle one partition's records in batches, in order: what is queued, up to the handler's
        ``max_batch``, decoded (a poison record goes to the dead-letter topic alone, at once), then the
        batch handler on their events; the offsets become committable as the handler finishes them."""
        queue, wake, tracker = partition.queue, partition.wake, partition.tracker
        max_batch: int = self.handler.max_batch  # type: ignore[union-attr]
        try:
            while True:
                if not queue:
                    if partition.closing:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                taken = 0  # records popped from the queue (in flight until the batch is over)
                messages: list[Message] = []
                events: list[Event[Any, Any]] = []
                try:
                    while queue and len(events) < max_batch:
                        popped, failed = self._decode_batch(queue, max_batch, messages, events)
                        taken += popped
                        if failed is None:
                            continue
                        message, error = failed
                        decoded = await self._undecodable(message, error, partition)
                        if decoded is None:  # a poison message, now in the dead-letter topic
                            tracker.done(message.offset())  # type: ignore[arg-type]
                            continue
                        if decoded is GAVE_WAY:
                            return
                        messages.append(message)
                        events.append(self._event(message, *decoded))
                    if events:
                        await self._handle_batch(messages, events, tracker)
                finally:
                    self.in_flight -= taken
                    if self.in_flight <= self._room_at:
                        self._room_event.set()
                if self._room_at >= 0 and self._room_event.is_set():
                    await self._let_poll()
        except Exception as e:
            self._stopping_on(e)

    def _decode_batch(
        self, queue: deque[Message], max_batch: int, messages: list[Message], events: list[Event[Any, Any]]
    ) -> tuple[int, tuple[Message, Exception] | None]:
        """Pop records off ``queue`` into ``messages`` and their events into ``events`` until it is empty,
        ``events`` holds ``max_batch``, or a record cannot be decoded; return how many were popped and
        the record that could not be decoded, with the error.

        The garbage collector is paused meanwhile (no await here, so no other code of the event loop
        runs; threads are paused from collecting only): the batch's models all outlive their
        allocation, and CPython would otherwise run a collection every 700 of their objects, and
        through them the whole heap now and then, which measured as slow as the decoding itself.
        """
        topic = self.topic
        decode_key, decode_value = self.runner.codec.decode_key, self._decode_value
        keyed = topic.key is not None
        event = self._event
        popped = 0
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            while queue and len(events) < max_batch:
                message = queue.popleft()
                popped += 1
                try:
                    key = decode_key(topic, message.key()) if keyed else None
                    value = decode_value(message.value())
                except Exception as e:
                    return popped, (message, e)
                messages.append(message)
                events.append(event(message, key, value))
            return popped, None
        finally:
            if collecting:
                gc.enable()

    def _event(self, message: Message, key: Any, value: Any) -> Event[Any, Any]:
        headers = message.headers()
        return event_of(
            self.topic.name,
            key,
            value,
            tuple(headers) if headers else (),  # type: ignore[arg-type]
            message.partition(),  # type: ignore[arg-type]
            message.offset(),  # type: ignore[arg-type]
            message.timestamp()[1],
        )

    @staticmethod
    async def _let_poll() -> None:
        """Let the poll loop, which waits for room, ask the consumer thread for the next records now,
        rather than once this worker has run out: a handler that does not suspend would otherwise
        keep the event loop until its queue is empty, and the fetch would not overlap the handling."""
        await asyncio.sleep(0)

    def _stopping_on(self, error: Exception) -> None:
        """A dead-letter write failed (or worse): stop everything without committing the record."""
        if self.failure is None:
            self.failure = error
        log.error("%s: stopping: %s", self.group, error)
        self.runner.stop()

    async def _handle_batch(
        self, messages: list[Message], events: list[Event[Any, Any]], tracker: OffsetTracker
    ) -> None:
        """The batch handler on ``events`` (of ``messages``), each offset done once its event is handled.

        When the handler raises :class:`BatchFailedError` naming index ``i``, the events before ``i`` are
        done and the policy (:func:`on_handler_error`, on the error it was raised from) decides about
        the rest: retry the handler on the events from ``i`` on, or give the event at ``i`` up (to the
        dead-letter topic, or stop) and go on with the events after it. Any other error leaves it
        unknown which event failed: the batch is retried as the policy says, then its events are
        handled one at a time (each a batch of one, retried as a single record is), so that only the
        events that fail alone are given up on.
        """
        metrics = self.metrics
        start, attempts, count = 0, 1, len(events)
        delays = self.runner.retry.delays()
        while start < count:
            batch = events[start:] if start else events
            try:
                await self._call_handler(batch)
            except Exception as e:
                failing = _failing_index(e, len(batch))
                error: Exception = e
                if failing is not None:
                    cause = e.__cause__
                    error = cause if isinstance(cause, Exception) else e
                    for message in messages[start : start + failing]:
                        tracker.done(message.offset())  # type: ignore[arg-type]
                    metrics.handled += failing
                    if failing:  # progress: the policy starts over for the rest
                        start += failing
                        attempts, delays = 1, self.runner.retry.delays()
                at = where(messages[start]) if failing is not None else _span(messages[start:])
                decision = on_handler_error(
                    error,
                    attempts=attempts,
                    retry=self.runner.retry,
                    dead_letters=self.writer is not None,
                    transactional=self.transactional,
                    group=self.group,
                    where=at,
                )
                if isinstance(decision, Retry):
                    delay = next(delays)
                    log.info(
                        "%s: batch handler failed on %s (attempt %d, retrying in %.2fs): %r",
                        self.group,
                        at,
                        attempts,
                        delay,
                        error,
                    )
                    metrics.retried += 1
                    await asyncio.sleep(delay)
                    attempts += 1
                    continue
                if isinstance(decision, Stop) or failing is not None:
                    await self._give_up(messages[start], decision)  # raises on Stop
                    tracker.done(messages[start].offset())  # type: ignore[arg-type]
                    start += 1
                    attempts, delays = 1, self.runner.retry.delays()
                    continue
                # Which event failed is unknown: isolate it, handling the events one at a time.
                for message, event in zip(messages[start:], events[start:], strict=True):
                    try:
                        await self._call_handler([event])
                        metrics.handled += 1
                    except Exception as one:
                        await self._failed(message, [event], _cause_of(one))
                    tracker.done(message.offset())  # type: ignore[arg-type]
                return
            else:
                for message in messages[start:] if start else messages:
                    tracker.done(message.offset())  # type: ignore[arg-type]
                metrics.handled += len(batch)
                return

    async def _undecodable(
        self, message: Message, error: Exception, partition: PartitionState
    ) -> tuple[Any, Any] | _GaveWay | None:
        """Decode ``message`` again while :func:`on_undecodable` says retry (the registry is unreachable:
        the partition waits, up to ``registry_outage_limit``, and the runner is not ready meanwhile);
        None once it is dead-lettered (a poison message); :data:`GAVE_WAY` when the runner stops or the
        partition is revoked during the wait (the record stays uncommitted)."""
        retry, codec, topic = self.runner.retry, self.runner.codec, self.topic
        limit = self.runner.settings.registry_outage_limit
        started = time.monotonic()
        delay = retry.initial_backoff
        at = where(message)
        while True:
            waited = time.monotonic() - started
            decision = on_undecodable(
                error, waited=waited, limit=limit, dead_letters=self.writer is not None, group=self.group, where=at
            )
            if not isinstance(decision, Retry):
                break
            if partition.number not in self.waiting:  # logged once per outage, not per retry
                log.warning(
                    "%s: cannot decode %s, waiting up to %gs for the registry: %s", self.group, at, limit, error
                )
            self.waiting[partition.number] = f"{at} waits for the schema registry: {error}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), min(delay, max(limit - waited, 0.0)))
            if self.stop.is_set() or partition.closing:
                self.waiting.pop(partition.number, None)
                return GAVE_WAY
            delay = min(delay * retry.multiplier, retry.max_backoff)
            try:
                key = codec.decode_key(topic, message.key()) if topic.key is not None else None
                value = codec.decode_value(topic, message.value())
            except Exception as e:
                error = e
                continue
            log.warning(
                "%s: decoded %s after waiting %.1fs for the registry", self.group, at, time.monotonic() - started
            )
            self.waiting.pop(partition.number, None)
            return key, value
        self.waiting.pop(partition.number, None)
        await self._give_up(message, decision)
        return None

    async def _failed(self, message: Message, event: Event[Any, Any] | list[Event[Any, Any]], error: Exception) -> None:
        """Run the handler again on ``event`` (a batch handler: on ``[event]``) while
        :func:`on_handler_error` says retry, then dead-letter or stop."""
        retry = self.runner.retry
        delays = retry.delays()
        attempts = 1
        while True:
            decision = on_handler_error(
                error,
                attempts=attempts,
                retry=retry,
                dead_letters=self.writer is not None,
                transactional=self.transactional,
                group=self.group,
                where=where(message),
            )
            if not isinstance(decision, Retry):
                break
            delay = next(delays)
            log.info(
                "%s: %s failed (attempt %d, retrying in %.2fs): %r", self.group, where(message), attempts, delay, error
            )
            self.metrics.retried += 1
            await asyncio.sleep(delay)
            attempts += 1
            try:
                await self._call_handler(event)
            except Exception as e:
                error = _cause_of(e)
            else:
                self.metrics.handled += 1
                return
        await self._give_up(message, decision)

    async def _call_handler(self, event: Event[Any, Any] | list[Event[Any, Any]]) -> None:
        """The handler on ``event`` (a batch handler: on a list of events), timed when metrics are on (a
        record handler's retry: its first call is inlined in _work)."""
        durations = self.durations
        if durations is None:
            await self.call(event)
            return
        started = time.perf_counter()
        try:
            await self.call(event)
        finally:
            durations.observe_since(started)

    async def _give_up(self, message: Message, decision: DeadLetter | Stop) -> None:
        if decision.poison:
            self.metrics.poison += 1
        if isinstance(decision, Stop):
            raise decision.error
        await self._dead_letter(message, decision.error, attempts=decision.attempts)

    async def _dead_letter(self, message: Message, error: BaseException, *, attempts: int) -> None:
        writer = self.writer
        assert writer is not None  # without one, the policy stops instead
        record = dead_letter_of(message, group=self.group, error=error, attempts=attempts)
        log.warning("%s: %s -> %s: %r", self.group, where(message), record.topic, error)
        try:
            await writer.write_async(record)
        except DeadLetterError:
            raise
        except Exception as e:
            raise DeadLetterError(f"cannot write {where(message)} to {record.topic}: {e}") from e
        metrics = self.metrics
        metrics.dead_lettered += 1
        reason = (record.header(HEADER_REASON) or b"").decode(errors="replace")
        metrics.dead_letter_reasons[reason] = metrics.dead_letter_reasons.get(reason, 0) + 1


def _direct(handler: AnyHandler) -> Callable[[Any], Awaitable[None]]:
    """What to await for ``handler``: its function or ``handle`` method when ``__call__`` is the base
    class's (which only forwards to it), else the handler itself."""
    if isinstance(handler, FunctionHandler | FunctionBatchHandler) and type(handler).__call__ in (
        FunctionHandler.__call__,
        FunctionBatchHandler.__call__,
    ):
        return handler.fn
    if type(handler).__call__ is Handler.__call__:
        return handler.handle  # type: ignore[union-attr]
    if type(handler).__call__ is BatchHandler.__call__:
        return handler.handle_batch  # type: ignore[union-attr]
    return handler


def _failing_index(error: Exception, size: int) -> int | None:
    """The index a :class:`BatchFailedError` names in a batch of ``size`` (None: another error, or an
    index outside the batch, which names no event)."""
    if isinstance(error, BatchFailedError) and error.index < size:
        return error.index
    return None


def _cause_of(error: Exception) -> Exception:
    """The error a :class:`BatchFailedError` was raised from (a batch of one raises it too), else ``error``."""
    if isinstance(error, BatchFailedError) and isinstance(error.__cause__, Exception):
        return error.__cause__
    return error


def _span(messages: list[Message]) -> str:
    """Where a batch was read from: ``topic[partition]@first..last``."""
    first, last = messages[0], messages[-1]
    if first is last:
        return where(first)
    return f"{first.topic()}[{first.partition()}]@{first.offset()}..{last.offset()}"


def where(message: Message) -> str:
    """Where ``message`` was read from: ``topic[partition]@offset``."""
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"
