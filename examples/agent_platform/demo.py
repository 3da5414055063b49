"""A scripted day on the platform: agents created and changed, searches run, costs recorded.

``python -m examples.agent_platform`` plays it once against the running service, and the
integration test plays it to check what the projector and the aggregator make of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal

import platform_events as pe
from platform_events import AgentStatus, AgentType, DocumentMatch, SearchHit, SearchQuery, SearchResult

from .agent_registry import Agent
from .capabilities import SearchCapability
from .costs import CostEntry, record_cost
from .service import AgentPlatform

AGENT_TYPES = [AgentType.RESEARCHER, AgentType.CODER, AgentType.REVIEWER]
PRICES = {"model-small": (Decimal("0.15"), Decimal("0.60")), "model-large": (Decimal("2.50"), Decimal("10.00"))}


class SearchIndexTimeout(TimeoutError):
    """The (pretend) search index did not answer in time."""


async def fake_search(query: SearchQuery, params: Mapping[str, str]) -> SearchResult:
    """A stand-in for a search index: one hit per word of the query; a query saying "timeout" fails."""
    if "timeout" in query.text:
        raise SearchIndexTimeout(f"the index did not answer the query {query.text!r} within 2 s")
    words = query.text.split()[: query.max_results]
    hits = [
        SearchHit(rank=i + 1, score=1.0 / (i + 1), item=DocumentMatch(document_id=f"doc-{w}", uri=f"https://docs/{w}"))
        for i, w in enumerate(words)
    ]
    return SearchResult(total_hits=len(hits), hits=hits)


@dataclasses.dataclass
class ScenarioResult:
    """What the scenario did, for a reader (or a test) to compare with the service's views."""

    agents: list[Agent]
    completed: dict[uuid.UUID, int]  # searches per agent
    failed: dict[uuid.UUID, int]
    costs: list[pe.CostRecorded]
    unknown_agent: uuid.UUID | None = None  # the agent of the bad update, when one was sent
    poison: bytes | None = None  # the bytes sent to the cost topic, when some were


def caught_up(platform: AgentPlatform, result: ScenarioResult) -> bool:
    """Whether the projector and the aggregator have seen everything the scenario did."""
    view = platform.view.agents
    projected = all(
        a.agent_id in view
        and len(view[a.agent_id].completed) == result.completed[a.agent_id]
        and len(view[a.agent_id].failed) == result.failed[a.agent_id]
        for a in result.agents
    )
    mine = {a.agent_id for a in result.agents}
    counted = sum(t.entries for (agent, _, _), t in platform.aggregator.totals.totals.items() if agent in mine)
    return projected and counted == len(result.costs)


async def run_scenario(
    platform: AgentPlatform,
    *,
    agents: int = 3,
    executions: int = 20,
    failures: int = 2,
    costs: int = 50,
    bad_records: bool = True,
) -> ScenarioResult:
    """Create ``agents`` agents and pause the first; run ``executions`` searches spread over them, of
    which ``failures`` time out; record ``costs`` costs over two billing days. With ``bad_records``,
    play two broken producers as well: one updates an agent that does not exist, one writes bytes that
    are no Avro record to the cost topic. Both end in dead-letter topics. It starts once the service is
    ready (:meth:`AgentPlatform.until_ready`)."""
    await platform.until_ready()
    created = [
        await platform.agents.create(AGENT_TYPES[n % len(AGENT_TYPES)], ["search"], name=f"agent-{n}")
        for n in range(agents)
    ]
    await platform.agents.update(created[0].agent_id, status=AgentStatus.PAUSED)
    result = ScenarioResult(created, {a.agent_id: 0 for a in created}, {a.agent_id: 0 for a in created}, [])
    for n in range(executions):
        agent = created[n % agents]
        capability = SearchCapability(platform.bus, platform.topics, agent.agent_id, fake_search)
        text = "kafka timeout" if n < failures else f"kafka schema registry run {n}"
        try:
            await capability.execute_with_lifecycle(SearchQuery(text=text), {"index": "docs"})
            result.completed[agent.agent_id] += 1
        except SearchIndexTimeout:
            result.failed[agent.agent_id] += 1
    today = dt.date(2026, 12, 6)
    for n in range(costs):
        model = "model-large" if n % 5 == 0 else "model-small"
        prompt_price, completion_price = PRICES[model]
        entry = CostEntry(
            tenant_id="tenant-a",
            agent_id=created[n % agents].agent_id,
            model=model,
            prompt_tokens=1000 + 37 * n,
            completion_tokens=200 + 11 * n,
            prompt_price=prompt_price,
            completion_price=completion_price,
            billing_date=today - dt.timedelta(days=n % 2),
        )
        result.costs.append(await record_cost(platform.bus, platform.topics, entry))
    if bad_records:
        await send_bad_records(platform, result)
    return result


async def send_bad_records(platform: AgentPlatform, result: ScenarioResult) -> None:
    """What buggy producers send: records the service must set aside without stopping."""
    result.unknown_agent = uuid.uuid4()
    ghost = pe.AgentUpdated(
        agent_id=result.unknown_agent, revision=1, updated_at=dt.datetime.now(dt.UTC), updated_by="buggy-producer"
    )
    await platform.bus.publish(platform.topics.agent_updated, ghost, key=str(result.unknown_agent))
    # A key encoded right (the topic is compacted: the broker refuses records without one), and JSON
    # where an Avro record in the Confluent framing belongs.
    topic = platform.topics.cost_recorded
    key = platform.bus.codec.encode_key(topic, pe.CostRecordedKey(tenant_id="tenant-a", token_usage_id="broken"))
    result.poison = b'{"total_cost": 0.1}'
    await asyncio.to_thread(platform.bus.send_bytes_sync, topic.name, result.poison, key=key)
