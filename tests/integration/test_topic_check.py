"""The start-up topic check of KafkaBus and ConsumerRunner (``topic_check``) on the real broker: a catalog
topic is created as the catalog declares it, never by the broker's auto-creation; ``verify`` fails with
the topics that differ; a user who may not create topics gets an error saying what to do."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export

import platform_events as pe
from schemabus.codegen.cli import main
from schemabus.runtime import Event, Topic
from schemabus.runtime.config import ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.devstack import SaslListener
from schemabus.runtime.errors import AuthorizationError, TopicMismatchError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_security import agent_created, as_user

pytestmark = pytest.mark.integration


def fresh(**changes: Any) -> Topic[Any, Any]:
    """The catalog's agent.lifecycle.created under a unique name, with ``changes``."""
    name = f"t{uuid.uuid4().hex[:12]}.lifecycle.created"
    return dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, name=name, **changes)


def describe(kafka: str, topic: str) -> tuple[int, dict[str, str]] | None:
    """(partitions, configs) of ``topic``, or None when it does not exist (listing every topic: asking
    for one could auto-create it)."""
    admin = AdminClient({"bootstrap.servers": kafka})
    found = admin.list_topics(timeout=20).topics.get(topic)
    if found is None:
        return None
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return len(found.partitions), {k: e.value for k, e in future.result(timeout=20).items()}


def create(kafka: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": kafka})
    admin.create_topics([NewTopic(topic, num_partitions=partitions)])[topic].result(timeout=30)


def test_the_first_publish_creates_the_topic_as_the_catalog_declares_it(kafka_bootstrap: str) -> None:
    topic = fresh(partitions=3, configs={"max.message.bytes": "2097152"})
    with KafkaBus(kafka_bootstrap, InMemoryRegistry()) as bus:
        bus.publish_sync(topic, agent_created(), key="a", timeout=30)
    found = describe(kafka_bootstrap, topic.name)
    assert found is not None
    partitions, configs = found
    assert partitions == 3  # the broker's auto-creation would have made 1
    assert configs["max.message.bytes"] == "2097152"
    assert configs["retention.ms"] == str(topic.retention_ms)


def test_verify_refuses_a_missing_topic_and_creates_nothing(kafka_bootstrap: str) -> None:
    topic = fresh(partitions=3)
    with KafkaBus(kafka_bootstrap, InMemoryRegistry(), producer=ProducerSettings(topic_check="verify")) as bus:
        with pytest.raises(TopicMismatchError, match=f"{topic.name} does not exist") as info:
            bus.publish_sync(topic, agent_created(), key="a", timeout=30)
        assert info.value.topics == (topic.name,)
        assert "schemabus topics apply" in str(info.value)
        create(kafka_bootstrap, topic.name, 3)  # as `schemabus topics apply` would
        assert bus.publish_sync(topic, agent_created(), key="a", timeout=30).topic == topic.name
    assert describe(kafka_bootstrap, topic.name) is not None


def test_off_leaves_the_topic_to_the_broker(kafka_bootstrap: str) -> None:
    topic = fresh(partitions=3)
    with KafkaBus(kafka_bootstrap, InMemoryRegistry(), producer=ProducerSettings(topic_check="off")) as bus:
        bus.publish_sync(topic, agent_created(), key="a", timeout=30)
    found = describe(kafka_bootstrap, topic.name)
    assert found is not None and found[0] == 1  # the dev broker's auto-creation: num.partitions=1


def _runner(kafka: str, topic: Topic[Any, Any], check: str) -> ConsumerRunner:
    async def handle(event: Event[Any, Any]) -> None:
        pass

    handler = topic.handler(group=f"g{uuid.uuid4().hex[:12]}")(handle)
    settings = ConsumerSettings(topic_check=check)  # type: ignore[arg-type]
    return ConsumerRunner(kafka, InMemoryRegistry(), [handler], dead_letters=False, settings=settings)


async def _run_briefly(runner: ConsumerRunner) -> None:
    task = asyncio.create_task(runner.run())
    done, _ = await asyncio.wait([task], timeout=5)
    if not done:
        runner.stop()
    await asyncio.wait_for(task, 30)


def test_a_runner_verifies_partitions_and_names_the_difference(kafka_bootstrap: str) -> None:
    topic = fresh(partitions=3)
    create(kafka_bootstrap, topic.name, 2)
    with pytest.raises(TopicMismatchError, match=f"{topic.name} has 2 partitions, the catalog says 3"):
        asyncio.run(_run_briefly(_runner(kafka_bootstrap, topic, "verify")))


def test_a_runner_creates_its_missing_topics(kafka_bootstrap: str) -> None:
    topic = fresh(partitions=4)
    asyncio.run(_run_briefly(_runner(kafka_bootstrap, topic, "create")))
    found = describe(kafka_bootstrap, topic.name)
    assert found is not None and found[0] == 4


def test_a_user_who_may_not_create_topics_is_told_what_to_do(kafka_sasl: SaslListener) -> None:
    topic = fresh()
    config = as_user(kafka_sasl, kafka_sasl.alice)  # no ACLs at all
    with KafkaBus(config, InMemoryRegistry()) as bus, pytest.raises(AuthorizationError) as info:
        bus.publish_sync(topic, agent_created(), key="a", timeout=30)
    text = str(info.value)
    assert f"not authorized to create topic {topic.name}" in text
    assert "schemabus topics apply" in text
    assert kafka_sasl.alice.password not in text


def test_topics_apply_without_a_create_acl_is_one_clear_line(kafka_sasl: SaslListener, tmp_path: Any) -> None:
    domain = "t" + uuid.uuid4().hex[:12]
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "order.avsc").write_text('{"type": "record", "name": "Order", "fields": []}')
    (schemas / "catalog.toml").write_text(f'[topics."{domain}.order.placed"]\nvalue = "order.avsc"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev"\n')
    user = kafka_sasl.alice
    env = {
        "SCHEMABUS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "SCHEMABUS_KAFKA_SASL_MECHANISM": "PLAIN",
        "SCHEMABUS_KAFKA_SASL_USERNAME": user.username,
        "SCHEMABUS_KAFKA_SASL_PASSWORD": user.password,
    }
    result = CliRunner().invoke(
        main,
        ["topics", "apply", "--bootstrap-servers", kafka_sasl.address, "--project", str(tmp_path), "--timeout", "20"],
        env=env,
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: not authorized to create topic {domain}.order.placed: "), line
    assert user.password not in result.output
