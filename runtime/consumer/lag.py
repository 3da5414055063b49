"""Consumer lag: how far a group's committed offsets are behind the ends of its partitions, in records
and in time.

The time lag of a partition is the age of its oldest unconsumed record (now minus the timestamp of
the record at the committed offset), as Burrow-style monitors report it: a group that keeps up has a
time lag near 0 whatever its traffic, a stuck one a time lag that grows.

:func:`read_lag` measures every group (or some) from outside, without joining them:
:class:`ConsumerLagMonitor` wraps it for asyncio, and :class:`LagCollector` exports it to Prometheus
(``prometheus-client``, imported only by the collector). ``ConsumerRunner.lag()`` measures the
partitions a runner holds with :func:`partition_lags`; both give :class:`PartitionLag` records.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]  # stubs lack the re-exports

from ..config import redact, secret_values
from ..dlq import ClientConfig
from ..errors import AuthorizationError, SchemabusError
from ..kafka.errors import AUTHORIZATION_CODES, error_text, kafka_error
from ..kafka_logging import BrokerErrors, librdkafka_logger

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = [
    "ConsumerLagMonitor",
    "GroupLag",
    "LagCollector",
    "PartitionLag",
    "UnknownGroupError",
    "client_config",
    "consumer_lag",
    "group_lags",
    "lag_document",
    "partition_lags",
    "read_lag",
    "with_time_lag",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# The "timestamp" of a partition with no record left to consume (only transaction markers): a time
# in the future, so that its age is 0.
NOTHING_LEFT = math.inf


@dataclass(frozen=True)
class PartitionLag:
    """How far a group's committed offset is behind the end of a partition.

    ``time_lag`` is the age in seconds of the oldest record the group has not consumed (0 when it
    has consumed everything), or None when it was not measured (``ConsumerRunner.lag()``) or the
    record could not be read in time.
    """

    group: str
    topic: str
    partition: int
    committed: int | None  # None: nothing committed yet
    high_watermark: int
    low_watermark: int
    time_lag: float | None = None

    @property
    def start(self) -> int:
        """Where the group reads next: its committed offset, or the oldest record still on the broker
        when nothing is committed or the committed records are gone (retention, compaction)."""
        return max(self.committed if self.committed is not None else self.low_watermark, self.low_watermark)

    @property
    def lag(self) -> int:
        """Records between where the group reads next and the end of the partition."""
        return max(self.high_watermark - self.start, 0)

    def to_json(self) -> dict[str, Any]:
        """The partition's row of ``schemabus lag --format json`` (the group is the row's parent)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.high_watermark,
            "lag": self.lag,
            "time_lag_s": None if self.time_lag is None else round(self.time_lag, 3),
        }


@dataclass(frozen=True)
class GroupLag:
    """A consumer group's partitions (sorted by topic and partition) and their totals."""

    group: str
    partitions: tuple[PartitionLag, ...]

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def max_time_lag(self) -> float | None:
        """The largest time lag measured, None when none was."""
        measured = [p.time_lag for p in self.partitions if p.time_lag is not None]
        return max(measured) if measured else None

    def to_json(self) -> dict[str, Any]:
        top = self.max_time_lag
        return {
            "group": self.group,
            "total_lag": self.total_lag,
            "max_time_lag_s": None if top is None else round(top, 3),
            "partitions": [p.to_json() for p in self.partitions],
        }


def group_lags(lags: Iterable[PartitionLag]) -> list[GroupLag]:
    """``lags`` by consumer group, groups and partitions sorted."""
    by_group: dict[str, list[PartitionLag]] = {}
    for p in lags:
        by_group.setdefault(p.group, []).append(p)
    return [
        GroupLag(group, tuple(sorted(ps, key=lambda p: (p.topic, p.partition))))
        for group, ps in sorted(by_group.items())
    ]


