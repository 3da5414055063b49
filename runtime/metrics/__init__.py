"""Metrics of the Kafka runtime, and the HTTP endpoint Prometheus and Kubernetes probes ask (README,
"Operations", "Metrics and probes").

``core`` (:class:`Metrics`: what buses and runners report to, ``snapshot()``) keeps plain counters:
``publishing`` (per topic), ``consuming`` (per topic and consumer group), ``kafka_stats`` (librdkafka's
statistics), over ``histogram``. ``prometheus`` exposes them (the ``schemabus[metrics]`` extra);
``probes`` answers ``/metrics``, ``/healthz`` and ``/readyz``, served by ``http`` (a thread of its own)
or ``asgi`` (mounted in a web framework).
"""

from .core import DEFAULT_STATISTICS_INTERVAL_MS, Metrics
from .histogram import Histogram, HistogramSnapshot, histogram, snapshot
from .http import DEFAULT_PORT, MetricsServer, serve_metrics
from .prometheus import INSTALL_HINT, MetricsUnavailableError

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_STATISTICS_INTERVAL_MS",
    "INSTALL_HINT",
    "Histogram",
    "HistogramSnapshot",
    "Metrics",
    "MetricsServer",
    "MetricsUnavailableError",
    "histogram",
    "serve_metrics",
    "snapshot",
]
