"""What the handlers of the runners reporting to a :class:`~.Metrics` did, per topic and consumer group.

The counters are the handler loops' own (``ConsumerMetrics``, kept whether metrics are enabled or
not); a loop registers them here with a reader of its records in flight, gets the histogram of its
handler's durations, and retires when it stops: its final counts are kept (folded into its group's),
the loop itself is let go. Reads add up the loops of one (topic, group), running or retired (a runner
made again in the same process, the in-memory bus's runner per delivery): counters only grow, as
Prometheus expects of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .histogram import HANDLER_BUCKETS, HistogramSnapshot, combined, histogram, snapshot

__all__ = ["COUNTERS", "ConsumerCounters", "ConsumingMetrics", "GroupSnapshot", "LoopRegistration"]

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
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    handler_duration: HistogramSnapshot | None = None

    def add(self, counters: ConsumerCounters, durations: HistogramSnapshot, in_flight: int) -> None:
        for name in COUNTERS:
            self.counters[name] += getattr(counters, name)
        for reason, n in list(counters.dead_letter_reasons.items()):
            self.dead_letter_reasons[reason] = self.dead_letter_reasons.get(reason, 0) + n
        self.in_flight += in_flight
        self.handler_duration = combined(self.handler_duration, durations)

    def to_json(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "group": self.group,
            **self.counters,
            "dead_lettered_by_reason": dict(sorted(self.dead_letter_reasons.items())),
            "in_flight": self.in_flight,
            "handler_duration_seconds": None if self.handler_duration is None else self.handler_duration.to_json(),
        }


class LoopRegistration:
    """A registered handler loop: ``durations`` (its handler's, seconds) and :meth:`retire`."""

    def __init__(
        self,
        owner: ConsumingMetrics,
        topic: str,
        group: str,
        counters: ConsumerCounters,
        in_flight: Callable[[], int],
    ) -> None:
        self.owner = owner
        self.topic = topic
        self.group = group
        self.counters = counters
        self.in_flight = in_flight
        self.durations = histogram(HANDLER_BUCKETS)

    def retire(self) -> None:
        """The loop stopped: keep its final counts, forget the loop (idempotent)."""
        self.owner.retire(self)


class ConsumingMetrics:
    """The handler loops registered (running) and the counts of those retired, read per (topic, group)."""

    def __init__(self) -> None:
        self._running: list[LoopRegistration] = []
        self._retired: dict[tuple[str, str], GroupSnapshot] = {}
        self._lock = threading.Lock()

    def register(
        self, topic: str, group: str, counters: ConsumerCounters, in_flight: Callable[[], int]
    ) -> LoopRegistration:
        """Report a handler loop's ``counters`` and records ``in_flight`` until it retires."""
        registration = LoopRegistration(self, topic, group, counters, in_flight)
        with self._lock:
            self._running.append(registration)
        return registration

    def retire(self, registration: LoopRegistration) -> None:
        with self._lock:
            if registration not in self._running:
                return
            self._running.remove(registration)
            key = (registration.topic, registration.group)
            kept = self._retired.get(key) or self._retired.setdefault(key, GroupSnapshot(*key))
            kept.add(registration.counters, snapshot(registration.durations), 0)

    def groups(self) -> list[GroupSnapshot]:
        """Every (topic, group) registered, sorted."""
        with self._lock:
            running = list(self._running)
            out = {
                key: GroupSnapshot(key[0], key[1], dict(s.counters), dict(s.dead_letter_reasons), 0, s.handler_duration)
                for key, s in self._retired.items()
            }
        for r in running:
            key = (r.topic, r.group)
            snap = out.get(key) or out.setdefault(key, GroupSnapshot(*key))
            snap.add(r.counters, snapshot(r.durations), r.in_flight())
        return [out[key] for key in sorted(out)]
