"""The dev stack keeps its data: ``dev down`` then ``dev up``, and ``dev restart``, find the topics,
records, committed offsets and schemas (under the same ids) again; ``dev up --fresh`` starts clean.

Each test runs ``schemabus dev`` in a private cache (``private_cache``): its own run folder, whatever
the environment says about servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY, DevStack, dev_run_dir
from schemabus.runtime.devstack.cli import dev

pytestmark = pytest.mark.integration

TIMEOUT = 30.0
SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Reading",
        "namespace": "persist.test",
        "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "int"}],
    }
)
RECORDS = [{"sensor": f"s{i}", "value": i} for i in range(5)]
COMMITTED = 3  # the group commits after reading this many records
COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
}


@dataclass
class Written:
    """What a test wrote before a restart, to look for afterwards."""

    topic: str
    group: str
    subject: str
    schema_id: int


def _up(*args: str) -> dict[str, str]:
    """`schemabus dev up ARGS`; return its exports."""
    started = time.monotonic()
    result = CliRunner().invoke(dev, ["up", *args])
    assert result.exit_code == 0, result.output + result.stderr
    print(f"dev up {' '.join(args)} took {time.monotonic() - started:.1f} s")
    exports: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = value
    return exports


def _down() -> str:
    result = CliRunner().invoke(dev, ["down"])
    assert result.exit_code == 0, result.output
    return result.stderr


def _registry(url: str) -> SchemaRegistryClient:
    # A new client each time: nothing may come from a cache of ids seen before the restart.
    return SchemaRegistryClient({"url": url, "timeout": 10})


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        data = json.loads(response.read())
    assert isinstance(data, dict)
    return data


def _write(exports: dict[str, str]) -> Written:
    """Create a topic, produce RECORDS framed with a registered schema, commit a group's offset."""
    bootstrap, registry_url = exports[ENV_BOOTSTRAP], exports[ENV_REGISTRY]
    name = f"persist-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1)])[name].result(timeout=TIMEOUT)

    serializer = AvroSerializer(_registry(registry_url), SCHEMA)
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for record in RECORDS:
        value = serializer(record, SerializationContext(name, MessageField.VALUE))
        producer.produce(name, value=value, on_delivery=on_delivery)
    assert producer.flush(TIMEOUT) == 0 and failures == []

    group = f"{name}-group"
    consumer = _consumer(bootstrap, group)
    try:
        consumed = _consume(consumer, COMMITTED, name)
        assert len(consumed) == COMMITTED
        consumer.commit(message=consumed[-1], asynchronous=False)
    finally:
        consumer.close()
    schema_id = _registry(registry_url).get_latest_version(f"{name}-value").schema_id
    assert schema_id is not None
    return Written(name, group, f"{name}-value", schema_id)


def _consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def _consume(consumer: Consumer, until: int, topic: str) -> list[Message]:
    consumer.subscribe([topic])
    received: list[Message] = []
    deadline = time.monotonic() + TIMEOUT
    while len(received) < until and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None:
            assert message.error() is None, message.error()
            received.append(message)
    return received


def _committed(bootstrap: str, written: Written) -> int:
    """The group's committed offset; asked again while the group's coordinator moves (after a
    broker restart the client may still ask the old one, which answers NOT_COORDINATOR)."""
    group = _consumer(bootstrap, written.group)
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            try:
                (committed,) = group.committed([TopicPartition(written.topic, 0)], timeout=TIMEOUT)
                return int(committed.offset)
            except KafkaException as exc:
                error = exc.args[0]
                moving = error.code() in COORDINATOR_MOVING or error.retriable()
                if not moving or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        group.close()


