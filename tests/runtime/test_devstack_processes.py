"""The dev stack's process handling without real servers: which Java it accepts, how it stops a process
that ignores SIGTERM, what an empty stack answers, a stack whose two servers both fail to start, and
how a three-broker cluster is configured and recorded (a fake ``java`` stands in;
tests/integration/test_devstack_*.py and test_cluster_faults.py start real servers)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemabus.runtime.devstack import (
    KAFKA_VERSION,
    REGISTRY_VERSION_JAVA17,
    DevStack,
    DevStackError,
    KafkaProcess,
    SaslListener,
    ServerProcess,
    find_jdks,
    new_run_dir,
    prune_runs,
    quorum_leader,
    resolve_jdk,
    start_kafka,
    start_kafka_cluster,
    start_stack,
)
from schemabus.runtime.devstack.process import launch, new_marker, pid_alive, stop_pid
from schemabus.runtime.devstack.registry import launcher

# A stand-in for `java`: answers -version as FAKE_JAVA_VERSION says (default: Java 17; "none": no
# version line), otherwise prints a line and exits with code 3, or hangs with FAKE_JAVA_MODE=hang.
_FAKE_JAVA = f"""#!{sys.executable}
import os, sys, time
if "-version" in sys.argv:
    version = os.environ.get("FAKE_JAVA_VERSION", "17.0.99")
    if version != "none":
        print(f'openjdk version "{{version}}" 2099-01-01', file=sys.stderr)
    sys.exit(0)
print("fake java: simulated failure", flush=True)
if os.environ.get("FAKE_JAVA_MODE") == "hang":
    time.sleep(300)
