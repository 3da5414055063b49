"""Histograms as plain state: bucket counts and a sum, observed without locks or label lookups.

Prometheus' own ``Histogram`` takes a lock per observation; these are ``Bins`` of the compiled
speedups (one C call per observation; a Python class without the extension), read (summed into
cumulative buckets) only when someone scrapes or asks for a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..speedups import Bins

__all__ = ["HANDLER_BUCKETS", "LATENCY_BUCKETS", "Histogram", "HistogramSnapshot", "combined", "histogram", "snapshot"]

# Produce to acknowledgement: linger (5 ms by default) plus a round trip, up to the delivery timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# A handler: from tens of microseconds (in memory) to seconds (a remote call).
HANDLER_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Histogram(Protocol):
    """Bucket counts (``le`` bounds; the last bucket above every bound) and the sum of observations.

    Observed by one thread at a time in practice (the one serving delivery reports, or the event
    loop); each call is atomic under the GIL, so a concurrent reader sees an observation either counted
    or not yet.
    """

    @property
    def bounds(self) -> tuple[float, ...]: ...

    @property
    def sum(self) -> float: ...

    def observe(self, value: float, /) -> None: ...

    def observe_since(self, started: float, /) -> None:
        """Observe ``time.perf_counter() - started``."""

    def add(self, bins: tuple[int, ...] | list[int], total: float, /) -> None:
        """Add observations binned by these bounds elsewhere (one count per bucket)."""

    def counts(self) -> tuple[int, ...]: ...


def histogram(bounds: tuple[float, ...]) -> Histogram:
    """A new histogram of ``bounds`` (increasing); ValueError otherwise."""
    made: Histogram = Bins(bounds)
    return made


@dataclass(frozen=True)
class HistogramSnapshot:
    """``buckets``: (upper bound, cumulative count) pairs, the last one ``inf``; ``count`` and ``sum``."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: float

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "sum": self.sum,
            "buckets": {("+Inf" if b == float("inf") else repr(b)): n for b, n in self.buckets},
        }


def snapshot(h: Histogram) -> HistogramSnapshot:
    """The cumulative buckets, count and sum of ``h`` now."""
    counts = h.counts()  # one copy: the cumulative sums below agree with each other
    total = h.sum
    cumulative = []
    running = 0
    for bound, n in zip((*h.bounds, float("inf")), counts):
        running += n
        cumulative.append((bound, running))
    return HistogramSnapshot(tuple(cumulative), running, total)


def combined(a: HistogramSnapshot | None, b: HistogramSnapshot) -> HistogramSnapshot:
    """``a`` plus ``b`` (histograms of the same bounds): several sources of one label set."""
    if a is None:
        return b
    return HistogramSnapshot(
        tuple((bound, n + m) for (bound, n), (_, m) in zip(a.buckets, b.buckets, strict=True)),
        a.count + b.count,
        a.sum + b.sum,
    )
