"""The handler loop of an ``exactly_once`` runner: the consumed offsets commit in the bus's transactions,
with the handler's outputs, instead of with ``consumer.commit``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, Message, TopicPartition

from ..dlq import DeadLetterWriter
from ..errors import TransactionAbortedError
from ..handler import AnyHandler
from .loop import HandlerLoop
from .partition import PartitionState

if TYPE_CHECKING:
    from .runner import ConsumerRunner

__all__ = ["TransactionalLoop"]

log = logging.getLogger("schemabus.consumer")


class TransactionalLoop(HandlerLoop):
    """The handler loop of an ``exactly_once`` runner: offsets commit in the bus's transactions.

    The transaction is begun (on the event loop, a local call) when records are handed to the
    workers, and ended on the consumer thread at a commit point, where no record is queued or being
    handled: the outputs of every record whose offset is sent are in it, and no other outputs.
    Anything else (an error, a handler cut short) aborts it and stops the runner. A handler error is
    not retried (``transactional``: see :func:`~.policy.on_handler_error`).
    """

    transactional = True

    def __init__(
        self, runner: ConsumerRunner, handler: AnyHandler, writer: DeadLetterWriter | None, stop: asyncio.Event
    ) -> None:
        super().__init__(runner, handler, writer, stop)
        assert runner.exactly_once is not None
        self.bus = runner.exactly_once
        self._open = False  # a transaction is open: records were handed out since the last commit
        self._due = False  # the next _commit() (on the consumer thread) is a commit point
        self._closing: list[PartitionState] = []

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
