"""examples/agent_platform on a real broker and registry: the scripted scenario, and the cost aggregator's
exactness across a restart and across a takeover by a new instance.

Every test runs the example on topics of its own (``PlatformTopics.namespaced``: a fresh prefix, so fresh
schema subjects too), with consumer groups and a transactional id named after that prefix.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import platform_events as pe
from examples.agent_platform.aggregator import CostAggregator
from examples.agent_platform.costs import CostEntry, record_cost
from examples.agent_platform.demo import caught_up, run_scenario
from examples.agent_platform.projector import AgentNotProjectedYet
from examples.agent_platform.service import RETRY, AgentPlatform, PlatformConfig
from examples.agent_platform.topics import PlatformTopics
from platform_events import AgentStatus, AgentType
from schemabus.runtime import KafkaBus, ensure_topics
from schemabus.runtime.dlq import read_dead_letters
from schemabus.runtime.errors import ProducerFencedError, TransactionAbortedError
from schemabus.runtime.reading import read_events

pytestmark = pytest.mark.integration

TIMEOUT = 45.0  # the longest any one wait may take
ROOT = Path(__file__).resolve().parents[2]


def _namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


async def _until(condition: Any, what: str, *, failed: Any = None, timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` holds; fail early with what ``failed()`` returns, if anything."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        error = failed() if failed is not None else None
        if error is not None:
            raise AssertionError(f"a consumer stopped while waiting for {what}") from error
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _causes(error: BaseException | None) -> list[BaseException]:
    """``error`` and the exceptions it was raised from."""
    out = []
    while error is not None and error not in out:
        out.append(error)
        error = error.__cause__ or error.__context__
    return out


def _sum_by(costs: Iterable[pe.CostRecorded], key: Any) -> dict[Any, Decimal]:
    out: dict[Any, Decimal] = {}
    for cost in costs:
        out[key(cost)] = out.get(key(cost), Decimal(0)) + cost.total_cost
    return out


def _latest_summaries(bootstrap: str, bus: KafkaBus, topics: PlatformTopics) -> dict[Any, pe.CostSummaryUpdated]:
    latest = {}
    for event in read_events(bootstrap, bus.codec, topics.cost_summary):
        summary = event.value
        latest[summary.agent_id, summary.billing_date, summary.currency] = summary
    return latest


def _assert_exact(totals: Any, costs: list[pe.CostRecorded]) -> None:
    assert totals.entries() == len(costs)
    assert totals.by_agent() == _sum_by(costs, lambda c: (c.agent_id, c.currency))
    assert totals.by_day() == _sum_by(costs, lambda c: (c.billing_date, c.currency))


def test_the_agent_platform_projects_agents_totals_costs_and_dead_letters_bad_records(
    kafka_bootstrap: str, registry_url: str
) -> None:
    namespace = _namespace()
    config = PlatformConfig(kafka_bootstrap, registry_url, namespace=namespace, metrics_port=0, commit_interval=0.2)

    async def scenario() -> None:
        async with AgentPlatform(config) as platform:
            result = await run_scenario(platform, agents=3, executions=20, failures=2, costs=50)
            gone = await platform.agents.create(AgentType.PLANNER, ["plan"], name="short-lived")
            await platform.agents.delete(gone.agent_id, reason="test")
            projector, aggregator = platform.projector, platform.aggregator
            await _until(
                lambda: caught_up(platform, result) and gone.agent_id in platform.view.deleted,
                "the view and the totals to show the scenario",
                failed=platform.failed,
            )
            # The update of an agent nobody created is retried (transient), then dead-lettered; the
            # poison record of the cost topic is dead-lettered at once, inside the aggregator's transaction.
            await _until(
                lambda: (
                    projector.metrics.dead_lettered == 1
                    and aggregator.runner is not None
                    and aggregator.runner.metrics.dead_lettered == 1
                ),
                "the two dead letters",
                failed=platform.failed,
            )

            # The projector's view: the three agents, the first paused, each with its searches.
            view = platform.view.agents
            assert set(view) == {a.agent_id for a in result.agents}
            for n, agent in enumerate(result.agents):
                live = view[agent.agent_id]
                assert (live.agent_type, live.capabilities) == (agent.agent_type, ["search"])
                assert (live.status, live.revision) == ((AgentStatus.PAUSED, 1) if n == 0 else (AgentStatus.ACTIVE, 0))
            assert sum(len(a.completed) for a in view.values()) == 18
            assert sum(len(a.failed) for a in view.values()) == 2
            assert result.unknown_agent not in view

            # The totals, per agent and per day, exact (decimals), and the summary topic agrees.
            assert len(result.costs) == 50
            _assert_exact(aggregator.totals, result.costs)
            assert aggregator.bus is not None
            latest = await asyncio.to_thread(_latest_summaries, kafka_bootstrap, aggregator.bus, platform.topics)
            assert {k: s.total_cost for k, s in latest.items()} == {
                k: t.total_cost for k, t in aggregator.totals.totals.items()
            }
            assert sum(s.entries for s in latest.values()) == 50

            # Operations: probes and metrics over HTTP.
            assert platform.server is not None
            url = platform.server.url
            status, body = await asyncio.to_thread(_get, f"{url}/healthz")
            assert status == 200, body
            await _until(lambda: _get(f"{url}/readyz")[0] == 200, "/readyz to answer 200")
            components = {
                c["component"] for c in json.loads((await asyncio.to_thread(_get, f"{url}/readyz"))[1])["components"]
            }
            assert len(components) == 3, components
            status, text = await asyncio.to_thread(_get, f"{url}/metrics")
            assert status == 200 and "schemabus_dead_lettered_total" in text and "schemabus_published_total" in text

        # The dead letters: original bytes, where they came from and why.
        (ghost,) = read_dead_letters(kafka_bootstrap, f"dlq.{namespace}agent.lifecycle.updated", timeout=TIMEOUT)
        assert ghost.reason == "handler-error" and ghost.attempts == RETRY.max_retries + 1
        assert ghost.key == str(result.unknown_agent).encode()
        assert ghost.exception_class == f"{AgentNotProjectedYet.__module__}.AgentNotProjectedYet"
        (poison,) = read_dead_letters(kafka_bootstrap, f"dlq.{namespace}cost.tracking.recorded", timeout=TIMEOUT)
        assert (poison.reason, poison.value, poison.attempts) == ("bad-magic", result.poison, 0)
        assert poison.original_topic == f"{namespace}cost.tracking.recorded"

    asyncio.run(asyncio.wait_for(scenario(), 3 * TIMEOUT))


def _entries(agents: list[uuid.UUID], count: int) -> list[CostEntry]:
    day = dt.date(2026, 12, 6)
    return [
        CostEntry(
            tenant_id="tenant-r",
            agent_id=agents[n % len(agents)] if n % 7 else None,  # some costs have no agent
            model="model-small",
            prompt_tokens=1000 + 13 * n,
            completion_tokens=100 + 7 * n,
            prompt_price=Decimal("0.15"),
            completion_price=Decimal("0.60"),
            billing_date=day - dt.timedelta(days=n % 3),
        )
        for n in range(count)
    ]


def _aggregator(bootstrap: str, registry_url: str, topics: PlatformTopics, service: str) -> CostAggregator:
    return CostAggregator(bootstrap, registry_url, topics, service=service, commit_interval=0.1)


def test_a_restarted_cost_aggregator_neither_loses_nor_double_counts_a_cost(
    kafka_bootstrap: str, registry_url: str
) -> None:
    """Costs keep arriving while the aggregator is stopped mid-stream and started again (a new instance,
    as after a deploy): it restores its totals from the summary topic and resumes from its committed
    offsets, so its totals count every cost once."""
    namespace = _namespace()
    topics = PlatformTopics().namespaced(namespace)
    ensure_topics(kafka_bootstrap, topics.all())
    entries = _entries([uuid.uuid4() for _ in range(3)], 50)

    async def scenario() -> None:
        async with KafkaBus(kafka_bootstrap, registry_url) as bus:
            published: list[pe.CostRecorded] = []

            async def publish_slowly() -> None:
                for entry in entries:
                    published.append(await record_cost(bus, topics, entry))
                    await asyncio.sleep(0.04)

            producer = asyncio.create_task(publish_slowly())
            first = _aggregator(kafka_bootstrap, registry_url, topics, f"{namespace}costs")
            first_task = asyncio.create_task(first.run())
            await _until(lambda: first.totals.entries() >= 12, "the first instance to count 12 costs")
            first.stop()
            await asyncio.wait_for(first_task, TIMEOUT)
            counted_before = first.totals.entries()
            assert not producer.done() and counted_before < len(entries)  # stopped mid-stream

            second = _aggregator(kafka_bootstrap, registry_url, topics, f"{namespace}costs")
            second_task = asyncio.create_task(second.run())
            await second.restored.wait()
            assert second.totals.entries() == counted_before  # what the first committed, no more, no less
            await producer
            await _until(lambda: second.totals.entries() >= len(entries), "the second instance to count every cost")
            await asyncio.sleep(1.0)  # room for a double count to show
            second.stop()
            await asyncio.wait_for(second_task, TIMEOUT)
            _assert_exact(second.totals, published)
            latest = await asyncio.to_thread(_latest_summaries, kafka_bootstrap, bus, topics)
            assert {k: s.total_cost for k, s in latest.items()} == {
                k: t.total_cost for k, t in second.totals.totals.items()
            }

    asyncio.run(asyncio.wait_for(scenario(), 3 * TIMEOUT))


def test_a_new_cost_aggregator_fences_a_running_one_and_counts_each_cost_once(
    kafka_bootstrap: str, registry_url: str
) -> None:
    """A second instance with the same transactional id starts while the first still runs (a hung pod
    replaced): starting its bus fences the first, whose open transaction is aborted; the second's
    restored totals and the costs it then consumes count every cost once."""
    namespace = _namespace()
    topics = PlatformTopics().namespaced(namespace)
    ensure_topics(kafka_bootstrap, topics.all())
    entries = _entries([uuid.uuid4() for _ in range(2)], 40)

    async def scenario() -> None:
        async with KafkaBus(kafka_bootstrap, registry_url) as bus:
            published = [await record_cost(bus, topics, entry) for entry in entries[:20]]
            first = _aggregator(kafka_bootstrap, registry_url, topics, f"{namespace}costs")
            first_task = asyncio.create_task(first.run())
            await _until(lambda: first.totals.entries() >= 20, "the first instance to count 20 costs")
            second = _aggregator(kafka_bootstrap, registry_url, topics, f"{namespace}costs")
            second_task = asyncio.create_task(second.run())
            await second.restored.wait()
            published += [await record_cost(bus, topics, entry) for entry in entries[20:]]
            await _until(lambda: second.totals.entries() >= len(entries), "the second instance to count every cost")
            await asyncio.sleep(1.0)  # room for a double count to show
            first.stop()
            (outcome,) = await asyncio.wait_for(asyncio.gather(first_task, return_exceptions=True), TIMEOUT)
            # The zombie could not commit: fenced at its commit or at a publish of its handler, or a publish
            # of its handler purged by the abort the fence caused.
            causes = _causes(outcome)
            assert any(isinstance(e, ProducerFencedError | TransactionAbortedError) for e in causes), causes
            second.stop()
            await asyncio.wait_for(second_task, TIMEOUT)
            _assert_exact(second.totals, published)

    asyncio.run(asyncio.wait_for(scenario(), 3 * TIMEOUT))


def test_the_command_of_the_readme_plays_the_demo_and_exits(kafka_bootstrap: str, registry_url: str) -> None:
    """``python -m examples.agent_platform`` as its README runs it (servers from the environment, the
    generated package on PYTHONPATH), told to exit after the demo."""
    env = {
        **os.environ,
        "SCHEMABUS_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SCHEMABUS_REGISTRY_URL": registry_url,
        "PYTHONPATH": str(ROOT / "generated"),
    }
    command = [sys.executable, "-m", "examples.agent_platform", "--exit-after-demo", "--metrics-port", "0"]
    command += ["--namespace", _namespace()]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=2 * TIMEOUT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "live agents:" and len([line for line in lines if "searches:" in line]) == 3, run.stdout
    assert "cost per agent:" in lines and "cost per day:" in lines
    assert "metrics and probes on http://" in run.stderr
