"""The Kafka bus: publishes typed records through an idempotent (or transactional) librdkafka producer.

:class:`KafkaBus` owns the configuration, the codec and the bus's lifecycle (flush, close), and
composes the parts that own the rest: :class:`~.delivery.Delivery` (produce, delivery reports, the
poll thread), :class:`~.health.Health` (the producer, failures, recovery) and
:class:`~.transactions.Transactions`. What it guarantees: README, "On Kafka".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from ..bus import RecordCodec, TopicEncoder
from ..client_check import check_librdkafka
from ..config import (
    TYPED_PRODUCER_PROPERTIES,
    BusConfig,
    KafkaConfig,
    ProducerSettings,
    RegistryConfig,
    redact,
)
from ..errors import (
    AuthenticationError,
    ConfigError,
    PublishBatchError,
    PublishError,
    SchemabusError,
    ServerUnavailableError,
)
from ..health import HealthStatus
from ..kafka_logging import librdkafka_logger
from ..registry import IdMode, SchemaIds, SchemaRegistry, SchemaVersion
from ..registry_client import ConfluentRegistry
from ..topic import DeliveryResult, Headers, Topic, normalize_headers
from ..transactions import Transaction
from .delivery import INLINE_POLL_EVERY, Delivery, Record
from .errors import error_text
from .health import DRAIN_OLD_PRODUCER_S, Health
from .replicas import ReplicaCheck
from .topics import check_topics, ensure_topics
from .transactions import Transactions

if TYPE_CHECKING:
    from ..metrics import Metrics

__all__ = ["KafkaBus", "ensure_topics"]

K = TypeVar("K")
V = TypeVar("V")

log = logging.getLogger("schemabus.kafka")
_rdkafka_log = librdkafka_logger()  # librdkafka's lines, each condition once (see kafka_logging)

_get_running_loop = asyncio.get_running_loop
_TOPIC_CHECK_TIMEOUT_S = 10.0  # at most, for the topic check before a topic's first record


class KafkaBus:
    """Publishes typed records to Kafka. ``kafka`` and ``registry`` are configs (or a bootstrap string
    and a registry URL); ``registry`` may also be any :class:`SchemaRegistry` (e.g. a shared client).
    ``id_mode`` overrides ``RegistryConfig.schema_ids`` ("register" on first use, or "lookup" only;
    then ``RegistryConfig.schema_versions`` pins subjects to a version). ``metrics`` (a
    :class:`~schemabus.runtime.metrics.Metrics`) counts what the bus publishes and gets its producer's
    librdkafka statistics; without it nothing is measured.
    """

    def __init__(
        self,
        kafka: KafkaConfig | str,
        registry: RegistryConfig | SchemaRegistry | str,
        *,
        producer: ProducerSettings | None = None,
        id_mode: IdMode | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
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
        self._admin_config = self.kafka.librdkafka_config()
        down = self.settings.broker_down_timeout_ms
        self._topic_check_timeout = min(_TOPIC_CHECK_TIMEOUT_S, self._delivery_timeout_s, down / 1000 if down else 10.0)
        # The codec's bound serializers, read here without a call per record (the codec fills it).
        self._encoders = self.codec.encoders

        self._health = health = Health(self.kafka, self.settings, self._secrets, self._new_producer)
        self._transactions = transactions = Transactions(self, health, self.settings, self._secrets)
        self._delivery = delivery = Delivery(
            health,
            transactions,
            self.settings,
            self._secrets,
            ReplicaCheck(self._admin_config),
            None if metrics is None else metrics.publishing,
        )
        health.connect(delivery, transactions)
        # Read once per record: bound here (plain functions, no call layer), as the encoders are.
        self._callback_for = delivery.callback_for
        self._delivered_elsewhere = delivery.delivered_elsewhere
        self._send = delivery.send
        self._since_poll = 0  # records published since this bus last served its delivery reports inline
        delivery.start()

    @classmethod
    def from_config(
        cls, config: BusConfig, *, registry: SchemaRegistry | None = None, metrics: Metrics | None = None
    ) -> KafkaBus:
        return cls(
            config.kafka,
            registry if registry is not None else config.registry,
            producer=config.producer,
            id_mode=config.registry.schema_ids,
            metrics=metrics,
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        registry: SchemaRegistry | None = None,
        metrics: Metrics | None = None,
    ) -> KafkaBus:
        """A bus configured by ``SCHEMABUS_*`` variables (see :mod:`schemabus.runtime.config`)."""
        return cls.from_config(BusConfig.from_env(environ), registry=registry, metrics=metrics)

    def health(self) -> HealthStatus:
        """Liveness and readiness for probes (:mod:`schemabus.runtime.health`): not live once closed or
        fenced; not ready while publishes fail (the cluster unreachable or refusing, a fatal error)."""
        return self._health.status(f"KafkaBus({self.kafka.bootstrap_servers})")

    @property
    def producer(self) -> Producer:
        """The current librdkafka producer (replaced after a fatal error)."""
        return self._health.producer

    # --- publishing -------------------------------------------------------------------------

    async def publish(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult:
        """Encode and send ``value``; return where the broker stored it once it is acknowledged."""
        encoder = self._encoders.get(topic)
        if encoder is None:
            encoder = await asyncio.to_thread(self._warm_up, topic)
        future: asyncio.Future[DeliveryResult] = _get_running_loop().create_future()
        callback = self._callback_for(future)
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
        callback = self._callback_for(future)
        full = self._send(encoder, topic, value, key, headers, callback)
        if full is not None:
            self._wait_for_room_blocking(full, callback, loop)
        self._since_poll += 1
        if self._since_poll >= INLINE_POLL_EVERY:
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
        batch = self._delivery.batch(loop, name)
        callback = batch.counter
        wire_headers: Any = None if headers is None else normalize_headers(headers)
        sent = 0
        unsent: PublishError | None = None
        health = self._health
        enqueue = self._delivery.enqueue
        producer = health.producer
        try:
            for value_bytes, key_bytes in encoded:
                if health.failure is not None or health.closed or health.producer is not producer:
                    failure = health.failure
                    if failure is not None or health.closed:
                        raise health.refusal(name, failure)
                    producer = health.producer  # replaced after a fatal error, and healthy again
                record = (name, value_bytes, key_bytes, wire_headers)
                if not enqueue(producer, record, callback):
                    await self._wait_for_room(record, callback)
                sent += 1
                if not sent % INLINE_POLL_EVERY:
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
        self._delivery.serve_inline(loop, timeout)

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
        self._health.check_usable(topic)
        record = (topic, value, key, None if headers is None else normalize_headers(headers))
        future: concurrent.futures.Future[DeliveryResult] = concurrent.futures.Future()
        callback = partial(self._delivered_elsewhere, future)
        if not self._delivery.produce(record, callback):
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
        health = self._health
        if health.closed:  # its registry client is closed too: refuse as publish does, not with the client's error
            raise health.refusal(topic.name, health.failure)
        if self.settings.topic_check != "off" and health.failure is None:  # a failing bus refuses at once
            self._check_topic(topic)
        return self.codec.encoder(topic)

    def _check_topic(self, topic: Topic[Any, Any]) -> None:
        """The ``topic_check`` before a topic's first record (README, "Operations", "Topics"). Passed over
        with a warning when no broker answers: publishing then reports the outage as it does."""
        try:
            check_topics(self._admin_config, [topic], self.settings.topic_check, timeout=self._topic_check_timeout)
        except ServerUnavailableError as e:
            log.warning("could not check topic %s against the catalog: %s", topic.name, e)
        except AuthenticationError:
            pass  # the producer meets the same refusal and reports it, naming the topic

    async def _wait_for_room(self, record: Record, callback: Any) -> None:
        deadline = time.monotonic() + self._delivery_timeout_s
        delay = 0.0005
        while True:
            await asyncio.sleep(delay)
            if self._delivery.produce(record, callback):
                return
            if time.monotonic() > deadline:
                raise self._queue_full(record[0])
            delay = min(delay * 2, 0.02)

    def _wait_for_room_blocking(
        self, record: Record, callback: Any, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Back-pressure for callers that may block: serve delivery reports here until there is room."""
        deadline = time.monotonic() + self._delivery_timeout_s
        delay = 0.0005
        while True:
            self._serve_inline(loop, delay)
            if self._delivery.produce(record, callback):
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
        producer = self._health.producer
        try:
            remaining = producer.flush(self._delivery_timeout_s + 5 if timeout is None else timeout)
        except KafkaException as e:  # a fatal error, raised from the poll inside flush
            self._health.on_exception(e)
            remaining = len(producer)
        self._delivery.dispatch()
        return remaining

    async def flush(self, timeout: float | None = None) -> int:
        """:meth:`flush_sync` without blocking the event loop."""
        return await asyncio.to_thread(self.flush_sync, timeout)

    def close_sync(self, timeout: float | None = None) -> None:
        """Deliver what is queued (up to ``timeout``, default the delivery timeout), fail the futures of
        what is left with ``PublishError("the bus was closed before delivery")``, stop the poll thread."""
        health = self._health
        if health.closed:
            return
        if self._transactions.open:  # left open: abort rather than leave read_committed readers waiting for the timeout
            with contextlib.suppress(SchemabusError):
                self.abort_transaction()
        health.close()
        producer = health.producer
        try:
            try:
                remaining = producer.flush(self._delivery_timeout_s + 5 if timeout is None else timeout)
            except KafkaException as e:  # a fatal error, raised from the poll inside flush
                health.on_exception(e)
                remaining = len(producer)
            if remaining:
                health.expect_purge(PublishError("", "the bus was closed before delivery", retriable=True))
                producer.purge(in_queue=True, in_flight=True, blocking=True)
                producer.flush(DRAIN_OLD_PRODUCER_S)
        finally:
            health.stop()
            self._delivery.stop()
            if len(producer):  # produced by a publish that passed its check just before the bus closed
                health.expect_purge(PublishError("", "the bus was closed before delivery", retriable=True))
                producer.purge(in_queue=True, in_flight=True, blocking=True)
                with contextlib.suppress(KafkaException):
                    producer.flush(DRAIN_OLD_PRODUCER_S)
            self._delivery.dispatch()
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

    # --- transactions (a transactional_id): see schemabus.runtime.transactions -------------

    @property
    def transactional(self) -> bool:
        """Whether this bus publishes in transactions (``ProducerSettings.transactional_id``)."""
        return self._transactions.transactional

    async def start(self) -> None:
        """Initialize transactions off the event loop (a no-op for a plain bus or when done already);
        ``async with bus`` and the first :meth:`transaction` call it."""
        await self._transactions.start()

    def start_sync(self) -> None:
        """:meth:`start`, blocking: ``init_transactions`` on the producer. Fences older producers with the
        same transactional id and aborts what they left open. Raises a typed error on failure
        (:class:`TransactionError`, ``AuthorizationError``, :class:`ProducerFencedError`...)."""
        self._transactions.start_sync()

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """``async with bus.transaction() as tx:`` publishes atomically: committed when the block exits
        normally, aborted (and the exception re-raised) when it raises. Callers take turns."""
        return self._transactions.transaction()

    def transaction_sync(self) -> AbstractContextManager[Transaction]:
        """:meth:`transaction` for scripts without an event loop (blocks)."""
        return self._transactions.transaction_sync()

    # The steps of a transaction, for code that cannot use one block (the consumer's exactly-once mode
    # begins on the event loop and commits on its consumer thread); they raise what transaction() does.

    def begin_transaction(self) -> None:
        """Open a transaction (a local call: no request to the broker); :meth:`start` first."""
        self._transactions.begin()

    def commit_transaction(self, offsets: Sequence[TopicPartition] = (), group_metadata: Any = None) -> None:
        """Send ``offsets`` (if any) and commit the open transaction; blocks. Retriable errors are retried
        within the transaction timeout; any other failure aborts the transaction and raises
        :class:`TransactionAbortedError`, or a :class:`FatalProducerError` when the producer is lost. A
        commit still failing with retriable errors at the timeout raises
        :class:`TransactionOutcomeUnknownError` (and the producer is replaced)."""
        self._transactions.commit(offsets, group_metadata)

    def abort_transaction(self) -> None:
        """Abort the open transaction (its pending records fail with :class:`TransactionAbortedError`); blocks."""
        self._transactions.abort()

    # --- topics -----------------------------------------------------------------------------

    def ensure_topics(
        self, topics: Iterable[Topic[Any, Any]], *, replication_factor: int | None = None, timeout: float = 30.0
    ) -> list[str]:
        """Create the topics that do not exist yet (see :func:`ensure_topics`); blocks."""
        return ensure_topics(self.kafka, topics, replication_factor=replication_factor, timeout=timeout)

    # --- the producer ------------------------------------------------------------------------

    def _producer_config(self, error_cb: Callable[[KafkaError], None]) -> dict[str, Any]:
        for name in self.kafka.extra:
            if name in TYPED_PRODUCER_PROPERTIES:
                raise ConfigError(
                    f"KafkaConfig.extra: set {name!r} with ProducerSettings.{TYPED_PRODUCER_PROPERTIES[name]}",
                    setting=name,
                )
        conf: dict[str, Any] = {**self.kafka.librdkafka_config(), **self.settings.librdkafka_config()}
        check_librdkafka(conf, self._secrets, what="producer", skip=("bootstrap.servers",))
        conf["error_cb"] = error_cb
        conf["logger"] = _rdkafka_log
        if self.metrics is not None and "statistics.interval.ms" not in conf:
            conf.update(self.metrics.client_config())
        return conf

    def _new_producer(self, error_cb: Callable[[KafkaError], None]) -> Producer:
        """A producer of this bus's configuration whose librdkafka errors go to ``error_cb`` (the health's)."""
        conf = self._producer_config(error_cb)
        try:
            return Producer(conf)
        except KafkaException as e:
            raise ConfigError(f"cannot create the producer: {redact(error_text(e), self._secrets)}") from None

    def __repr__(self) -> str:
        health = self._health
        state = "closed" if health.closed else ("failing" if health.failure else "open")
        return f"KafkaBus({self.kafka.bootstrap_servers!r}, {self.registry!r}, {state})"
