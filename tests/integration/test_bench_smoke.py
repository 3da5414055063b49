"""The memory benchmark still runs: a few thousand events through publish and handle, on the real servers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "memory_bench.py"


def test_memory_bench_runs(kafka_bootstrap: str, registry_url: str) -> None:
    env = {**os.environ, ENV_BOOTSTRAP: kafka_bootstrap, ENV_REGISTRY: registry_url}
    result = subprocess.run(
        [sys.executable, str(BENCH), "--records", "2000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "peak RSS" in output
    for phase in ("publish", "handle"):
        assert re.search(rf"^\s+{phase}\s+100%\s+2000\s", output, re.MULTILINE), output
