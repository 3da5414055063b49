"""Whether the bus's producer may be used, and keeping it usable.

:class:`Health` owns the current producer and the refusal state every publish reads (closed, or the
failure new publishes fail with), handles librdkafka's error callback, probes the cluster while it is
unreachable, replaces the producer after a fatal error and marks a transactional bus fenced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException, Producer

from ..config import KafkaConfig, ProducerSettings, redact
from ..errors import (
    AuthenticationError,
    AuthorizationError,
    FatalProducerError,
    ProducerFencedError,
    PublishError,
    SchemabusError,
)
from ..health import HealthStatus
from ..transactions import is_fenced
from .errors import AUTHENTICATION_CODES, AUTHORIZATION_CODES, fatal_failure, kafka_error

if TYPE_CHECKING:
    from .delivery import Delivery
    from .transactions import Transactions

__all__ = ["Health"]

log = logging.getLogger("schemabus.kafka")

_PROBE_TIMEOUT_S = 1.0  # one metadata request while the cluster is unreachable
DRAIN_OLD_PRODUCER_S = 5.0  # after a fatal error, how long the replaced producer may report its records


class Health:
    """The producer and its state. ``new_producer(error_cb)`` makes a producer whose librdkafka errors go
    to ``error_cb``; the first one is made here. Set by the error callback and the poll thread, read by
    every publish: :attr:`producer`, :attr:`closed` and :attr:`failure` (new publishes fail with it until
    it clears), :attr:`down_since`, :attr:`last_transport`, :attr:`purge_reason`, :attr:`fatal`,
    :attr:`fenced`. :meth:`connect` the delivery and the transactions before the poll thread starts.

    After an authentication, authorization or unreachable-cluster error (no broker for
    ``broker_down_timeout_ms``) the records still queued fail with it and new publishes fail at once,
    until a metadata probe reaches the cluster again. After a fatal error the producer is replaced
    (backing off when it repeats); a transactional producer fenced by a newer one stays unusable."""

    def __init__(
        self,
        kafka: KafkaConfig,
        settings: ProducerSettings,
        secrets: list[str],
        new_producer: Callable[[Callable[[KafkaError], None]], Producer],
    ) -> None:
        self._kafka = kafka
        self._settings = settings
        self._secrets = secrets
        self._transactional = settings.transactional_id is not None
        self._new_producer = new_producer
        self._delivery: Delivery | None = None
        self._transactions: Transactions | None = None

        self._state_lock = threading.Lock()
        self.closed = False
        self.failure: PublishError | None = None  # new publishes fail with this until it clears
        self.down_since: float | None = None  # first _ALL_BROKERS_DOWN not followed by a success
        self.last_transport: str | None = None
        self.purge_reason: PublishError | None = None  # what records purged from now on fail with
        self._purge_requested = False
        self.fatal: KafkaError | None = None
        self.fenced: ProducerFencedError | None = None
        self._rebuilds: list[float] = []
        self._replaced: Producer | None = None  # while the poll thread drains a producer it replaced
        self._draining_in: threading.Thread | None = None  # the poll thread, once it replaced a producer
        self._stopping = threading.Event()
        self._probe: threading.Thread | None = None
        self.producer: Producer = new_producer(self.on_error)

    def status(self, component: str) -> HealthStatus:
        """Liveness and readiness (:mod:`schemabus.runtime.health`): not live once closed or fenced; not
        ready while publishes fail (an unreachable cluster, a refusal, a fatal error being recovered)."""
        if self.closed:
            return HealthStatus(component, live=False, ready=False, reason="closed")
        if self.fenced is not None:
            return HealthStatus(component, live=False, ready=False, reason=self.fenced.reason)
        failure = self.failure
        if failure is not None:
            return HealthStatus(component, live=True, ready=False, reason=failure.reason)
        down_since = self.down_since
        if down_since is not None:
            return HealthStatus(
                component,
                live=True,
                ready=False,
                reason=f"no broker reachable for {time.monotonic() - down_since:.0f}s",
            )
        return HealthStatus(component, live=True, ready=True)

    def connect(self, delivery: Delivery, transactions: Transactions) -> None:
        """What a replacement needs: ``delivery`` drains the old producer, ``transactions`` resets its state."""
        self._delivery = delivery
        self._transactions = transactions

    def close(self) -> None:
        """New publishes are refused from now on (as closed)."""
        self.closed = True

    def stop(self) -> None:
        """No probe starts any more; a running one ends."""
        self._stopping.set()

    def expect_purge(self, reason: PublishError) -> None:
        """Records purged from now on fail with ``reason`` (an abort, a close)."""
        self.purge_reason = reason

    # --- refusals ---------------------------------------------------------------------------

    def refusal(self, topic: str, failure: PublishError | None) -> PublishError:
        """Why a publish is refused: the bus is closed, or ``failure`` (as read by the caller)."""
        if self.closed:
            return PublishError(topic, "the bus is closed")
        if failure is None:  # cleared meanwhile
            return PublishError(topic, "the producer is recovering; publish again", retriable=True)
        return failure.for_topic(topic, possibly_persisted=False)

    def check_usable(self, topic: str = "") -> None:
        """Raise the refusal (for ``topic``) when the bus is closed or failing."""
        failure = self.failure
        if failure is not None or self.closed:
            raise self.refusal(topic, failure)

    # --- errors -----------------------------------------------------------------------------

    def on_exception(self, e: KafkaException) -> None:
        """A KafkaException raised by ``poll`` or ``flush`` (a fatal error): as :meth:`on_error`."""
        error = kafka_error(e)
        if error is None:
            raise e
        self.on_error(error)

    def on_error(self, error: KafkaError) -> None:
        """librdkafka's error_cb: client-level errors, in the thread that polls."""
        code = error.code()
        text = redact(error.str(), self._secrets)
        if self._replaced is not None and threading.current_thread() is self._draining_in:
            # The poll thread polls only the replaced producer now: its errors are no longer the bus's
            # (a transactional one is fenced by its replacement, which has the same transactional id).
            log.info("the replaced producer: librdkafka error %s: %s", error.name(), text)
            return
        log.debug("librdkafka error %s: %s", error.name(), text)
        if error.fatal() and self._transactional and (self.fenced is not None or is_fenced(error)):
            self._fence(text)
        elif error.fatal():
            if self.fatal is not None:
                return  # known already; the producer is being replaced
            log.error("fatal producer error %s: %s; the producer will be replaced", error.name(), text)
            self.fatal = error
            self._set_failure(fatal_failure(error, text), purge=False)
        elif code in AUTHENTICATION_CODES:
            self._set_failure(AuthenticationError("", f"authentication failed: {text}", code=error.name()))
        elif code in AUTHORIZATION_CODES:
            self._set_failure(AuthorizationError("", f"not authorized: {text}", code=error.name()))
        elif code == KafkaError._ALL_BROKERS_DOWN:
            with self._state_lock:
                if self.down_since is None:
                    self.down_since = time.monotonic()
            self._start_probe()
        elif code in (KafkaError._TRANSPORT, KafkaError._RESOLVE):
            self.last_transport = text

    def _fence(self, text: str) -> None:
        """A newer producer with our transactional id took over: stop for good (no new producer)."""
        if self.fenced is not None:
            return
        log.error("this transactional producer was fenced by a newer instance: %s; the bus stays unusable", text)
        self.fenced = ProducerFencedError(
            "",
            f"fenced by a newer producer with transactional id {self._settings.transactional_id!r}: {text}",
            code="_FENCED",
        )
        with self._state_lock:
            self.failure = self.fenced
            self.fatal = None

    def _set_failure(self, failure: PublishError, *, purge: bool = True) -> None:
        with self._state_lock:
            first = self.failure is None
            if self.failure is None or not isinstance(self.failure, FatalProducerError):
                self.failure = failure
        if first:
            log.error("publishing to %s stopped: %s", self._kafka.bootstrap_servers, failure.reason)
        if purge:
            self.purge_reason = failure
            self._purge_requested = True  # done by the poll thread, outside librdkafka's callback
            self._start_probe()

    # --- the poll thread's chores -------------------------------------------------------------

    def housekeeping(self) -> None:
        """Called by the poll thread after each poll: fail publishes after ``broker_down_timeout_ms``
        without a broker, purge what a failure asked for, replace the producer after a fatal error."""
        budget = self._settings.broker_down_timeout_ms
        down_since = self.down_since
        if (
            budget is not None
            and down_since is not None
            and self.failure is None
            and time.monotonic() - down_since >= budget / 1000
        ):
            detail = f": {self.last_transport}" if self.last_transport else ""
            self._set_failure(
                PublishError(
                    "",
                    f"no broker of {self._kafka.bootstrap_servers} reachable for {budget / 1000:g}s{detail}",
                    retriable=True,
                    code="_ALL_BROKERS_DOWN",
                )
            )
        if self._purge_requested:
            self._purge_requested = False
            # Queued records are failed now (their futures get the reason); records in flight keep
            # their own outcome: acknowledged, or timed out as possibly persisted.
            self.producer.purge(in_queue=True, in_flight=False, blocking=False)
        if self.fatal is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        """Replace the producer after a fatal error; its queued and in-flight records fail (or get
        acknowledged) through their delivery reports. Repeated fatal errors back off (1 s .. 30 s)."""
        delivery, transactions = self._delivery, self._transactions
        assert delivery is not None and transactions is not None, "connect() first"
        now = time.monotonic()
        self._rebuilds = [t for t in self._rebuilds if now - t < 60]
        if self._rebuilds and now - self._rebuilds[-1] < min(2 ** (len(self._rebuilds) - 1), 30):
            return
        fatal = self.fatal
        assert fatal is not None
        old = self.producer
        try:
            new = self._new_producer(self.on_error)
        except SchemabusError:
            log.exception("cannot replace the producer after a fatal error")
            self._rebuilds.append(now)
            return
        self._rebuilds.append(now)
        failure = fatal_failure(fatal, redact(fatal.str(), self._secrets))
        self.purge_reason = type(failure)(
            "", f"{failure.reason}; the producer was replaced", retriable=failure.retriable, code=failure.code
        )
        with transactions.replacing_producer():  # one step for transactions: none open, not initialized yet
            self.producer = new
        with self._state_lock:
            self.fatal = None
            if isinstance(self.failure, FatalProducerError):
                self.failure = None
        # Only the poll thread rebuilds (housekeeping): its errors are the old producer's while it drains.
        self._draining_in = threading.current_thread()
        self._replaced = old
        try:
            delivery.drain(old, time.monotonic() + DRAIN_OLD_PRODUCER_S)
        finally:
            self._replaced = None
        if len(old):
            log.error("%d records of the replaced producer never reported their delivery", len(old))
        log.warning("the producer was replaced after fatal error %s", fatal.name())

    # --- recovery ---------------------------------------------------------------------------

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
                    if self.down_since is None and (
                        self.failure is None or isinstance(self.failure, FatalProducerError)
                    ):
                        return
                try:
                    self.producer.list_topics(timeout=_PROBE_TIMEOUT_S)
                except KafkaException:
                    self._stopping.wait(0.5)
                    continue
                self.recovered("the cluster answered a metadata request")
        finally:
            with self._state_lock:
                self._probe = None

    def recovered(self, why: str) -> None:
        """The cluster answered (a metadata request, or a record acknowledged): clear a failure that is
        not the producer's own."""
        with self._state_lock:
            failure = self.failure
            self.down_since = None
            self.last_transport = None
            if failure is not None and not isinstance(failure, FatalProducerError):
                self.failure = None
            else:
                failure = None
        if failure is not None:
            log.warning("publishing to %s resumed: %s", self._kafka.bootstrap_servers, why)
