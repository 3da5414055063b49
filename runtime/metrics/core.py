"""The :class:`Metrics` a bus and a runner report to, and its plain snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .consuming import ConsumingMetrics
from .histogram import snapshot as histogram_snapshot
from .kafka_stats import TOTALS, ClientStats, KafkaStatistics
from .publishing import PublishMetrics

if TYPE_CHECKING:
    from ..health import HealthCheck
    from .asgi import ASGIApp
    from .prometheus import SchemabusCollector

__all__ = ["DEFAULT_STATISTICS_INTERVAL_MS", "Metrics"]

# librdkafka's statistics every 15 s: a scrape interval's worth, a JSON document of a few kB each time.
DEFAULT_STATISTICS_INTERVAL_MS = 15_000


def _summary(clients: list[ClientStats], kind: str) -> dict[str, Any]:
    """The sum over the clients of one kind: totals, rates per second, the producers' queues."""
    mine = [c for c in clients if c.type == kind]
    out: dict[str, Any] = {"clients": len(mine)}
    for name in TOTALS:
        out[name] = sum(c.totals[name] for c in mine)
    rate = {name: sum(c.rates.get(name, 0.0) for c in mine) for name in TOTALS}
    if kind == "producer":
        out["outgoing_byte_rate"] = rate["tx_bytes"]
        out["request_rate"] = rate["tx"]
        out["response_rate"] = rate["rx"]
        out["records_sent_rate"] = rate["txmsgs"]
        out["queue_messages"] = sum(c.queue_messages for c in mine)
        out["queue_bytes"] = sum(c.queue_bytes for c in mine)
    else:
        out["incoming_byte_rate"] = rate["rx_bytes"]
        out["records_consumed_rate"] = rate["rxmsgs"]
        out["request_rate"] = rate["tx"]
        out["response_rate"] = rate["rx"]
    return out


class Metrics:
    """What the buses and runners given ``metrics=`` did, kept as plain counters (README, "Operations:
    metrics and probes"). Read it with :meth:`snapshot` (no extra needed), or expose it to Prometheus:
    :meth:`collector`, :func:`~.serve_metrics`, :meth:`asgi_app` (the ``metrics`` extra).

    ``statistics_interval_ms`` is librdkafka's ``statistics.interval.ms`` for the clients of those buses
    and runners (0: no librdkafka statistics).
    """

    def __init__(self, *, statistics_interval_ms: int = DEFAULT_STATISTICS_INTERVAL_MS) -> None:
        if statistics_interval_ms < 0:
            raise ValueError("statistics_interval_ms must be >= 0")
        self.publishing = PublishMetrics()
        self.consuming = ConsumingMetrics()
        self.statistics = KafkaStatistics(statistics_interval_ms)

    def client_config(self, group: str | None = None) -> dict[str, Any]:
        """What a librdkafka client's configuration gets to report its statistics here."""
        interval = self.statistics.interval_ms
        if not interval:
            return {}
        return {"statistics.interval.ms": interval, "stats_cb": self.statistics.callback(group)}

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain data (JSON-serializable): ``timestamp`` (UTC, ISO 8601); ``producer`` and
        ``consumer``, librdkafka's totals and rates summed over the clients of each kind; ``topics``
        (published, failed, the latency histogram); ``groups`` (per topic and consumer group);
        ``clients`` (each client's latest statistics: brokers' round trips, consumer lag)."""
        clients = self.statistics.clients()
        topics = {
            name: {
                "published": stats.published,
                "failed": stats.failed,
                "publish_latency_seconds": histogram_snapshot(stats.latency).to_json(),
            }
            for name, stats in self.publishing.items()
        }
        return {
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "producer": _summary(clients, "producer"),
            "consumer": _summary(clients, "consumer"),
            "topics": topics,
            "groups": [group.to_json() for group in self.consuming.groups()],
            "clients": [c.to_json() for c in clients],
        }

    def collector(self) -> SchemabusCollector:
        """A Prometheus collector of these metrics, for a ``CollectorRegistry`` of your own
        (``prometheus_client.REGISTRY.register(metrics.collector())``); needs the ``metrics`` extra."""
        from .prometheus import SchemabusCollector

        return SchemabusCollector(self)

    def exposition(self) -> tuple[bytes, str]:
        """(the Prometheus text exposition, its content type); needs the ``metrics`` extra."""
        from .prometheus import exposition

        return exposition(self)

    def asgi_app(self, health: Iterable[HealthCheck] = ()) -> ASGIApp:
        """An ASGI application serving ``/metrics``, ``/healthz`` and ``/readyz`` (see :func:`~.serve_metrics`)."""
        from .asgi import asgi_app

        return asgi_app(self, health)
