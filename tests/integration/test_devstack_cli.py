"""``schemabus dev up|status|down`` start, report and stop real background servers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY, DevStack, dev_run_dir
from schemabus.runtime.devstack.cli import dev

# Runs whatever the environment says about servers: `dev up` starts its own, in a private cache.
pytestmark = pytest.mark.integration


def _exports(output: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = value
    return values


def test_up_status_down(private_cache: Path) -> None:
    runner = CliRunner()
    up = runner.invoke(dev, ["up"])
    assert up.exit_code == 0, up.output + up.stderr
    # Only the assignments go to stdout, so `eval "$(schemabus dev up)"` works.
    assert all(line.startswith("export ") for line in up.stdout.splitlines())
    exports = _exports(up.stdout)
    assert set(exports) == {ENV_BOOTSTRAP, ENV_REGISTRY}
    assert "ready" in up.stderr

    # The servers outlive the command and answer.
    AdminClient({"bootstrap.servers": exports[ENV_BOOTSTRAP]}).list_topics(timeout=10)
    stack = DevStack.load(dev_run_dir())
    assert stack is not None and all(stack.running().values())

    status = runner.invoke(dev, ["status"])
    assert status.exit_code == 0
    assert status.stdout.count("running") == 2

    again = runner.invoke(dev, ["up"])
    assert again.exit_code == 0
    assert _exports(again.stdout) == exports, "a second `up` reuses the running stack"

    down = runner.invoke(dev, ["down"])
    assert down.exit_code == 0
    assert not any(stack.running().values())
    assert runner.invoke(dev, ["status"]).exit_code == 1


@pytest.mark.cluster
def test_up_status_down_with_three_brokers(private_cache: Path) -> None:
    runner = CliRunner()
    started = time.monotonic()
    up = runner.invoke(dev, ["up", "--brokers", "3"])
    took = time.monotonic() - started
    assert up.exit_code == 0, up.output + up.stderr
    print(f"dev up --brokers 3 (with the registry) took {took:.1f} s")
    bootstrap = _exports(up.stdout)[ENV_BOOTSTRAP]
    assert len(bootstrap.split(",")) == 3, "the bootstrap servers name every broker"
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    assert sorted(metadata.brokers) == [1, 2, 3]

    status = runner.invoke(dev, ["status"])
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["kafka-1", "running"],
        ["kafka-2", "running"],
        ["kafka-3", "running"],
        ["registry", "running"],
    ]

    other = runner.invoke(dev, ["up"])
    assert other.exit_code != 0 and "already running with 3 broker(s)" in other.output
    again = runner.invoke(dev, ["up", "--brokers", "3"])
    assert again.exit_code == 0 and _exports(again.stdout)[ENV_BOOTSTRAP] == bootstrap

    stack = DevStack.load(dev_run_dir())
    assert stack is not None and len(stack.brokers) == 3
    down = runner.invoke(dev, ["down"])
    assert down.exit_code == 0
    assert down.stderr.count("stopped (pid") == 4
    assert not any(stack.running().values())
    # `down` keeps the data for the next `up` (tests/integration/test_devstack_persistence.py).
    assert all(broker.data_dir.is_dir() for broker in stack.brokers) and "data kept" in down.stderr
    assert runner.invoke(dev, ["status"]).exit_code == 1
