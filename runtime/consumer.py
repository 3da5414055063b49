"""Consume topics with typed handlers on Kafka: at-least-once, ordered per partition, with retries and a DLQ.

::

    runner = ConsumerRunner("localhost:9092", registry, service="billing", retry=RetryPolicy(max_retries=3))
    runner.subscribe(BillOrders())          # a generated <Topic>Handler subclass, or a decorated function
    runner.run_forever()                    # until SIGTERM/SIGINT; or `await runner.run()` in your own loop

**One consumer group per handler** (``consumer_group(handler, service)``), each with its own confluent
``Consumer`` (``enable.auto.commit=false``; by default ``cooperative-sticky`` assignment,
``auto.offset.reset=earliest`` and a prefetch queue bounded to 16 MiB: see :class:`ConsumerSettings`,
the runner's typed settings, also read from ``SCHEMABUS_CONSUMER_*`` variables by :meth:`ConsumerRunner.from_env`).
The whole configuration is checked by librdkafka when the runner is made: an unknown property or an
invalid value raises :class:`~schemabus.runtime.errors.ConfigError` naming it.
Every record is decoded with :class:`RecordCodec` (the generated decoder for its own schema id, Avro
resolution for other writer ids) and handed to the handler as an :class:`Event`.

**Order and concurrency.** The records of one partition are handled one after the other, in offset
order; partitions are handled concurrently. At most ``max_in_flight`` records per handler are fetched
but not finished. When that many are, the runner stops fetching until half are done; if that takes
longer than ``backpressure_wait`` (slow handlers), it pauses the partitions and goes on polling, so
the consumer stays in its group and serves rebalances.

**Failures.** A record that cannot be decoded (a :class:`DeserializationError`: bad magic byte,
unknown schema id, truncated or invalid payload, failed validation) goes to ``dlq.{topic}`` at once.
A handler error is retried when the :class:`RetryPolicy` says so (with backoff; the partition waits),
and the record goes to the dead-letter topic when retries run out or the error is not retryable.
If the dead-letter write fails, the runner stops without committing that record.

**Commits** are manual and at-least-once: an offset is committed only after its record was handled
(or dead-lettered), and never past a record that is not finished (per partition, the highest
contiguous finished offset + 1). Commits are synchronous, at most every ``commit_interval`` seconds,
and always before partitions are revoked (the current record of a revoked partition may finish
within ``revoke_timeout``; records not yet started are left to the partition's next owner) and at
shutdown (``stop()``, SIGTERM or SIGINT: stop fetching, finish what was fetched within
``shutdown_timeout``, commit, leave the group).

All calls into a confluent ``Consumer`` happen on one thread per handler (polls, commits, rebalance
callbacks, ``close``); handlers run on the asyncio event loop.

**Exactly once, when asked** (``exactly_once=bus``, a transactional
:class:`~schemabus.runtime.kafka.KafkaBus`; one handler per runner): the handler publishes its
outputs through that bus, and the runner commits them together with the consumed offsets, in Kafka
transactions (KIP-98/KIP-447), instead of ``consumer.commit``:

- a transaction begins when records are handed to the workers; at each commit point (every
  ``commit_interval``, before partitions are revoked, at shutdown) the runner stops handing out
  records and waits until every fetched record is finished (no handler mid-record), then sends the
  offsets with ``send_offsets_to_transaction(consumer.consumer_group_metadata())`` and commits. A
  record's outputs and its offset are in the same transaction: both become visible, or neither;
  the consumer does not poll while it waits, so keep handlers (times ``max_in_flight``) well within
  ``max.poll.interval.ms`` and the transaction timeout;
- dead letters (poison records) are written through the same bus, in the same transaction;
- consumers read with ``isolation.level=read_committed``;
- a handler error is not retried (the failed attempt may have published into the transaction, and
  Kafka cannot take back part of one): it aborts the transaction and stops the runner;
- **any aborted transaction stops the runner** with a typed error (the handler's, a
  :class:`~schemabus.runtime.errors.TransactionAbortedError`, a fatal producer error...), after
  aborting: nothing of it is visible, its offsets are not committed, and a restart reprocesses its
  records from the last committed offsets. So does a shutdown or revocation that had to interrupt a
  handler, and partitions lost without a revocation (their records may have published already).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from .bus import RecordCodec
from .client_check import check_librdkafka
from .config import (
    RUNNER_CONSUMER_PROPERTIES,
    TYPED_CONSUMER_PROPERTIES,
    ConsumerConfig,
    ConsumerSettings,
    redact,
    secret_values,
)
from .dlq import ClientConfig, DeadLetterError, DeadLetterWriter, dead_letter_of
from .errors import AuthenticationError, AuthorizationError, ConfigError, PublishError, TransactionAbortedError
from .handler import AnyHandler, consumer_group
from .kafka.errors import AUTHENTICATION_CODES, AUTHORIZATION_CODES
from .kafka_logging import librdkafka_logger
from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaRegistry, SchemaVersion
from .retry import RetryPolicy
from .serde import DeserializationError
from .topic import Event, Topic

if TYPE_CHECKING:
    from .kafka import KafkaBus
    from .registry_client import ConfluentRegistry

__all__ = [
    "ConsumerMetrics",
    "ConsumerRunner",
    "HandlerFailedError",
    "OffsetTracker",
    "PartitionLag",
    "consumer_lag",
]

log = logging.getLogger("schemabus.consumer")
H = TypeVar("H", bound=AnyHandler)

# What the runner's commits need (RUNNER_CONSUMER_PROPERTIES: the caller may not set them otherwise).
_FORCED: dict[str, Any] = {"enable.auto.commit": False, "enable.auto.offset.store": False}
_PROBE_GROUP = "schemabus-config-check"  # the group.id of the configuration checked at construction


class HandlerFailedError(RuntimeError):
    """A handler gave up on a record and there is no dead-letter topic to put it in."""


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

    def __add__(self, other: ConsumerMetrics) -> ConsumerMetrics:
        return ConsumerMetrics(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class PartitionLag:
    """How far a group's committed offset is behind the end of a partition."""

    group: str
    topic: str
    partition: int
    committed: int | None  # None: nothing committed yet
    high_watermark: int
    low_watermark: int

    @property
    def lag(self) -> int:
        start = self.committed if self.committed is not None else self.low_watermark
        return max(self.high_watermark - start, 0)


