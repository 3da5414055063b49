"""Consumer lag on the real broker: `schemabus lag` and ConsumerLagMonitor (and its Prometheus
collector) after a group consumed half of a topic and stopped: the lag is the other half, the time
lag the age of the first record it did not consume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export
from prometheus_client import CollectorRegistry

from schemabus.codegen.cli import main
from schemabus.runtime.consumer import ConsumerLagMonitor, LagCollector, UnknownGroupError, read_lag

pytestmark = pytest.mark.integration

PER_PARTITION = 10
# The first half of each partition is 2 minutes old, the second half (what the group has not
# consumed) 1 minute: the time lag is about 60 s.
OLD_S, NEWER_S = 120, 60


@dataclass(frozen=True)
class Lagging:
    topic: str
    group: str


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_topic(kafka: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": kafka})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=20)


def produce(kafka: str, topic: str, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": kafka})
    now_ms = int(time.time() * 1000)
    for p in range(partitions):
        for i in range(PER_PARTITION):
            age = OLD_S if i < PER_PARTITION // 2 else NEWER_S
            producer.produce(topic, value=f"{p}-{i}".encode(), partition=p, timestamp=now_ms - age * 1000)
    assert producer.flush(20) == 0


def consume_half(kafka: str, topic: str, group: str, partitions: int) -> None:
    """A consumer of ``group`` reads the first half of each partition, commits, and stops."""
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while any(seen.get(p, 0) < PER_PARTITION // 2 for p in range(partitions)):
            assert time.monotonic() < deadline, seen
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            p = message.partition()
            assert p is not None
            if seen.get(p, 0) < PER_PARTITION // 2:
                seen[p] = seen.get(p, 0) + 1
                if seen[p] == PER_PARTITION // 2:
                    consumer.pause([TopicPartition(topic, p)])
        half = [TopicPartition(topic, p, PER_PARTITION // 2) for p in range(partitions)]
        consumer.commit(offsets=half, asynchronous=False)
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def lagging(kafka_bootstrap: str) -> Lagging:
    """A topic of 2 partitions of 10 records each, and a group that consumed the first 5 of each."""
    name = f"lag{uuid.uuid4().hex[:10]}"
    topic, group = f"{name}.order.placed", f"{name}-billing"
    make_topic(kafka_bootstrap, topic, 2)
    produce(kafka_bootstrap, topic, 2)
    consume_half(kafka_bootstrap, topic, group, 2)
    return Lagging(topic, group)


def run(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "120"}).invoke(main, ["lag", *args])


# --- the library -----------------------------------------------------------------------------


def test_the_monitor_reports_the_unconsumed_half_and_its_age(kafka_bootstrap: str, lagging: Lagging) -> None:
    asyncio.run(_monitor(kafka_bootstrap, lagging))


async def _monitor(kafka_bootstrap: str, lagging: Lagging) -> None:
    monitor = ConsumerLagMonitor(kafka_bootstrap, lagging.group, timeout=20)
    lags = await monitor.get_consumer_lag()
    assert [(p.topic, p.partition, p.committed, p.high_watermark, p.lag) for p in lags] == [
        (lagging.topic, 0, 5, 10, 5),
        (lagging.topic, 1, 5, 10, 5),
    ]
    for p in lags:
        assert p.time_lag is not None and NEWER_S - 5 < p.time_lag < NEWER_S + 60, p
    assert await monitor.by_partition() == {f"{lagging.topic}-0": 5, f"{lagging.topic}-1": 5}

    # every group, limited to the topic: the same, for this group
    every = await ConsumerLagMonitor(kafka_bootstrap, topics=[lagging.topic], timeout=20).get_consumer_lag()
    assert [(p.group, p.lag) for p in every if p.group == lagging.group] == [(lagging.group, 5), (lagging.group, 5)]


def test_the_prometheus_collector_measures_at_scrape_time(kafka_bootstrap: str, lagging: Lagging) -> None:
    registry = CollectorRegistry()
    registry.register(LagCollector(ConsumerLagMonitor(kafka_bootstrap, lagging.group, timeout=20)))
    labels = {"group": lagging.group, "topic": lagging.topic, "partition": "1"}
    assert registry.get_sample_value("schemabus_consumer_lag_records", labels) == 5
    seconds = registry.get_sample_value("schemabus_consumer_lag_seconds", labels)
    assert seconds is not None and NEWER_S - 5 < seconds < NEWER_S + 60


def test_an_unknown_group_is_an_error_naming_it(kafka_bootstrap: str, lagging: Lagging) -> None:
    with pytest.raises(UnknownGroupError, match="consumer group nosuch-group has no committed offsets"):
        read_lag(kafka_bootstrap, ["nosuch-group"], timeout=20)
    # a known group, on a topic where it committed nothing
    with pytest.raises(UnknownGroupError, match=f"consumer group {lagging.group} has no committed offsets on topic"):
        read_lag(kafka_bootstrap, [lagging.group], ["__consumer_offsets"], timeout=20)


def test_records_deleted_before_the_committed_offset_are_not_lag(kafka_bootstrap: str) -> None:
    """Retention removed records the group never read: it reads on from the oldest record left."""
    name = f"lagdel{uuid.uuid4().hex[:10]}"
    topic, group = f"{name}.order.placed", f"{name}-g"
    make_topic(kafka_bootstrap, topic, 1)
    produce(kafka_bootstrap, topic, 1)
    consume_half(kafka_bootstrap, topic, group, 1)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    [future] = admin.delete_records([TopicPartition(topic, 0, 8)]).values()
    future.result(timeout=20)
    [p] = read_lag(kafka_bootstrap, [group], timeout=20)
    assert (p.committed, p.low_watermark, p.start, p.high_watermark, p.lag) == (5, 8, 8, 10, 2)
    assert p.time_lag is not None and NEWER_S - 5 < p.time_lag < NEWER_S + 60


# --- the command -----------------------------------------------------------------------------


def test_lag_json(kafka_bootstrap: str, lagging: Lagging) -> None:
    done = run("--bootstrap-servers", kafka_bootstrap, "--group", lagging.group, "--format", "json", "--timeout", "20")
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    [group] = document["groups"]
    ages = [p.pop("time_lag_s") for p in group["partitions"]]
    assert all(NEWER_S - 5 < age < NEWER_S + 60 for age in ages), ages
    assert group.pop("max_time_lag_s") == max(ages)
    assert group == {
        "group": lagging.group,
        "total_lag": 10,
        "partitions": [
            {"topic": lagging.topic, "partition": 0, "committed": 5, "end": 10, "lag": 5},
            {"topic": lagging.topic, "partition": 1, "committed": 5, "end": 10, "lag": 5},
        ],
    }


def test_lag_text_of_every_group_on_a_topic(kafka_bootstrap: str, lagging: Lagging) -> None:
    done = run("--bootstrap-servers", kafka_bootstrap, "--topic", lagging.topic, "--timeout", "20")
    assert done.exit_code == 0, done.output
    out = done.stdout
    assert f"group {lagging.group}" in out
    assert (
        f"{lagging.group}: lag 10 records, max time lag 1m0" in out
        or f"{lagging.group}: lag 10 records, max time lag 59." in out
    ), out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(lagging.topic)]
    assert [row[:5] for row in rows] == [[lagging.topic, "0", "5", "10", "5"], [lagging.topic, "1", "5", "10", "5"]], (
        out
    )
    print(out)  # the README's example comes from a run like this one


def test_lag_of_an_unknown_group_is_one_error_line(kafka_bootstrap: str, lagging: Lagging) -> None:
    done = run("--bootstrap-servers", kafka_bootstrap, "--group", "nosuch-group", "--timeout", "20")
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    assert done.stderr == (f"error: consumer group nosuch-group has no committed offsets on {kafka_bootstrap}\n"), (
        done.stderr
    )


def test_lag_of_a_missing_topic_is_one_error_line(kafka_bootstrap: str) -> None:
    done = run("--bootstrap-servers", kafka_bootstrap, "--topic", "nosuch.order.placed", "--timeout", "20")
    assert done.exit_code == 2, done.output
    assert done.stderr == f"error: topic nosuch.order.placed does not exist on {kafka_bootstrap}\n", done.stderr


def test_lag_of_an_unreachable_broker_is_one_error_line() -> None:
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "schemabus.codegen", "lag", "--bootstrap-servers", address, "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert done.stdout == "" and "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: Kafka broker {address} is unavailable: could not "), line
    assert time.monotonic() - started < 30


def test_lag_watch_refreshes_until_interrupted(kafka_bootstrap: str, lagging: Lagging, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    args = ["lag", "--bootstrap-servers", kafka_bootstrap, "--group", lagging.group, "--watch", "--interval", "0.5"]
    with out.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "schemabus.codegen", *args, "--timeout", "20"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "120"},
        )
        try:
            deadline = time.monotonic() + 60
            while out.read_text().count(f"group {lagging.group}") < 2:
                assert process.poll() is None, out.read_text()
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.2)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0, out.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = out.read_text()
    assert "Traceback" not in text and "(Ctrl-C to stop)" in text
    assert text.count(f"{lagging.group}: lag 10 records") >= 2, text
