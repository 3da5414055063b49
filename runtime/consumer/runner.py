"""The consumer runner: its configuration (the settings, the consumer configuration checked by
librdkafka), running its handlers' loops until it is stopped, and observing them (metrics, lag)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import Consumer

from ..bus import RecordCodec
from ..client_check import check_librdkafka
from ..config import (
    RUNNER_CONSUMER_PROPERTIES,
    TYPED_CONSUMER_PROPERTIES,
    ConsumerConfig,
    ConsumerSettings,
    secret_values,
)
from ..dlq import ClientConfig, DeadLetterWriter
from ..errors import ConfigError, ServerUnavailableError
from ..handler import AnyHandler, consumer_group
from ..health import HealthStatus
from ..kafka.topics import ClusterTopic, check_topics, read_cluster
from ..registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaRegistry, SchemaVersion
from ..retry import RetryPolicy
from .exactly_once import TransactionalLoop
from .lag import PartitionLag, client_config
from .loop import ConsumerMetrics, HandlerLoop

if TYPE_CHECKING:
    from ..kafka import KafkaBus
    from ..metrics import Metrics
    from ..registry_client import ConfluentRegistry

__all__ = ["ConsumerRunner"]

H = TypeVar("H", bound=AnyHandler)

# What the runner's commits need (RUNNER_CONSUMER_PROPERTIES: the caller may not set them otherwise).
_FORCED: dict[str, Any] = {"enable.auto.commit": False, "enable.auto.offset.store": False}
log = logging.getLogger("schemabus.consumer")
_TOPIC_CHECK_S = 10.0  # the topic check at start: at most this long (less when every broker is down)
_STARTUP_PAUSE_S = 1.0  # between attempts to reach the cluster at start
_PROBE_GROUP = "schemabus-config-check"  # the group.id of the configuration checked at construction


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
    """Runs typed handlers against Kafka; README ("On Kafka") says what it guarantees.

    ``handlers`` handle one event at a time (``topic.handler()``, a generated ``<Topic>Handler``) or
    lists of one partition's events (``topic.batch_handler()``, a
    :class:`~schemabus.runtime.handler.BatchHandler`; README, "Batch handlers"); each has its own
    consumer group and the same loop.
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
    then commit in the same transactions (README, "Exactly once"); a runner in this mode has
    one handler.
    ``consumer_factory`` builds each handler's consumer from its configuration (confluent's ``Consumer``;
    :class:`~schemabus.runtime.testing.InMemoryBus` passes one over its in-memory log).
    ``metrics`` (a :class:`~schemabus.runtime.metrics.Metrics`) gets each handler's counters, records in
    flight, handler durations and its consumer's librdkafka statistics (``metrics_sink``); the
    counters are kept without it too (:attr:`metrics`, :meth:`handler_metrics`).
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
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics_sink = metrics
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if exactly_once is not None and not exactly_once.transactional:
            raise ValueError("exactly_once needs a transactional KafkaBus (ProducerSettings.transactional_id)")
        if exactly_once is not None and isinstance(dead_letters, DeadLetterWriter):
            from ..transactions import TransactionalDeadLetterWriter

            if not isinstance(dead_letters, TransactionalDeadLetterWriter):
                # Its writes would land outside the transactions: an abort and restart would repeat them.
                raise ValueError("with exactly_once, dead letters go through the bus: pass dead_letters=True")
        self.exactly_once = exactly_once
        self.config = client_config(config)
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
        self._loops: list[HandlerLoop] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        self._failure: BaseException | None = None  # what stopped run() against its will
        self._finished = False
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
        metrics: Metrics | None = None,
    ) -> ConsumerRunner:
        """A runner for ``config``. Without ``registry``, one for ``config.registry``, closed when the
        runner stops; its ids are looked up, never registered (in lookup mode, at the pinned
        ``schema_versions``)."""
        from ..registry_client import ConfluentRegistry

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
                metrics=metrics,
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
        metrics: Metrics | None = None,
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
            metrics=metrics,
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
                from ..transactions import TransactionalDeadLetterWriter

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
        stop_event = self._stop_event = asyncio.Event()
        if self._stop_requested:
            stop_event.set()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self.stop)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
                    pass
        try:
            try:
                writer = await loop.run_in_executor(None, self._prepare)
            except asyncio.CancelledError:
                self.stop()  # ends a wait for the cluster in _prepare (its thread outlives the cancellation)
                raise
            if self.exactly_once is not None:
                await self.exactly_once.start()
            kind = HandlerLoop if self.exactly_once is None else TransactionalLoop
            self._loops = [kind(self, handler, writer, stop_event) for handler in self._handlers]
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
        except Exception as e:
            self._failure = e
            raise
        finally:
            self._finished = True
            for sig in installed:
                loop.remove_signal_handler(sig)
            if self._writer is not None and self._dead_letters is True:
                await loop.run_in_executor(None, self._writer.close)
            if self._owned_registry is not None:
                self._owned_registry.close()

    def _prepare(self) -> DeadLetterWriter | None:
        """Off the event loop: check the handlers' topics (``topic_check``), find the reader schemas' ids
        once, create the dead-letter producer."""
        if self.settings.startup_timeout is not None or self.settings.topic_check != "off":
            cluster = self._reach_cluster()
            if cluster is None:
                if self._stop_requested:
                    return None
            elif self.settings.topic_check != "off":
                topics = [h.topic for h in self._handlers]
                check_topics(self.config, topics, self.settings.topic_check, timeout=_TOPIC_CHECK_S, cluster=cluster)
        ids = self.codec.ids
        for handler in self._handlers:
            topic = handler.topic
            for subject, serde in ((topic.key_subject, topic.key), (topic.value_subject, topic.value)):
                if serde is not None and serde.schema is not None:
                    with contextlib.suppress(LookupError):
                        ids.id_for(subject, serde.schema, serde.format)
        return self._dead_letter_writer()

    def _reach_cluster(self) -> dict[str, ClusterTopic] | None:
        """The cluster's topics, read within ``startup_timeout`` (ServerUnavailableError naming the
        servers after it); None when a stop was asked meanwhile, or when no broker answers and there is
        no ``startup_timeout`` (the consumers then wait for the cluster, as they do once running)."""
        limit = self.settings.startup_timeout
        started = time.monotonic()
        while True:
            left = _TOPIC_CHECK_S if limit is None else limit - (time.monotonic() - started)
            try:
                return read_cluster(self.config, (), timeout=max(min(left, _TOPIC_CHECK_S), 0.1))
            except ServerUnavailableError as e:
                if limit is None:
                    log.warning("could not check the handlers' topics against the catalog: %s", e)
                    return None
                elapsed = time.monotonic() - started
                if elapsed >= limit:
                    raise ServerUnavailableError(
                        e.server, e.address, "start consuming (startup_timeout)", e.cause, elapsed=elapsed
                    ) from None
                unreachable = e
            if self._stop_requested:
                return None
            log.debug("waiting for the cluster: %s", unreachable)
            time.sleep(min(_STARTUP_PAUSE_S, max(limit - (time.monotonic() - started), 0.0)))

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

    def health(self) -> HealthStatus:
        """Liveness and readiness for probes (:mod:`schemabus.runtime.health`). Live until run() ends (an
        error that stopped it, such as a fatal Kafka error, a handler failure in exactly-once mode or a
        registry outage, is the reason). Ready while running with partitions assigned to every handler's
        consumer: not while starting, rebalancing (an eager rebalance revokes every partition first),
        when the group has more members than the topic has partitions, or while a partition waits for an
        unreachable schema registry (``registry_outage_limit``)."""
        component = f"ConsumerRunner({self.service or ', '.join(sorted({h.topic.name for h in self._handlers}))})"
        if self._failure is not None:
            failure, cause = self._failure, self._failure.__cause__
            reason = f"stopped by {type(failure).__name__}: {failure}"
            if cause is not None:
                reason += f" (caused by {type(cause).__name__}: {cause})"
            return HealthStatus(component, live=False, ready=False, reason=reason)
        if self._finished:
            return HealthStatus(component, live=False, ready=False, reason="stopped")
        if not self._loops:
            return HealthStatus(component, live=True, ready=False, reason="not running yet")
        waiting = [reason for hl in self._loops for _, reason in sorted(hl.waiting.items())]
        now, limit = time.monotonic(), self.settings.cluster_down_timeout
        for hl in self._loops:
            since = hl.unreachable_since()
            if since is not None and now - since >= limit:
                waiting.append(f"waiting for Kafka for {now - since:.0f}s (group {hl.group})")
        if waiting:
            return HealthStatus(component, live=True, ready=False, reason="; ".join(waiting))
        unassigned = sorted(hl.group for hl in self._loops if not hl.partitions)
        if unassigned:
            reason = f"no partitions assigned to group {', '.join(unassigned)}"
            return HealthStatus(component, live=True, ready=False, reason=reason)
        return HealthStatus(component, live=True, ready=True)

    def assignment(self) -> dict[str, list[int]]:
        """The partitions each consumer group's consumer holds now."""
        return {hl.group: sorted(hl.partitions) for hl in self._loops}

    async def lag(self, timeout: float = 10.0) -> list[PartitionLag]:
        """Committed offset vs. high watermark for every partition assigned to this runner now."""
        out: list[PartitionLag] = []
        for hl in self._loops:
            out.extend(await hl.lag(timeout))
        return out
