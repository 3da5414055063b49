"""Every topic of this repository's catalog round-trips on the real broker and registry: examples drawn
from its schemas go out through the generated publisher (KafkaBus, schemas registered on first use)
and come back through the generated handler stub (ConsumerRunner, one consumer group per handler),
equal to what was published, with keys and headers, and every offset committed.

Each run uses copies of the catalog's topics under a fresh domain (so fresh subjects), with the
catalog's partitions and settings. The examples are the same on every run (derandomized).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest

from schemabus.runtime import Event, Topic
from schemabus.runtime.consumer import ConsumerRunner, consumer_lag
from schemabus.runtime.handler import consumer_group
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.registry_client import ConfluentRegistry
from tests.catalog_examples import TOPICS, examples, generated_topic, handler, publisher, records

pytestmark = pytest.mark.integration

EXAMPLES = 4  # per topic
TIMEOUT = 60.0


def _fresh(name: str, run_id: str) -> Topic[Any, Any]:
    return dataclasses.replace(generated_topic(name), name=f"{run_id}{name}")


def test_every_catalog_topic_round_trips_through_kafka(kafka_bootstrap: str, registry_url: str) -> None:
    run_id = f"c{uuid.uuid4().hex[:8]}"
    topics = {name: _fresh(name, run_id) for name in sorted(TOPICS)}
    sent = {name: examples(records(name), EXAMPLES) for name in topics}
    assert all(len(s) == EXAMPLES for s in sent.values())
    ensure_topics(kafka_bootstrap, topics.values())

    received: dict[str, list[Event[Any, Any]]] = {name: [] for name in topics}
    handlers = []
    for name, topic in topics.items():

        async def handle(self: Any, event: Event[Any, Any], _name: str = name) -> None:
            received[_name].append(event)

        # The generated stub, pointed at this run's copy of its topic (one consumer group each).
        stub = handler(name)
        handlers.append(type(f"Check{stub.__name__}", (stub,), {"topic": topic, "handle": handle})())

    async def scenario() -> None:
        async with KafkaBus(kafka_bootstrap, registry_url) as bus:
            for name, topic in topics.items():
                typed = type("Publisher", (publisher(name),), {"topic": topic})(bus)
                for i, (key, value) in enumerate(sent[name]):
                    await typed.publish(value, key=key, headers={"example": str(i)})
        runner = ConsumerRunner(
            kafka_bootstrap, ConfluentRegistry(registry_url), handlers, service=run_id, commit_interval=0.1
        )
        task = asyncio.create_task(runner.run())
        try:
            async with asyncio.timeout(TIMEOUT):
                while any(len(received[name]) < EXAMPLES for name in topics) and not task.done():
                    await asyncio.sleep(0.05)
        finally:
            runner.stop()
            await asyncio.wait_for(task, TIMEOUT)  # re-raises what stopped it, if anything
        metrics = runner.metrics
        assert (metrics.dead_lettered, metrics.poison) == (0, 0)

    asyncio.run(scenario())

    for name, topic in topics.items():
        got = sorted(received[name], key=lambda e: int(e.header("example") or b"0"))
        assert [(e.key, e.value) for e in got] == sent[name], name
        assert all(e.topic == topic.name for e in got)
        group = consumer_group(next(h for h in handlers if h.topic is topic), run_id)
        lag = consumer_lag(kafka_bootstrap, group, topic.name)
        assert all(p.committed == p.high_watermark for p in lag if p.high_watermark), (name, lag)
