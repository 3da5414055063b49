"""The Kafka bus: publishes through an idempotent librdkafka producer, asyncio first.

A drop-in for :class:`~schemabus.runtime.testing.InMemoryBus` where publishing is concerned: the
same :class:`~schemabus.runtime.bus.RecordCodec` turns models into the same bytes (Confluent
framing, schema ids from the registry, generated codecs), and ``await bus.publish(...)`` returns
where the broker stored the record::

    async with KafkaBus.from_env() as bus:
        result = await AgentLifecycleCreatedPublisher(bus).publish(event, key=str(event.agent_id))

How it works: ``publish`` encodes (the topic's generated serde with the schema ids of its
subjects), calls ``producer.produce`` with a delivery callback and awaits an asyncio future. One
background thread polls the producer; it collects delivery reports and resolves their futures in
batches on each future's event loop (one ``call_soon_threadsafe`` per batch, not per record). Under
bulk load (``publish_nowait``) the publishing thread polls every 256 records itself and resolves its
own futures directly, and the poll thread stands aside meanwhile (no GIL ping-pong). Schema ids are
fetched once per topic (off the event loop) through :class:`~schemabus.runtime.registry.SchemaIds`,
the same cache :class:`~schemabus.runtime.bus.RecordCodec` uses: a warm publisher never calls the
registry, and the bytes are those of the in-memory bus.

Failures are typed (:mod:`schemabus.runtime.errors`) and reach the caller, never only a log:

- a record not acknowledged within ``delivery_timeout_ms``: ``PublishError(possibly_persisted=True)``;
- brokers refusing the credentials: ``AuthenticationError``; a missing ACL: ``AuthorizationError``;
- no broker reachable for ``broker_down_timeout_ms``: ``PublishError(code="_ALL_BROKERS_DOWN", retriable=True)``;
- a fatal librdkafka error: ``FatalProducerError``; the bus builds a new producer.

After an authentication, authorization or unreachable-cluster error, pending records still queued
fail with it and new ``publish`` calls fail at once, until a metadata probe reaches the cluster again.

A full local queue (``queue_max_messages``/``queue_max_kbytes``) is back-pressure: ``publish``
waits for room (without blocking the event loop) up to the delivery timeout, it never drops.
``flush`` and ``close`` deliver everything queued, or fail each record's future with the reason.

``publish_nowait`` is the fast path for bulk publishing (it returns the future without awaiting
it); ``publish_sync`` serves scripts without an event loop.

With ``ProducerSettings.transactional_id`` the bus is transactional: it publishes only inside
``async with bus.transaction()`` (or ``with bus.transaction_sync()``), whose records commit or abort
together; see :mod:`schemabus.runtime.transactions` for the guarantees. Without it nothing changes:
the transactional code is off the publishing path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from ..bus import RecordCodec, TopicEncoder
from ..config import (
    TYPED_PRODUCER_PROPERTIES,
    BusConfig,
    KafkaConfig,
    ProducerSettings,
    RegistryConfig,
    check_librdkafka,
    redact,
)
from ..errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigError,
    FatalProducerError,
    ProducerFencedError,
    PublishBatchError,
    PublishError,
    SchemabusError,
    TransactionAbortedError,
    TransactionError,
    TransactionOutcomeUnknownError,
    TransactionStateError,
)
from ..kafka_logging import librdkafka_logger
from ..registry import IdMode, SchemaIds, SchemaRegistry, SchemaVersion
from ..registry_client import ConfluentRegistry
from ..speedups import DeliveryCounter
from ..topic import DeliveryResult, Headers, Topic, normalize_headers
from ..transactions import Transaction, is_fenced
from .admin import ensure_topics
from .errors import (
    AUTHENTICATION_CODES,
    AUTHORIZATION_CODES,
    PURGED_CODES,
    error_text,
    fatal_failure,
    kafka_error,
    publish_error,
)

__all__ = ["KafkaBus", "ensure_topics"]

K = TypeVar("K")
V = TypeVar("V")

log = logging.getLogger("schemabus.kafka")
_rdkafka_log = librdkafka_logger()  # librdkafka's lines, each condition once (see kafka_logging)


# (topic, value, key, headers) as produce() takes them.
_Record = tuple[str, bytes | None, bytes | None, Any]

_get_running_loop = asyncio.get_running_loop
# DeliveryResult((topic, partition, offset, timestamp)) without the named tuple's Python-level __new__.
_new_result: Callable[[tuple[str, int, int, int]], DeliveryResult] = partial(tuple.__new__, DeliveryResult)
_POLL_INTERVAL_S = 0.1  # the poll thread wakes at once for a delivery report; this bounds idle checks
# Under load the publishing thread polls every _INLINE_POLL_EVERY records and resolves its own
# futures; the poll thread then stays out of its way for _INLINE_WINDOW_S.
_INLINE_POLL_EVERY = 256
# produce(topic, value, key, partition, on_delivery) positionally: a third faster per call than with
# keywords (confluent-kafka parses keywords into a dict). -1 is RD_KAFKA_PARTITION_UA: the partitioner picks.
_ANY_PARTITION = -1
_INLINE_WINDOW_S = 0.01
_PROBE_TIMEOUT_S = 1.0  # one metadata request while the cluster is unreachable
_DRAIN_OLD_PRODUCER_S = 5.0  # after a fatal error, how long the replaced producer may report its records
_TXN_RETRY_S = 0.1  # pause before retrying a transactional call that failed with a retriable error


class _Batch:
    """The delivery reports of one :meth:`KafkaBus.publish_many`: the failures, and one future that
    is resolved (in its loop) once every record sent has its report (see ``DeliveryCounter``)."""

    def __init__(self, bus: KafkaBus, loop: asyncio.AbstractEventLoop, topic: str) -> None:
        self.future: asyncio.Future[None] = loop.create_future()
        self.failed: list[tuple[bytes | None, bytes | None, PublishError]] = []
        self._bus = bus
        self._loop = loop
        self._topic = topic
        self.sent = 0
        self.counter = DeliveryCounter(self._failed, self._finish)

    def seal(self, sent: int) -> None:
        """``publish_many`` sent its last record (``sent`` in all)."""
        self.sent = sent
        self.counter.seal(sent)

    def _failed(self, error: KafkaError, message: Any) -> None:
        try:
            reason = self._bus._delivery_error(error, self._topic)
        except Exception as e:  # never lose a failure: it would be counted as a success
            reason = PublishError(self._topic, f"{error.name()}: {e}", code=error.name())
        self.failed.append((message.key(), message.value(), reason))

    def _finish(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(None)
        bus = self._bus
        if bus._down_since is not None and len(self.failed) < self.sent:
            bus._recovered("a record was acknowledged")

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


class KafkaBus:
    """Publishes typed records to Kafka. ``kafka`` and ``registry`` are configs (or a bootstrap string
    and a registry URL); ``registry`` may also be any :class:`SchemaRegistry` (e.g. a shared client).
    ``id_mode`` overrides ``RegistryConfig.schema_ids`` ("register" on first use, or "lookup" only;
    then ``RegistryConfig.schema_versions`` pins subjects to a version).
    """

    def __init__(
        self,
        kafka: KafkaConfig | str,
        registry: RegistryConfig | SchemaRegistry | str,
        *,
        producer: ProducerSettings | None = None,
        id_mode: IdMode | None = None,
    ) -> None:
        self.kafka = kafka if isinstance(kafka, KafkaConfig) else KafkaConfig(bootstrap_servers=kafka)
        self.settings = producer or ProducerSettings()
        if isinstance(registry, str):
            registry = RegistryConfig(url=registry)
        self._owns_registry = isinstance(registry, RegistryConfig)
        versions: Mapping[str, SchemaVersion] = {}
        if isinstance(registry, RegistryConfig):
            mode: IdMode = id_mode or registry.schema_ids
            versions = registry.schema_versions if mode == "lookup" else {}
            self.registry: SchemaRegistry = ConfluentRegistry(registry)
        else:
            mode = id_mode or "register"
            self.registry = registry
        self.codec = RecordCodec(SchemaIds(self.registry, mode, versions))
        self._secrets = self.kafka.secrets()
        self._delivery_timeout_s = self.settings.delivery_timeout_ms / 1000
        # The codec's bound serializers, read here without a call per record (the codec fills it).
        self._encoders = self.codec.encoders

        # Delivery reports. librdkafka calls back in whichever thread polls: a publishing thread serving
        # its own reports (inline) resolves its futures at once; other reports are queued, and handed
        # to their futures' loops in batches.
        self._done: deque[tuple[Any, KafkaError | None, Any]] = deque()
        append = self._done.append
        inline: list[tuple[int, asyncio.AbstractEventLoop] | None] = [None]
        get_ident = threading.get_ident
        resolve_one = self._resolve_one

        def delivered(future: asyncio.Future[DeliveryResult], error: KafkaError | None, message: Any) -> None:
            serving = inline[0]
            if serving is not None and serving[0] == get_ident() and future.get_loop() is serving[1]:
                resolve_one(future, error, message)
            else:
                append((future, error, message))

        def delivered_elsewhere(future: Any, error: KafkaError | None, message: Any) -> None:
            append((future, error, message))

        self._delivered = delivered
        self._delivered_elsewhere = delivered_elsewhere
        self._inline = inline
        self._dispatch_lock = threading.Lock()

        # Health: set by error_cb and the poll thread, read by every publish.
        self._state_lock = threading.Lock()
        self._failure: PublishError | None = None  # new publishes fail with this until it clears
        self._down_since: float | None = None  # first _ALL_BROKERS_DOWN not followed by a success
        self._last_transport: str | None = None
        self._purge_reason: PublishError | None = None
        self._purge_requested = False
        self._fatal: KafkaError | None = None
        self._rebuilds: list[float] = []
        self._replaced: Producer | None = None  # while the poll thread drains a producer it replaced
        self._closed = False
        self._since_poll = 0
        self._inline_until = 0.0
        self._stopping = threading.Event()
        self._probe: threading.Thread | None = None

        # Transactions (a transactional_id): see schemabus.runtime.transactions.
        self._transactional = self.settings.transactional_id is not None
        self._txn_timeout_s = self.settings.transaction_timeout_s
        self._txn_lock = asyncio.Lock()  # async transaction() callers wait here for their turn
        self._txn_sync_lock = threading.RLock()  # and transaction_sync() callers here (nesting: an error)
        self._txn_state = threading.Lock()  # guards _txn_open and _txn_ready
        self._txn_init = threading.Lock()
        self._txn_open = False
        self._txn_ready = False  # init_transactions done on the current producer
        self._txn_producer: Producer | None = None  # the producer the open (or last) transaction began on
        self._fenced: ProducerFencedError | None = None

        self._producer = self._new_producer()
        self._thread = threading.Thread(target=self._run, name="schemabus-kafka-poll", daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, config: BusConfig, *, registry: SchemaRegistry | None = None) -> KafkaBus:
        return cls(
            config.kafka,
            registry if registry is not None else config.registry,
            producer=config.producer,
            id_mode=config.registry.schema_ids,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, registry: SchemaRegistry | None = None) -> KafkaBus:
        """A bus configured by ``SCHEMABUS_*`` variables (see :mod:`schemabus.runtime.config`)."""
        return cls.from_config(BusConfig.from_env(environ), registry=registry)

    @property
    def producer(self) -> Producer:
        """The current librdkafka producer (replaced after a fatal error)."""
        return self._producer

    # --- publishing -------------------------------------------------------------------------

    async def publish(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult:
        """Encode and send ``value``; return where the broker stored it once it is acknowledged."""
        encoder = self._encoders.get(topic)
        if encoder is None:
            encoder = await asyncio.to_thread(self._warm_up, topic)
        future: asyncio.Future[DeliveryResult] = _get_running_loop().create_future()
        callback = partial(self._delivered, future)
        full = self._send(encoder, topic, value, key, headers, callback)
        if full is not None:
            await self._wait_for_room(full, callback)
        return await future

    def publish_nowait(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> asyncio.Future[DeliveryResult]:
        """Encode and enqueue ``value`` now; return the future of its delivery without awaiting it.

        For bulk publishing from a coroutine. Unlike :meth:`publish`, this may block the event
        loop: on the first record of a topic (schema ids; call :meth:`prepare` first to avoid it)
        and while the local queue is full (back-pressure, up to the delivery timeout).
        """
        encoder = self._encoders.get(topic) or self._warm_up(topic)
        loop = _get_running_loop()
        future: asyncio.Future[DeliveryResult] = loop.create_future()
        callback = partial(self._delivered, future)
        full = self._send(encoder, topic, value, key, headers, callback)
        if full is not None:
            self._wait_for_room_blocking(full, callback, loop)
        self._since_poll += 1
        if self._since_poll >= _INLINE_POLL_EVERY:
            self._serve_inline(loop)
        return future

    async def publish_many(
        self,
        topic: Topic[K, V],
        values: Iterable[V],
        *,
        keys: Iterable[K | None] | None = None,
        headers: Headers | None = None,
    ) -> int:
        """Publish every value (each with the key at the same position of ``keys``); return how many
        once the broker acknowledged them all.

        For bulk publishing: one future for the batch instead of one per record, so a record costs
        little more than encoding it and librdkafka's ``produce``. Every value and key is encoded
        before the first record is sent: one that cannot be encoded fails the call with nothing
        published. ``headers`` go with every record; order is kept per partition. When records
        fail, :class:`PublishBatchError` names them by position, once every other record of the
        batch was acknowledged or failed too; a batch refused before its first record was sent
        raises what :meth:`publish` would. Back-pressure as for :meth:`publish` (it waits for room
        without blocking the event loop); a large batch yields to other tasks every 256 records.
        """
        encoder = self._encoders.get(topic)
        if encoder is None:
            encoder = await asyncio.to_thread(self._warm_up, topic)
        encode_value, encode_key = encoder
        encoded: list[tuple[bytes, bytes | None]]
        if keys is None:
            encoded = [(encode_value(v), None) for v in values]
        else:
            encoded = [
                (encode_value(v), None if k is None else encode_key(k)) for v, k in zip(values, keys, strict=True)
            ]
        if not encoded:
            return 0
        name = topic.name
        loop = _get_running_loop()
        batch = _Batch(self, loop, name)
        callback = batch.counter
        wire_headers: Any = None if headers is None else normalize_headers(headers)
        sent = 0
        unsent: PublishError | None = None
        producer = self._producer
        try:
            for value_bytes, key_bytes in encoded:
                if self._failure is not None or self._closed or self._producer is not producer:
                    failure = self._failure
                    if failure is not None or self._closed:
                        raise self._refusal(name, failure)
                    producer = self._producer  # replaced after a fatal error, and healthy again
                record = (name, value_bytes, key_bytes, wire_headers)
                if not self._enqueue(producer, record, callback):
                    await self._wait_for_room(record, callback)
                sent += 1
                if not sent % _INLINE_POLL_EVERY:
                    self._serve_inline(loop)
                    await asyncio.sleep(0)  # let other tasks run between slices of a large batch
        except PublishError as e:
            unsent = e
        finally:
            batch.seal(sent)  # also when cancelled: the records sent are still delivered
        await batch.future
        if unsent is None and not batch.failed:
            return sent
        if sent == 0 and unsent is not None:
            raise unsent  # refused before anything was sent: as publish() would be
        failed = batch.positions(encoded, sent, unsent)
        if not failed:  # every failure report matched no record sent: cannot happen, but never raise empty
            log.error("publish_many to %s: %d failure reports matched no record", name, len(batch.failed))
            return sent
        raise PublishBatchError(name, failed, len(encoded))

    def _serve_inline(self, loop: asyncio.AbstractEventLoop | None, timeout: float = 0) -> None:
        """Serve delivery reports in the publishing thread (as librdkafka advises: poll after produce)."""
        self._since_poll = 0
        self._inline_until = time.monotonic() + _INLINE_WINDOW_S
        if loop is None:
            self._poll(self._producer, timeout)
        else:
            self._inline[0] = (threading.get_ident(), loop)
            try:
                self._poll(self._producer, timeout)
            finally:
                self._inline[0] = None
        if self._done:
            self._dispatch(loop)

    def publish_sync(
        self,
        topic: Topic[K, V],
        value: V,
        *,
        key: K | None = None,
        headers: Headers | None = None,
        timeout: float | None = None,
    ) -> DeliveryResult:
        """:meth:`publish` for scripts without an event loop: blocks until the broker acknowledged."""
        encoder = self._encoders.get(topic) or self._warm_up(topic)
        future: concurrent.futures.Future[DeliveryResult] = concurrent.futures.Future()
        callback = partial(self._delivered_elsewhere, future)
        full = self._send(encoder, topic, value, key, headers, callback)
        if full is not None:
            self._wait_for_room_blocking(full, callback)
        return self._result(future, topic.name, timeout)

    def send_bytes_sync(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Headers | None = None,
        timeout: float | None = None,
    ) -> DeliveryResult:
        """Produce bytes encoded already (a dead letter's original record, say) and block until the broker
        acknowledged them; in the open transaction on a transactional bus. ``value`` None is a tombstone."""
        failure = self._failure
        if failure is not None or self._closed:
            raise self._refusal(topic, failure)
        record = (topic, value, key, None if headers is None else normalize_headers(headers))
        future: concurrent.futures.Future[DeliveryResult] = concurrent.futures.Future()
        callback = partial(self._delivered_elsewhere, future)
        if not self._produce(record, callback):
            self._wait_for_room_blocking(record, callback)
        return self._result(future, topic, timeout)

    def _result(
        self, future: concurrent.futures.Future[DeliveryResult], topic: str, timeout: float | None
    ) -> DeliveryResult:
        """Block until the delivery report of a record produced from a thread without an event loop."""
        wait = self._delivery_timeout_s + 30 if timeout is None else timeout
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            raise PublishError(
                topic,
                f"no delivery report within {wait:g}s",
                retriable=True,
                possibly_persisted=True,
                code="_TIMED_OUT",
            ) from None

    async def prepare(self, *topics: Topic[Any, Any]) -> None:
        """Fetch (or register) the schema ids of ``topics`` now, off the event loop; a missing schema
        in lookup mode or an unreachable registry fails here rather than on the first publish."""
        for topic in topics:
            if topic not in self._encoders:
                await asyncio.to_thread(self._warm_up, topic)

    def _warm_up(self, topic: Topic[Any, Any]) -> TopicEncoder:
        """The topic's serializers bound to its schema ids (:meth:`RecordCodec.encoder`: the registry on
        first use): the hot path writes the bytes :class:`RecordCodec` writes, from its one cache."""
        if self._closed:  # its registry client is closed too: refuse as publish does, not with the client's error
            raise self._refusal(topic.name, self._failure)
        return self.codec.encoder(topic)

    def _send(
        self,
        encoder: TopicEncoder,
        topic: Topic[Any, Any],
        value: Any,
        key: Any,
        headers: Headers | None,
        callback: Any,
    ) -> _Record | None:
        """The one path of a publish: refuse (the bus is closed or failing), encode, ``produce``. None
        once enqueued; the encoded record when the local queue is full (the caller waits for room)."""
        failure = self._failure
        if failure is not None or self._closed:
            raise self._refusal(topic.name, failure)
        name = topic.name
        value_bytes = encoder[0](value)  # .value and .key: indexing is the faster read of a NamedTuple
        key_bytes = None if key is None else encoder[1](key)
        wire_headers: Any = None if headers is None else normalize_headers(headers)
        try:
            if wire_headers is None:
                self._producer.produce(name, value_bytes, key_bytes, _ANY_PARTITION, callback)
            else:
                self._producer.produce(name, value_bytes, key_bytes, on_delivery=callback, headers=wire_headers)
        except BufferError:
            return (name, value_bytes, key_bytes, wire_headers)
        except KafkaException as e:
            raise self._produce_error(e, name) from None
        return None

    def _produce(self, record: _Record, callback: Any) -> bool:
        """Enqueue one record unless the bus is closed or failing; False when the local queue is full."""
        failure = self._failure
        if failure is not None or self._closed:
            raise self._refusal(record[0], failure)
        return self._enqueue(self._producer, record, callback)

    def _enqueue(self, producer: Producer, record: _Record, callback: Any) -> bool:
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
            raise self._produce_error(e, record[0]) from None
        return True

    async def _wait_for_room(self, record: _Record, callback: Any) -> None:
        deadline = time.monotonic() + self._delivery_timeout_s
        delay = 0.0005
        while True:
            await asyncio.sleep(delay)
            if self._produce(record, callback):
                return
            if time.monotonic() > deadline:
                raise self._queue_full(record[0])
            delay = min(delay * 2, 0.02)

    def _wait_for_room_blocking(
        self, record: _Record, callback: Any, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Back-pressure for callers that may block: serve delivery reports here until there is room."""
        deadline = time.monotonic() + self._delivery_timeout_s
        delay = 0.0005
        while True:
            self._serve_inline(loop, delay)
            if self._produce(record, callback):
                return
            if time.monotonic() > deadline:
                raise self._queue_full(record[0])
            delay = min(delay * 2, 0.02)

    def _queue_full(self, topic: str) -> PublishError:
        s = self.settings
        return PublishError(
            topic,
            f"the local producer queue stayed full for {self._delivery_timeout_s:g}s "
            f"(queue_max_messages={s.queue_max_messages}, queue_max_kbytes={s.queue_max_kbytes})",
            retriable=True,
            code="_QUEUE_FULL",
        )

    # --- flush and close --------------------------------------------------------------------

    def flush_sync(self, timeout: float | None = None) -> int:
        """Wait until every queued record is acknowledged or failed; return how many are still queued
        (0 unless ``timeout`` passed first). Every future of a finished record is resolved."""
        producer = self._producer
        try:
            remaining = producer.flush(self._delivery_timeout_s + 5 if timeout is None else timeout)
        except KafkaException as e:  # a fatal error, raised from the poll inside flush
            self._kafka_exception(e)
            remaining = len(producer)
        self._dispatch()
        return remaining

    async def flush(self, timeout: float | None = None) -> int:
        """:meth:`flush_sync` without blocking the event loop."""
        return await asyncio.to_thread(self.flush_sync, timeout)

    def close_sync(self, timeout: float | None = None) -> None:
        """Deliver what is queued (up to ``timeout``, default the delivery timeout), fail the futures of
        what is left with ``PublishError("the bus was closed before delivery")``, stop the poll thread."""
        if self._closed:
            return
        if self._txn_open:  # left open: abort rather than leave read_committed readers waiting for the timeout
            with contextlib.suppress(SchemabusError):
                self.abort_transaction()
        self._closed = True
        producer = self._producer
        try:
            try:
                remaining = producer.flush(self._delivery_timeout_s + 5 if timeout is None else timeout)
            except KafkaException as e:  # a fatal error, raised from the poll inside flush
                self._kafka_exception(e)
                remaining = len(producer)
            if remaining:
                self._purge_reason = PublishError("", "the bus was closed before delivery", retriable=True)
                producer.purge(in_queue=True, in_flight=True, blocking=True)
                producer.flush(_DRAIN_OLD_PRODUCER_S)
        finally:
            self._stopping.set()
            if threading.current_thread() is not self._thread:
                self._thread.join()
            if len(producer):  # produced by a publish that passed its check just before the bus closed
                self._purge_reason = PublishError("", "the bus was closed before delivery", retriable=True)
                producer.purge(in_queue=True, in_flight=True, blocking=True)
                with contextlib.suppress(KafkaException):
                    producer.flush(_DRAIN_OLD_PRODUCER_S)
            self._dispatch()
            if self._owns_registry and isinstance(self.registry, ConfluentRegistry):
                self.registry.close()

    async def close(self, timeout: float | None = None) -> None:
        """:meth:`close_sync` without blocking the event loop."""
        await asyncio.to_thread(self.close_sync, timeout)

    async def __aenter__(self) -> KafkaBus:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __enter__(self) -> KafkaBus:
        try:
            self.start_sync()
        except BaseException:
            self.close_sync()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close_sync()

    # --- transactions (a transactional_id) ------------------------------------------------

    @property
    def transactional(self) -> bool:
        """Whether this bus publishes in transactions (``ProducerSettings.transactional_id``)."""
        return self._transactional

    async def start(self) -> None:
        """Initialize transactions off the event loop (a no-op for a plain bus or when done already);
        ``async with bus`` and the first :meth:`transaction` call it."""
        if self._transactional and not self._txn_ready:
            await asyncio.to_thread(self.start_sync)

    def start_sync(self) -> None:
        """:meth:`start`, blocking: ``init_transactions`` on the producer. Fences older producers with the
        same transactional id and aborts what they left open. Raises a typed error on failure
        (:class:`TransactionError`, ``AuthorizationError``, :class:`ProducerFencedError`...)."""
        if not self._transactional or self._txn_ready:
            return
        with self._txn_init:
            if self._txn_ready:
                return
            self._check_usable()
            producer = self._producer
            self._init_transactions(producer)
            with self._txn_state:
                if producer is self._producer:  # else a rebuild replaced it meanwhile: the next start() inits that one
                    self._txn_ready = True

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """``async with bus.transaction() as tx:`` publishes atomically: committed when the block exits
        normally, aborted (and the exception re-raised) when it raises. Callers take turns."""
        self._require_transactional()
        async with self._txn_lock:
            await self.start()
            self.begin_transaction()
            tx = Transaction(self)
            try:
                yield tx
            except BaseException as e:
                await _in_thread_to_the_end(partial(self._abort_after, e))
                raise
            await _in_thread_to_the_end(partial(self.commit_transaction, tx.offsets, tx.group_metadata))

    @contextlib.contextmanager
    def transaction_sync(self) -> Iterator[Transaction]:
        """:meth:`transaction` for scripts without an event loop (blocks)."""
        self._require_transactional()
        with self._txn_sync_lock:
            self.start_sync()
            self.begin_transaction()
            tx = Transaction(self)
            try:
                yield tx
            except BaseException as e:
                self._abort_after(e)
                raise
            self.commit_transaction(tx.offsets, tx.group_metadata)

    def _require_transactional(self) -> None:
        if not self._transactional:
            raise TransactionStateError("", "this bus is not transactional: set ProducerSettings.transactional_id")

    def _check_usable(self) -> None:
        failure = self._failure
        if failure is not None or self._closed:
            raise self._refusal("", failure)

    # The steps of a transaction, for code that cannot use one block (the consumer's exactly-once mode
    # begins on the event loop and commits on its consumer thread); they raise what transaction() does.

    def begin_transaction(self) -> None:
        """Open a transaction (a local call: no request to the broker); :meth:`start` first."""
        self._check_usable()
        with self._txn_state:
            self._check_usable()  # again: a rebuild swaps the producer under this lock
            if not self._txn_ready:
                raise TransactionStateError("", "transactions are not initialized: start() the bus", retriable=True)
            if self._txn_open:
                raise TransactionStateError("", "a transaction is already open on this bus")
            try:
                self._producer.begin_transaction()
            except KafkaException as e:
                raise self._txn_error("begin the transaction", e) from None
            self._txn_open = True
            self._txn_producer = self._producer

    def commit_transaction(self, offsets: Sequence[TopicPartition] = (), group_metadata: Any = None) -> None:
        """Send ``offsets`` (if any) and commit the open transaction; blocks. Retriable errors are retried
        within the transaction timeout; any other failure aborts the transaction and raises
        :class:`TransactionAbortedError`, or a :class:`FatalProducerError` when the producer is lost. A
        commit still failing with retriable errors at the timeout raises
        :class:`TransactionOutcomeUnknownError` (and the producer is replaced)."""
        if not self._txn_open:
            if self._txn_producer is not None and self._txn_producer is not self._producer:
                self._txn_producer = None
                lost = "the producer was replaced after a fatal error: the open transaction was aborted"
                raise TransactionAbortedError("", lost, retriable=True)
            raise TransactionStateError("", "no transaction is open to commit")
        producer = self._producer
        deadline = time.monotonic() + self._txn_timeout_s
        try:
            if offsets:
                self._txn_call(
                    "send the consumed offsets",
                    lambda timeout: producer.send_offsets_to_transaction(list(offsets), group_metadata, timeout),
                    deadline,
                )
            try:
                self._txn_call("commit", producer.commit_transaction, deadline)
            except _NeedsAbort as e:
                if e.timed_out:
                    raise self._commit_outcome_unknown(e.error) from None
                raise
        except _NeedsAbort as e:
            cause = e.error
            self.abort_transaction()
            text = redact(cause.str(), self._secrets)
            raise TransactionAbortedError(
                "",
                f"the commit failed ({cause.name()}: {text}); the transaction was aborted",
                retriable=True,
                code=cause.name(),
            ) from None
        finally:
            self._txn_closed()  # committed, aborted, or gone with a producer lost to a fatal error

    def _commit_outcome_unknown(self, error: KafkaError) -> TransactionOutcomeUnknownError:
        """A commit still failing (retriable) at the transaction timeout: librdkafka refuses an abort once
        a commit has begun, so the producer is replaced; the new one's init_transactions settles it."""
        text = redact(error.str(), self._secrets)
        self._on_error(KafkaError(KafkaError._FATAL, f"the outcome of a commit is unknown: {text}", fatal=True))
        return TransactionOutcomeUnknownError(
            "",
            f"the commit did not finish within the transaction timeout ({error.name()}: {text}): the "
            "transaction may have committed or not; the producer is replaced, and initializing the new "
            "one settles the transaction",
            possibly_persisted=True,
            code=error.name(),
        )

    def abort_transaction(self) -> None:
        """Abort the open transaction (its pending records fail with :class:`TransactionAbortedError`); blocks."""
        if not self._txn_open:
            return
        self._purge_reason = TransactionAbortedError("", "the transaction was aborted", retriable=True)
        producer = self._producer
        try:
            self._txn_call("abort", producer.abort_transaction, time.monotonic() + self._txn_timeout_s)
        except _NeedsAbort as e:
            # Neither committed nor aborted: a new producer (init_transactions) aborts it at the coordinator.
            self._on_error(KafkaError(KafkaError._FATAL, f"cannot abort the transaction: {e.error.str()}", fatal=True))
            raise self._txn_error("abort", KafkaException(e.error)) from None
        finally:
            self._txn_closed()

    def _abort_after(self, cause: BaseException) -> None:
        """Abort because the transaction's block raised ``cause``; an abort failure is noted on ``cause``."""
        try:
            self.abort_transaction()
        except SchemabusError as e:
            log.error("aborting the transaction failed: %s", e)
            cause.add_note(f"schemabus: aborting the transaction failed too: {e}")

    def _txn_closed(self) -> None:
        with self._txn_state:
            self._txn_open = False

    def _txn_call(self, what: str, call: Callable[[float], object], deadline: float) -> None:
        """Call a transactional API with the time left (librdkafka then returns a retriable timeout
        rather than block: without one, a commit to a broker that stops answering waits forever), again
        while it fails with a retriable error and time is left. Fatal errors raise typed (and replace
        the producer, unless fenced); others raise _NeedsAbort."""
        while True:
            try:
                call(max(deadline - time.monotonic(), _TXN_RETRY_S))
                return
            except KafkaException as e:
                error = kafka_error(e)
                if error is None:
                    raise TransactionError("", f"cannot {what}: {redact(str(e), self._secrets)}") from None
                if error.fatal():
                    raise self._txn_error(what, e) from None
                retriable = error.retriable() and not error.txn_requires_abort()
                if retriable and time.monotonic() < deadline:
                    log.info("cannot %s yet (retrying): %s", what, redact(error.str(), self._secrets))
                    time.sleep(_TXN_RETRY_S)
                    continue
                raise _NeedsAbort(error, timed_out=retriable) from None

    def _init_transactions(self, producer: Producer) -> None:
        deadline = time.monotonic() + self._txn_timeout_s
        try:
            self._txn_call("initialize transactions", producer.init_transactions, deadline)
        except _NeedsAbort as e:
            raise self._txn_error("initialize transactions", KafkaException(e.error)) from None

    def _txn_error(self, what: str, e: KafkaException) -> PublishError:
        """The typed error of a failed transactional call (fatal ones replace the producer, or fence the bus)."""
        error = kafka_error(e)
        if error is None:
            return TransactionError("", f"cannot {what}: {redact(str(e), self._secrets)}")
        text = redact(error.str(), self._secrets)
        if error.fatal():
            if self._fatal is None and self._fenced is None:
                self._on_error(error)
            if self._fenced is not None:
                return self._fenced
            failure = fatal_failure(error, text)
            return type(failure)("", f"cannot {what}: {failure.reason}", retriable=failure.retriable, code=failure.code)
        if error.code() in AUTHORIZATION_CODES:
            return AuthorizationError("", f"cannot {what}: not authorized: {text}", code=error.name())
        if error.code() == KafkaError._STATE:
            return TransactionStateError("", f"cannot {what}: {text}")
        return TransactionError(
            "", f"cannot {what}: {error.name()}: {text}", retriable=error.retriable(), code=error.name()
        )

    # --- topics -----------------------------------------------------------------------------

    def ensure_topics(
        self, topics: Iterable[Topic[Any, Any]], *, replication_factor: int | None = None, timeout: float = 30.0
    ) -> list[str]:
        """Create the topics that do not exist yet (see :func:`ensure_topics`); blocks."""
        return ensure_topics(self.kafka, topics, replication_factor=replication_factor, timeout=timeout)

    # --- the producer and its poll thread ---------------------------------------------------

    def _producer_config(self) -> dict[str, Any]:
        for name in self.kafka.extra:
            if name in TYPED_PRODUCER_PROPERTIES:
                raise ConfigError(
                    f"KafkaConfig.extra: set {name!r} with ProducerSettings.{TYPED_PRODUCER_PROPERTIES[name]}",
                    setting=name,
                )
        conf: dict[str, Any] = {**self.kafka.librdkafka_config(), **self.settings.librdkafka_config()}
        check_librdkafka(conf, self._secrets, what="producer", skip=("bootstrap.servers",))
        conf["error_cb"] = self._on_error
        conf["logger"] = _rdkafka_log
        return conf

    def _new_producer(self) -> Producer:
        conf = self._producer_config()
        try:
            return Producer(conf)
        except KafkaException as e:
            raise ConfigError(f"cannot create the producer: {redact(error_text(e), self._secrets)}") from None

    def _poll(self, producer: Producer, timeout: float) -> None:
        """Serve delivery reports and callbacks. confluent-kafka raises librdkafka's fatal errors from
        ``poll`` (error_cb never sees them): they go to :meth:`_on_error` like any other."""
        try:
            producer.poll(timeout)
        except KafkaException as e:
            self._kafka_exception(e)

    def _kafka_exception(self, e: KafkaException) -> None:
        error = kafka_error(e)
        if error is None:
            raise e
        self._on_error(error)

    def _run(self) -> None:
        """The poll thread: serve delivery reports and errors, resolve futures, watch the cluster's health."""
        while not self._stopping.is_set():
            try:
                if time.monotonic() < self._inline_until:
                    # A publishing thread serves delivery reports itself: no GIL ping-pong with it.
                    self._stopping.wait(_INLINE_WINDOW_S / 4)
                else:
                    self._poll(self._producer, _POLL_INTERVAL_S)
                if self._done:
                    self._dispatch()
                self._housekeeping()
            except Exception:  # never let the thread die: every publish would then hang
                log.exception("schemabus Kafka poll thread: unexpected error")
                time.sleep(_POLL_INTERVAL_S)

    def _dispatch(self, here: asyncio.AbstractEventLoop | None = None) -> None:
        """Hand finished delivery reports to their futures' event loops, one batch per loop; the
        batch of ``here`` (the loop running in this thread) is resolved at once."""
        with self._dispatch_lock:
            done = self._done
            if not done:
                return
            batches: dict[Any, list[tuple[Any, KafkaError | None, Any]]] = {}
            pop = done.popleft
            sync = []
            try:
                while True:
                    item = pop()
                    future = item[0]
                    if isinstance(future, asyncio.Future):
                        loop = future.get_loop()
                        batch = batches.get(loop)
                        if batch is None:
                            batch = batches[loop] = []
                        batch.append(item)
                    else:
                        sync.append(item)
            except IndexError:
                pass
            for loop, batch in batches.items():
                if loop is here:
                    self._resolve(batch)
                    continue
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                    loop.call_soon_threadsafe(self._resolve, batch)
            if sync:
                self._resolve(sync)
        if self._down_since is not None and any(item[1] is None for b in batches.values() for item in b):
            self._recovered("a record was acknowledged")

    def _resolve(self, batch: list[tuple[Any, KafkaError | None, Any]]) -> None:
        resolve_one = self._resolve_one
        for future, error, message in batch:
            resolve_one(future, error, message)

    def _resolve_one(self, future: Any, error: KafkaError | None, message: Any) -> None:
        if future.done():  # cancelled by its caller
            return
        if error is None:
            future.set_result(
                _new_result((message.topic(), message.partition(), message.offset(), message.timestamp()[1]))
            )
        else:
            future.set_exception(self._delivery_error(error, message.topic() or ""))

    # --- errors -----------------------------------------------------------------------------

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error_cb: client-level errors, in the thread that polls."""
        code = error.code()
        text = redact(error.str(), self._secrets)
        if self._replaced is not None and threading.current_thread() is self._thread:
            # The poll thread polls only the replaced producer now: its errors are no longer the bus's
            # (a transactional one is fenced by its replacement, which has the same transactional id).
            log.info("the replaced producer: librdkafka error %s: %s", error.name(), text)
            return
        log.debug("librdkafka error %s: %s", error.name(), text)
        if error.fatal() and self._transactional and (self._fenced is not None or is_fenced(error)):
            self._fence(text)
        elif error.fatal():
            if self._fatal is not None:
                return  # known already; the producer is being replaced
            log.error("fatal producer error %s: %s; the producer will be replaced", error.name(), text)
            self._fatal = error
            self._set_failure(fatal_failure(error, text), purge=False)
        elif code in AUTHENTICATION_CODES:
            self._set_failure(AuthenticationError("", f"authentication failed: {text}", code=error.name()))
        elif code in AUTHORIZATION_CODES:
            self._set_failure(AuthorizationError("", f"not authorized: {text}", code=error.name()))
        elif code == KafkaError._ALL_BROKERS_DOWN:
            with self._state_lock:
                if self._down_since is None:
                    self._down_since = time.monotonic()
            self._start_probe()
        elif code in (KafkaError._TRANSPORT, KafkaError._RESOLVE):
            self._last_transport = text

    def _fence(self, text: str) -> None:
        """A newer producer with our transactional id took over: stop for good (no new producer)."""
        if self._fenced is not None:
            return
        log.error("this transactional producer was fenced by a newer instance: %s; the bus stays unusable", text)
        self._fenced = ProducerFencedError(
            "",
            f"fenced by a newer producer with transactional id {self.settings.transactional_id!r}: {text}",
            code="_FENCED",
        )
        with self._state_lock:
            self._failure = self._fenced
            self._fatal = None

    def _set_failure(self, failure: PublishError, *, purge: bool = True) -> None:
        with self._state_lock:
            first = self._failure is None
            if self._failure is None or not isinstance(self._failure, FatalProducerError):
                self._failure = failure
        if first:
            log.error("publishing to %s stopped: %s", self.kafka.bootstrap_servers, failure.reason)
        if purge:
            self._purge_reason = failure
            self._purge_requested = True  # done by the poll thread, outside librdkafka's callback
            self._start_probe()

    def _housekeeping(self) -> None:
        budget = self.settings.broker_down_timeout_ms
        down_since = self._down_since
        if (
            budget is not None
            and down_since is not None
            and self._failure is None
            and time.monotonic() - down_since >= budget / 1000
        ):
            detail = f": {self._last_transport}" if self._last_transport else ""
            self._set_failure(
                PublishError(
                    "",
                    f"no broker of {self.kafka.bootstrap_servers} reachable for {budget / 1000:g}s{detail}",
                    retriable=True,
                    code="_ALL_BROKERS_DOWN",
                )
            )
        if self._purge_requested:
            self._purge_requested = False
            # Queued records are failed now (their futures get the reason); records in flight keep
            # their own outcome: acknowledged, or timed out as possibly persisted.
            self._producer.purge(in_queue=True, in_flight=False, blocking=False)
        if self._fatal is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        """Replace the producer after a fatal error; its queued and in-flight records fail (or get
        acknowledged) through their delivery reports. Repeated fatal errors back off (1 s .. 30 s)."""
        now = time.monotonic()
        self._rebuilds = [t for t in self._rebuilds if now - t < 60]
        if self._rebuilds and now - self._rebuilds[-1] < min(2 ** (len(self._rebuilds) - 1), 30):
            return
        fatal = self._fatal
        assert fatal is not None
        old = self._producer
        try:
            new = self._new_producer()
        except SchemabusError:
            log.exception("cannot replace the producer after a fatal error")
            self._rebuilds.append(now)
            return
        self._rebuilds.append(now)
        failure = fatal_failure(fatal, redact(fatal.str(), self._secrets))
        self._purge_reason = type(failure)(
            "", f"{failure.reason}; the producer was replaced", retriable=failure.retriable, code=failure.code
        )
        with self._txn_state:  # one step for transactions: a new producer, none open, not initialized yet
            self._producer = new
            if self._transactional:
                # The old producer's transaction dies with it (the coordinator aborts it when the new one
                # initializes). init_transactions runs on the next start() or transaction(), not on this
                # poll thread: it may take up to the transaction timeout.
                self._txn_open = False
                self._txn_ready = False
        with self._state_lock:
            self._fatal = None
            if isinstance(self._failure, FatalProducerError):
                self._failure = None
        deadline = time.monotonic() + _DRAIN_OLD_PRODUCER_S
        self._replaced = old
        try:
            while len(old) and time.monotonic() < deadline:
                old.purge(in_queue=True, in_flight=True, blocking=False)
                self._poll(old, 0.05)
                self._dispatch()
        finally:
            self._replaced = None
        if len(old):
            log.error("%d records of the replaced producer never reported their delivery", len(old))
        log.warning("the producer was replaced after fatal error %s", fatal.name())

    def _start_probe(self) -> None:
        with self._state_lock:
            if self._probe is not None or self._stopping.is_set():
                return
            self._probe = threading.Thread(target=self._probe_cluster, name="schemabus-kafka-probe", daemon=True)
            self._probe.start()

    def _probe_cluster(self) -> None:
        """While the cluster is unreachable (or refuses us), ask for metadata; clear the failure once it answers."""
        try:
            while not self._stopping.is_set():
                with self._state_lock:
                    if self._down_since is None and (
                        self._failure is None or isinstance(self._failure, FatalProducerError)
                    ):
                        return
                try:
                    self._producer.list_topics(timeout=_PROBE_TIMEOUT_S)
                except KafkaException:
                    self._stopping.wait(0.5)
                    continue
                self._recovered("the cluster answered a metadata request")
        finally:
            with self._state_lock:
                self._probe = None

    def _recovered(self, why: str) -> None:
        with self._state_lock:
            failure = self._failure
            self._down_since = None
            self._last_transport = None
            if failure is not None and not isinstance(failure, FatalProducerError):
                self._failure = None
            else:
                failure = None
        if failure is not None:
            log.warning("publishing to %s resumed: %s", self.kafka.bootstrap_servers, why)

    def _refusal(self, topic: str, failure: PublishError | None) -> PublishError:
        """Why a publish is refused: the bus is closed, or ``failure`` (as read by the caller)."""
        if self._closed:
            return PublishError(topic, "the bus is closed")
        if failure is None:  # cleared meanwhile
            return PublishError(topic, "the producer is recovering; publish again", retriable=True)
        return failure.for_topic(topic, possibly_persisted=False)

    def _produce_error(self, e: KafkaException, topic: str) -> PublishError:
        error = kafka_error(e)
        if error is None:
            return PublishError(topic, redact(str(e), self._secrets))
        if (error.fatal() or error.code() == KafkaError._FATAL) and self._fatal is None:
            self._on_error(error)
        failure = self._failure
        if error.code() == KafkaError._FATAL and failure is not None:  # the fatal error we know of, by name
            return failure.for_topic(topic, possibly_persisted=False)
        if self._transactional:
            if self._fenced is not None:
                return self._fenced.for_topic(topic, possibly_persisted=False)
            if error.code() == KafkaError._STATE and self._txn_open:
                text = redact(error.str(), self._secrets)
                return TransactionStateError(
                    topic, f"the open transaction takes no more records (it is committing or must abort): {text}"
                )
            if error.code() == KafkaError._STATE:
                return TransactionStateError(
                    topic,
                    "no transaction is open on this transactional bus: publish inside `async with bus.transaction()`"
                    " (or `with bus.transaction_sync()`)",
                )
        return self._delivery_error(error, topic, possibly_persisted=False)

    def _delivery_error(self, error: KafkaError, topic: str, *, possibly_persisted: bool | None = None) -> PublishError:
        code = error.code()
        text = redact(error.str(), self._secrets)
        if code == KafkaError._MSG_TIMED_OUT:
            detail = f"; last broker error: {self._last_transport}" if self._last_transport else ""
            return PublishError(
                topic,
                f"not acknowledged within the delivery timeout ({self.settings.delivery_timeout_ms} ms){detail}",
                retriable=True,
                possibly_persisted=True if possibly_persisted is None else possibly_persisted,
                code=error.name(),
            )
        if code in PURGED_CODES:
            reason = self._purge_reason or PublishError(topic, "purged before delivery", retriable=True)
            if self._transactional and not isinstance(reason, TransactionAbortedError):
                # On a transactional bus a purged record's transaction is aborted, whoever purged it
                # (an abort, a close, a fatal error, or librdkafka itself on an abortable error).
                reason = TransactionAbortedError(topic, f"the transaction was aborted: {reason.reason}", retriable=True)
            in_flight = code == KafkaError._PURGE_INFLIGHT and not isinstance(reason, TransactionAbortedError)
            return reason.for_topic(topic, possibly_persisted=in_flight)
        return publish_error(error, topic, text, possibly_persisted=possibly_persisted)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("failing" if self._failure else "open")
        return f"KafkaBus({self.kafka.bootstrap_servers!r}, {self.registry!r}, {state})"


class _NeedsAbort(Exception):
    """A transactional call failed in a way that leaves the transaction to be aborted (``timed_out``:
    it kept failing with retriable errors until the transaction timeout)."""

    def __init__(self, error: KafkaError, *, timed_out: bool = False) -> None:
        super().__init__(error.str())
        self.error = error
        self.timed_out = timed_out


T = TypeVar("T")


async def _in_thread_to_the_end(call: Callable[[], T]) -> T:
    """Run ``call`` in a worker thread; if the caller is cancelled meanwhile, still wait for it to finish
    (a commit or an abort must not overlap the next transaction), then re-raise the cancellation."""
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise
