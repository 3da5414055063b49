"""Produce and delivery reports: the records handed to librdkafka and the futures of their outcome.

:class:`Delivery` owns the poll thread, the queue of delivery reports and their dispatch to each
future's event loop (or to the publishing thread serving its own reports inline), and the ``produce``
calls of the bus; :class:`Batch` collects the reports of one ``publish_many``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Producer

from ..bus import TopicEncoder
from ..config import ProducerSettings, redact
from ..errors import PublishError, TransactionAbortedError
from ..speedups import DeliveryCounter, Reports
from ..topic import DeliveryResult, Headers, Topic, normalize_headers
from .errors import PURGED_CODES, kafka_error, publish_error

if TYPE_CHECKING:
    from ..metrics.publishing import PublishMetrics, TopicPublishes
    from .health import Health
    from .replicas import ReplicaCheck
    from .transactions import Transactions

__all__ = ["INLINE_POLL_EVERY", "Batch", "Delivery", "Record", "Send"]

log = logging.getLogger("schemabus.kafka")

# (topic, value, key, headers) as produce() takes them.
Record = tuple[str, bytes | None, bytes | None, Any]
# Delivery.send: (encoder, topic, value, key, headers, on_delivery) -> None, or the record when the queue is full.
Send = Callable[[TopicEncoder, Topic[Any, Any], Any, Any, Headers | None, Any], Record | None]
# A delivery report: (future, error or None, message).
_Report = tuple[Any, KafkaError | None, Any]

# DeliveryResult((topic, partition, offset, timestamp)) without the named tuple's Python-level __new__.
_new_result: Callable[[tuple[str, int, int, int]], DeliveryResult] = partial(tuple.__new__, DeliveryResult)
_POLL_INTERVAL_S = 0.1  # the poll thread wakes at once for a delivery report; this bounds idle checks
# Under load the publishing thread polls every INLINE_POLL_EVERY records and resolves its own
# futures; the poll thread then stays out of its way for _INLINE_WINDOW_S.
INLINE_POLL_EVERY = 256
_INLINE_WINDOW_S = 0.01
# produce(topic, value, key, partition, on_delivery) positionally: a third faster per call than with
# keywords (confluent-kafka parses keywords into a dict). -1 is RD_KAFKA_PARTITION_UA: the partitioner picks.
_ANY_PARTITION = -1


class Batch:
    """The delivery reports of one ``publish_many``: the failures, and one future that is resolved (in
    its loop) once every record sent has its report (see ``DeliveryCounter``). Made by :meth:`Delivery.batch`."""

    def __init__(
        self,
        delivery: Delivery,
        health: Health,
        loop: asyncio.AbstractEventLoop,
        topic: str,
        stats: TopicPublishes | None = None,
    ) -> None:
        self.future: asyncio.Future[None] = loop.create_future()
        self.failed: list[tuple[bytes | None, bytes | None, PublishError]] = []
        self._delivery = delivery
        self._health = health
        self._loop = loop
        self._topic = topic
        self.sent = 0
        # With metrics, the counter bins each record's latency itself (in C): no Python call per record.
        self._stats = stats
        bounds = None if stats is None else stats.latency.bounds
        self.counter = DeliveryCounter(self._failed, self._finish, bounds)

    def seal(self, sent: int) -> None:
        """``publish_many`` sent its last record (``sent`` in all)."""
        self.sent = sent
        self.counter.seal(sent)

    def _failed(self, error: KafkaError, message: Any) -> None:
        try:
            reason = self._delivery.delivery_error(error, self._topic, partition=message.partition())
        except Exception as e:  # never lose a failure: it would be counted as a success
            reason = PublishError(self._topic, f"{error.name()}: {e}", code=error.name())
        self.failed.append((message.key(), message.value(), reason))

    def _finish(self) -> None:
        stats = self._stats
        if stats is not None:  # every report is in: count the batch once
            latencies = self.counter.latencies()
            if latencies is not None:
                stats.add_batch(*latencies, failed=len(self.failed))
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(None)
        health = self._health
        if health.down_since is not None and len(self.failed) < self.sent:
            health.recovered("a record was acknowledged")

    def positions(
        self, encoded: list[tuple[bytes, bytes | None]], sent: int, unsent: PublishError | None
    ) -> dict[int, PublishError]:
        """Each failure by its position in the batch: a failed report carries the record's bytes, and
        records with the same key and value bytes are interchangeable."""
        where: dict[tuple[bytes | None, bytes | None], deque[int]] = {}
        for i in range(sent):
            value_bytes, key_bytes = encoded[i]
            where.setdefault((key_bytes, value_bytes), deque()).append(i)
        out: dict[int, PublishError] = {}
        for failed_key, failed_value, error in self.failed:
            queue = where.get((failed_key, failed_value))
            if queue:
                out[queue.popleft()] = error
        if unsent is not None:
            for i in range(sent, len(encoded)):
                out[i] = unsent.for_topic(unsent.topic, possibly_persisted=False)
        return out


class Delivery:
    """Hands records to the producer of ``health`` and their delivery reports to their futures.

    librdkafka calls back in whichever thread polls: a publishing thread serving its own reports
    (:meth:`serve_inline`) resolves its futures at once; other reports are queued, and handed to their
    futures' loops in batches (:meth:`dispatch`) by the poll thread (:meth:`start`) or whoever polls.
    ``callback_for(future)`` (an asyncio future; see ``speedups.Reports``) and ``partial(delivered_elsewhere,
    future)`` (any other future) are the delivery callbacks of a record; ``send`` is the one path of a
    publish. With ``metrics``, every delivery report is counted there before its future is resolved.
    """

    def __init__(
        self,
        health: Health,
        transactions: Transactions,
        settings: ProducerSettings,
        secrets: list[str],
        replicas: ReplicaCheck,
        metrics: PublishMetrics | None = None,
    ) -> None:
        self._health = health
        self._replicas = replicas
        self._transactions = transactions
        self._settings = settings
        self._secrets = secrets
        self._transactional = settings.transactional_id is not None

        self._done: deque[_Report] = deque()  # reports of futures of no event loop (publish_sync)
        append = self._done.append

        def delivered_elsewhere(future: Any, error: KafkaError | None, message: Any) -> None:
            append((future, error, message))

        self._metrics = metrics
        observe = None if metrics is None else metrics.observer()
        # The reports of asyncio futures (see speedups.Reports): compiled, a callback per record costs
        # no Python call; with metrics every report is counted (observe) before its future is resolved.
        self._reports = reports = Reports(DeliveryResult, self._failed, observe)
        self.callback_for: Callable[[asyncio.Future[DeliveryResult]], Any] = reports.callback
        if observe is not None:
            observed = observe

            def delivered_elsewhere_observed(future: Any, error: KafkaError | None, message: Any) -> None:
                observed(error, message)
                append((future, error, message))

            self.delivered_elsewhere = delivered_elsewhere_observed
        else:
            self.delivered_elsewhere = delivered_elsewhere
        self._dispatch_lock = threading.Lock()
        self._inline_until = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schemabus-kafka-poll", daemon=True)
        self.send: Send = self._sender()

    # --- produce ----------------------------------------------------------------------------

    def _sender(self) -> Send:
        # A closure rather than a method: the hot path reads the health's state through a local name,
        # as fast as a read of its own attributes (publish_nowait calls it once per record).
        health = self._health
        produce_error = self.produce_error

        def send(
            encoder: TopicEncoder, topic: Topic[Any, Any], value: Any, key: Any, headers: Headers | None, callback: Any
        ) -> Record | None:
            """The one path of a publish: refuse (the bus is closed or failing), encode, ``produce``. None
            once enqueued; the encoded record when the local queue is full (the caller waits for room)."""
            failure = health.failure
            if failure is not None or health.closed:
                raise health.refusal(topic.name, failure)
            name = topic.name
            value_bytes = encoder[0](value)  # .value and .key: indexing is the faster read of a NamedTuple
            key_bytes = None if key is None else encoder[1](key)
            wire_headers: Any = None if headers is None else normalize_headers(headers)
            try:
                if wire_headers is None:
                    health.producer.produce(name, value_bytes, key_bytes, _ANY_PARTITION, callback)
                else:
                    health.producer.produce(name, value_bytes, key_bytes, on_delivery=callback, headers=wire_headers)
            except BufferError:
                return (name, value_bytes, key_bytes, wire_headers)
            except KafkaException as e:
                raise produce_error(e, name) from None
            return None

        return send

    def produce(self, record: Record, callback: Any) -> bool:
        """Enqueue one record unless the bus is closed or failing; False when the local queue is full."""
        health = self._health
        failure = health.failure
        if failure is not None or health.closed:
            raise health.refusal(record[0], failure)
        return self.enqueue(health.producer, record, callback)

    def enqueue(self, producer: Producer, record: Record, callback: Any) -> bool:
        """``produce`` one record encoded already (a batch's, or one waiting for room). False when the
        local queue is full; a refusal raises typed."""
        try:
            if record[3] is None:
                producer.produce(record[0], record[1], record[2], _ANY_PARTITION, callback)
            else:
                producer.produce(record[0], record[1], record[2], on_delivery=callback, headers=record[3])
        except BufferError:
            return False
        except KafkaException as e:
            raise self.produce_error(e, record[0]) from None
        return True

    def batch(self, loop: asyncio.AbstractEventLoop, topic: str) -> Batch:
        """The collector of one ``publish_many``'s delivery reports (its ``counter`` is their callback)."""
        metrics = self._metrics
        return Batch(self, self._health, loop, topic, None if metrics is None else metrics.topic(topic))

    # --- errors -----------------------------------------------------------------------------

    def produce_error(self, e: KafkaException, topic: str) -> PublishError:
        """What a ``produce`` refused with raises."""
        health = self._health
        error = kafka_error(e)
        if error is None:
            return PublishError(topic, redact(str(e), self._secrets))
        if (error.fatal() or error.code() == KafkaError._FATAL) and health.fatal is None:
            health.on_error(error)
        failure = health.failure
        if error.code() == KafkaError._FATAL and failure is not None:  # the fatal error we know of, by name
            return failure.for_topic(topic, possibly_persisted=False)
        if self._transactional:
            refused = self._transactions.produce_refusal(error, topic)
            if refused is not None:
                return refused
        return self.delivery_error(error, topic, possibly_persisted=False)

    def delivery_error(
        self,
        error: KafkaError,
        topic: str,
        *,
        possibly_persisted: bool | None = None,
        partition: int | None = None,
    ) -> PublishError:
        """What the future of a record (of ``partition``, if known) whose delivery report is ``error``
        fails with. A timeout is explained when the cluster can say why: too few in-sync replicas, say."""
        code = error.code()
        text = redact(error.str(), self._secrets)
        if code == KafkaError._MSG_TIMED_OUT:
            return self._timed_out(error, topic, possibly_persisted, partition)
        if code in PURGED_CODES:
            reason = self._health.purge_reason or PublishError(topic, "purged before delivery", retriable=True)
            if self._transactional and not isinstance(reason, TransactionAbortedError):
                # On a transactional bus a purged record's transaction is aborted, whoever purged it
                # (an abort, a close, a fatal error, or librdkafka itself on an abortable error).
                reason = TransactionAbortedError(topic, f"the transaction was aborted: {reason.reason}", retriable=True)
            in_flight = code == KafkaError._PURGE_INFLIGHT and not isinstance(reason, TransactionAbortedError)
            return reason.for_topic(topic, possibly_persisted=in_flight)
        return publish_error(error, topic, text, possibly_persisted=possibly_persisted)

    def _timed_out(
        self, error: KafkaError, topic: str, possibly_persisted: bool | None, partition: int | None
    ) -> PublishError:
        health = self._health
        waited = f"not acknowledged within the delivery timeout ({self._settings.delivery_timeout_ms} ms)"
        shortage = None
        if health.down_since is None:  # the brokers answer: ask them what holds the partition back
            shortage = self._replicas.shortage(topic, None if partition is None or partition < 0 else partition)
        if shortage is not None:
            reason, name = f"{waited}: {shortage.text}", shortage.code
        else:
            last_transport = health.last_transport
            reason = waited + (f"; last broker error: {last_transport}" if last_transport else "")
            name = error.name()
        return PublishError(
            topic,
            reason,
            retriable=True,
            possibly_persisted=True if possibly_persisted is None else possibly_persisted,
            code=name,
        )

    # --- delivery reports -------------------------------------------------------------------

    def serve_inline(self, loop: asyncio.AbstractEventLoop | None, timeout: float = 0) -> None:
        """Serve delivery reports in the publishing thread (as librdkafka advises: poll after produce);
        the poll thread stands aside meanwhile. The futures of ``loop`` (running here) resolve at once."""
        self._inline_until = time.monotonic() + _INLINE_WINDOW_S
        if loop is None:
            self.poll(self._health.producer, timeout)
        else:
            reports = self._reports
            reports.serve(loop)
            try:
                self.poll(self._health.producer, timeout)
            finally:
                reports.serve(None)
        if self._done or self._reports:
            self.dispatch(loop)

    def poll(self, producer: Producer, timeout: float) -> None:
        """Serve delivery reports and callbacks. confluent-kafka raises librdkafka's fatal errors from
        ``poll`` (error_cb never sees them): they go to the health like any other."""
        try:
            producer.poll(timeout)
        except KafkaException as e:
            self._health.on_exception(e)

    def drain(self, old: Producer, deadline: float) -> None:
        """Until ``deadline``, purge a replaced producer and serve the delivery reports of its records."""
        while len(old) and time.monotonic() < deadline:
            old.purge(in_queue=True, in_flight=True, blocking=False)
            self.poll(old, 0.05)
            self.dispatch()

    def start(self) -> None:
        """Start the poll thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the poll thread (and wait for it, unless called from it)."""
        self._stopping.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        """The poll thread: serve delivery reports and errors, resolve futures, watch the cluster's health."""
        health = self._health
        while not self._stopping.is_set():
            try:
                if time.monotonic() < self._inline_until:
                    # A publishing thread serves delivery reports itself: no GIL ping-pong with it.
                    self._stopping.wait(_INLINE_WINDOW_S / 4)
                else:
                    self.poll(health.producer, _POLL_INTERVAL_S)
                if self._done or self._reports:
                    self.dispatch()
                health.housekeeping()
            except Exception:  # never let the thread die: every publish would then hang
                log.exception("schemabus Kafka poll thread: unexpected error")
                time.sleep(_POLL_INTERVAL_S)

    def dispatch(self, here: asyncio.AbstractEventLoop | None = None) -> None:
        """Hand finished delivery reports to their futures' event loops, one batch per loop; the
        batch of ``here`` (the loop running in this thread) is resolved at once."""
        with self._dispatch_lock:
            reports = self._reports
            batches = reports.take() if reports else {}
            done = self._done
            sync = []
            pop = done.popleft
            try:
                while True:
                    sync.append(pop())
            except IndexError:
                pass
            for loop, batch in batches.items():
                if loop is here:
                    reports.resolve(batch)
                    continue
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                    loop.call_soon_threadsafe(reports.resolve, batch)
            for future, error, message in sync:
                self._resolve_elsewhere(future, error, message)
        health = self._health
        if health.down_since is not None and any(item[1] is None for b in batches.values() for item in b):
            health.recovered("a record was acknowledged")

    def _failed(self, future: Any, error: KafkaError, message: Any) -> None:
        """Fail the future of a record whose delivery report is ``error``."""
        future.set_exception(self.delivery_error(error, message.topic() or "", partition=message.partition()))

    def _resolve_elsewhere(self, future: Any, error: KafkaError | None, message: Any) -> None:
        """Resolve the future of a record published from a thread without an event loop."""
        if future.done():  # cancelled by its caller
            return
        if error is None:
            future.set_result(
                _new_result((message.topic(), message.partition(), message.offset(), message.timestamp()[1]))
            )
        else:
            self._failed(future, error, message)
