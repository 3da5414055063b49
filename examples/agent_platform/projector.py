"""The projector: a read model of live agents, built from the lifecycle and capability topics.

It runs at least once (the runtime's default): a record may be handled twice after a restart or a
rebalance, so every handler is idempotent (a revision already seen, an operation already counted,
an agent already deleted change nothing).

The lifecycle topics are read by separate consumers, so an agent's update can arrive before its
creation. That is transient: the handler raises :class:`AgentNotProjectedYet`, a ``RetryableError``,
and the runner retries it with the service's ``RetryPolicy`` while the creation arrives. An update
of an agent that never appears is a bad record: once the retries are spent the runner writes it to
``dlq.agent.lifecycle.updated`` with its original bytes and the error, and moves on.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import platform_events as pe
from platform_events import AgentStatus, AgentType
from schemabus.runtime import Event, FunctionHandler, RetryableError

from .topics import PlatformTopics


class AgentNotProjectedYet(RetryableError):
    """An update or deletion of an agent whose creation the view has not seen (yet)."""


@dataclasses.dataclass
class LiveAgent:
    """One agent of the view, with what its capability executions did."""

    agent_id: uuid.UUID
    agent_type: AgentType
    status: AgentStatus
    capabilities: list[str]
    revision: int = 0
    completed: set[uuid.UUID] = dataclasses.field(default_factory=set)  # operation ids
    failed: set[uuid.UUID] = dataclasses.field(default_factory=set)


class AgentView:
    """Live agents by id: created and not deleted. In memory, so rebuilt from the topics at each start."""

    def __init__(self) -> None:
        self.agents: dict[uuid.UUID, LiveAgent] = {}
        self.deleted: set[uuid.UUID] = set()

    def apply_created(self, event: pe.AgentCreated) -> None:
        if event.agent_id in self.deleted or event.agent_id in self.agents:
            return  # a redelivery
        self.agents[event.agent_id] = LiveAgent(
            event.agent_id, event.agent_type, AgentStatus.ACTIVE, list(event.capabilities)
        )

    def apply_updated(self, event: pe.AgentUpdated) -> None:
        if event.agent_id in self.deleted:
            return  # updated, then deleted: the deletion was seen first
        agent = self._live(event.agent_id)
        if event.revision <= agent.revision:
            return  # older than what the view holds (the schema's rule), or a redelivery
        agent.status, agent.capabilities, agent.revision = event.status, list(event.capabilities), event.revision

    def apply_deleted(self, event: pe.AgentDeleted) -> None:
        if event.agent_id in self.deleted:
            return
        self._live(event.agent_id)
        del self.agents[event.agent_id]
        self.deleted.add(event.agent_id)

    def apply_search_completed(self, event: pe.SearchCompleted) -> None:
        if event.agent_id not in self.deleted:  # executions of deleted agents are not kept
            self._live(event.agent_id).completed.add(event.operation_id)

    def apply_search_failed(self, event: pe.SearchFailed) -> None:
        if event.agent_id not in self.deleted:
            self._live(event.agent_id).failed.add(event.operation_id)

    def _live(self, agent_id: uuid.UUID) -> LiveAgent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise AgentNotProjectedYet(f"agent {agent_id} is not in the view: its creation has not been seen")
        return agent


def projector_handlers(view: AgentView, topics: PlatformTopics) -> list[FunctionHandler[str, Any]]:
    """One handler per topic the view is built from (each gets its own consumer group)."""

    async def on_created(event: Event[str, pe.AgentCreated]) -> None:
        view.apply_created(event.value)

    async def on_updated(event: Event[str, pe.AgentUpdated]) -> None:
        view.apply_updated(event.value)

    async def on_deleted(event: Event[str, pe.AgentDeleted]) -> None:
        view.apply_deleted(event.value)

    async def on_search_completed(event: Event[str, pe.SearchCompleted]) -> None:
        view.apply_search_completed(event.value)

    async def on_search_failed(event: Event[str, pe.SearchFailed]) -> None:
        view.apply_search_failed(event.value)

    return [
        FunctionHandler(topics.agent_created, on_created),
        FunctionHandler(topics.agent_updated, on_updated),
        FunctionHandler(topics.agent_deleted, on_deleted),
        FunctionHandler(topics.search_completed, on_search_completed),
        FunctionHandler(topics.search_failed, on_search_failed),
    ]
