"""One assigned partition on the consumer side: its queue of fetched records, its worker's state, and the
:class:`OffsetTracker` that knows which offset may be committed."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Message, TopicPartition

__all__ = ["OffsetTracker", "PartitionState", "offsets_to_commit"]


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


@dataclass(eq=False)
class PartitionState:
    """An assigned partition: its worker (``task``), the records fetched and not started (``queue``),
    the event that wakes the worker, its tracker, the offset last committed, and whether it is closing
    (revoked, or the runner is stopping)."""

    number: int
    task: asyncio.Task[None] | None = None
    closing: bool = False
    committed: int | None = None

    def __post_init__(self) -> None:
        self.queue: deque[Message] = deque()
        self.wake = asyncio.Event()
        self.tracker = OffsetTracker()


def offsets_to_commit(topic: str, partitions: Iterable[PartitionState]) -> list[TopicPartition]:
    """The offsets of ``partitions`` that may be committed and were not yet."""
    return [
        TopicPartition(topic, p.number, p.tracker.committable)
        for p in partitions
        if p.tracker.committable is not None and p.tracker.committable != p.committed
    ]
