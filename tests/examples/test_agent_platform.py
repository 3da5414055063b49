"""examples/agent_platform without Kafka: the projector on an InMemoryBus (the production handler loop,
with its retries and dead letters), the capability's lifecycle events, and the cost arithmetic."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest

import platform_events as pe
from examples.agent_platform.agent_registry import AgentRegistry
from examples.agent_platform.aggregator import CostTotals
from examples.agent_platform.capabilities import SearchCapability
from examples.agent_platform.costs import CostEntry, cost_event, cost_of
from examples.agent_platform.demo import SearchIndexTimeout, fake_search
from examples.agent_platform.projector import AgentView, projector_handlers
from examples.agent_platform.topics import PlatformTopics
from platform_events import AgentStatus, AgentType, SearchQuery
from schemabus.runtime import RetryPolicy
from schemabus.runtime.testing import InMemoryBus

TOPICS = PlatformTopics()


def _bus_with_view() -> tuple[InMemoryBus, AgentView]:
    bus = InMemoryBus(retry=RetryPolicy(max_retries=2, initial_backoff=0))
    view = AgentView()
    for handler in projector_handlers(view, TOPICS):
        bus.subscribe(handler)
    return bus, view


def test_the_view_follows_the_registry_and_dead_letters_an_update_of_an_unknown_agent() -> None:
    async def scenario() -> None:
        bus, view = _bus_with_view()
        registry = AgentRegistry(bus, TOPICS)
        kept = await registry.create(AgentType.CODER, ["search"])
        gone = await registry.create(AgentType.PLANNER, [])
        await registry.update(kept.agent_id, status=AgentStatus.PAUSED, capabilities=["search", "review"])
        await registry.delete(gone.agent_id)
        assert list(view.agents) == [kept.agent_id] and view.deleted == {gone.agent_id}
        live = view.agents[kept.agent_id]
        assert (live.status, live.capabilities, live.revision) == (AgentStatus.PAUSED, ["search", "review"], 1)

        ghost = pe.AgentUpdated(agent_id=uuid.uuid4(), revision=1, updated_at=dt.datetime.now(dt.UTC))
        await bus.publish(TOPICS.agent_updated, ghost, key=str(ghost.agent_id))
        (letter,) = bus.records(f"dlq.{TOPICS.agent_updated.name}")
        assert letter.key == str(ghost.agent_id).encode()
        assert dict(letter.headers)["schemabus.dlq.attempts"] == b"3"  # retried twice, then set aside
        assert ghost.agent_id not in view.agents

    asyncio.run(scenario())


def test_an_execution_publishes_started_then_completed_or_failed_with_one_operation_id() -> None:
    async def scenario() -> None:
        bus = InMemoryBus()
        agent_id = uuid.uuid4()
        capability = SearchCapability(bus, TOPICS, agent_id, fake_search)
        result = await capability.execute_with_lifecycle(SearchQuery(text="schema registry"), {"index": "docs"})
        assert result.total_hits == 2
        with pytest.raises(SearchIndexTimeout):
            await capability.execute_with_lifecycle(SearchQuery(text="timeout please"))

        started = [bus.decode(TOPICS.search_started, r).value for r in bus.records(TOPICS.search_started.name)]
        (completed,) = [bus.decode(TOPICS.search_completed, r) for r in bus.records(TOPICS.search_completed.name)]
        (failed,) = [bus.decode(TOPICS.search_failed, r) for r in bus.records(TOPICS.search_failed.name)]
        assert len(started) == 2 and {s.agent_id for s in started} == {agent_id}
        assert {completed.value.operation_id, failed.value.operation_id} == {s.operation_id for s in started}
        assert completed.key == str(completed.value.operation_id) and completed.value.result == result
        assert completed.value.duration_ms >= 0
        error = failed.value.error
        assert (error.error_type, error.retryable) == ("SearchIndexTimeout", True)
        assert "timeout please" in error.message

    asyncio.run(scenario())


def test_costs_are_exact_decimals_and_the_totals_add_up_per_agent_and_per_day() -> None:
    assert cost_of(1234, Decimal("0.15")) == Decimal("0.00018510")
    assert cost_of(1, Decimal("0.000000005")) == Decimal("0E-8")  # half-even at the 8th place
    agent = uuid.uuid4()
    day = dt.date(2026, 12, 6)
    entries = [
        CostEntry("t", agent, "m", 1000, 100, Decimal("2.5"), Decimal("10"), day),
        CostEntry("t", agent, "m", 3000, 0, Decimal("2.5"), Decimal("10"), day - dt.timedelta(days=1)),
        CostEntry("t", None, "m", 0, 500, Decimal("2.5"), Decimal("10"), day),
    ]
    events = [cost_event(e) for e in entries]
    assert [e.total_cost for e in events] == [Decimal("0.0035"), Decimal("0.0075"), Decimal("0.005")]
    totals = CostTotals()
    summaries = [totals.add(e) for e in events]
    assert totals.by_agent() == {(agent, "USD"): Decimal("0.0110"), (None, "USD"): Decimal("0.005")}
    assert totals.by_day() == {(day, "USD"): Decimal("0.0085"), (day - dt.timedelta(days=1), "USD"): Decimal("0.0075")}

    restored = CostTotals()  # what a restart reads back from the summary topic
    for summary in summaries:
        restored.restore(summary)
    assert restored.totals == totals.totals and restored.entries() == 3