def lag_document(lags: Iterable[PartitionLag]) -> dict[str, Any]:
    """The JSON document of ``schemabus lag --format json``: ``{"groups": [...]}``, sorted."""
    return {"groups": [g.to_json() for g in group_lags(lags)]}


class UnknownGroupError(LookupError):
    """A consumer group asked for by name has no committed offsets (on the topics asked for)."""

    def __init__(self, group: str, message: str) -> None:
        super().__init__(message)
        self.group = group


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


# --- every group, from outside ------------------------------------------------------------------


class _Reader:
    """The blocking calls of :func:`read_lag`: one AdminClient, the time allowed, the errors seen."""

    def __init__(self, conf: dict[str, Any], timeout: float) -> None:
        self.conf = conf
        self.timeout = timeout
        self.errors = BrokerErrors(str(conf.get("bootstrap.servers", "?")), secret_values(conf))
        self.admin = AdminClient({**conf, **self.errors.config()})

    def refused(self, what: str, e: BaseException) -> SchemabusError:
        error = kafka_error(e)
        text = redact(error_text(e), secret_values(self.conf))
        if error is not None and error.code() in AUTHORIZATION_CODES:
            return AuthorizationError(what, f"not authorized to {what}: {text}")
        return SchemabusError(f"cannot {what}: {text}")

    def result(self, what: str, future: concurrent.futures.Future[T]) -> T:
        """The future's result; no broker answering in time is ServerUnavailableError, a refusal
        SchemabusError (AuthorizationError)."""
        started = time.monotonic()
        try:
            return future.result(timeout=self.timeout)
        except KafkaException as e:
            error = kafka_error(e)
            if error is not None and self.errors.unreachable_error(error):
                raise self.errors.unavailable(what, elapsed=time.monotonic() - started, client=self.admin) from None
            raise self.refused(what, e) from None
        except concurrent.futures.TimeoutError:
            raise self.errors.unavailable(what, elapsed=time.monotonic() - started, client=self.admin) from None

    def partitions(self) -> dict[str, int]:
        """Every topic of the cluster and its partition count."""
        metadata = self.errors.call(
            "list the topics", lambda: self.admin.list_topics(timeout=self.timeout), client=self.admin
        )
        return {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}

    def groups(self) -> list[str]:
        listed = self.result("list the consumer groups", self.admin.list_consumer_groups(request_timeout=self.timeout))
        return sorted({g.group_id for g in listed.valid})

    def committed(self, groups: Sequence[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Each group's committed offsets (one request per group, all in flight at once)."""
        futures = {
            group: self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout
            )[group]
            for group in groups
        }
        out: dict[str, dict[tuple[str, int], int]] = {}
        for group, future in futures.items():
            found = self.result(f"read the offsets of consumer group {group}", future)
            out[group] = {
                (tp.topic, tp.partition): tp.offset
                for tp in found.topic_partitions or []
                if tp.offset >= 0 and tp.error is None
            }
        return out

    def offsets(self, partitions: Iterable[tuple[str, int]], spec: Any, what: str) -> dict[tuple[str, int], int]:
        """The ``spec`` (earliest, latest) offset of each partition, in one request."""
        asked = {TopicPartition(t, p): spec for t, p in partitions}
        if not asked:
            return {}
        futures = self.admin.list_offsets(asked, request_timeout=self.timeout)
        return {
            (tp.topic, tp.partition): self.result(f"{what} {tp.topic}[{tp.partition}]", f).offset
            for tp, f in futures.items()
        }

    def oldest_timestamps(self, starts: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], float | None]:
        """The timestamp (seconds) of the first record at or after each start offset, read by a consumer
        that is only assigned the partitions (it joins no group and commits nothing). :data:`NOTHING_LEFT`:
        no record there (only transaction markers were left); None: a record without a timestamp; a
        partition without an answer in time is left out."""
        if not starts:
            return {}
        consumer = Consumer(
            {
                **self.conf,
                **self.errors.config(),
                "group.id": f"schemabus.lag-probe.{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                # one record per partition is wanted: small fetches, few records queued
                "max.partition.fetch.bytes": 4096,
                "queued.max.messages.kbytes": 1024,
                "fetch.wait.max.ms": 100,
            }
        )
        out: dict[tuple[str, int], float | None] = {}
        try:
            consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in starts.items()])
            deadline = time.monotonic() + self.timeout
            while len(out) < len(starts) and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=500, timeout=0.2):
                    topic, partition = message.topic(), message.partition()
                    assert topic is not None and partition is not None
                    key = (topic, partition)
                    if key in out or key not in starts:
                        continue
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            out[key] = NOTHING_LEFT
                        elif error.fatal():
                            raise self.refused(f"read {topic}[{partition}]", KafkaException(error))
                        else:
                            self.errors(error)
                        continue
                    kind, ms = message.timestamp()
                    out[key] = ms / 1000.0 if kind != 0 and ms >= 0 else None  # 0: TIMESTAMP_NOT_AVAILABLE
                    consumer.pause([TopicPartition(topic, partition)])
        finally:
            consumer.close()
        return out


