"""A consumer process for tests/integration/test_consumer.py, and what that test shares with it.

Run as a script, it consumes one topic of ``AgentCreated`` records with a ``ConsumerRunner`` until
SIGTERM (graceful) or SIGKILL, and records its progress in files the test reads:

- ``--out``: one line ``partition offset`` per handled record, appended with ``os.write`` on an
  ``O_APPEND`` descriptor, so a line is in the file the moment the handler returns (even if the
  process is killed right after);
- ``--out`` + ``.assignment``: the partitions this process holds, rewritten (atomically) on change.

``--registry memory`` (for the cluster tests, which have no registry) gives it an ``InMemoryRegistry``
holding the topic's value schema, as id 1: the id the producing test's own fresh
``InMemoryRegistry`` gives the one schema it registers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

import platform_events as pe
from schemabus.runtime import Event, FunctionHandler, SchemaNotRegisteredError, StringSerde, Topic
from schemabus.runtime.config import ConsumerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.retry import RetryPolicy
from schemabus.runtime.testing import InMemoryRegistry


class ConfluentRegistry:
    """The runtime's SchemaRegistry protocol over confluent-kafka's SchemaRegistryClient."""

    def __init__(self, url: str) -> None:
        self.client = SchemaRegistryClient({"url": url, "timeout": 10})

    def register_schema(self, subject: str, schema: str, schema_type: str) -> int:
        return self.client.register_schema(subject, Schema(schema, schema_type))

    def lookup_schema(self, subject: str, schema: str, schema_type: str) -> int:
        try:
            found = self.client.lookup_schema(subject, Schema(schema, schema_type))
        except SchemaRegistryError as e:
            if e.http_status_code == 404:
                raise SchemaNotRegisteredError(f"not registered under {subject}") from e
            raise
        assert found.schema_id is not None
        return found.schema_id

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        try:
            schema = self.client.get_schema(schema_id)
        except SchemaRegistryError as e:
            if e.http_status_code == 404:
                raise KeyError(schema_id) from e
            raise
        assert schema.schema_str is not None
        return schema.schema_type or "AVRO", schema.schema_str


def agent_topic(name: str, partitions: int) -> Topic[str, pe.AgentCreated]:
    """A topic carrying the catalog's AgentCreated (Avro) under another name."""
    return Topic(name=name, key=StringSerde(), value=pe.AGENT_LIFECYCLE_CREATED.value, partitions=partitions)


def execution_topic(name: str, partitions: int) -> Topic[str, pe.AgentExecutionStarted]:
    """A topic carrying the catalog's AgentExecutionStarted (JSON Schema) under another name."""
    return Topic(name=name, key=StringSerde(), value=pe.AGENT_EXECUTION_STARTED.value, partitions=partitions)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _main(args: argparse.Namespace) -> None:
    out = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    assignment_file = Path(args.out + ".assignment")
    topic = agent_topic(args.topic, args.partitions)

    async def record(event: Event[str, pe.AgentCreated]) -> None:
        if args.delay:
            await asyncio.sleep(args.delay)
        os.write(out, f"{event.partition} {event.offset}\n".encode())

    registry: ConfluentRegistry | InMemoryRegistry
    if args.registry == "memory":
        registry = InMemoryRegistry()
        value = topic.value
        assert value.schema is not None
        assert registry.register_schema(topic.value_subject, value.schema, value.format) == 1
    else:
        registry = ConfluentRegistry(args.registry)
    runner = ConsumerRunner(
        args.bootstrap,
        registry,
        [FunctionHandler(topic, record, group=args.group)],
        retry=RetryPolicy(max_retries=1, initial_backoff=0.01),
        max_in_flight=args.max_in_flight,
        commit_interval=0.2,
        settings=ConsumerSettings(instance_id=args.instance_id, group_protocol=args.group_protocol),
        # A killed member holds its partitions until its session expires: keep that short (the broker
        # minimum), unless the test measures recovery with the defaults (--default-session); the consumer
        # protocol's session is the broker's.
        extra_config=(
            {}
            if args.default_session or args.group_protocol == "consumer"
            else {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
        ),
    )

    async def report_assignment() -> None:
        last: Any = None
        while True:
            now = runner.assignment().get(args.group, [])
            if now != last:
                _write_atomically(assignment_file, ",".join(map(str, now)))
                last = now
            await asyncio.sleep(0.05)

    reporter = asyncio.create_task(report_assignment())
    try:
        await runner.run(handle_signals=True)
    finally:
        reporter.cancel()
        _write_atomically(assignment_file, "")
        os.close(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True, help="its URL, or memory")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each record takes")
    parser.add_argument("--max-in-flight", type=int, default=50)
    parser.add_argument("--instance-id", default=None, help="group.instance.id (static membership)")
    parser.add_argument("--group-protocol", choices=["classic", "consumer"], default="classic")
    parser.add_argument("--default-session", action="store_true", help="librdkafka's session timeout (45 s)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
