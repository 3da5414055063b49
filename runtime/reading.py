"""Reading a topic to its end, as of now: what ``schemabus dlq inspect`` and ``replay`` read, and
:func:`read_events`, the typed read a service restores its state with (a compacted changelog, say)."""

from __future__ import annotations

import time
import uuid
from functools import partial
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from .bus import RecordCodec
from .config import secret_values
from .kafka_logging import BrokerErrors, librdkafka_logger
from .topic import Event, Topic

__all__ = ["read_events", "read_to_end"]

K = TypeVar("K")
V = TypeVar("V")


def read_to_end(
    consumer: Consumer,
    topic: str,
    *,
    errors: BrokerErrors,
    group: str | None = None,
    limit: int | None,
    timeout: float,
) -> list[Message]:
    """The records of every partition of ``topic`` from the start (or ``group``'s committed offset) to
    the end as of now, up to ``limit`` in all (the oldest of each partition first). A broker that does
    not answer within ``timeout`` (or a read that makes no progress for that long) raises
    ServerUnavailableError; a topic that does not exist, LookupError."""
    metadata = errors.call(
        f"read the metadata of topic {topic}", lambda: consumer.list_topics(topic, timeout=timeout), client=consumer
    ).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise LookupError(f"topic {topic} does not exist on {errors.servers}")
    remaining: dict[int, int] = {}  # partition -> end offset
    starts: list[TopicPartition] = []
    committed: dict[int, int] = {}
    if group is not None:
        found = errors.call(
            f"read the offsets committed by group {group} on {topic}",
            lambda: consumer.committed([TopicPartition(topic, p) for p in metadata.partitions], timeout=timeout),
            client=consumer,
            retry_for=timeout,
        )
        committed = {tp.partition: tp.offset for tp in found if tp.offset >= 0}
    for p in sorted(metadata.partitions):
        low, high = errors.call(
            f"read the offsets of {topic}[{p}]",
            partial(consumer.get_watermark_offsets, TopicPartition(topic, p), timeout=timeout, cached=False),
            client=consumer,
            retry_for=timeout,
        )
        start = max(committed.get(p, low), low)
        if start < high:
            remaining[p] = high
            starts.append(TopicPartition(topic, p, start))
    if not starts:
        return []
    consumer.assign(starts)
    out: list[Message] = []
    progress = time.monotonic()
    while remaining and (limit is None or len(out) < limit):
        idle = time.monotonic() - progress
        if idle > timeout:
            what = f"read {topic} to the end (partitions {sorted(remaining)} gave no record)"
            raise errors.unavailable(what, elapsed=idle, client=consumer)
        batch = consumer.consume(num_messages=500 if limit is None else min(500, limit - len(out)), timeout=0.2)
        for message in batch:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                errors(error)
                continue
            p, o = message.partition(), message.offset()
            assert p is not None and o is not None
            end = remaining.get(p)
            if end is None or o >= end:
                continue
            out.append(message)
            progress = time.monotonic()
            if o >= end - 1:
                del remaining[p]
        if not batch:  # offsets may end in a gap (a transaction marker): ask where the consumer is
            for tp in consumer.position([TopicPartition(topic, p) for p in list(remaining)]):
                if tp.offset >= remaining[tp.partition]:
                    del remaining[tp.partition]
    return out if limit is None else out[:limit]


def read_events(
    config: str | dict[str, Any], codec: RecordCodec, topic: Topic[K, V], *, timeout: float = 30.0
) -> list[Event[K, V]]:
    """Every record of ``topic`` from the first still there to the end as of the call, decoded as a
    handler would receive it, oldest first per partition; nothing is committed (no consumer group
    is joined). Transactional records are read once committed (``read_committed``, librdkafka's
    default), so a service that restores its state from a topic its transactions write sees
    exactly what committed. ``config``: bootstrap servers, or a librdkafka client configuration.

    Raises ServerUnavailableError when no broker answers within ``timeout`` seconds (or the read
    makes no progress for that long), LookupError when the topic does not exist, and what decoding
    raises for a record that cannot be decoded."""
    conf: dict[str, Any] = {"bootstrap.servers": config} if isinstance(config, str) else dict(config)
    conf.setdefault("logger", librdkafka_logger())
    # Its errors are redacted of the configuration's secrets (SASL passwords), as every client's are.
    errors = BrokerErrors(str(conf.get("bootstrap.servers", "?")), secret_values(conf))
    consumer = Consumer(
        {
            **conf,
            **errors.config(),
            "group.id": f"schemabus.read.{uuid.uuid4().hex}",  # librdkafka wants one; assign() never joins it
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
        }
    )
    try:
        messages = read_to_end(consumer, topic.name, errors=errors, limit=None, timeout=timeout)
    finally:
        consumer.close()
    return [
        Event(
            topic.name,
            codec.decode_key(topic, m.key()),
            codec.decode_value(topic, m.value()),
            tuple(m.headers() or ()),  # type: ignore[arg-type]
            m.partition(),  # type: ignore[arg-type]
            m.offset(),  # type: ignore[arg-type]
            m.timestamp()[1],
        )
        for m in messages
    ]