class OffsetTracker:
    """Offsets of one partition in fetch order; knows the offset that may be committed.

    ``committable`` is the highest offset finished with every earlier fetched offset finished too,
    plus one (Kafka's "next offset to read"); a record finishing early does not move it past an
    unfinished earlier one. Offsets need not be contiguous (compaction, transaction markers).
    """

    __slots__ = ("_done", "_order", "committable")

    def __init__(self) -> None:
        self._order: deque[int] = deque()
        self._done: set[int] = set()
        self.committable: int | None = None

    def add(self, offset: int) -> None:
        self._order.append(offset)

    def done(self, offset: int) -> None:
        order = self._order
        if order and order[0] == offset:
            order.popleft()
            self.committable = offset + 1
            done = self._done
            while done and order and order[0] in done:
                finished = order.popleft()
                done.discard(finished)
                self.committable = finished + 1
        else:
            self._done.add(offset)

    @property
    def pending(self) -> int:
        """Fetched offsets not yet committable (unfinished, or finished after an unfinished one)."""
        return len(self._order)


class _ReaderIds(SchemaIds):
    """SchemaIds that remembers, for a while, that the reader's own schema is not registered.

    Without it every record would ask the registry again (``RecordCodec`` looks the own id up per
    record until it is known); with it such records are decoded by schema resolution.
    """

    def __init__(
        self,
        registry: SchemaRegistry,
        mode: IdMode,
        versions: Mapping[str, SchemaVersion] | None = None,
        retry_after: float = 60.0,
    ) -> None:
        super().__init__(registry, mode, versions)
        self._missing: dict[tuple[str, str], float] = {}
        self._retry_after = retry_after

    def id_for(self, subject: str, schema: str, schema_type: str) -> int:
        known = self.known_id(subject, schema)
        if known is not None:
            return known
        key = (subject, schema)
        since = self._missing.get(key)
        if since is not None and time.monotonic() - since < self._retry_after:
            raise SchemaNotRegisteredError(f"schema is not registered under subject {subject!r}")
        try:
            return super().id_for(subject, schema, schema_type)
        except LookupError:
            self._missing[key] = time.monotonic()
            raise


def _client_config(config: ClientConfig) -> dict[str, Any]:
    return {"bootstrap.servers": config} if isinstance(config, str) else dict(config)


