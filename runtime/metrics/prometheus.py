"""The Prometheus exposition of a :class:`~.Metrics`: a collector that reads its plain counters when
scraped (no Prometheus metric objects, no locks on the hot paths), and the text format.

prometheus-client is the optional extra ``schemabus[metrics]``: this module imports it only when a
collector is built or text is written, and its absence raises :class:`MetricsUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .histogram import HistogramSnapshot, snapshot

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .core import Metrics

__all__ = ["INSTALL_HINT", "MetricsUnavailableError", "SchemabusCollector", "exposition", "require_prometheus"]

INSTALL_HINT = "pip install 'schemabus[metrics]'"


class MetricsUnavailableError(ImportError):
    """prometheus-client is not installed: the Prometheus exposition needs the ``metrics`` extra."""


def require_prometheus() -> Any:
    """The ``prometheus_client`` module, or :class:`MetricsUnavailableError` saying how to install it."""
    try:
        import prometheus_client
    except ImportError:
        raise MetricsUnavailableError(
            f"the Prometheus exposition of schemabus metrics needs prometheus-client: {INSTALL_HINT} "
            "(Metrics.snapshot() works without it)"
        ) from None
    return prometheus_client


def _histogram(snapshot: HistogramSnapshot) -> tuple[list[tuple[str, float]], float]:
    buckets = [("+Inf" if b == float("inf") else repr(b), float(n)) for b, n in snapshot.buckets]
    return buckets, snapshot.sum


class SchemabusCollector:
    """A ``prometheus_client.registry.Collector`` of one :class:`~.Metrics`: register it in a
    ``CollectorRegistry`` (``metrics.collector()`` builds it); every scrape reads the counters then."""

    def __init__(self, metrics: Metrics) -> None:
        require_prometheus()
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        """The families without samples: a registry refuses a second collector of the same names."""
        return list(self._families(fill=False))

    def collect(self) -> Iterator[Metric]:
        return self._families(fill=True)

    def _families(self, *, fill: bool) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        metrics = self.metrics
        # --- publishing, per topic
        published = CounterMetricFamily(
            "schemabus_published", "Records the broker acknowledged, per topic.", labels=["topic"]
        )
        failed = CounterMetricFamily(
            "schemabus_publish_failures", "Records whose delivery failed, per topic.", labels=["topic"]
        )
        latency = HistogramMetricFamily(
            "schemabus_publish_latency_seconds",
            "Produce to broker acknowledgement of acknowledged records (librdkafka's message latency).",
            labels=["topic"],
        )
        for topic, stats in metrics.publishing.items() if fill else []:
            published.add_metric([topic], stats.published)
            failed.add_metric([topic], stats.failed)
            buckets, total = _histogram(snapshot(stats.latency))
            latency.add_metric([topic], buckets, total)
        yield from (published, failed, latency)

        # --- consuming, per topic and consumer group
        labels = ["topic", "group"]
        counters = {
            "consumed": CounterMetricFamily("schemabus_consumed", "Records fetched.", labels=labels),
            "handled": CounterMetricFamily(
                "schemabus_handled", "Records the handler finished without error.", labels=labels
            ),
            "retried": CounterMetricFamily(
                "schemabus_retries", "Handler retries (attempts after the first).", labels=labels
            ),
            "poison": CounterMetricFamily(
                "schemabus_poison", "Records that could not be decoded (dead-lettered or stopping).", labels=labels
            ),
            "committed": CounterMetricFamily(
                "schemabus_committed_offsets", "Partition offsets committed.", labels=labels
            ),
            "rebalances": CounterMetricFamily(
                "schemabus_rebalances", "Assignment changes (assigned, revoked or lost).", labels=labels
            ),
        }
        dead = CounterMetricFamily(
            "schemabus_dead_lettered",
            "Records written to the dead-letter topic, by reason (handler-error or the poison reason).",
            labels=[*labels, "reason"],
        )
        in_flight = GaugeMetricFamily(
            "schemabus_in_flight_records", "Records fetched and not finished yet.", labels=labels
        )
        durations = HistogramMetricFamily(
            "schemabus_handler_duration_seconds", "Handler calls, each attempt, in seconds.", labels=labels
        )
        for group in metrics.consuming.groups() if fill else []:
            key = [group.topic, group.group]
            for name, family in counters.items():
                family.add_metric(key, group.counters[name])
            for reason, n in sorted(group.dead_letter_reasons.items()):
                dead.add_metric([*key, reason], n)
            in_flight.add_metric(key, group.in_flight)
            if group.handler_duration is not None:
                buckets, total = _histogram(group.handler_duration)
                durations.add_metric(key, buckets, total)
        yield from counters.values()
        yield from (dead, in_flight, durations)

        # --- librdkafka's statistics, per client
        client = ["client", "type"]
        totals = {
            "tx_bytes": CounterMetricFamily(
                "schemabus_kafka_transmitted_bytes", "Bytes sent to brokers (librdkafka tx_bytes).", labels=client
            ),
            "rx_bytes": CounterMetricFamily(
                "schemabus_kafka_received_bytes", "Bytes received from brokers (librdkafka rx_bytes).", labels=client
            ),
            "tx": CounterMetricFamily(
                "schemabus_kafka_requests", "Requests sent to brokers (librdkafka tx).", labels=client
            ),
            "rx": CounterMetricFamily(
                "schemabus_kafka_responses", "Responses received from brokers (librdkafka rx).", labels=client
            ),
            "txmsgs": CounterMetricFamily(
                "schemabus_kafka_transmitted_messages", "Messages sent to brokers (librdkafka txmsgs).", labels=client
            ),
            "rxmsgs": CounterMetricFamily(
                "schemabus_kafka_received_messages", "Messages fetched from brokers (librdkafka rxmsgs).", labels=client
            ),
        }
        queue_messages = GaugeMetricFamily(
            "schemabus_kafka_producer_queue_messages", "Messages in the producer's queue (msg_cnt).", labels=["client"]
        )
        queue_bytes = GaugeMetricFamily(
            "schemabus_kafka_producer_queue_bytes",
            "Bytes of messages in the producer's queue (msg_size).",
            labels=["client"],
        )
        rtt_avg = GaugeMetricFamily(
            "schemabus_kafka_broker_rtt_avg_seconds",
            "Broker round-trip time, average of the last window.",
            labels=["client", "broker"],
        )
        rtt_p99 = GaugeMetricFamily(
            "schemabus_kafka_broker_rtt_p99_seconds",
            "Broker round-trip time, 99th percentile of the last window.",
            labels=["client", "broker"],
        )
        lag = GaugeMetricFamily(
            "schemabus_kafka_consumer_lag",
            "Records behind the high watermark per partition, as librdkafka reports it (consumer_lag).",
            labels=["client", "group", "topic", "partition"],
        )
        for sample in metrics.statistics.clients() if fill else []:
            for name, family in totals.items():
                family.add_metric([sample.client, sample.type], sample.totals[name])
            if sample.type == "producer":
                queue_messages.add_metric([sample.client], sample.queue_messages)
                queue_bytes.add_metric([sample.client], sample.queue_bytes)
            for broker in sample.brokers:
                rtt_avg.add_metric([sample.client, broker.broker], broker.avg)
                rtt_p99.add_metric([sample.client, broker.broker], broker.p99)
            for p in sample.lags:
                lag.add_metric([sample.client, sample.group or "", p.topic, str(p.partition)], p.lag)
        yield from totals.values()
        yield from (queue_messages, queue_bytes, rtt_avg, rtt_p99, lag)


def exposition(metrics: Metrics) -> tuple[bytes, str]:
    """(the Prometheus text exposition of ``metrics``, its content type)."""
    prometheus_client = require_prometheus()
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(SchemabusCollector(metrics))
    body: bytes = prometheus_client.generate_latest(registry)
    content_type: str = prometheus_client.CONTENT_TYPE_LATEST
    return body, content_type
