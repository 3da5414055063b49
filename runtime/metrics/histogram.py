"""A histogram as plain Python state: bucket counts and a sum, observed without locks or label lookups.

Prometheus' own ``Histogram`` takes a lock per observation; this one is a list index increment, read
(summed into cumulative buckets) only when someone scrapes or asks for a snapshot.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

__all__ = ["HANDLER_BUCKETS", "LATENCY_BUCKETS", "Histogram", "HistogramSnapshot", "combined"]

# Produce to acknowledgement: linger (5 ms by default) plus a round trip, up to the delivery timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# A handler: from tens of microseconds (in memory) to seconds (a remote call).
HANDLER_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


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


class Histogram:
    """Counts of observations per bucket (``le`` bounds, as Prometheus has them) and their sum.

    ``observe`` is called by one thread at a time in practice (the one serving delivery reports, or the
    event loop); an increment of a list item is one bytecode step under the GIL, so a concurrent
    reader sees every observation either counted or not yet, never a torn value.
    """

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("histogram bounds must be increasing and not empty")
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def add(self, bins: tuple[int, ...] | list[int], total: float) -> None:
        """Add observations binned already by these bounds (one count per bucket, the last above all)."""
        if len(bins) != len(self.counts):
            raise ValueError(f"{len(bins)} bins for a histogram of {len(self.counts)}")
        counts = self.counts
        for i, n in enumerate(bins):
            if n:
                counts[i] += n
        self.total += total

    def snapshot(self) -> HistogramSnapshot:
        counts = list(self.counts)  # one copy: the cumulative sums below agree with each other
        total = self.total
        cumulative = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), counts):
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
