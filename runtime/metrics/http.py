"""A small HTTP server for ``/metrics``, ``/healthz`` and ``/readyz`` (:mod:`.probes`), on a daemon
thread of its own: the standard library's ``ThreadingHTTPServer``, no web framework needed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from .probes import Answer, answer
from .prometheus import require_prometheus

if TYPE_CHECKING:
    from ..health import HealthCheck
    from .core import Metrics

__all__ = ["DEFAULT_PORT", "MetricsServer", "serve_metrics"]

log = logging.getLogger("schemabus.metrics")

DEFAULT_PORT = 9464


class MetricsServer:
    """A running endpoint: ``port`` (the one bound, useful with ``port=0``), ``url``, :meth:`stop`."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket (waits for the serving thread; idempotent)."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_metrics(
    metrics: Metrics | None,
    *,
    port: int = DEFAULT_PORT,
    host: str = "0.0.0.0",
    health: Iterable[HealthCheck] = (),
) -> MetricsServer:
    """Serve ``/metrics`` (``metrics`` as Prometheus text; None: probes only), ``/healthz`` and ``/readyz``
    (the ``health`` components: a bus, a runner, anything with ``health()``) on ``host:port`` from a
    daemon thread. Raises :class:`~.prometheus.MetricsUnavailableError` at once without
    prometheus-client (unless ``metrics`` is None), OSError when the port is taken."""
    if metrics is not None:
        require_prometheus()
    checks = list(health)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, head_only: bool) -> None:
            try:
                status, content_type, body = answer(metrics, checks, self.command, self.path)
            except Exception as e:
                log.exception("metrics endpoint: %s failed", self.path)
                status, content_type, body = 500, "text/plain; charset=utf-8", f"{type(e).__name__}: {e}\n".encode()
            self._reply((status, content_type, body), head_only)

        def _reply(self, reply: Answer, head_only: bool) -> None:
            status, content_type, body = reply
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(head_only=False)

        def do_HEAD(self) -> None:
            self._send(head_only=True)

        def do_POST(self) -> None:
            self._send(head_only=False)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("metrics endpoint: " + format, *args)  # probes every few seconds: not for the default log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="schemabus-metrics-http", daemon=True)
    thread.start()
    return MetricsServer(server, thread)
