"""What the producers of the buses reporting to a :class:`~.Metrics` published, per topic: records
acknowledged, records failed, and the produce-to-acknowledgement latency of each acknowledged record
(librdkafka's own measure, ``Message.latency()``, read from the delivery report).

``publish``, ``publish_nowait`` and ``publish_sync`` count each delivery report as it comes
(:meth:`PublishMetrics.observer`); a ``publish_many`` batch is binned by its delivery counter (in C)
and counted once, when its last report is in (:meth:`TopicPublishes.add_batch`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .histogram import LATENCY_BUCKETS, histogram

__all__ = ["DeliveryObserver", "PublishMetrics", "TopicPublishes"]

# (error or None, message) -> None: called with every delivery report before its future is resolved.
DeliveryObserver = Callable[[Any, Any], None]


class TopicPublishes:
    """One topic's counters. ``published``: acknowledged by the broker; ``failed``: delivery failed."""

    __slots__ = ("failed", "latency", "published")

    def __init__(self) -> None:
        self.published = 0
        self.failed = 0
        self.latency = histogram(LATENCY_BUCKETS)

    def add_batch(self, bins: tuple[int, ...], total: float, acknowledged: int, *, failed: int) -> None:
        """Count a whole ``publish_many`` batch at once: its records acknowledged and failed, and their
        latencies binned by this topic's bounds already (``DeliveryCounter.latencies()``)."""
        self.published += acknowledged
        self.failed += failed
        self.latency.add(bins, total)


class PublishMetrics:
    """Per-topic :class:`TopicPublishes` of every bus reporting here (buses of one topic add up)."""

    def __init__(self) -> None:
        self.topics: dict[str, TopicPublishes] = {}
        self._lock = threading.Lock()  # only to create a topic's entry: never per record

    def topic(self, name: str) -> TopicPublishes:
        stats = self.topics.get(name)
        if stats is None:
            with self._lock:
                stats = self.topics.setdefault(name, TopicPublishes())
        return stats

    def items(self) -> list[tuple[str, TopicPublishes]]:
        """Every topic's counters, by name (a copy: a topic added meanwhile does not disturb the reader)."""
        with self._lock:
            return sorted(self.topics.items())

    def observer(self) -> DeliveryObserver:
        """The observer of delivery reports of any topic (``publish``, ``publish_nowait``, ``publish_sync``)."""
        topics = self.topics
        new = self.topic

        def observe(error: Any, message: Any) -> None:
            name = message.topic()
            stats = topics.get(name) or new(name or "")
            if error is None:
                stats.published += 1
                latency = message.latency()
                if latency is not None:
                    stats.latency.observe(latency)
            else:
                stats.failed += 1

        return observe
