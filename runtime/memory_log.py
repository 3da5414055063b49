"""An in-memory Kafka for the test kit: per-partition logs, consumer groups' committed offsets, and a
consumer and dead-letter writer over them, so that the production handler loop
(:class:`~schemabus.runtime.consumer.ConsumerRunner`) runs without a broker."""

from __future__ import annotations

import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TIMESTAMP_CREATE_TIME, TopicPartition

from .dlq import DeadLetterRecord, DeadLetterWriter
from .topic import Headers, normalize_headers

__all__ = ["InMemoryConsumer", "InMemoryDeadLetterWriter", "InMemoryLog", "StoredRecord"]

# What an offset that was never committed reads as (librdkafka's OFFSET_INVALID).
_NO_OFFSET = -1001


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the broker would hold it: bytes, not models."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


class InMemoryLog:
    """Topics as per-partition lists of :class:`StoredRecord`, and each consumer group's committed
    offsets. Safe to use from the event loop and from consumer threads at once."""

    def __init__(self) -> None:
        self._logs: dict[tuple[str, int], list[StoredRecord]] = defaultdict(list)
        self._partitions: dict[str, int] = {}
        self._keyless: dict[str, int] = defaultdict(int)  # per topic: keyless records stored so far
        self._committed: dict[tuple[str, str, int], int] = {}
        self.changed = threading.Condition()

    def declare(self, topic: str, partitions: int) -> None:
        """Create ``topic`` with ``partitions`` partitions (as topic creation does; the first count stays)."""
        with self.changed:
            self._partitions.setdefault(topic, max(partitions, 1))

    def partitions(self, topic: str) -> int:
        return self._partitions.get(topic, 1)

    def append(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        *,
        partitions: int = 1,
    ) -> StoredRecord:
        """Store a record in the partition its key hashes to (keyless records go round the partitions)."""
        with self.changed:
            count = self._partitions.setdefault(topic, max(partitions, 1))
            if key is None:
                partition = self._keyless[topic] % count
                self._keyless[topic] += 1
            else:
                partition = zlib.crc32(key) % count
            log = self._logs[(topic, partition)]
            record = StoredRecord(
                topic, partition, len(log), key, value, tuple(normalize_headers(headers)), int(time.time() * 1000)
            )
            log.append(record)
            self.changed.notify_all()
        return record

    def read(self, topic: str, partition: int, offset: int, limit: int) -> list[StoredRecord]:
        return self._logs.get((topic, partition), [])[offset : offset + limit]

    def end(self, topic: str, partition: int) -> int:
        """The high watermark: the offset the next record of the partition gets."""
        return len(self._logs.get((topic, partition), []))

    def records(self, topic: str) -> list[StoredRecord]:
        """Every record of ``topic``, by partition then offset."""
        return [r for (name, _), log in sorted(self._logs.items()) if name == topic for r in log]

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        with self.changed:
            self._committed[(group, topic, partition)] = offset
            self.changed.notify_all()

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        """The next offset ``group`` reads from the partition, if it committed one."""
        return self._committed.get((group, topic, partition))

    def caught_up(self, group: str, topic: str) -> bool:
        """Whether ``group`` committed every record of ``topic``."""
        return all((self.committed(group, topic, p) or 0) >= self.end(topic, p) for p in range(self.partitions(topic)))


class _Message:
    """A record as a confluent ``Consumer`` returns it (the methods the handler loop calls)."""

    __slots__ = ("_record",)

    def __init__(self, record: StoredRecord) -> None:
        self._record = record

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._record.topic

    def partition(self) -> int:
        return self._record.partition

    def offset(self) -> int:
        return self._record.offset

    def key(self) -> bytes | None:
        return self._record.key

    def value(self) -> bytes | None:
        return self._record.value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return list(self._record.headers) or None

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, self._record.timestamp_ms


Rebalance = Callable[[Any, list[TopicPartition]], None]


