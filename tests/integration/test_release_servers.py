"""The release stage's commands that need servers (see tests/release/): the released wheel, in its
clean virtualenv, against the session's registry and broker.

The project is the README's Quickstart with its topic renamed to a fresh one, so that repeated runs
against one registry and broker (SCHEMABUS_REGISTRY_URL, SCHEMABUS_BOOTSTRAP_SERVERS) never meet.
The commands get the servers from those variables, as the README says.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.release.install import Release, explain, ok
from tests.release.install import release as _release
from tests.release.readme import readme_files
from tests.release.test_install import bash, write_files

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def release(request: pytest.FixtureRequest) -> Release:
    return _release(request)  # the same build and virtualenvs as tests/release/ in this session


@pytest.fixture(scope="module")
def project(release: Release) -> tuple[Path, str]:
    """The Quickstart project, generated, with the topic ``{fresh}.order.placed`` (path, topic)."""
    topic = f"r{uuid.uuid4().hex[:10]}.order.placed"
    files = readme_files()
    catalog = files["schemas/catalog.toml"]
    assert catalog.count('[topics."shop.order.placed"]') == 1
    files["schemas/catalog.toml"] = catalog.replace('[topics."shop.order.placed"]', f'[topics."{topic}"]')
    root = write_files(release.scratch(f"servers-{topic}"), files)
    bash(release.wheel_venv, "schemabus generate", root)
    return root, topic


def test_register_and_check_against_the_registry(
    release: Release, registry_url: str, project: tuple[Path, str]
) -> None:
    venv = release.wheel_venv
    root, topic = project
    env = {"SCHEMABUS_REGISTRY_URL": registry_url}
    dry = ok(venv.schemabus("register", "--dry-run", cwd=root, **env))
    assert f"{topic}-value: would register a new version (shop/order/placed.avsc)" in dry.stdout, explain(dry)
    done = ok(venv.schemabus("register", cwd=root, **env))
    assert f"{topic}-value: registered" in done.stdout, explain(done)
    again = ok(venv.schemabus("register", "--dry-run", cwd=root, **env))
    assert f"{topic}-value: already registered" in again.stdout, explain(again)
    check = ok(venv.schemabus("check", "--against-registry", cwd=root, **env))
    assert "no incompatibilities (against the registry)" in check.stderr, explain(check)


def test_publish_dead_letter_inspect_and_replay(
    release: Release, kafka_bootstrap: str, registry_url: str, project: tuple[Path, str]
) -> None:
    """The README's "On Kafka" flow with the released wheel: publish with the generated publisher,
    a handler that fails sends the record to dlq.{topic}; `schemabus dlq inspect` shows it and
    `schemabus dlq replay` sends it back; `schemabus lag` shows that record waiting for the group."""
    venv = release.wheel_venv
    root, topic = project
    script = textwrap.dedent(
        """
        import asyncio, datetime as dt, sys, uuid
        from decimal import Decimal

        import shop_events
        from schemabus.runtime.consumer import ConsumerRunner
        from schemabus.runtime.kafka import KafkaBus
        from schemabus.runtime.registry_client import ConfluentRegistry
        from schemabus.runtime.retry import RetryPolicy

        bootstrap, registry = sys.argv[1], sys.argv[2]
        (Publisher,) = [getattr(shop_events, n) for n in shop_events.__all__ if n.endswith("Publisher")]
        topic = Publisher.topic

        async def main() -> None:
            order = shop_events.OrderPlaced(
                order_id=uuid.uuid4(), total=Decimal("42.50"), placed_at=dt.datetime.now(dt.UTC)
            )
            async with KafkaBus(bootstrap, registry) as bus:
                bus.ensure_topics([topic])
                await Publisher(bus).publish(order, key=str(order.order_id))

            @topic.handler(group="release-test")
            async def refuse(event) -> None:
                raise ValueError(f"refused {event.value.order_id}")

            runner = ConsumerRunner(
                bootstrap, ConfluentRegistry(registry), [refuse], service="release", retry=RetryPolicy(max_retries=0)
            )
            running = asyncio.create_task(runner.run())
            for _ in range(600):
                if runner.metrics.dead_lettered or running.done():
                    break
                await asyncio.sleep(0.1)
            runner.stop()
            await running
            print(topic.name, runner.metrics.dead_lettered, order.order_id)

        asyncio.run(main())
        """
    )
    done = ok(venv.run(venv.python, "-c", script, kafka_bootstrap, registry_url, cwd=root, PYTHONPATH="generated"))
    name, dead, order_id = done.stdout.split()
    assert (name, dead) == (topic, "1"), explain(done)

    env = {"SCHEMABUS_BOOTSTRAP_SERVERS": kafka_bootstrap}
    inspect = ok(venv.schemabus("dlq", "inspect", topic, "--format", "json", cwd=root, **env))
    (record,) = json.loads(inspect.stdout)
    text = json.dumps(record)
    assert topic in text and f"refused {order_id}" in text and "builtins.ValueError" in text, inspect.stdout
    ok(venv.schemabus("dlq", "inspect", topic, cwd=root, **env))  # the text format too
    replay = ok(venv.schemabus("dlq", "replay", f"dlq.{topic}", cwd=root, **env))
    assert f"replayed 1 record to {topic}" in replay.stdout, explain(replay)
    again = ok(venv.schemabus("dlq", "replay", f"dlq.{topic}", cwd=root, **env))
    assert f"dlq.{topic}: nothing to replay" in again.stdout, explain(again)

    # The handler's group committed past the dead-lettered record; the replayed one waits for it.
    lag = ok(venv.schemabus("lag", "--group", "release-test", "--topic", topic, "--format", "json", cwd=root, **env))
    [group] = json.loads(lag.stdout)["groups"]
    assert (group["group"], group["total_lag"]) == ("release-test", 1), explain(lag)
    table = ok(venv.schemabus("lag", "--topic", topic, cwd=root, **env))  # the text format (rich) too
    assert "release-test: lag 1 record, max time lag " in table.stdout, explain(table)