def _settings(
    settings: ConsumerSettings | None,
    config: Mapping[str, Any],
    extra_config: Mapping[str, Any],
    tuning: Mapping[str, Any],
) -> ConsumerSettings:
    """The runner's settings: ``settings``, with the ConsumerSettings properties of the raw configurations
    read in (unless ``settings`` sets them itself) and the keyword arguments given (``tuning``) applied."""
    explicit = settings.model_fields_set if settings is not None else set()
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    properties: dict[str, str] = {}  # the librdkafka property behind each name
    for where, conf in (("config", config), ("extra_config", extra_config)):
        for name, value in conf.items():
            if name in RUNNER_CONSUMER_PROPERTIES:
                runner_value, why = RUNNER_CONSUMER_PROPERTIES[name]
                if runner_value is None or str(value).strip().lower() not in (str(runner_value).lower(), "0"):
                    raise ConfigError(f"{where}: {name!r} is set by the runner: {why}", setting=name)
            field = TYPED_CONSUMER_PROPERTIES.get(name)
            if field is None:
                continue
            if field in explicit:
                raise ConfigError(
                    f"{where}: {name!r} is set by ConsumerSettings.{field} too: set it in one place", setting=name
                )
            values[field] = value
            names[field] = f"{where} property {name!r}"
            properties[names[field]] = name
    for field, value in tuning.items():
        if value is not None:
            values[field] = value
            names[field] = field
    base = settings if settings is not None else ConsumerSettings()
    if not values:
        return base
    try:
        return base.merged(values, names)
    except ConfigError as e:
        if e.setting not in properties:
            raise
        raise ConfigError(str(e), setting=properties[e.setting]) from None


