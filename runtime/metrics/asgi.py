"""``/metrics``, ``/healthz`` and ``/readyz`` (:mod:`.probes`) as a plain ASGI application, to mount in
a web framework (Starlette, FastAPI, Litestar...) instead of running :func:`~.http.serve_metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from .probes import answer
from .prometheus import require_prometheus

if TYPE_CHECKING:
    from ..health import HealthCheck
    from .core import Metrics

__all__ = ["ASGIApp", "asgi_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def asgi_app(metrics: Metrics | None, health: Iterable[HealthCheck] = ()) -> ASGIApp:
    """An ASGI 3 application answering ``GET /metrics`` (``metrics``; None: probes only), ``/healthz`` and
    ``/readyz``; paths are relative to where it is mounted (``root_path`` is taken off). Health checks and
    the exposition run on a worker thread: a slow component does not block the event loop."""
    if metrics is not None:
        require_prometheus()
    checks = list(health)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise RuntimeError(f"the schemabus metrics app serves HTTP, not {scope['type']!r}")
        path: str = scope.get("path", "/")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        method: str = scope.get("method", "GET")
        status, content_type, body = await asyncio.to_thread(answer, metrics, checks, method, path)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    return app
