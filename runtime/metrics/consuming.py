"""What the handlers of the runners reporting to a :class:`~.Metrics` did, per topic and consumer group.

The counters are the handler loops' own (``ConsumerMetrics``, kept whether metrics are enabled or
not); a loop registers them here with a reader of its records in flight and gets the histogram of its
handler's durations. Reads add up the loops of one (topic, group), e.g. a runner made again in the
same process: counters keep counting, as Prometheus expects of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .histogram import HANDLER_BUCKETS, Histogram, HistogramSnapshot

__all__ = ["COUNTERS", "ConsumerCounters", "ConsumingMetrics", "GroupSnapshot"]

# The counters of ConsumerCounters, in the order they are shown.
COUNTERS = ("consumed", "handled", "retried", "dead_lettered", "poison", "committed", "rebalances")


class ConsumerCounters(Protocol):
    """A handler loop's counters (``schemabus.runtime.consumer.ConsumerMetrics``)."""

    consumed: int
    handled: int
    retried: int
    dead_lettered: int
    poison: int
    committed: int
    rebalances: int

    @property
    def dead_letter_reasons(self) -> Mapping[str, int]: ...


@dataclass
class GroupSnapshot:
    """One (topic, group): the counters, dead letters by reason, records in flight, handler durations."""

    topic: str
    group: str
    counters: dict[str, int]
    dead_letter_reasons: dict[str, int]
    in_flight: int
    handler_duration: HistogramSnapshot | None = None
    loops: int = field(default=0, repr=False)

    def to_json(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "group": self.group,
            **self.counters,
            "dead_lettered_by_reason": dict(sorted(self.dead_letter_reasons.items())),
            "in_flight": self.in_flight,
            "handler_duration_seconds": None if self.handler_duration is None else self.handler_duration.to_json(),
        }


@dataclass
class _Loop:
    topic: str
    group: str
    counters: ConsumerCounters
    in_flight: Callable[[], int]
    durations: Histogram


class ConsumingMetrics:
    """The registered handler loops, read per (topic, group)."""

    def __init__(self) -> None:
        self._loops: list[_Loop] = []
        self._lock = threading.Lock()

    def register(self, topic: str, group: str, counters: ConsumerCounters, in_flight: Callable[[], int]) -> Histogram:
        """Report a handler loop's ``counters`` and records ``in_flight``; return the histogram its handler's
        durations go to (seconds)."""
        durations = Histogram(HANDLER_BUCKETS)
        with self._lock:
            self._loops.append(_Loop(topic, group, counters, in_flight, durations))
        return durations

    def groups(self) -> list[GroupSnapshot]:
        """Every (topic, group) registered, sorted."""
        with self._lock:
            loops = list(self._loops)
        out: dict[tuple[str, str], GroupSnapshot] = {}
        for loop in loops:
            key = (loop.topic, loop.group)
            snap = out.get(key)
            if snap is None:
                snap = out[key] = GroupSnapshot(loop.topic, loop.group, dict.fromkeys(COUNTERS, 0), {}, 0)
            for name in COUNTERS:
                snap.counters[name] += getattr(loop.counters, name)
            for reason, n in list(loop.counters.dead_letter_reasons.items()):
                snap.dead_letter_reasons[reason] = snap.dead_letter_reasons.get(reason, 0) + n
            snap.in_flight += loop.in_flight()
            snap.handler_duration = loop.durations.merge(snap.handler_duration)
            snap.loops += 1
        return [out[key] for key in sorted(out)]