class ConsumerRunner:
    """Runs typed handlers against Kafka. See the module documentation for the guarantees.

    ``config`` is the bootstrap servers or a client configuration (shared with the dead-letter
    producer: security settings go here); ``settings`` are the runner's :class:`ConsumerSettings`;
    ``extra_config`` is added to each consumer's configuration only (``socket.keepalive.enable``…).
    The keyword arguments ``max_in_flight``, ``commit_interval``, ``poll_timeout``,
    ``backpressure_wait``, ``revoke_timeout`` and ``shutdown_timeout`` override those settings, and a
    :class:`ConsumerSettings` property in ``config`` or ``extra_config`` (``session.timeout.ms``…) is
    read into them, unless ``settings`` sets it too (a ConfigError: one place per setting). So are
    refused the properties the runner sets itself (``group.id``, ``enable.auto.commit``,
    ``enable.auto.offset.store``) and, with ``exactly_once``, ``isolation_level="read_uncommitted"``.
    The resulting consumer configuration is checked by librdkafka here: an unknown property or an
    invalid value raises ConfigError naming it.

    ``registry`` is a :class:`SchemaRegistry` (its ids are looked up, never registered: ``id_mode``)
    or a :class:`SchemaIds`. ``dead_letters`` is ``True`` (write to ``dlq.{topic}``, created on first
    use), a :class:`DeadLetterWriter`, or ``False`` (a record the handler gives up on stops the runner
    with :class:`HandlerFailedError`). ``max_in_flight`` is per handler. ``exactly_once`` is a
    transactional ``KafkaBus`` the handler publishes through: its outputs and the consumed offsets
    then commit in the same transactions (see the module documentation); a runner in this mode has
    one handler.
    ``consumer_factory`` builds each handler's consumer from its configuration (confluent's ``Consumer``;
    :class:`~schemabus.runtime.testing.InMemoryBus` passes one over its in-memory log).
    """

    def __init__(
        self,
        config: ClientConfig,
        registry: SchemaRegistry | SchemaIds,
        handlers: Iterable[AnyHandler] = (),
        *,
        service: str | None = None,
        retry: RetryPolicy | None = None,
        settings: ConsumerSettings | None = None,
        max_in_flight: int | None = None,
        dead_letters: DeadLetterWriter | bool = True,
        extra_config: Mapping[str, Any] | None = None,
        id_mode: IdMode = "lookup",
        commit_interval: float | None = None,
        poll_timeout: float | None = None,
        backpressure_wait: float | None = None,
        revoke_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        exactly_once: KafkaBus | None = None,
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
    ) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if exactly_once is not None and not exactly_once.transactional:
            raise ValueError("exactly_once needs a transactional KafkaBus (ProducerSettings.transactional_id)")
        if exactly_once is not None and isinstance(dead_letters, DeadLetterWriter):
            from .transactions import TransactionalDeadLetterWriter

            if not isinstance(dead_letters, TransactionalDeadLetterWriter):
                # Its writes would land outside the transactions: an abort and restart would repeat them.
                raise ValueError("with exactly_once, dead letters go through the bus: pass dead_letters=True")
        self.exactly_once = exactly_once
        self.config = _client_config(config)
        self.extra_config = dict(extra_config or {})
        tuning = {
            "max_in_flight": max_in_flight,
            "commit_interval": commit_interval,
            "poll_timeout": poll_timeout,
            "backpressure_wait": backpressure_wait,
            "revoke_timeout": revoke_timeout,
            "shutdown_timeout": shutdown_timeout,
        }
        self.settings = _settings(settings, self.config, self.extra_config, tuning)
        if exactly_once is not None and self.settings.isolation_level == "read_uncommitted":
            raise ConfigError(
                "an exactly_once runner reads committed records only: isolation_level must be read_committed",
                setting="isolation_level",
            )
        conf = self._group_config(_PROBE_GROUP)
        check_librdkafka(conf, secret_values(conf), what="consumer", skip=("bootstrap.servers",), client="consumer")
        if isinstance(registry, SchemaIds):
            ids: SchemaIds = (
                registry
                if isinstance(registry, _ReaderIds)
                else _ReaderIds(registry.registry, registry.mode, registry.versions)
            )
        else:
            ids = _ReaderIds(registry, id_mode)
        self.codec = RecordCodec(ids)
        self.service = service
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_in_flight = self.settings.max_in_flight
        self.commit_interval = self.settings.commit_interval
        self.poll_timeout = self.settings.poll_timeout
        self.backpressure_wait = self.settings.backpressure_wait
        self.revoke_timeout = self.settings.revoke_timeout
        self.shutdown_timeout = self.settings.shutdown_timeout
        self.consumer_factory = consumer_factory
        self._dead_letters = dead_letters
        self._writer: DeadLetterWriter | None = dead_letters if isinstance(dead_letters, DeadLetterWriter) else None
        self._owned_registry: ConfluentRegistry | None = None
        self._handlers: list[AnyHandler] = []
        self._loops: list[_HandlerLoop] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        for handler in handlers:
            self.subscribe(handler)

    @classmethod
    def from_config(
        cls,
        config: ConsumerConfig,
        handlers: Iterable[AnyHandler] = (),
        *,
        registry: SchemaRegistry | SchemaIds | None = None,
        service: str | None = None,
        retry: RetryPolicy | None = None,
        dead_letters: DeadLetterWriter | bool = True,
        exactly_once: KafkaBus | None = None,
    ) -> ConsumerRunner:
        """A runner for ``config``. Without ``registry``, one for ``config.registry``, closed when the
        runner stops; its ids are looked up, never registered (in lookup mode, at the pinned
        ``schema_versions``)."""
        from .registry_client import ConfluentRegistry

        owned: ConfluentRegistry | None = None
        if registry is None:
            owned = ConfluentRegistry(config.registry)
            registry = SchemaIds(owned, "lookup", config.registry.schema_versions)
        try:
            runner = cls(
                config.kafka.librdkafka_config(),
                registry,
                handlers,
                service=service,
                retry=retry,
                settings=config.consumer,
                dead_letters=dead_letters,
                exactly_once=exactly_once,
            )
        except BaseException:
            if owned is not None:
                owned.close()
            raise
        runner._owned_registry = owned
        return runner

    @classmethod
    def from_env(
        cls,
        handlers: Iterable[AnyHandler] = (),
        *,
        environ: Mapping[str, str] | None = None,
        registry: SchemaRegistry | SchemaIds | None = None,
        service: str | None = None,
        retry: RetryPolicy | None = None,
        dead_letters: DeadLetterWriter | bool = True,
        exactly_once: KafkaBus | None = None,
    ) -> ConsumerRunner:
        """A runner configured by ``SCHEMABUS_*`` variables (see :mod:`schemabus.runtime.config`), its
        settings by ``SCHEMABUS_CONSUMER_*``."""
        return cls.from_config(
            ConsumerConfig.from_env(environ),
            handlers,
            registry=registry,
            service=service,
            retry=retry,
            dead_letters=dead_letters,
            exactly_once=exactly_once,
        )

    # --- configuration --------------------------------------------------------------------

    def subscribe(self, handler: H) -> H:
        """Add a handler (before :meth:`run`); returns it, so this works as a decorator too."""
        if self._loop is not None:
            raise RuntimeError("subscribe handlers before run()")
        group = consumer_group(handler, self.service)
        if self.exactly_once is not None and self._handlers:
            raise ValueError("an exactly_once runner has one handler: its transactions hold one group's offsets")
        if any(consumer_group(h, self.service) == group for h in self._handlers):
            raise ValueError(f"two handlers share the consumer group {group!r}: give one a name or a group")
        self._handlers.append(handler)
        return handler

    @property
    def handlers(self) -> list[AnyHandler]:
        return list(self._handlers)

    def consumer_config(self, handler: AnyHandler) -> dict[str, Any]:
        """The configuration of ``handler``'s confluent Consumer."""
        return self._group_config(consumer_group(handler, self.service))

    def _group_config(self, group: str) -> dict[str, Any]:
        untyped = [
            {
                k: v
                for k, v in conf.items()
                if k not in TYPED_CONSUMER_PROPERTIES and k not in RUNNER_CONSUMER_PROPERTIES
            }
            for conf in (self.config, self.extra_config)
        ]
        conf = {**untyped[0], **self.settings.librdkafka_config(), **untyped[1], **_FORCED, "group.id": group}
        if self.exactly_once is not None:
            conf["isolation.level"] = "read_committed"  # librdkafka's default, made explicit
        return conf

    def _dead_letter_writer(self) -> DeadLetterWriter | None:
        if self._writer is None and self._dead_letters is True:
            if self.exactly_once is not None:
                from .transactions import TransactionalDeadLetterWriter

                self._writer = TransactionalDeadLetterWriter(self.config, self.exactly_once)
            else:
                self._writer = DeadLetterWriter(self.config)
        return self._writer

    # --- running ----------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> None:
        """Consume until :meth:`stop` (or SIGTERM/SIGINT with ``handle_signals``), then shut down cleanly.

        Raises what stopped a handler's consumer against its will (a failed dead-letter write, a
        fatal Kafka error, :class:`HandlerFailedError`), after shutting the others down.
        """
        if not self._handlers:
            raise RuntimeError("no handlers: subscribe() at least one before run()")
        if self._loop is not None:
            raise RuntimeError("this ConsumerRunner is already running (or ran): make a new one")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop_event = asyncio.Event()
        if self._stop_requested:
            self._stop_event.set()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self.stop)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
                    pass
        try:
            writer = await loop.run_in_executor(None, self._prepare)
            if self.exactly_once is not None:
                await self.exactly_once.start()
            kind = _HandlerLoop if self.exactly_once is None else _TransactionalLoop
            self._loops = [kind(self, handler, writer) for handler in self._handlers]
            tasks = [asyncio.create_task(hl.run(), name=f"schemabus-consumer:{hl.group}") for hl in self._loops]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            except asyncio.CancelledError:
                self.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            failed = [t for t in done if not t.cancelled() and t.exception() is not None]
            if failed:
                self.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
                error = failed[0].exception()
                assert error is not None
                raise error
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            if self._writer is not None and self._dead_letters is True:
                await loop.run_in_executor(None, self._writer.close)
            if self._owned_registry is not None:
                self._owned_registry.close()

    def _prepare(self) -> DeadLetterWriter | None:
        """Off the event loop: find the reader schemas' ids once, create the dead-letter producer."""
        ids = self.codec.ids
        for handler in self._handlers:
            topic = handler.topic
            for subject, serde in ((topic.key_subject, topic.key), (topic.value_subject, topic.value)):
                if serde is not None and serde.schema is not None:
                    with contextlib.suppress(LookupError):
                        ids.id_for(subject, serde.schema, serde.format)
        return self._dead_letter_writer()

    def run_forever(self) -> None:
        """Run in a new event loop until SIGTERM or SIGINT; then finish in-flight records, commit, close."""
        asyncio.run(self.run(handle_signals=True))

    def stop(self) -> None:
        """Ask the runner to shut down gracefully (from any thread, or before :meth:`run`)."""
        self._stop_requested = True
        loop, event = self._loop, self._stop_event
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to stop
                loop.call_soon_threadsafe(event.set)

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    # --- observing ---------------------------------------------------------------------------

    @property
    def metrics(self) -> ConsumerMetrics:
        """Counters summed over the handlers."""
        total = ConsumerMetrics()
        for hl in self._loops:
            total = total + hl.metrics
        return total

    def handler_metrics(self) -> dict[str, ConsumerMetrics]:
        """Counters per consumer group."""
        return {hl.group: hl.metrics for hl in self._loops}

    def assignment(self) -> dict[str, list[int]]:
        """The partitions each consumer group's consumer holds now."""
        return {hl.group: sorted(hl.partitions) for hl in self._loops}

    async def lag(self, timeout: float = 10.0) -> list[PartitionLag]:
        """Committed offset vs. high watermark for every partition assigned to this runner now."""
        out: list[PartitionLag] = []
        for hl in self._loops:
            out.extend(await hl.lag(timeout))
        return out


