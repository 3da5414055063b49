"""The metrics endpoint: /metrics, /healthz and /readyz over HTTP (serve_metrics) and as an ASGI
application, with fake health checks; and the metrics module without prometheus-client installed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemabus.runtime.health import HealthStatus
from schemabus.runtime.metrics import INSTALL_HINT, Metrics, MetricsServer, serve_metrics


class Component:
    """A HealthCheck whose answer the test sets."""

    def __init__(self, name: str, live: bool = True, ready: bool = True, reason: str = "") -> None:
        self.status = HealthStatus(name, live, ready, reason)

    def health(self) -> HealthStatus:
        return self.status


class Broken:
    def health(self) -> HealthStatus:
        raise RuntimeError("cannot tell")


class Report:
    def topic(self) -> str:
        return "orders"

    def latency(self) -> float:
        return 0.02


def get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


@pytest.fixture
def parts() -> tuple[Metrics, Component, Component]:
    metrics = Metrics()
    metrics.publishing.observer()(None, Report())
    return metrics, Component("bus"), Component("runner")


@pytest.fixture
def server(parts: tuple[Metrics, Component, Component]) -> Iterator[MetricsServer]:
    metrics, bus, runner = parts
    handle = serve_metrics(metrics, port=0, host="127.0.0.1", health=[bus, runner])
    try:
        yield handle
    finally:
        handle.stop()


def test_metrics_over_http_are_the_prometheus_text(server: MetricsServer) -> None:
    assert server.port > 0
    status, content_type, body = get(server.url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    (sample,) = families["schemabus_published"].samples
    assert (sample.labels, sample.value) == ({"topic": "orders"}, 1.0)


def test_probes_answer_200_while_every_component_holds_and_503_with_the_reason_otherwise(
    server: MetricsServer, parts: tuple[Metrics, Component, Component]
) -> None:
    _, bus, runner = parts
    for path in ("/healthz", "/readyz"):
        status, content_type, body = get(server.url + path)
        assert (status, content_type) == (200, "application/json")
        assert json.loads(body) == {
            "status": "ok",
            "components": [
                {"component": "bus", "live": True, "ready": True, "reason": ""},
                {"component": "runner", "live": True, "ready": True, "reason": ""},
            ],
        }
    runner.status = HealthStatus("runner", live=True, ready=False, reason="rebalancing")
    assert get(server.url + "/healthz")[0] == 200  # live still
    status, _, body = get(server.url + "/readyz")
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "unavailable"
    assert answer["components"][1] == {"component": "runner", "live": True, "ready": False, "reason": "rebalancing"}
    bus.status = HealthStatus("bus", live=False, ready=False, reason="fenced")
    assert get(server.url + "/healthz")[0] == 503


def test_unknown_paths_and_methods(server: MetricsServer) -> None:
    assert get(server.url + "/")[0] == 404
    assert get(server.url + "/metrics/x")[0] == 404
    assert get(server.url + "/metrics", method="POST")[0] == 405
    status, _, body = get(server.url + "/healthz", method="HEAD")
    assert (status, body) == (200, b"")
    assert get(server.url + "/readyz?verbose=1")[0] == 200


def test_a_health_check_that_raises_makes_the_probe_fail_not_the_server() -> None:
    with serve_metrics(None, port=0, host="127.0.0.1", health=[Component("bus"), Broken()]) as handle:
        status, _, body = get(handle.url + "/healthz")
        assert status == 503
        assert "RuntimeError: cannot tell" in json.loads(body)["components"][0]["reason"]
        assert get(handle.url + "/metrics")[0] == 404  # probes only
    with pytest.raises(OSError):  # stopped: nothing listens any more
        urllib.request.urlopen(handle.url + "/healthz", timeout=2)


def test_no_components_means_healthy() -> None:
    with serve_metrics(Metrics(), port=0, host="127.0.0.1") as handle:
        assert get(handle.url + "/readyz")[0] == 200


# --- ASGI ---------------------------------------------------------------------------------------


def call_asgi(app: Any, path: str, method: str = "GET", root_path: str = "") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}
    asyncio.run(app(scope, receive, send))
    start, body = sent
    assert start["type"] == "http.response.start" and body["type"] == "http.response.body"
    return start["status"], dict(start["headers"]), body["body"]


def test_the_asgi_app_serves_the_same_routes(parts: tuple[Metrics, Component, Component]) -> None:
    metrics, bus, runner = parts
    app = metrics.asgi_app(health=[bus, runner])
    status, headers, body = call_asgi(app, "/metrics")
    assert status == 200 and headers[b"content-type"].startswith(b"text/plain; version=")
    assert int(headers[b"content-length"]) == len(body)
    assert 'schemabus_published_total{topic="orders"} 1.0' in body.decode()
    assert call_asgi(app, "/healthz")[0] == 200
    runner.status = HealthStatus("runner", live=True, ready=False, reason="starting")
    status, headers, body = call_asgi(app, "/ops/readyz", root_path="/ops")  # mounted under /ops
    assert (status, headers[b"content-type"]) == (503, b"application/json")
    assert json.loads(body)["components"][1]["reason"] == "starting"
    assert call_asgi(app, "/nothing")[0] == 404
    assert call_asgi(app, "/metrics", method="HEAD")[2] == b""


def test_the_asgi_app_completes_the_lifespan_protocol(parts: tuple[Metrics, Component, Component]) -> None:
    app = parts[0].asgi_app()
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# --- without prometheus-client ------------------------------------------------------------------

WITHOUT_PROMETHEUS = textwrap.dedent(
    """
    import json, sys

    class NoPrometheus:
        def find_spec(self, name, path=None, target=None):
            if name == "prometheus_client" or name.startswith("prometheus_client."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, NoPrometheus())

    from schemabus.runtime.health import HealthStatus
    from schemabus.runtime.metrics import Metrics, MetricsUnavailableError, serve_metrics

    class Report:
        def topic(self): return "orders"
        def latency(self): return 0.02

    metrics = Metrics()
    metrics.publishing.observer()(None, Report())
    metrics.client_config()["stats_cb"](open(sys.argv[1]).read())
    snapshot = metrics.snapshot()
    errors = []
    for attempt in (metrics.exposition, metrics.collector, metrics.asgi_app, lambda: serve_metrics(metrics, port=0)):
        try:
            attempt()
        except MetricsUnavailableError as e:
            errors.append(str(e))

    class Up:
        def health(self): return HealthStatus("bus", True, True)

    probes = serve_metrics(None, port=0, host="127.0.0.1", health=[Up()])  # probes need nothing extra
    import urllib.request
    probe = urllib.request.urlopen(probes.url + "/readyz", timeout=10).status
    probes.stop()
    print(json.dumps({
        "published": snapshot["topics"]["orders"]["published"],
        "tx_bytes": snapshot["producer"]["tx_bytes"],
        "errors": errors,
        "probe": probe,
        "loaded": "prometheus_client" in sys.modules,
    }))
    """
)


def test_snapshot_and_probes_work_without_prometheus_client_and_the_exposition_says_how_to_get_it() -> None:
    from .test_metrics import STATS

    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PROMETHEUS, str(STATS / "producer.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["published"] == 1 and result["tx_bytes"] == 263318
    assert result["probe"] == 200
    assert not result["loaded"]
    assert len(result["errors"]) == 4
    for error in result["errors"]:
        assert INSTALL_HINT in error and INSTALL_HINT == "pip install 'schemabus[metrics]'"
