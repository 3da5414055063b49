"""The dev stack's process handling without real servers: which Java it accepts, how it stops a process
that ignores SIGTERM, what an empty stack answers, a stack whose two servers both fail to start, and
how a three-broker cluster is configured and recorded, when Kafka's storage is formatted, which
folders are the stack's data, and how a recorded server is started again (a fake ``java`` stands
in; tests/integration/test_devstack_*.py and test_cluster_faults.py start real servers)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from schemabus.runtime.devstack import (
    KAFKA_VERSION,
    REGISTRY_VERSION_JAVA17,
    DevStack,
    DevStackError,
    KafkaProcess,
    SaslListener,
    ServerProcess,
    data_dirs,
    delete_data,
    find_jdks,
    new_run_dir,
    plan_storage,
    prune_runs,
    quorum_leader,
    resolve_jdk,
    start_kafka,
    start_kafka_cluster,
    start_stack,
)
from schemabus.runtime.devstack.cli import dev
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


def test_a_recorded_cluster_names_every_broker_and_cannot_restart_one_whose_command_is_unknown(
    tmp_path: Path,
) -> None:
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


# A server stand-in that runs until stopped; the marker follows as an argument it ignores.
_SLEEPER = (sys.executable, "-c", "import time; time.sleep(30)")


def _format(data: Path, cluster_id: str, node_id: int) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "meta.properties").write_text(f"#\nnode.id={node_id}\nversion=1\ncluster.id={cluster_id}\n")


def test_kafka_storage_is_formatted_only_where_no_node_holds_data(tmp_path: Path) -> None:
    single, cluster = tmp_path / "single" / "kafka", tmp_path / "cluster" / "kafka"
    plan = plan_storage(single, 1, lambda: "new-id")
    assert plan.cluster_id == "new-id" and plan.format == (1,)
    assert plan_storage(cluster, 3, lambda: "other").format == (1, 2, 3)
    # An empty log dir (a crash before `format` wrote meta.properties) counts as unformatted.
    (single / "data").mkdir(parents=True)
    assert plan_storage(single, 1, lambda: "new-id").format == (1,)

    _format(single / "data", "kept-id", 1)
    kept = plan_storage(single, 1, lambda: "unused")
    assert kept.cluster_id == "kept-id" and kept.format == ()
    for node in (1, 2, 3):
        _format(cluster / f"node-{node}" / "data", "cluster-id", node)
    assert plan_storage(cluster, 3).cluster_id == "cluster-id" and plan_storage(cluster, 3).format == ()


@pytest.mark.parametrize(
    ("layout", "brokers", "reason"),
    [
        ({"data": "a"}, 3, "another Kafka than a 3-broker one"),
        ({"node-1/data": "a", "node-2/data": "a", "node-3/data": "a"}, 1, "another Kafka than a 1-broker one"),
        ({"node-1/data": "a", "node-2/data": "a", "node-3/data": "a"}, 2, "another Kafka than a 2-broker one"),
        ({"node-1/data": "a", "node-2/data": "a"}, 3, "another Kafka than a 3-broker one"),
        ({"node-1/data": "a", "node-2/data": "b", "node-3/data": "a"}, 3, "belong to different clusters"),
    ],
)
def test_kafka_data_of_another_stack_is_refused_with_a_pointer_to_fresh(
    tmp_path: Path, layout: dict[str, str], brokers: int, reason: str
) -> None:
    for node, (folder, cluster_id) in enumerate(layout.items(), start=1):
        _format(tmp_path / folder, cluster_id, node)
    with pytest.raises(DevStackError, match=reason) as info:
        plan_storage(tmp_path, brokers)
    assert "--fresh" in str(info.value) and info.value.server == "kafka"


def test_the_stacks_data_is_kafkas_log_dirs_and_the_registry_database_not_logs(tmp_path: Path) -> None:
    for folder in ("kafka/data", "kafka/node-2/data", "registry/data", "kafka/node-2/other"):
        (tmp_path / folder).mkdir(parents=True)
    for log in ("kafka/kafka.log", "kafka/node-2/kafka.log", "registry/registry.log", "state.json"):
        (tmp_path / log).write_text("kept\n")
    expected = [tmp_path / "kafka/data", tmp_path / "kafka/node-2/data", tmp_path / "registry/data"]
    assert data_dirs(tmp_path) == expected
    assert delete_data(tmp_path) == expected
    assert data_dirs(tmp_path) == [] and (tmp_path / "kafka/node-2/other").is_dir()
    assert all((tmp_path / log).read_text() == "kept\n" for log in ("kafka/kafka.log", "state.json"))


def test_the_state_file_records_how_to_start_each_server_again(tmp_path: Path) -> None:
    marker = new_marker()
    command = (*_SLEEPER, marker)
    registry = ServerProcess(
        "registry", 1 << 22, "http://127.0.0.1:1", tmp_path / "registry" / "r.log", marker, "3", "java", command=command
    )
    broker = _broker(tmp_path, 1)
    DevStack(run_dir=tmp_path, brokers=[broker], registry=registry, keep_data=False).save()
    loaded = DevStack.load(tmp_path)
    assert loaded is not None and loaded.registry == registry and loaded.registry.command == command
    assert loaded.brokers == [broker] and not loaded.keep_data

    # Another process (here: this one, from the file) starts it again with a new marker.
    server = loaded.registry
    try:
        popen = server.relaunch()
        assert server.pid == popen.pid and server.marker != marker and server.is_running()
        assert server.command == (*_SLEEPER, server.marker)
        with pytest.raises(RuntimeError, match="still runs"):
            server.relaunch()
    finally:
        server.stop(timeout=5)
    assert not server.is_running()


def test_a_state_file_of_an_older_schemabus_loads_without_commands_or_keep_data(tmp_path: Path) -> None:
    registry = ServerProcess("registry", 1 << 22, "http://127.0.0.1:1", tmp_path / "r.log", new_marker(), "3", "java")
    DevStack(run_dir=tmp_path, registry=registry).save()
    state = json.loads((tmp_path / "state.json").read_text())
    del state["keep_data"], state["servers"][0]["command"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    loaded = DevStack.load(tmp_path)
    assert loaded is not None and loaded.keep_data and loaded.registry is not None and loaded.registry.command == ()
    with pytest.raises(RuntimeError, match="command is unknown"):
        loaded.restart([loaded.registry])


def test_dev_restart_names_what_it_cannot_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMABUS_CACHE_DIR", str(tmp_path))
    runner = CliRunner()
    missing = runner.invoke(dev, ["restart"])
    assert missing.exit_code == 1 and "not running" in missing.output

    marker = new_marker()
    registry = ServerProcess(
        "registry",
        1 << 22,
        "http://127.0.0.1:1/apis/ccompat/v7",
        tmp_path / "dev" / "registry" / "registry.log",
        marker,
        "3",
        "java",
        command=(*_SLEEPER, marker),
    )
    (tmp_path / "dev").mkdir()
    DevStack(
        run_dir=tmp_path / "dev", brokers=[_broker(tmp_path / "dev", i) for i in (1, 2, 3)], registry=registry
    ).save()
    for args, message in [
        (["broker"], "`broker` needs a node id (1, 2, 3)"),
        (["registry", "2"], "a node id goes with `broker` only"),
        (["broker", "4"], "no broker 4"),
        (["broker", "2"], "kafka-2 was started by an older schemabus"),
    ]:
        result = runner.invoke(dev, ["restart", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)

    # The recorded command runs again (a stand-in that never answers): the wait ends at --timeout.
    result = runner.invoke(dev, ["restart", "registry", "--timeout", "1"])
    assert result.exit_code == 1
    assert "registry could not start: not ready within 1 s" in result.output
    loaded = DevStack.load(tmp_path / "dev")
    assert loaded is not None and loaded.registry is not None and not loaded.registry.is_running()