def read_lag(
    config: ClientConfig,
    groups: Sequence[str] | None = None,
    topics: Sequence[str] | None = None,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> list[PartitionLag]:
    """The lag of ``groups`` (default: every group of the cluster) on every partition where they have
    committed an offset, of ``topics`` only when given; sorted by group, topic and partition.

    Blocking, and joins no group: committed offsets from the group coordinator, end offsets in one
    request, the time lag from the first unconsumed record of each lagging partition. Raises
    :class:`UnknownGroupError` for a group of ``groups`` without committed offsets (on ``topics``),
    LookupError for a topic that does not exist, ServerUnavailableError when no broker answers within
    ``timeout`` seconds, SchemabusError when the cluster refuses.
    """
    reader = _Reader(client_config(config), timeout)
    existing = reader.partitions()
    for topic in topics or ():
        if topic not in existing:
            raise LookupError(f"topic {topic} does not exist on {reader.errors.servers}")
    names = list(dict.fromkeys(groups)) if groups is not None else reader.groups()
    committed = reader.committed(names)
    wanted = set(topics) if topics else None
    for group in names:
        kept = {
            tp: o for tp, o in committed[group].items() if tp[0] in existing and (wanted is None or tp[0] in wanted)
        }
        if groups is not None and not kept:
            on = f" on topic {', '.join(sorted(wanted))}" if wanted else ""
            raise UnknownGroupError(
                group, f"consumer group {group} has no committed offsets{on} on {reader.errors.servers}"
            )
        committed[group] = kept
    partitions = sorted({tp for offsets in committed.values() for tp in offsets})
    ends = reader.offsets(partitions, OffsetSpec.latest(), "read the end offset of")  # type: ignore[no-untyped-call]
    lows = reader.offsets(partitions, OffsetSpec.earliest(), "read the start offset of")  # type: ignore[no-untyped-call]
    lags = [
        PartitionLag(group, t, p, offset, ends[(t, p)], lows[(t, p)])
        for group in sorted(committed)
        for (t, p), offset in sorted(committed[group].items())
    ]
    # One read per partition, at the oldest start any lagging group has there.
    starts: dict[tuple[str, int], set[int]] = {}
    for lag in lags:
        if lag.lag:
            starts.setdefault((lag.topic, lag.partition), set()).add(lag.start)
    timestamps: dict[tuple[tuple[str, int], int], float | None] = {}
    while starts:  # rarely more than one round: groups at different offsets of one partition
        round_ = {tp: min(offsets) for tp, offsets in starts.items()}
        for tp, ts in reader.oldest_timestamps(round_).items():
            timestamps[(tp, round_[tp])] = ts
        starts = {tp: offsets - {round_[tp]} for tp, offsets in starts.items() if len(offsets) > 1}
    now = clock()
    return [with_time_lag(lag, timestamps.get(((lag.topic, lag.partition), lag.start)), now) for lag in lags]


def with_time_lag(lag: PartitionLag, oldest: float | None, now: float) -> PartitionLag:
    """``lag`` with its time lag: 0 when nothing is left to consume, else ``now`` minus the timestamp
    ``oldest`` of the oldest unconsumed record (never negative: clocks differ, and
    :data:`NOTHING_LEFT` is in the future), unknown (None) without it."""
    if lag.lag == 0:
        return replace(lag, time_lag=0.0)
    return replace(lag, time_lag=None if oldest is None else max(now - oldest, 0.0))


class ConsumerLagMonitor:
    """The lag of a consumer group (``group``), or of every group, on the cluster ``config`` (bootstrap
    servers or a librdkafka configuration), measured from outside the group::

        monitor = ConsumerLagMonitor("localhost:9092", "billing")
        for p in await monitor.get_consumer_lag():
            print(p.topic, p.partition, p.lag, p.time_lag)

    ``topics`` limits it to those topics. Each measurement asks the brokers again (see :func:`read_lag`).
    """

    def __init__(
        self,
        config: ClientConfig,
        group: str | None = None,
        *,
        topics: Sequence[str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.group = group
        self.topics = list(topics) if topics else None
        self.timeout = timeout

    def read(self) -> list[PartitionLag]:
        """The lag now, blocking (for threads, and the Prometheus collector)."""
        groups = [self.group] if self.group is not None else None
        return read_lag(self.config, groups, self.topics, timeout=self.timeout)

    async def get_consumer_lag(self) -> list[PartitionLag]:
        """The lag now, per group and partition (the blocking calls run in a thread)."""
        return await asyncio.to_thread(self.read)

    async def by_partition(self) -> dict[str, int]:
        """The group's lag in records keyed ``"topic-partition"`` (a monitor of one group only)."""
        if self.group is None:
            raise ValueError(
                "by_partition() needs the monitor of one consumer group (ConsumerLagMonitor(config, group))"
            )
        return {f"{p.topic}-{p.partition}": p.lag for p in await self.get_consumer_lag()}


class LagCollector:
    """A Prometheus collector of ``monitor``'s lag, measured at each scrape::

        from prometheus_client import REGISTRY
        REGISTRY.register(LagCollector(ConsumerLagMonitor("localhost:9092")))

    Gauges ``schemabus_consumer_lag_records`` and ``schemabus_consumer_lag_seconds`` (the time lag,
    for partitions where it is known), labelled group, topic and partition. A scrape while the
    cluster cannot be read logs a warning and gives the gauges without samples. Needs
    ``prometheus-client`` (``pip install schemabus[metrics]``), imported when used.
    """

    RECORDS = "schemabus_consumer_lag_records"
    SECONDS = "schemabus_consumer_lag_seconds"
    LABELS = ("group", "topic", "partition")

    def __init__(self, monitor: ConsumerLagMonitor) -> None:
        self.monitor = monitor

    def _families(self) -> tuple[Any, Any]:
        from prometheus_client.core import GaugeMetricFamily

        records = GaugeMetricFamily(
            self.RECORDS, "Records a consumer group has not consumed yet, per partition.", labels=self.LABELS
        )
        seconds = GaugeMetricFamily(
            self.SECONDS,
            "Age in seconds of the oldest record a consumer group has not consumed, per partition.",
            labels=self.LABELS,
        )
        return records, seconds

    def describe(self) -> Iterator[Metric]:
        """The gauges without samples: registering the collector does not ask the brokers."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        records, seconds = self._families()
        try:
            lags = self.monitor.read()
        except (SchemabusError, LookupError) as e:
            log.warning("consumer lag not measured: %s", e)
            lags = []
        for p in lags:
            labels = [p.group, p.topic, str(p.partition)]
            records.add_metric(labels, p.lag)
            if p.time_lag is not None:
                seconds.add_metric(labels, p.time_lag)
        yield records
        yield seconds
