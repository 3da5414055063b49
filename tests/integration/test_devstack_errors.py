"""The dev stack's failures name the server, the reason and the log (no real servers needed).

Fake ``java`` and ``mvn`` scripts stand in for the real ones, and a fake cache makes the
download step a no-op, so these run in seconds without network or JDK.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from schemabus.runtime.devstack import (
    KAFKA_VERSION,
    REGISTRY_VERSION_JAVA17,
    DevStackError,
    start_kafka,
    start_registry,
)
from schemabus.runtime.devstack.cli import dev

# A stand-in for `java`: answers -version like Java 17, otherwise prints a line and then
# exits with code 3, or (FAKE_JAVA_MODE=hang) never becomes ready. FAKE_JAVA_PIDFILE
# receives its PID.
_FAKE_JAVA = f"""#!{sys.executable}
import os, sys, time
if "-version" in sys.argv:
    print('openjdk version "17.0.99" 2099-01-01', file=sys.stderr)
    sys.exit(0)
print("fake java: simulated failure", flush=True)
if os.environ.get("FAKE_JAVA_PIDFILE"):
    with open(os.environ["FAKE_JAVA_PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
if os.environ.get("FAKE_JAVA_MODE") == "hang":
    time.sleep(300)
sys.exit(3)
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_java(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "fake-jdk" / "bin"
    bin_dir.mkdir(parents=True)
    return _script(bin_dir / "java", _FAKE_JAVA)


@pytest.fixture
def fake_cache(tmp_path: Path) -> Path:
    """A cache that already holds both servers, so nothing is downloaded."""
    cache = tmp_path / "cache"
    (cache / "kafka" / KAFKA_VERSION / "libs").mkdir(parents=True)
    app = cache / "apicurio" / REGISTRY_VERSION_JAVA17 / "app"
    app.mkdir(parents=True)
    (app / "quarkus-run.jar").touch()
    return cache


def test_missing_java_names_server_reason_and_log(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-jdk" / "bin" / "java"
    with pytest.raises(DevStackError) as kafka_error:
        start_kafka(tmp_path / "run", java=missing, cache=tmp_path / "cache")
    error = kafka_error.value
    assert error.server == "kafka"
    assert "does not exist" in error.reason and str(missing) in error.reason
    assert error.log_path == (tmp_path / "run" / "kafka" / "kafka.log").resolve()
    assert str(error).startswith("kafka could not start:")
    assert str(error.log_path) in str(error)

    with pytest.raises(DevStackError) as registry_error:
        start_registry(tmp_path / "run", java=missing, cache=tmp_path / "cache")
    assert registry_error.value.server == "registry"
    assert registry_error.value.log_path == (tmp_path / "run" / "registry" / "registry.log").resolve()


def test_early_exit_shows_exit_code_and_log_tail(tmp_path: Path, fake_java: Path, fake_cache: Path) -> None:
    with pytest.raises(DevStackError) as kafka_error:
        start_kafka(tmp_path / "run", java=fake_java, cache=fake_cache, timeout=20)
    # Kafka's first JVM is the storage format step.
    assert kafka_error.value.server == "kafka"
    assert "exited with code 3" in kafka_error.value.reason
    assert "fake java: simulated failure" in str(kafka_error.value)

    with pytest.raises(DevStackError) as registry_error:
        start_registry(tmp_path / "run", java=fake_java, cache=fake_cache, timeout=20)
    error = registry_error.value
    assert error.server == "registry"
    assert error.reason == "the process exited early with code 3"
    assert "fake java: simulated failure" in str(error)
    assert str(tmp_path / "run" / "registry" / "registry.log") in str(error)


def test_readiness_timeout_stops_the_process(
    tmp_path: Path, fake_java: Path, fake_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_JAVA_MODE", "hang")
    pid_file = tmp_path / "fake-java.pid"
    monkeypatch.setenv("FAKE_JAVA_PIDFILE", str(pid_file))
    with pytest.raises(DevStackError) as registry_error:
        start_registry(tmp_path / "run", java=fake_java, cache=fake_cache, timeout=2)
    assert registry_error.value.server == "registry"
    assert "not ready within 2 s" in registry_error.value.reason
    assert "simulated failure" in str(registry_error.value)
    # The hung process was stopped before the error was raised.
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_refused_download_names_server_and_maven_log(
    tmp_path: Path, fake_java: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "fake-mvn"
    bin_dir.mkdir()
    _script(bin_dir / "mvn", "#!/bin/sh\necho '[ERROR] Could not find artifact (simulated)'\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    with pytest.raises(DevStackError) as kafka_error:
        start_kafka(tmp_path / "run", java=fake_java, cache=cache)
    error = kafka_error.value
    assert error.server == "kafka"
    assert "download failed" in error.reason
    assert error.log_path == cache / "kafka" / f"{KAFKA_VERSION}.mvn.log"
    assert "Could not find artifact (simulated)" in str(error)
    # Nothing half-downloaded is left looking usable.
    assert not (cache / "kafka" / KAFKA_VERSION).exists()


def test_cli_status_and_down_without_a_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMABUS_CACHE_DIR", str(tmp_path))
    runner = CliRunner()
    status = runner.invoke(dev, ["status"])
    assert status.exit_code == 1
    assert "not running" in status.output
    down = runner.invoke(dev, ["down"])
    assert down.exit_code == 0