sys.exit(3)
"""


def _fake_java(folder: Path, name: str = "fake-jdk") -> Path:
    java = folder / name / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(_FAKE_JAVA)
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


def _fake_cache(folder: Path) -> Path:
    """A cache that already holds both servers, so nothing is downloaded."""
    cache = folder / "cache"
    (cache / "kafka" / KAFKA_VERSION / "libs").mkdir(parents=True)
    app = cache / "apicurio" / REGISTRY_VERSION_JAVA17 / "app"
    app.mkdir(parents=True)
    (app / "quarkus-run.jar").touch()
    return cache


def test_a_java_that_is_too_old_or_prints_no_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = _fake_java(tmp_path)
    monkeypatch.setenv("FAKE_JAVA_VERSION", "11.0.2")
    with pytest.raises(LookupError, match=r"is Java 11; Java 17 or newer is needed"):
        resolve_jdk(java)
    quiet = _fake_java(tmp_path, "quiet-jdk")  # another path: java_major caches per path
    monkeypatch.setenv("FAKE_JAVA_VERSION", "none")
    with pytest.raises(LookupError, match="-version did not run or printed no version"):
        resolve_jdk(quiet)


def test_java_home_is_one_of_the_places_a_jdk_is_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java = _fake_java(tmp_path, "home-jdk")
    monkeypatch.setenv("FAKE_JAVA_VERSION", "99.0.1")  # newer than anything installed: found first
    monkeypatch.setenv("JAVA_HOME", str(java.parent.parent))
    newest = find_jdks()[0]
    assert (newest.java, newest.major, newest.home) == (java, 99, java.parent.parent)


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    marker = new_marker()
    ignoring = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", ignoring, marker], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        started = time.monotonic()
        assert stop_pid(process.pid, marker, timeout=0.5)
        assert time.monotonic() - started >= 0.5  # SIGTERM was ignored: SIGKILL after the timeout
        assert not pid_alive(process.pid)  # (stop_pid reaped its own child, so Popen sees no status)
        assert not stop_pid(process.pid, marker)  # gone: nothing to signal
    finally:
        if process.poll() is None:
            process.kill()


def test_launch_refuses_a_command_without_its_marker_and_names_a_command_that_cannot_run(tmp_path: Path) -> None:
    marker = new_marker()
    log = tmp_path / "server.log"
    with pytest.raises(ValueError, match="must carry its marker"):
        launch("kafka", ["java"], marker=marker, log_path=log, cwd=tmp_path)
    missing = str(tmp_path / "no-such-java")
    with pytest.raises(DevStackError, match=f"cannot run {missing}") as info:
        launch("kafka", [missing, marker], marker=marker, log_path=log, cwd=tmp_path)
    assert info.value.server == "kafka" and info.value.log_path == log


def test_an_empty_stack_says_what_it_lacks(tmp_path: Path) -> None:
    with DevStack(run_dir=tmp_path) as stack:
        assert stack.servers == [] and stack.env() == {} and stack.running() == {}
        for name, lacking in (
            ("bootstrap_servers", "no Kafka"),
            ("sasl", "no Kafka SASL"),
            ("registry_url", "no registry"),
        ):
            with pytest.raises(LookupError, match=lacking):
                getattr(stack, name)
    assert DevStack.load(tmp_path) is None  # never saved


def test_run_folders_made_in_the_same_second_do_not_collide(tmp_path: Path) -> None:
    folders = [new_run_dir(tmp_path) for _ in range(3)]
    assert len(set(folders)) == 3 and all(folder.is_dir() for folder in folders)


def test_when_both_servers_fail_the_first_error_carries_the_second(tmp_path: Path) -> None:
    java, cache = _fake_java(tmp_path), _fake_cache(tmp_path)
    with pytest.raises(DevStackError) as info:
        start_stack(tmp_path / "run", java=java, cache=cache, timeout=20)
    error = info.value
    notes = getattr(error, "__notes__", [])
    servers = {error.server, *("registry" if "registry" in n else "kafka" for n in notes)}
    assert servers == {"kafka", "registry"} and len(notes) == 1
    assert "exited with code 3" in str(error) and "exited" in notes[0]


def test_a_storage_format_that_hangs_is_stopped_at_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_JAVA_MODE", "hang")
    java, cache = _fake_java(tmp_path), _fake_cache(tmp_path)
    with pytest.raises(DevStackError, match="storage format took longer than 1 s") as info:
        start_kafka(tmp_path / "run", java=java, cache=cache, timeout=1)
    assert info.value.server == "kafka"
    assert os.path.exists(info.value.log_path)


def test_a_java_that_cannot_be_run_is_refused(tmp_path: Path) -> None:
    java = _fake_java(tmp_path, "locked-jdk")
    java.chmod(0o644)  # there, but not executable
    with pytest.raises(LookupError, match="-version did not run"):
        resolve_jdk(java)


def test_a_recorded_server_is_running_only_while_its_marked_process_lives(tmp_path: Path) -> None:
    """A server read back from state.json has no Popen: only a live process carrying its marker counts."""
    recorded = ServerProcess(
        "registry", os.getpid(), "http://127.0.0.1:1", tmp_path / "r.log", new_marker(), "3", "java"
    )
    assert not recorded.is_running()  # this process is alive, but it is not the server
    assert ServerProcess.from_json(recorded.to_json()) == recorded
    kafka = KafkaProcess(
        "kafka", 1 << 22, "127.0.0.1:1", tmp_path / "k.log", new_marker(), "4", "java", sasl=SaslListener("127.0.0.1:2")
    )
    stack = DevStack(run_dir=tmp_path, brokers=[kafka], registry=recorded)
    assert stack.sasl.address == "127.0.0.1:2" and stack.running() == {"kafka": False, "registry": False}
    stack.save()
    loaded = DevStack.load(tmp_path)
    assert loaded is not None and loaded.kafka == kafka and loaded.registry == recorded


def test_pruning_without_any_run_folder_does_nothing(tmp_path: Path) -> None:
    prune_runs(tmp_path / "never-used")
    assert not (tmp_path / "never-used").exists()


def test_the_registry_launcher_is_the_fast_jar_or_the_legacy_runner(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no quarkus-run\.jar"):
        launcher(tmp_path)
    (tmp_path / "apicurio-registry-app-3.0.9-runner.jar").touch()
    assert launcher(tmp_path).name == "apicurio-registry-app-3.0.9-runner.jar"
    (tmp_path / "quarkus-run.jar").touch()
    assert launcher(tmp_path).name == "quarkus-run.jar"


def _properties(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_each_node_of_a_cluster_gets_its_id_ports_and_folder_and_the_replication_settings(tmp_path: Path) -> None:
    java, cache = _fake_java(tmp_path), _fake_cache(tmp_path)
    with pytest.raises(DevStackError, match="storage format exited with code 3") as info:
        start_kafka_cluster(tmp_path / "run", 3, java=java, cache=cache, timeout=20)
    assert info.value.server == "kafka-1"
    nodes = [_properties(tmp_path / "run" / "kafka" / f"node-{i}" / "server.properties") for i in (1, 2, 3)]
    assert [n["node.id"] for n in nodes] == ["1", "2", "3"]
    assert len({n["log.dirs"] for n in nodes}) == 3 and len({n["listeners"] for n in nodes}) == 3
    voters = nodes[0]["controller.quorum.voters"].split(",")
    assert [v.split("@")[0] for v in voters] == ["1", "2", "3"]
    for node in nodes:
        assert node["process.roles"] == "broker,controller"
        assert node["controller.quorum.voters"] == nodes[0]["controller.quorum.voters"]
        assert "SASL" not in node["listeners"]  # the SASL listener is the single broker's alone
        for key, value in {
            "default.replication.factor": "3",
            "min.insync.replicas": "2",
            "offsets.topic.replication.factor": "3",
            "transaction.state.log.replication.factor": "3",
            "transaction.state.log.min.isr": "2",
            "group.initial.rebalance.delay.ms": "0",
        }.items():
            assert node[key] == value, key
    with pytest.raises(DevStackError):
        start_kafka(tmp_path / "single", java=java, cache=cache, timeout=20)
    single = _properties(tmp_path / "single" / "kafka" / "server.properties")
    assert single["node.id"] == "1" and "SASL_PLAINTEXT://" in single["listeners"]
    assert single["offsets.topic.replication.factor"] == "1" and single["min.insync.replicas"] == "1"
    with pytest.raises(ValueError, match="at least one broker"):
        start_kafka_cluster(tmp_path / "none", 0, java=java, cache=cache)


def _broker(tmp_path: Path, node_id: int, popen: subprocess.Popen[bytes] | None = None) -> KafkaProcess:
    folder = tmp_path / "kafka" / f"node-{node_id}"
    return KafkaProcess(
        f"kafka-{node_id}",
        popen.pid if popen else 1 << 22,
        f"127.0.0.1:{9090 + node_id}",
        folder / "kafka.log",
        new_marker(),
        "4",
        "java",
        popen=popen,
        node_id=node_id,
    )


def test_a_recorded_cluster_names_every_broker_and_cannot_restart_one_from_another_process(tmp_path: Path) -> None:
    stack = DevStack(run_dir=tmp_path, brokers=[_broker(tmp_path, i) for i in (1, 2, 3)])
    stack.save()
    loaded = DevStack.load(tmp_path)
    assert loaded is not None and loaded.brokers == stack.brokers
    assert loaded.bootstrap_servers == "127.0.0.1:9091,127.0.0.1:9092,127.0.0.1:9093"
    assert loaded.running() == {"kafka-1": False, "kafka-2": False, "kafka-3": False}
    assert loaded.broker(2).node_id == 2 and loaded.kafka is loaded.brokers[0]
    with pytest.raises(LookupError, match="no broker 4"):
        loaded.broker(4)
    with pytest.raises(LookupError, match="no Kafka SASL"):
        _ = loaded.sasl
    with pytest.raises(RuntimeError, match="its command is unknown"):
        loaded.restart_broker(2)


def test_the_active_controller_is_the_newest_leader_the_running_voters_recorded(tmp_path: Path) -> None:
    sleepers = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
    try:
        brokers = [_broker(tmp_path, 1, sleepers[0]), _broker(tmp_path, 2, sleepers[1]), _broker(tmp_path, 3)]
        assert quorum_leader(brokers) is None  # nothing recorded yet
        for broker, epoch, leader in ((brokers[0], 4, 2), (brokers[1], 5, 1), (brokers[2], 9, 3)):
            state = broker.data_dir / "__cluster_metadata-0" / "quorum-state"
            state.parent.mkdir(parents=True)
            state.write_text(f'{{"leaderId":{leader},"leaderEpoch":{epoch},"votedId":-1}}')
        # Node 3 recorded a newer epoch, but it is not running: its file is stale.
        assert quorum_leader(brokers) == 1
        assert DevStack(run_dir=tmp_path, brokers=brokers).active_controller() == 1
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
