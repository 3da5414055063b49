"""The Kafka benchmarks still run, on the real servers: the memory benchmark with a few thousand events
through publish and handle, the produce benchmark with every variant on a small count, the latency
benchmark for a second of each variant, the metrics benchmark with a round of each variant."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench(name: str, *args: str, kafka_bootstrap: str, registry_url: str) -> str:
    env = {**os.environ, ENV_BOOTSTRAP: kafka_bootstrap, ENV_REGISTRY: registry_url}
    result = subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_memory_bench_runs(kafka_bootstrap: str, registry_url: str) -> None:
    output = bench("memory_bench.py", "--records", "2000", kafka_bootstrap=kafka_bootstrap, registry_url=registry_url)
    assert "peak RSS" in output
    for phase in ("publish", "handle", "batch"):
        assert re.search(rf"^\s+{phase}\s+100%\s+2000\s", output, re.MULTILINE), output


def test_produce_bench_runs(kafka_bootstrap: str, registry_url: str) -> None:
    output = bench(
        "produce_bench.py",
        *("--records", "4000", "--rounds", "1", "--batch", "1000"),
        kafka_bootstrap=kafka_bootstrap,
        registry_url=registry_url,
    )
    for variant in ("schemabus nowait", "schemabus publish_many", "schemabus publish"):
        assert re.search(rf"^\s+{variant}\s+[\d.]+x raw \(goal >= [\d.]+x: ", output, re.MULTILINE), output


def test_latency_bench_runs(kafka_bootstrap: str, registry_url: str) -> None:
    output = bench(
        "latency_bench.py",
        *("--rate", "1000", "--seconds", "1", "--rounds", "1"),
        kafka_bootstrap=kafka_bootstrap,
        registry_url=registry_url,
    )
    for variant in ("schemabus publish", "confluent callback"):
        assert re.search(rf"^\s+{variant}\s+p50\s+[\d.]+\s+p99\s+[\d.]+\s+p99\.9\s+[\d.]+\s+max", output, re.M), output
    assert re.search(r"goal: p99 within 1\.1x confluent's: [\d.]+x", output), output


def test_metrics_bench_runs(kafka_bootstrap: str, registry_url: str) -> None:
    output = bench(
        "metrics_bench.py",
        *("--records", "2000", "--consume-records", "1000", "--rounds", "1", "--batch", "500"),
        kafka_bootstrap=kafka_bootstrap,
        registry_url=registry_url,
    )
    for kind in ("publish_many", "ConsumerRunner"):
        assert re.search(
            rf"^\s+{kind}\s+off\s+[\d.]+ k/s\s+on\s+[\d.]+ k/s\s+on/off\s+[\d.]+x\s+median of rounds\s+[\d.]+x$",
            output,
            re.MULTILINE,
        ), output
    # Every record published with metrics on was counted: the warm-up's 1000 (+1), a round's 2000 (+1).
    assert "counted with metrics on: 3002 published, 1000 handled" in output, output
