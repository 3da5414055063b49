"""The transactional state of a bus with a ``transactional_id`` (the guarantees: README, and the public
:mod:`schemabus.runtime.transactions`).

:class:`Transactions` owns whether transactions are initialized on the current producer, whether one
is open (and on which producer), the locks callers take turns on, and the transactional calls to
librdkafka with their retries and typed errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from ..config import ProducerSettings, redact
from ..errors import (
    AuthorizationError,
    PublishError,
    SchemabusError,
    TransactionAbortedError,
    TransactionError,
    TransactionOutcomeUnknownError,
    TransactionStateError,
)
from ..transactions import Transaction
from .errors import AUTHORIZATION_CODES, fatal_failure, kafka_error

if TYPE_CHECKING:
    from .bus import KafkaBus
    from .health import Health

__all__ = ["Transactions"]

log = logging.getLogger("schemabus.kafka")

_TXN_RETRY_S = 0.1  # pause before retrying a transactional call that failed with a retriable error


class Transactions:
    """The transactions of ``bus`` on the producer of ``health``; inert unless ``settings`` has a
    ``transactional_id`` (:attr:`transactional`). :attr:`open`: a transaction is open."""

    def __init__(self, bus: KafkaBus, health: Health, settings: ProducerSettings, secrets: list[str]) -> None:
        self._bus = bus
        self._health = health
        self._secrets = secrets
        self.transactional = settings.transactional_id is not None
        self._timeout_s = settings.transaction_timeout_s
        self._lock = asyncio.Lock()  # async transaction() callers wait here for their turn
        self._sync_lock = threading.RLock()  # and transaction_sync() callers here (nesting: an error)
        self._state = threading.Lock()  # guards open and _ready
        self._init = threading.Lock()
        self.open = False
        self._ready = False  # init_transactions done on the current producer
        self._producer: Producer | None = None  # the producer the open (or last) transaction began on

    # --- starting ---------------------------------------------------------------------------

    async def start(self) -> None:
        """:meth:`start_sync` off the event loop (a no-op for a plain bus or when done already)."""
        if self.transactional and not self._ready:
            await asyncio.to_thread(self.start_sync)

    def start_sync(self) -> None:
        """``init_transactions`` on the producer (see :meth:`KafkaBus.start_sync`)."""
        if not self.transactional or self._ready:
            return
        with self._init:
            if self._ready:
                return
            health = self._health
            health.check_usable()
            producer = health.producer
            self._init_transactions(producer)
            with self._state:
                if producer is health.producer:  # else a rebuild replaced it meanwhile: the next start() inits that one
                    self._ready = True

    @contextlib.contextmanager
    def replacing_producer(self) -> Iterator[None]:
        """Held while the health replaces the producer: one step for transactions, a new producer, none
        open on it and not initialized yet. The old producer's transaction dies with it (the coordinator
        aborts it when the new one initializes). init_transactions runs on the next start() or
        transaction(), not on the poll thread: it may take up to the transaction timeout."""
        with self._state:
            yield
            if self.transactional:
                self.open = False
                self._ready = False

    # --- one block --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """See :meth:`KafkaBus.transaction`."""
        self.require_transactional()
        async with self._lock:
            await self.start()
            self.begin()
            tx = Transaction(self._bus)
            try:
                yield tx
            except BaseException as e:
                await _in_thread_to_the_end(partial(self._abort_after, e))
                raise
            await _in_thread_to_the_end(partial(self.commit, tx.offsets, tx.group_metadata))

    @contextlib.contextmanager
    def transaction_sync(self) -> Iterator[Transaction]:
        """See :meth:`KafkaBus.transaction_sync`."""
        self.require_transactional()
        with self._sync_lock:
            self.start_sync()
            self.begin()
            tx = Transaction(self._bus)
            try:
                yield tx
            except BaseException as e:
                self._abort_after(e)
                raise
            self.commit(tx.offsets, tx.group_metadata)

    def require_transactional(self) -> None:
        if not self.transactional:
            raise TransactionStateError("", "this bus is not transactional: set ProducerSettings.transactional_id")

    # --- the steps --------------------------------------------------------------------------

    def begin(self) -> None:
        """See :meth:`KafkaBus.begin_transaction`."""
        health = self._health
        health.check_usable()
        with self._state:
            health.check_usable()  # again: a rebuild swaps the producer under this lock
            if not self._ready:
                raise TransactionStateError("", "transactions are not initialized: start() the bus", retriable=True)
            if self.open:
                raise TransactionStateError("", "a transaction is already open on this bus")
            producer = health.producer
            try:
                producer.begin_transaction()
            except KafkaException as e:
                raise self.typed_error("begin the transaction", e) from None
            self.open = True
            self._producer = producer

    def commit(self, offsets: Sequence[TopicPartition] = (), group_metadata: Any = None) -> None:
        """See :meth:`KafkaBus.commit_transaction`."""
        if not self.open:
            if self._producer is not None and self._producer is not self._health.producer:
                self._producer = None
                lost = "the producer was replaced after a fatal error: the open transaction was aborted"
                raise TransactionAbortedError("", lost, retriable=True)
            raise TransactionStateError("", "no transaction is open to commit")
        producer = self._health.producer
        deadline = time.monotonic() + self._timeout_s
        try:
            if offsets:
                self._call(
                    "send the consumed offsets",
                    lambda timeout: producer.send_offsets_to_transaction(list(offsets), group_metadata, timeout),
                    deadline,
                )
            try:
                self._call("commit", producer.commit_transaction, deadline)
            except _NeedsAbort as e:
                if e.timed_out:
                    raise self._commit_outcome_unknown(e.error) from None
                raise
        except _NeedsAbort as e:
            cause = e.error
            self.abort()
            text = redact(cause.str(), self._secrets)
            raise TransactionAbortedError(
                "",
                f"the commit failed ({cause.name()}: {text}); the transaction was aborted",
                retriable=True,
                code=cause.name(),
            ) from None
        finally:
            self._closed()  # committed, aborted, or gone with a producer lost to a fatal error

    def _commit_outcome_unknown(self, error: KafkaError) -> TransactionOutcomeUnknownError:
        """A commit still failing (retriable) at the transaction timeout: librdkafka refuses an abort once
        a commit has begun, so the producer is replaced; the new one's init_transactions settles it."""
        text = redact(error.str(), self._secrets)
        self._health.on_error(KafkaError(KafkaError._FATAL, f"the outcome of a commit is unknown: {text}", fatal=True))
        return TransactionOutcomeUnknownError(
            "",
            f"the commit did not finish within the transaction timeout ({error.name()}: {text}): the "
            "transaction may have committed or not; the producer is replaced, and initializing the new "
            "one settles the transaction",
            possibly_persisted=True,
            code=error.name(),
        )

    def abort(self) -> None:
        """See :meth:`KafkaBus.abort_transaction`."""
        if not self.open:
            return
        health = self._health
        health.expect_purge(TransactionAbortedError("", "the transaction was aborted", retriable=True))
        producer = health.producer
        try:
            self._call("abort", producer.abort_transaction, time.monotonic() + self._timeout_s)
        except _NeedsAbort as e:
            # Neither committed nor aborted: a new producer (init_transactions) aborts it at the coordinator.
            health.on_error(KafkaError(KafkaError._FATAL, f"cannot abort the transaction: {e.error.str()}", fatal=True))
            raise self.typed_error("abort", KafkaException(e.error)) from None
        finally:
            self._closed()

    def _abort_after(self, cause: BaseException) -> None:
        """Abort because the transaction's block raised ``cause``; an abort failure is noted on ``cause``."""
        try:
            self.abort()
        except SchemabusError as e:
            log.error("aborting the transaction failed: %s", e)
            cause.add_note(f"schemabus: aborting the transaction failed too: {e}")

    def _closed(self) -> None:
        with self._state:
            self.open = False

    # --- librdkafka's transactional calls ---------------------------------------------------

    def _call(self, what: str, call: Callable[[float], object], deadline: float) -> None:
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
                    raise self.typed_error(what, e) from None
                retriable = error.retriable() and not error.txn_requires_abort()
                if retriable and time.monotonic() < deadline:
                    log.info("cannot %s yet (retrying): %s", what, redact(error.str(), self._secrets))
                    time.sleep(_TXN_RETRY_S)
                    continue
                raise _NeedsAbort(error, timed_out=retriable) from None

    def _init_transactions(self, producer: Producer) -> None:
        deadline = time.monotonic() + self._timeout_s
        try:
            self._call("initialize transactions", producer.init_transactions, deadline)
        except _NeedsAbort as e:
            raise self.typed_error("initialize transactions", KafkaException(e.error)) from None

    def typed_error(self, what: str, e: KafkaException) -> PublishError:
        """The typed error of a failed transactional call (fatal ones replace the producer, or fence the bus)."""
        error = kafka_error(e)
        if error is None:
            return TransactionError("", f"cannot {what}: {redact(str(e), self._secrets)}")
        text = redact(error.str(), self._secrets)
        if error.fatal():
            health = self._health
            if health.fatal is None and health.fenced is None:
                health.on_error(error)
            if health.fenced is not None:
                return health.fenced
            failure = fatal_failure(error, text)
            return type(failure)("", f"cannot {what}: {failure.reason}", retriable=failure.retriable, code=failure.code)
        if error.code() in AUTHORIZATION_CODES:
            return AuthorizationError("", f"cannot {what}: not authorized: {text}", code=error.name())
        if error.code() == KafkaError._STATE:
            return TransactionStateError("", f"cannot {what}: {text}")
        return TransactionError(
            "", f"cannot {what}: {error.name()}: {text}", retriable=error.retriable(), code=error.name()
        )

    def produce_refusal(self, error: KafkaError, topic: str) -> PublishError | None:
        """What a ``produce`` refused with ``error`` raises on a transactional bus, if it is about transactions."""
        fenced = self._health.fenced
        if fenced is not None:
            return fenced.for_topic(topic, possibly_persisted=False)
        if error.code() == KafkaError._STATE and self.open:
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
        return None


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