def _assert_kept(exports: dict[str, str], written: Written) -> None:
    """The topic, its records, the group's committed offset and the schema id are all still there,
    and every record written before decodes with a registry client that never saw it."""
    bootstrap, registry_url = exports[ENV_BOOTSTRAP], exports[ENV_REGISTRY]
    assert written.topic in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics

    assert _committed(bootstrap, written) == COMMITTED

    reader = _consumer(bootstrap, f"{written.group}-reader")
    try:
        messages = _consume(reader, len(RECORDS), written.topic)
    finally:
        reader.close()
    deserializer = AvroDeserializer(_registry(registry_url))
    decoded = [deserializer(m.value(), SerializationContext(written.topic, MessageField.VALUE)) for m in messages]
    assert decoded == RECORDS

    version = _get(f"{registry_url}/subjects/{written.subject}/versions/1")
    assert version["id"] == written.schema_id
    assert json.loads(str(_get(f"{registry_url}/schemas/ids/{written.schema_id}")["schema"])) == json.loads(SCHEMA)


def _restart(*target: str) -> str:
    """`schemabus dev restart TARGET` in another Python process than the one that started the stack."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "schemabus.runtime.devstack.cli", "restart", *target],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"dev restart {' '.join(target)}: {result.stdout.strip()} ({time.monotonic() - started:.1f} s with Python)")
    return result.stdout + result.stderr


def test_down_and_up_keep_topics_records_offsets_and_schema_ids(private_cache: Path) -> None:
    exports = _up()
    written = _write(exports)
    stopped = _down()
    assert "data kept" in stopped

    again = _up()
    _assert_kept(again, written)

    # `dev restart` (from another process) keeps the data and the addresses.
    before = DevStack.load(dev_run_dir())
    assert before is not None and before.registry is not None and before.kafka is not None
    output = _restart("registry")
    assert "restarted registry in" in output
    after = DevStack.load(dev_run_dir())
    assert after is not None and after.registry is not None and after.kafka is not None
    assert after.registry.pid != before.registry.pid and after.registry.address == before.registry.address
    assert after.kafka.pid == before.kafka.pid
    assert "restarted kafka in" in _restart("kafka")
    after = DevStack.load(dev_run_dir())
    assert after is not None and after.kafka is not None and after.kafka.pid != before.kafka.pid
    assert after.env() == again
    assert all(after.running().values())
    _assert_kept(again, written)
    # A schema registered after the restarts gets a new id, never one already in use.
    serializer = AvroSerializer(
        _registry(again[ENV_REGISTRY]), SCHEMA.replace('"Reading"', '"Other"'), conf={"auto.register.schemas": True}
    )
    serializer({"sensor": "x", "value": 1}, SerializationContext("persist-other", MessageField.VALUE))
    other = _registry(again[ENV_REGISTRY]).get_latest_version("persist-other-value").schema_id
    assert other != written.schema_id


def test_up_fresh_starts_with_no_data(private_cache: Path) -> None:
    exports = _up()
    written = _write(exports)
    # --fresh stops the running stack and deletes its data.
    fresh = _up("--fresh")
    topics = AdminClient({"bootstrap.servers": fresh[ENV_BOOTSTRAP]}).list_topics(timeout=10).topics
    assert written.topic not in topics and not [t for t in topics if not t.startswith("__")]
    assert _registry(fresh[ENV_REGISTRY]).get_subjects() == []
    _down()

    # Kafka data of another number of brokers is refused, with a pointer to --fresh.
    other = CliRunner().invoke(dev, ["up", "--brokers", "3"])
    assert other.exit_code != 0 and "--fresh" in other.output and "3-broker" in other.output
    stack = DevStack.load(dev_run_dir())
    assert stack is None or not any(stack.running().values())


@pytest.mark.cluster
def test_restart_one_broker_and_every_broker_of_a_cluster_keeps_the_data(private_cache: Path) -> None:
    exports = _up("--brokers", "3")
    written = _write(exports)
    before = DevStack.load(dev_run_dir())
    assert before is not None and len(before.brokers) == 3
    assert "restarted kafka-2 in" in _restart("broker", "2")
    after = DevStack.load(dev_run_dir())
    assert after is not None
    assert [b.pid == o.pid for b, o in zip(before.brokers, after.brokers)] == [True, False, True]
    _assert_kept(exports, written)
    assert "restarted kafka-1, kafka-2, kafka-3 in" in _restart("kafka")
    _assert_kept(exports, written)
    _down()
    again = _up("--brokers", "3")
    _assert_kept(again, written)
