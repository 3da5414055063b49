"""Consumer lag: how far a group's committed offsets are behind the ends of its partitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from ..dlq import ClientConfig
from ..kafka_logging import librdkafka_logger

__all__ = ["PartitionLag", "client_config", "consumer_lag", "partition_lags"]


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


def client_config(config: ClientConfig) -> dict[str, Any]:
    """The bootstrap servers or client configuration ``config`` as a configuration to add to."""
    return {"bootstrap.servers": config} if isinstance(config, str) else dict(config)


def partition_lags(
    consumer: Consumer, group: str, partitions: list[TopicPartition], timeout: float
) -> list[PartitionLag]:
    """The lag of ``group`` (``consumer``'s group) on each of ``partitions``: blocking calls to the brokers."""
    out = []
    for tp in consumer.committed(partitions, timeout=timeout):
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
        out.append(PartitionLag(group, tp.topic, tp.partition, tp.offset if tp.offset >= 0 else None, high, low))
    return out


def consumer_lag(config: ClientConfig, group: str, topic: str, *, timeout: float = 10.0) -> list[PartitionLag]:
    """A consumer group's committed offsets vs. the high watermarks of every partition of ``topic``.

    Works whether or not the group's consumers run (it does not join the group).
    """
    consumer = Consumer(
        {**client_config(config), "group.id": group, "enable.auto.commit": False, "logger": librdkafka_logger()}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise LookupError(f"topic {topic} does not exist")
        return partition_lags(consumer, group, [TopicPartition(topic, p) for p in sorted(metadata.partitions)], timeout)
    finally:
        consumer.close()
