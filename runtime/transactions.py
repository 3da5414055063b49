"""The public face of a transactional :class:`~schemabus.runtime.kafka.KafkaBus` (README, "Exactly once"):
:class:`Transaction`, what ``async with bus.transaction() as tx`` gives, and the dead-letter writer
that writes into the open transaction. The transactional state itself is :mod:`.kafka.transactions`'s."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import KafkaError, TopicPartition

from .dlq import ClientConfig, DeadLetterError, DeadLetterRecord, DeadLetterWriter
from .topic import DeliveryResult, Headers, Topic

if TYPE_CHECKING:
    import asyncio

    from .kafka import KafkaBus

__all__ = ["Transaction", "TransactionalDeadLetterWriter", "is_fenced"]

log = logging.getLogger("schemabus.dlq")

LIBRDKAFKA_MAX_MESSAGE_BYTES = 1_000_000  # librdkafka's default message.max.bytes

K = TypeVar("K")
V = TypeVar("V")

_FENCED_CODES = frozenset({KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH})


def is_fenced(error: KafkaError) -> bool:
    """Whether ``error`` says a newer producer with the same transactional id took over."""
    return error.code() in _FENCED_CODES or "fenced" in (error.str() or "").lower()


class Transaction:
    """The open transaction of ``async with bus.transaction() as tx`` (or ``transaction_sync()``).

    Publishing through ``tx`` or through the bus itself is the same: every record published on the
    bus while the transaction is open belongs to it. :meth:`send_offsets` adds consumed offsets, so
    that they commit (or not) together with the records: the consume-transform-produce loop of KIP-447.
    """

    def __init__(self, bus: KafkaBus) -> None:
        self.bus = bus
        self._offsets: dict[tuple[str, int], TopicPartition] = {}
        self.group_metadata: Any = None

    @property
    def offsets(self) -> list[TopicPartition]:
        """The offsets to send with the commit: the highest given per partition."""
        return list(self._offsets.values())

    async def publish(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult:
        """:meth:`KafkaBus.publish` in this transaction (the result is not visible until the commit)."""
        return await self.bus.publish(topic, value, key=key, headers=headers)

    def publish_nowait(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> asyncio.Future[DeliveryResult]:
        """:meth:`KafkaBus.publish_nowait` in this transaction; the commit flushes it."""
        return self.bus.publish_nowait(topic, value, key=key, headers=headers)

    async def publish_many(
        self,
        topic: Topic[K, V],
        values: Iterable[V],
        *,
        keys: Iterable[K | None] | None = None,
        headers: Headers | None = None,
    ) -> int:
        """:meth:`KafkaBus.publish_many` in this transaction."""
        return await self.bus.publish_many(topic, values, keys=keys, headers=headers)

    def publish_sync(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult:
        """:meth:`KafkaBus.publish_sync` in this transaction."""
        return self.bus.publish_sync(topic, value, key=key, headers=headers)

    def send_offsets(self, offsets: Sequence[TopicPartition], group_metadata: Any) -> None:
        """Commit ``offsets`` (next offsets to read) for the consumer group of ``group_metadata``
        (``consumer.consumer_group_metadata()``) with this transaction; sent when it commits. Called
        again, the highest offset per partition and the latest group metadata (the consumer's current
        generation, as KIP-447 wants) are sent. One transaction commits one group's offsets."""
        for tp in offsets:
            known = self._offsets.get((tp.topic, tp.partition))
            if known is None or tp.offset > known.offset:
                self._offsets[(tp.topic, tp.partition)] = tp
        self.group_metadata = group_metadata


class TransactionalDeadLetterWriter(DeadLetterWriter):
    """A :class:`DeadLetterWriter` that writes through a transactional bus, into its open transaction:
    a dead letter becomes visible exactly when the offset of its record is committed, and is never
    visible if the transaction aborts. ``ConsumerRunner(exactly_once=bus)`` uses one. (The parent's
    admin client creates missing ``dlq.*`` topics; its producer is never created.)"""

    def __init__(self, config: ClientConfig, bus: KafkaBus, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.bus = bus

    def write(self, record: DeadLetterRecord) -> tuple[int, int]:
        """Write ``record`` into the bus's transaction, or the first of :meth:`fitting` that is small
        enough for its topic and for the bus producer's ``message.max.bytes`` (librdkafka's default,
        unless the bus's configuration sets it): a record the broker refused would abort the
        transaction, and the record would stop its partition again after every restart."""
        self.ensure_topic(record.topic)
        limit = self.limit(record.topic, self._bus_max_bytes())
        written = self.fitting(record, limit)[0]
        if written is not record:
            log.warning(
                "dead letter of %d bytes too large for %s (at most %d bytes): written as %s",
                record.size,
                record.topic,
                limit,
                "a reference to its record" if written.is_reference else "with shorter exception texts",
            )
        record = written
        try:
            result = self.bus.send_bytes_sync(
                record.topic, record.value, key=record.key, headers=list(record.headers), timeout=self.timeout
            )
        except Exception as e:
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {e}") from e
        return result.partition, result.offset

    def _bus_max_bytes(self) -> int:
        configured = {**self.bus.kafka.librdkafka_config(), **self.bus.settings.librdkafka_config()}
        return int(configured.get("message.max.bytes", LIBRDKAFKA_MAX_MESSAGE_BYTES))
