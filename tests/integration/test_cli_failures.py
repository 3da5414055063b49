"""Failures are one clear line: an unreachable broker or registry ends `check --against-registry`,
`register`, `dlq inspect`, `dlq replay` and `dev status` with exactly one stderr line naming the
server, its address and what failed, exit code 2 (1 means "incompatible"), no traceback, within
--timeout.

Caused for real, in a separate `schemabus` process each time: a closed loopback port (nothing
listens), and servers of the test's own (started with the dev stack) stopped while the command runs;
tests/integration/pausing_cli.py holds the command at a chosen point until the server is gone.
Each failure's line and how long it took are logged (``-o log_cli=true --log-cli-level=INFO`` shows
them, logger ``schemabus.tests.failures``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export

from schemabus.runtime.devstack import DevStack, KafkaProcess, start_stack
from schemabus.runtime.devstack.process import new_marker
from schemabus.runtime.dlq import DeadLetterWriter, build_dead_letter, dlq_topic_name

pytestmark = pytest.mark.integration

TIMEOUT = 3.0  # --timeout of every failing command here
# Beyond --timeout: a Python start-up and closing the clients, on a busy 2-core machine.
SLACK = 6.0
SCHEMABUS = [sys.executable, "-c", "from schemabus.codegen.cli import main; main(prog_name='schemabus')"]
PAUSING = [sys.executable, str(Path(__file__).with_name("pausing_cli.py"))]
timing = logging.getLogger("schemabus.tests.failures")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    """This environment without SCHEMABUS_* settings (the session's servers must not leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMABUS_") or k == "SCHEMABUS_CACHE_DIR"}
    return {**env, **extra}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float  # from the start (or from the resume of a paused command) to its end


def run_cli(*args: str, env: dict[str, str] | None = None) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [*SCHEMABUS, *args], capture_output=True, text=True, timeout=120, env=env or _env(), check=False
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def run_paused(target: str, count: int, *args: str, meanwhile: Callable[[], None]) -> Run:
    """Run the command until ``target`` returned ``count`` times, call ``meanwhile`` (stop a server),
    and let it go on; ``elapsed`` counts from then."""
    process = subprocess.Popen(
        [*PAUSING, target, str(count), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if first != "paused\n":
        out, err = process.communicate(timeout=60)
        pytest.fail(f"the command ended before its pause: {first}{out}{err}")
    meanwhile()
    started = time.monotonic()
    out, err = process.communicate("\n", timeout=120)
    return Run(process.returncode, out, err, time.monotonic() - started)


def one_line(run: Run, server: str, address: str, failure: str) -> str:
    """The single stderr line of a failed command, checked: exit 2, no traceback, server, address, failure."""
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode == 2, run
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"error: {server} {address} is unavailable: {failure}"), lines[0]
    timing.info("exit 2 after %.1fs: %s", run.elapsed, lines[0])
    return lines[0]


def within_timeout(run: Run) -> None:
    assert run.elapsed <= TIMEOUT + SLACK, f"took {run.elapsed:.1f}s with --timeout {TIMEOUT}"


# --- a project with two topics (register and check need one) -------------------------------------


def _order(*extra: dict[str, str]) -> str:
    fields = [{"name": "order_id", "type": "string"}, *extra]
    return json.dumps({"type": "record", "name": "OrderPlaced", "namespace": "shop.order", "fields": fields})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    domain = "t" + uuid.uuid4().hex[:12]
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "order.avsc").write_text(_order())
    (schemas / "refund.avsc").write_text(_order().replace("OrderPlaced", "RefundIssued"))
    (schemas / "catalog.toml").write_text(
        f'[topics."{domain}.order.placed"]\nkey = "string"\nvalue = "order.avsc"\n'
        f'[topics."{domain}.refund.issued"]\nkey = "string"\nvalue = "refund.avsc"\n'
    )
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev"\n')
    return tmp_path


@pytest.fixture
def own_servers(tmp_path: Path) -> Iterator[Callable[..., DevStack]]:
    """Start servers of this test's own (``kafka=``, ``registry=``), which it may stop; all stopped at the end."""
    stacks: list[DevStack] = []

    def start(*, kafka: bool = False, registry: bool = False, run_dir: Path | None = None) -> DevStack:
        folder = run_dir or tmp_path / f"servers-{len(stacks)}"
        stack = start_stack(folder, kafka=kafka, registry=registry)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()


def _dead_letters(bootstrap: str, topic: str, count: int) -> str:
    """``topic`` (one partition) and ``count`` dead letters of it in ``dlq.{topic}``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    writer = DeadLetterWriter(bootstrap, partitions=1)
    for offset in range(count):
        writer.write(
            build_dead_letter(
                topic=topic,
                partition=0,
                offset=offset,
                timestamp_ms=int(time.time() * 1000),
                key=b"key-%d" % offset,
                value=b"value-%d" % offset,
                headers=[("trace", b"t")],
                group="billing",
                error=ValueError("cannot bill"),
                attempts=1,
            )
        )
    writer.close()
    return dlq_topic_name(topic)


# --- nothing listens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "failure"),
    [
        (["check", "--against-registry"], "could not list the versions of subject '"),
        (["register"], "could not read the compatibility level of subject '"),
    ],
    ids=["check", "register"],
)
def test_a_registry_nobody_listens_on(project: Path, command: list[str], failure: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    run = run_cli(*command, "--registry-url", url, "--project", str(project), "--timeout", str(TIMEOUT))
    line = one_line(run, "schema registry", url, failure)
    assert re.search(r"\(\d+ attempts in 3\.\ds\); last error: ConnectError: .*Connection refused$", line), line
    assert run.elapsed >= TIMEOUT  # it did retry for the whole --timeout
    within_timeout(run)


@pytest.mark.parametrize("command", ["inspect", "replay"])
def test_a_broker_nobody_listens_on(command: str) -> None:
    address = f"127.0.0.1:{closed_port()}"
    run = run_cli("dlq", command, "shop.order.placed", "--bootstrap-servers", address, "--timeout", str(TIMEOUT))
    line = one_line(run, "Kafka broker", address, "could not read the metadata of topic dlq.shop.order.placed")
    assert re.search(r"\(tried for 3\.\ds\); last error: .*Connection refused$", line), line
    assert run.stdout == ""
    within_timeout(run)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_topics_against_a_broker_nobody_listens_on(project: Path, command: str) -> None:
    address = f"127.0.0.1:{closed_port()}"
    run = run_cli(
        "topics", command, "--bootstrap-servers", address, "--project", str(project), "--timeout", str(TIMEOUT)
    )
    line = one_line(run, "Kafka broker", address, "could not list the topics")
    assert line.endswith("Connection refused"), line
    assert run.stdout == ""
    within_timeout(run)


def test_dev_status_names_a_server_that_does_not_answer(tmp_path: Path) -> None:
    # A live process of the dev stack (it carries the stack's marker) whose port nobody listens on.
    marker = new_marker()
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
    try:
        address = f"127.0.0.1:{closed_port()}"
        kafka = KafkaProcess("kafka", process.pid, address, tmp_path / "kafka.log", marker, "4.x", "java")
        (tmp_path / "dev").mkdir()
        DevStack(run_dir=tmp_path / "dev", brokers=[kafka], detached=True).save()
        run = run_cli("dev", "status", "--timeout", str(TIMEOUT), env=_env(SCHEMABUS_CACHE_DIR=str(tmp_path)))
    finally:
        process.kill()
        process.wait()
    line = one_line(run, "Kafka broker", address, "could not read the cluster metadata (tried for 3.")
    assert "Connection refused" in line
    assert run.stdout.startswith("kafka    no answer")
    within_timeout(run)


# --- servers stopped mid-run --------------------------------------------------------------------


def test_register_when_the_registry_stops_mid_run(project: Path, own_servers: Callable[..., DevStack]) -> None:
    stack = own_servers(registry=True)
    url = stack.registry_url
    # Two requests answered (a subject's compatibility level, its lookup), then the registry is gone.
    run = run_paused(
        "schemabus.runtime.registry_client:ConfluentRegistry.call",
        2,
        *("register", "--registry-url", url, "--project", str(project), "--timeout", str(TIMEOUT)),
        meanwhile=stack.stop,
    )
    line = one_line(run, "schema registry", url, "could not ")
    assert "subject '" in line and "Connection refused" in line
    assert run.stdout == ""  # nothing half-reported
    within_timeout(run)


def test_check_against_the_registry_when_it_stops_mid_run(project: Path, own_servers: Callable[..., DevStack]) -> None:
    stack = own_servers(registry=True)
    url = stack.registry_url
    args = ("--registry-url", url, "--project", str(project), "--timeout", str(TIMEOUT))
    assert run_cli("register", *args).returncode == 0
    assert run_cli("check", "--against-registry", *args).returncode == 0
    run = run_paused(
        "schemabus.runtime.registry_client:ConfluentRegistry.call",
        1,
        "check",
        "--against-registry",
        *args,
        meanwhile=stack.stop,
    )
    line = one_line(run, "schema registry", url, "could not ")
    assert "Connection refused" in line
    within_timeout(run)


def test_dlq_inspect_when_the_broker_stops_mid_run(own_servers: Callable[..., DevStack]) -> None:
    stack = own_servers(kafka=True)
    bootstrap = stack.bootstrap_servers
    dlq_topic = _dead_letters(bootstrap, f"t{uuid.uuid4().hex[:12]}.order.placed", 3)
    # The topic's metadata was read; then the broker is gone.
    run = run_paused(
        "schemabus.runtime.kafka_logging:BrokerErrors.call",
        1,
        *("dlq", "inspect", dlq_topic, "--bootstrap-servers", bootstrap, "--timeout", str(TIMEOUT)),
        meanwhile=stack.stop,
    )
    one_line(run, "Kafka broker", bootstrap, f"could not read the offsets of {dlq_topic}[0]")
    within_timeout(run)


def test_dlq_replay_when_the_broker_stops_mid_run(own_servers: Callable[..., DevStack]) -> None:
    stack = own_servers(kafka=True)
    bootstrap = stack.bootstrap_servers
    topic = f"t{uuid.uuid4().hex[:12]}.order.placed"
    dlq_topic = _dead_letters(bootstrap, topic, 3)
    # The dead letters were read; then the broker is gone before they are republished.
    run = run_paused(
        "schemabus.runtime.dlq.reader:read_to_end",
        1,
        *("dlq", "replay", dlq_topic, "--bootstrap-servers", bootstrap, "--timeout", str(TIMEOUT)),
        meanwhile=stack.stop,
    )
    one_line(run, "Kafka broker", bootstrap, f"could not read the metadata of topic {topic}")
    within_timeout(run)


def test_topics_apply_when_the_broker_stops_mid_run(project: Path, own_servers: Callable[..., DevStack]) -> None:
    stack = own_servers(kafka=True)
    bootstrap = stack.bootstrap_servers
    # The plan was made (two topics to create); then the broker is gone before they are created.
    run = run_paused(
        "schemabus.runtime.kafka.topics:read_cluster",
        1,
        *("topics", "apply", "--bootstrap-servers", bootstrap, "--project", str(project), "--timeout", str(TIMEOUT)),
        meanwhile=stack.stop,
    )
    one_line(run, "Kafka broker", bootstrap, "could not create topic ")
    within_timeout(run)


def test_dev_status_when_a_server_was_stopped(tmp_path: Path, own_servers: Callable[..., DevStack]) -> None:
    env = _env(SCHEMABUS_CACHE_DIR=str(tmp_path))
    stack = own_servers(kafka=True, run_dir=tmp_path / "dev")  # where `dev status` looks
    assert stack.kafka is not None
    up = run_cli("dev", "status", "--timeout", str(TIMEOUT), env=env)
    assert (up.returncode, up.stderr) == (0, "")
    assert up.stdout.startswith("kafka    running")

    stack.stop()
    down = run_cli("dev", "status", "--timeout", str(TIMEOUT), env=env)
    one_line(down, "Kafka broker", stack.bootstrap_servers, f"its process (pid {stack.kafka.pid}) is not running")
    assert down.stdout.startswith("kafka    stopped")
    assert down.elapsed < SLACK  # a process that is gone is not waited for


# --- dlq replay reads dead-letter topics only --------------------------------------------------


def test_replay_of_a_live_topic_replays_its_dead_letters_only(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:12]}.order.placed"
    dlq_topic = _dead_letters(kafka_bootstrap, topic, 2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for n in range(5):  # live records: no dead-letter headers
        producer.produce(topic, key=b"k", value=b"live-%d" % n)
    assert producer.flush(30) == 0

    run = run_cli("dlq", "replay", topic, "--bootstrap-servers", kafka_bootstrap)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == f"replayed 2 records to {topic}\n"

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    groups = {g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid}
    assert f"schemabus.dlq-replay.{dlq_topic}" in groups
    assert f"schemabus.dlq-replay.{topic}" not in groups  # the live topic got no consumer group
    probe = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert probe.list_topics(topic, timeout=30).topics[topic].partitions.keys() == {0}
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    finally:
        consumer.close()
    assert end == 5 + 2  # the live records, and the two replayed: nothing of the live topic was republished
