"""Liveness and readiness, as Kubernetes probes ask them.

A component (:class:`~schemabus.runtime.KafkaBus`, :class:`~schemabus.runtime.ConsumerRunner`) answers
``health()`` with a :class:`HealthStatus`:

* **live**: it can still do its work without a restart. False after a fatal error stopped it (a fenced
  transactional producer, a runner stopped by a handler error in exactly-once mode, or by a registry
  outage), and after it was closed or stopped.
* **ready**: it does its work now. A bus is ready while it is open and its cluster reachable; a runner
  while it runs with its partitions assigned (not while starting, rebalancing or unassigned).

:func:`combined` folds several components into the one answer a probe endpoint gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["HealthCheck", "HealthStatus", "combined"]


@dataclass(frozen=True)
class HealthStatus:
    """One component's answer. ``reason`` says why it is not live or not ready ("" when both hold)."""

    component: str
    live: bool
    ready: bool
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        return {"component": self.component, "live": self.live, "ready": self.ready, "reason": self.reason}


class HealthCheck(Protocol):
    """Anything with a ``health()``: a bus, a runner, a user's own component."""

    def health(self) -> HealthStatus: ...


def combined(checks: Iterable[HealthCheck]) -> tuple[bool, bool, list[HealthStatus]]:
    """(all live, all ready, each component's status): a process is live while every component is,
    ready while every component is."""
    statuses = [check.health() for check in checks]
    return all(s.live for s in statuses), all(s.ready for s in statuses), statuses
