"""``schemabus dev up|status|down`` start, report and stop real background servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY, DevStack, cache_dir, dev_run_dir
from schemabus.runtime.devstack.cli import dev

# Runs whatever the environment says about servers: `dev up` starts its own, in a private cache.
pytestmark = pytest.mark.integration


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache whose `dev` folder is private to this test, sharing the real downloads.

    A developer's own `schemabus dev up` stack lives in the real cache's `dev` folder;
    this test must neither find nor stop it.
    """
    real = cache_dir()
    for shared in ("kafka", "apicurio", "cds"):
        (real / shared).mkdir(parents=True, exist_ok=True)
        (tmp_path / shared).symlink_to(real / shared)
    monkeypatch.setenv("SCHEMABUS_CACHE_DIR", str(tmp_path))
    yield tmp_path
    # Whatever happened above, stop what `up` started.
    CliRunner().invoke(dev, ["down"])


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