@dataclass(eq=False)
class _Partition:
    number: int
    task: asyncio.Task[None] | None = None
    closing: bool = False
    committed: int | None = None

    def __post_init__(self) -> None:
        self.queue: deque[Message] = deque()
        self.wake = asyncio.Event()
        self.tracker = OffsetTracker()


class _HandlerLoop:
    """One handler: its confluent Consumer (used on one thread only), its partitions and their workers."""

    def __init__(self, runner: ConsumerRunner, handler: AnyHandler, writer: DeadLetterWriter | None) -> None:
        self.runner = runner
        self.handler = handler
        self.topic: Topic[Any, Any] = handler.topic
        self.group = consumer_group(handler, runner.service)
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"schemabus-{self.group}")
        self.consumer: Consumer | None = None
        self.partitions: dict[int, _Partition] = {}
        self.metrics = ConsumerMetrics()
        self.failure: BaseException | None = None
        self.paused = False
        self.in_flight = 0  # records dispatched to a partition worker and not finished (or dropped)
        self._room_at = -1  # while the poll loop waits for room: wake it when in_flight gets down to this
        self._room_event = asyncio.Event()
        self._fatal: KafkaError | None = None
        self._refused: PublishError | None = None  # the brokers refused our credentials
        self._secrets = secret_values(runner.config)

    # --- the consumer thread -------------------------------------------------------------------

    def _create(self) -> Consumer:
        conf = self.runner.consumer_config(self.handler)
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
        elif error.code() in AUTHENTICATION_CODES and self._refused is None:
            self._refused = AuthenticationError(self.topic.name, f"authentication failed: {text}", code=error.name())
        log.warning("%s: %s", self.group, text)

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
        return committed, messages

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
        out = []
        for tp in consumer.committed(assignment, timeout=timeout):
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            committed = tp.offset if tp.offset >= 0 else None
            out.append(PartitionLag(self.group, tp.topic, tp.partition, committed, high, low))
        return sorted(out, key=lambda p: p.partition)

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
        stop = runner._stop_event
        assert stop is not None
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
                committed, messages = await self._call(self._cycle, commits, pause, want)
                self._committed(committed)
                if messages:
                    self._dispatch(messages)
        finally:
            await self._shutdown()
        if self.failure is not None:
            raise self.failure

    def _dispatch(self, messages: list[Message]) -> None:
        partitions = self.partitions
        count = 0
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
            partition.wake.set()
            count += 1
        self.in_flight += count
        self.metrics.consumed += count

    async def _commit_point(self) -> list[TopicPartition]:
        """The offsets to commit now (the transactional loop first lets every fetched record finish)."""
        return self._commits()

    def _commits(self) -> list[TopicPartition]:
        name = self.topic.name
        return [
            TopicPartition(name, p.number, p.tracker.committable)
            for p in self.partitions.values()
            if p.tracker.committable is not None and p.tracker.committable != p.committed
        ]

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
                partition = _Partition(number)
                partition.task = asyncio.create_task(self._work(partition), name=f"{self.group}[{number}]")
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
        name = self.topic.name
        offsets = [
            TopicPartition(name, p.number, p.tracker.committable)
            for p in gone
            if p.tracker.committable is not None and p.tracker.committable != p.committed
        ]
        return offsets

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

    # --- handling one partition -----------------------------------------------------------------

    async def _work(self, partition: _Partition) -> None:
        """Handle one partition's records in order. The fast path (decode, handler) is inlined here."""
        queue, wake, tracker = partition.queue, partition.wake, partition.tracker
        codec, topic, handler, metrics = self.runner.codec, self.topic, self.handler, self.metrics
        decode_key, decode_value, name = codec.decode_key, codec.decode_value, topic.name
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
                try:
                    try:
                        key = decode_key(topic, message.key()) if keyed else None
                        value = decode_value(topic, message.value())
                    except Exception as e:
                        decoded = await self._undecodable(message, e)
                        if decoded is None:  # a poison message, now in the dead-letter topic
                            tracker.done(message.offset())  # type: ignore[arg-type]
                            continue
                        key, value = decoded
                    event = Event(
                        name,
                        key,
                        value,
                        tuple(message.headers() or ()),  # type: ignore[arg-type]
                        message.partition(),  # type: ignore[arg-type]
                        message.offset(),  # type: ignore[arg-type]
                        message.timestamp()[1],
                    )
                    try:
                        await handler(event)
                        metrics.handled += 1
                    except Exception as e:
                        await self._failed(message, event, e)
                finally:
                    self.in_flight -= 1
                    if self.in_flight <= self._room_at:
                        self._room_event.set()
                tracker.done(message.offset())  # type: ignore[arg-type]
        except Exception as e:
            # A dead-letter write failed (or worse): stop everything without committing this record.
            if self.failure is None:
                self.failure = e
            log.error("%s: stopping: %s", self.group, e)
            self.runner.stop()

    async def _undecodable(self, message: Message, error: Exception) -> tuple[Any, Any] | None:
        """A poison message goes to the dead-letter topic (None); a registry failure is retried."""
        if not isinstance(error, DeserializationError):
            # The registry is unreachable: not the record's fault, so retried, not dead-lettered...
            try:
                return await self._decode_again(message, error)
            except DeserializationError as e:  # ...unless, once it answers, the record is poison after all
                error = e
        self.metrics.poison += 1
        await self._dead_letter(message, error, attempts=0)
        return None

    async def _decode_again(self, message: Message, error: Exception) -> tuple[Any, Any]:
        codec, topic = self.runner.codec, self.topic
        for delay in self.runner.retry.delays():
            log.warning("%s: cannot decode %s (retrying in %.1fs): %s", self.group, _where(message), delay, error)
            await asyncio.sleep(delay)
            try:
                key = codec.decode_key(topic, message.key()) if topic.key is not None else None
                return key, codec.decode_value(topic, message.value())
            except DeserializationError:
                raise
            except Exception as e:
                error = e
        raise error

    async def _failed(self, message: Message, event: Event[Any, Any], error: Exception) -> None:
        if isinstance(error, NotImplementedError):
            raise error  # an unimplemented stub: stop, rather than dead-letter every record of the topic
        policy = self.runner.retry
        attempts = 1
        if policy.is_retryable(error):
            for delay in policy.delays():
                log.info(
                    "%s: %s failed (attempt %d, retrying in %.2fs): %r",
                    self.group,
                    _where(message),
                    attempts,
                    delay,
                    error,
                )
                self.metrics.retried += 1
                await asyncio.sleep(delay)
                attempts += 1
                try:
                    await self.handler(event)
                except Exception as e:
                    error = e
                    if not policy.is_retryable(e):
                        break
                else:
                    self.metrics.handled += 1
                    return
        await self._dead_letter(message, error, attempts=attempts)

    async def _dead_letter(self, message: Message, error: BaseException, *, attempts: int) -> None:
        if self.writer is None:
            raise HandlerFailedError(
                f"{self.group}: gave up on {_where(message)} after {attempts} attempts; no dead-letter topic"
            ) from error
        record = dead_letter_of(message, group=self.group, error=error, attempts=attempts)
        log.warning("%s: %s -> %s: %r", self.group, _where(message), record.topic, error)
        try:
            await self.writer.write_async(record)
        except DeadLetterError:
            raise
        except Exception as e:
            raise DeadLetterError(f"cannot write {_where(message)} to {record.topic}: {e}") from e
        self.metrics.dead_lettered += 1


