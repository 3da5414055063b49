"""librdkafka's statistics (``statistics.interval.ms``, delivered to ``stats_cb`` as JSON): the latest
sample of each client, and the rates between a client's last two samples.

Read from a sample: bytes, requests and messages sent and received, the producer's queue
(``msg_cnt``, ``msg_size``), each broker's round-trip time (``rtt.avg``, ``rtt.p99``, in
microseconds there, seconds here), and each partition's ``consumer_lag`` as the consumer reports it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TOTALS", "BrokerRtt", "ClientStats", "KafkaStatistics", "PartitionLag", "parse_statistics", "statistics_of"]

log = logging.getLogger("schemabus.metrics")

# librdkafka's cumulative totals a sample carries (all brokers of the client).
TOTALS = ("tx", "tx_bytes", "rx", "rx_bytes", "txmsgs", "txmsg_bytes", "rxmsgs", "rxmsg_bytes")
# A sample not refreshed for this many intervals is of a client that was closed (or is stuck).
_STALE_INTERVALS = 3


@dataclass(frozen=True)
class BrokerRtt:
    """A broker's request round-trip time as the client measured it (seconds)."""

    broker: str
    avg: float
    p99: float


@dataclass(frozen=True)
class PartitionLag:
    """``consumer_lag``: records between the consumer's position (or committed offset) and the high
    watermark, as librdkafka last knew them."""

    topic: str
    partition: int
    lag: int


@dataclass(frozen=True)
class ClientStats:
    """One statistics sample of one client. ``rates``: per second since the client's previous sample
    (empty for its first), keyed by the names of :data:`TOTALS`."""

    client: str
    type: str
    group: str | None
    ts_us: int
    totals: dict[str, int]
    queue_messages: int
    queue_bytes: int
    brokers: tuple[BrokerRtt, ...]
    lags: tuple[PartitionLag, ...]
    rates: dict[str, float]

    def to_json(self) -> dict[str, object]:
        return {
            "client": self.client,
            "type": self.type,
            "group": self.group,
            **self.totals,
            "queue_messages": self.queue_messages,
            "queue_bytes": self.queue_bytes,
            "rates": self.rates,
            "brokers": {b.broker: {"rtt_avg_seconds": b.avg, "rtt_p99_seconds": b.p99} for b in self.brokers},
            "consumer_lag": [{"topic": p.topic, "partition": p.partition, "lag": p.lag} for p in self.lags],
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_statistics(
    text: str | bytes, *, group: str | None = None, previous: ClientStats | None = None
) -> ClientStats:
    """One sample from librdkafka's JSON; ``previous`` (the same client's last sample) gives the rates.
    Raises ValueError when ``text`` is not a statistics object."""
    return statistics_of(json.loads(text), group=group, previous=previous)


def statistics_of(data: Any, *, group: str | None = None, previous: ClientStats | None = None) -> ClientStats:
    """:func:`parse_statistics` of the JSON decoded already."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError("not a librdkafka statistics object (no client name)")
    totals = {name: _int(data.get(name)) for name in TOTALS}
    brokers = []
    raw_brokers = data.get("brokers")
    for name, broker in sorted((raw_brokers if isinstance(raw_brokers, Mapping) else {}).items()):
        # Bootstrap entries (nodeid -1) and logical brokers are not brokers of the cluster.
        if not isinstance(broker, Mapping) or _int(broker.get("nodeid", -1)) < 0:
            continue
        rtt = broker.get("rtt")
        if not isinstance(rtt, Mapping) or not _int(rtt.get("cnt")):
            continue  # no request answered during the window: no measurement, not a zero one
        brokers.append(BrokerRtt(str(name), _int(rtt.get("avg")) / 1e6, _int(rtt.get("p99")) / 1e6))
    lags = []
    topics = data.get("topics")
    for topic_name, topic in sorted((topics if isinstance(topics, Mapping) else {}).items()):
        partitions = topic.get("partitions") if isinstance(topic, Mapping) else None
        for partition in (partitions if isinstance(partitions, Mapping) else {}).values():
            if not isinstance(partition, Mapping):
                continue
            number, lag = partition.get("partition"), partition.get("consumer_lag")
            # -1: the unassigned partition (producer), or a lag librdkafka does not know (yet).
            if isinstance(number, int) and number >= 0 and isinstance(lag, int) and lag >= 0:
                lags.append(PartitionLag(str(topic_name), number, lag))
    ts_us = _int(data.get("ts"))
    rates: dict[str, float] = {}
    if previous is not None and ts_us > previous.ts_us:
        seconds = (ts_us - previous.ts_us) / 1e6
        rates = {name: max(totals[name] - previous.totals[name], 0) / seconds for name in TOTALS}
    return ClientStats(
        client=data["name"],
        type=str(data.get("type", "")),
        group=group,
        ts_us=ts_us,
        totals=totals,
        queue_messages=_int(data.get("msg_cnt")),
        queue_bytes=_int(data.get("msg_size")),
        brokers=tuple(brokers),
        lags=tuple(sorted(lags, key=lambda p: (p.topic, p.partition))),
        rates=rates,
    )


class KafkaStatistics:
    """The latest sample of every client whose ``stats_cb`` is one of :meth:`callback`'s; a client that
    has not reported for three intervals is dropped (it was closed)."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self._clients: dict[str, tuple[float, ClientStats]] = {}
        self._lock = threading.Lock()

    def callback(self, group: str | None = None) -> Callable[[str], None]:
        """A ``stats_cb`` for one client's configuration (``group``: a consumer's group, shown with it)."""

        def stats_cb(text: str) -> None:
            try:
                self.add(text, group=group)
            except Exception as e:  # from librdkafka's poll: never raise into it
                log.warning("ignoring a librdkafka statistics sample: %s", e)

        return stats_cb

    def add(self, text: str | bytes, *, group: str | None = None) -> ClientStats:
        """Parse and keep one sample (see :func:`parse_statistics`)."""
        data = json.loads(text)
        with self._lock:
            name = data.get("name") if isinstance(data, dict) else None
            kept = self._clients.get(name) if isinstance(name, str) else None
            stats = statistics_of(data, group=group, previous=None if kept is None else kept[1])
            self._clients[stats.client] = (time.monotonic(), stats)
        return stats

    def clients(self) -> list[ClientStats]:
        """The current samples, by client name."""
        horizon = time.monotonic() - _STALE_INTERVALS * max(self.interval_ms, 1000) / 1000
        with self._lock:
            for name in [n for n, (at, _) in self._clients.items() if at < horizon]:
                del self._clients[name]
            return [stats for _, (_, stats) in sorted(self._clients.items())]
