"""The three routes a metrics endpoint serves, as plain (status, content type, body) answers that the
HTTP server and the ASGI application both send: ``/metrics`` (Prometheus text), ``/healthz`` (200 while
every component is live, else 503) and ``/readyz`` (200 while every component is ready, else 503), the
probes with each component's status as JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..health import HealthCheck, HealthStatus, combined

if TYPE_CHECKING:
    from .core import Metrics

__all__ = ["ROUTES", "Answer", "answer"]

log = logging.getLogger("schemabus.metrics")

ROUTES = ("/metrics", "/healthz", "/readyz")
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"

# (HTTP status, content type, body)
Answer = tuple[int, str, bytes]


def _probe(checks: Sequence[HealthCheck], ready: bool) -> Answer:
    try:
        live_all, ready_all, statuses = combined(checks)
    except Exception as e:  # a component that cannot say is not healthy
        log.exception("a health check failed")
        statuses = [HealthStatus("health check", live=False, ready=False, reason=f"{type(e).__name__}: {e}")]
        live_all = ready_all = False
    ok = ready_all if ready else live_all
    body = {"status": "ok" if ok else "unavailable", "components": [s.to_json() for s in statuses]}
    return (200 if ok else 503), JSON, json.dumps(body).encode()


def answer(metrics: Metrics | None, checks: Sequence[HealthCheck], method: str, path: str) -> Answer:
    """The answer to ``method path`` (a query string is ignored)."""
    path = path.split("?", 1)[0]
    if path not in ROUTES:
        return 404, TEXT, b"not found: /metrics, /healthz and /readyz are served here\n"
    if method not in ("GET", "HEAD"):
        return 405, TEXT, b"method not allowed\n"
    if path == "/healthz":
        return _probe(checks, ready=False)
    if path == "/readyz":
        return _probe(checks, ready=True)
    if metrics is None:
        return 404, TEXT, b"no metrics are served here\n"
    body, content_type = metrics.exposition()
    return 200, content_type, body