class _TransactionalLoop(_HandlerLoop):
    """The handler loop of an ``exactly_once`` runner: offsets commit in the bus's transactions.

    The transaction is begun (on the event loop, a local call) when records are handed to the
    workers, and ended on the consumer thread at a commit point, where no record is queued or being
    handled: the outputs of every record whose offset is sent are in it, and no other outputs.
    Anything else (an error, a handler cut short) aborts it and stops the runner.
    """

    def __init__(self, runner: ConsumerRunner, handler: AnyHandler, writer: DeadLetterWriter | None) -> None:
        super().__init__(runner, handler, writer)
        assert runner.exactly_once is not None
        self.bus = runner.exactly_once
        self._open = False  # a transaction is open: records were handed out since the last commit
        self._due = False  # the next _commit() (on the consumer thread) is a commit point
        self._closing: list[_Partition] = []

    # --- the event loop ---------------------------------------------------------------------------

    def _dispatch(self, messages: list[Message]) -> None:
        if not self._open and any(m.error() is None for m in messages):
            self.bus.begin_transaction()
            self._open = True
        super()._dispatch(messages)

    async def _drain(self, timeout: float | None = None) -> bool:
        """Wait until no fetched record is queued or being handled (nothing new is handed out meanwhile:
        only the poll loop does that, and it is waiting for this); False after ``timeout`` or a failure."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.in_flight > 0 and self.failure is None:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._room_at = 0
            self._room_event.clear()
            try:
                await asyncio.wait_for(self._room_event.wait(), 0.1)
            except TimeoutError:
                pass
            finally:
                self._room_at = -1
        return self.in_flight == 0 and self.failure is None

    async def _commit_point(self) -> list[TopicPartition]:
        if not self._open:
            return []
        await self._drain()
        self._due = True
        return self._commits()

    async def _revoke_for_commit(self, numbers: list[int]) -> tuple[list[TopicPartition], bool]:
        """Stop the revoked partitions' workers, let the others finish what they hold; return every
        offset to commit and whether a handler was cut short (then the transaction must abort)."""
        gone = [self.partitions[n] for n in numbers if n in self.partitions]
        offsets = await self._revoked(numbers, lost=False)
        interrupted = any(p.task is not None and p.task.cancelled() for p in gone)
        drained = await self._drain(self.runner.revoke_timeout)
        return offsets + self._commits(), interrupted or not drained

    async def _failed(self, message: Message, event: Event[Any, Any], error: Exception) -> None:
        raise HandlerFailedError(
            f"{self.group}: the handler failed on {_where(message)} in exactly-once mode: its transaction is "
            "aborted and the runner stops; a restart handles the record again"
        ) from error

    async def _shutdown(self) -> None:
        self._closing = list(self.partitions.values())
        self._due = True
        await super()._shutdown()

    # --- the consumer thread ----------------------------------------------------------------------

    def _commit(self, offsets: list[TopicPartition]) -> list[TopicPartition]:
        if not self._due:
            return []
        self._due = False
        return self._end_transaction(offsets, interrupted=False)

    def _end_transaction(self, offsets: list[TopicPartition], *, interrupted: bool) -> list[TopicPartition]:
        """Commit the open transaction with ``offsets``, or abort it (and stop) when it cannot be whole."""
        if not self._open:
            return []
        self._open = False
        if interrupted or self.failure is not None:
            self._abort("a handler was cut short" if interrupted else "the runner is stopping on an error")
            return []
        assert self.consumer is not None
        try:
            self.bus.commit_transaction(offsets, self.consumer.consumer_group_metadata())
        except Exception as e:
            self._fail(e)
            raise
        return offsets

    def _abort(self, why: str) -> None:
        log.warning("%s: aborting the transaction: %s", self.group, why)
        try:
            self.bus.abort_transaction()
        except Exception as e:
            log.error("%s: aborting the transaction failed: %s", self.group, e)
        self._fail(
            TransactionAbortedError(
                "",
                f"{self.group}: the transaction was aborted ({why}); a restart handles its records again",
                retriable=True,
            )
        )

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self.runner.stop()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            offsets, interrupted = self._on_loop(
                self._revoke_for_commit([tp.partition for tp in partitions]), 2 * self.runner.revoke_timeout + 5.0
            )
            committed = self._end_transaction(offsets, interrupted=interrupted)
            self.loop.call_soon_threadsafe(self._committed, committed)
        except Exception:
            log.exception("%s: on_revoke failed", self.group)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        super()._on_lost(consumer, partitions)
        if self._open:  # their records' outputs may be in the transaction; their offsets cannot be sent
            self._open = False
            self._abort("partitions were lost without a revocation")

    def _close(self, commits: list[TopicPartition]) -> list[TopicPartition]:
        interrupted = any(p.task is not None and p.task.cancelled() for p in self._closing)
        self._due = False
        try:
            return self._end_transaction(commits, interrupted=interrupted)
        finally:
            if self.consumer is not None:
                self.consumer.close()  # leaves the group; on_revoke finds nothing left to commit


def _where(message: Message) -> str:
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"


def consumer_lag(config: ClientConfig, group: str, topic: str, *, timeout: float = 10.0) -> list[PartitionLag]:
    """A consumer group's committed offsets vs. the high watermarks of every partition of ``topic``.

    Works whether or not the group's consumers run (it does not join the group).
    """
    consumer = Consumer(
        {**_client_config(config), "group.id": group, "enable.auto.commit": False, "logger": librdkafka_logger()}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise LookupError(f"topic {topic} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        out = []
        for tp in consumer.committed(tps, timeout=timeout):
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            out.append(PartitionLag(group, topic, tp.partition, tp.offset if tp.offset >= 0 else None, high, low))
        return out
    finally:
        consumer.close()