class InMemoryConsumer:
    """The part of confluent's ``Consumer`` the handler loop uses, over an :class:`InMemoryLog`: the group
    (``group.id``) is this consumer alone, so it is assigned every partition of the topic on its first
    poll (``on_assign`` runs inside poll, as in librdkafka), reads from the committed offsets (else from
    ``auto.offset.reset``: earliest or latest), commits into the log, and is revoked on close."""

    def __init__(self, config: dict[str, Any], log: InMemoryLog) -> None:
        self.log = log
        self.group = str(config["group.id"])
        self._latest = config.get("auto.offset.reset") == "latest"
        self._topic: str | None = None
        self._callbacks: tuple[Rebalance | None, Rebalance | None] = (None, None)
        self._positions: dict[int, int] = {}
        self._paused: set[int] = set()
        self._assigned = False
        self._next = 0  # the partition to read first next time (round robin)

    def subscribe(
        self,
        topics: list[str],
        on_assign: Rebalance | None = None,
        on_revoke: Rebalance | None = None,
        on_lost: Rebalance | None = None,
    ) -> None:
        (self._topic,) = topics
        self._callbacks = (on_assign, on_revoke)

    def _partitions(self) -> list[TopicPartition]:
        assert self._topic is not None
        return [TopicPartition(self._topic, p) for p in sorted(self._positions)]

    def _assign(self) -> None:
        if self._assigned or self._topic is None:
            return
        self._assigned = True
        topic = self._topic
        for p in range(self.log.partitions(topic)):
            committed = self.log.committed(self.group, topic, p)
            self._positions[p] = committed if committed is not None else (self.log.end(topic, p) if self._latest else 0)
        on_assign = self._callbacks[0]
        if on_assign is not None:
            on_assign(self, self._partitions())

    def _fetch(self, limit: int) -> list[_Message]:
        assert self._topic is not None
        out: list[_Message] = []
        numbers = sorted(self._positions)
        if not numbers:
            return out
        start = self._next % len(numbers)
        for number in numbers[start:] + numbers[:start]:
            if number in self._paused or len(out) >= limit:
                continue
            records = self.log.read(self._topic, number, self._positions[number], limit - len(out))
            self._positions[number] += len(records)
            out += [_Message(r) for r in records]
        self._next += 1
        return out

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[_Message]:
        self._assign()
        deadline = time.monotonic() + max(timeout, 0)
        with self.log.changed:
            while True:
                messages = self._fetch(num_messages)
                remaining = deadline - time.monotonic()
                if messages or remaining <= 0:
                    return messages
                self.log.changed.wait(remaining)

    def poll(self, timeout: float = -1) -> _Message | None:
        messages = self.consume(1, timeout)
        return messages[0] if messages else None

    def assignment(self) -> list[TopicPartition]:
        return self._partitions() if self._topic is not None else []

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused.update(tp.partition for tp in partitions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused.difference_update(tp.partition for tp in partitions)

    def seek(self, partition: TopicPartition) -> None:
        self._positions[partition.partition] = partition.offset

    def commit(
        self, message: Any = None, offsets: Sequence[TopicPartition] | None = None, asynchronous: bool = True
    ) -> list[TopicPartition]:
        done = list(offsets or ())
        for tp in done:
            self.log.commit(self.group, tp.topic, tp.partition, tp.offset)
        return done

    def committed(self, partitions: list[TopicPartition], timeout: float = -1) -> list[TopicPartition]:
        out = []
        for tp in partitions:
            offset = self.log.committed(self.group, tp.topic, tp.partition)
            out.append(TopicPartition(tp.topic, tp.partition, _NO_OFFSET if offset is None else offset))
        return out

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        return 0, self.log.end(partition.topic, partition.partition)

    def consumer_group_metadata(self) -> None:
        return None  # no transactions in memory

    def close(self) -> None:
        on_revoke = self._callbacks[1]
        if on_revoke is not None and self._positions:
            on_revoke(self, self._partitions())
        self._positions.clear()


class InMemoryDeadLetterWriter(DeadLetterWriter):
    """Writes dead letters into an :class:`InMemoryLog` (``dlq.{topic}`` with one partition, as a
    broker creates a topic with its defaults)."""

    def __init__(self, log: InMemoryLog) -> None:
        super().__init__("in-memory", create_topics=False)
        self.log = log

    def write(self, record: DeadLetterRecord) -> tuple[int, int]:
        stored = self.log.append(record.topic, record.key, record.value, list(record.headers))
        return stored.partition, stored.offset

    def close(self) -> None:
        pass
