"""The agent registry: the source of truth for agents, with no API but its methods.

Every change is published to the lifecycle topics, keyed by the agent's id, so that the records of
one agent stay in order on one partition of each topic. ``agent.lifecycle.updated`` is compacted: each
update carries the agent's full state, not a delta, and a growing ``revision``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import platform_events as pe
from platform_events import AgentStatus, AgentType
from schemabus.runtime import Bus

from .topics import PlatformTopics


@dataclasses.dataclass
class Agent:
    """An agent as the registry holds it."""

    agent_id: uuid.UUID
    agent_type: AgentType
    capabilities: list[str]
    status: AgentStatus = AgentStatus.ACTIVE
    revision: int = 0
    labels: dict[str, str] = dataclasses.field(default_factory=dict)


class UnknownAgentError(LookupError):
    """The registry has no agent with this id."""


class AgentRegistry:
    """Creates, updates and deletes agents, publishing one lifecycle event per change."""

    def __init__(self, bus: Bus, topics: PlatformTopics, *, actor: str = "agent-registry") -> None:
        self.bus = bus
        self.topics = topics
        self.actor = actor
        self.agents: dict[uuid.UUID, Agent] = {}

    async def create(self, agent_type: AgentType, capabilities: list[str], *, name: str | None = None) -> Agent:
        """Register a new agent and publish ``agent.lifecycle.created``."""
        agent = Agent(agent_id=uuid.uuid4(), agent_type=agent_type, capabilities=list(capabilities))
        event = pe.AgentCreated(
            agent_id=agent.agent_id,
            agent_type=agent.agent_type,
            display_name=name,
            created_at=_now(),
            capabilities=agent.capabilities,
            creator_id=self.actor,
        )
        # Published before the agent is stored: a failed publish leaves no agent that nobody heard of.
        await self.bus.publish(self.topics.agent_created, event, key=str(agent.agent_id))
        self.agents[agent.agent_id] = agent
        return agent

    async def update(
        self, agent_id: uuid.UUID, *, status: AgentStatus | None = None, capabilities: list[str] | None = None
    ) -> Agent:
        """Change an agent's status or capabilities and publish its full new state."""
        agent = self._get(agent_id)
        changed = []
        if status is not None and status != agent.status:
            changed.append("status")
        if capabilities is not None and capabilities != agent.capabilities:
            changed.append("capabilities")
        new = dataclasses.replace(
            agent,
            status=status or agent.status,
            capabilities=list(capabilities) if capabilities is not None else agent.capabilities,
            revision=agent.revision + 1,
        )
        event = pe.AgentUpdated(
            agent_id=new.agent_id,
            agent_type=new.agent_type,
            status=new.status,
            revision=new.revision,
            updated_at=_now(),
            updated_by=self.actor,
            capabilities=new.capabilities,
            changed_fields=changed,
            labels=new.labels,
        )
        await self.bus.publish(self.topics.agent_updated, event, key=str(agent_id))
        self.agents[agent_id] = new
        return new

    async def delete(self, agent_id: uuid.UUID, *, reason: str | None = None) -> None:
        """Remove an agent and publish ``agent.lifecycle.deleted``."""
        agent = self._get(agent_id)
        event = pe.AgentDeleted(
            agent_id=agent_id, agent_type=agent.agent_type, deleted_at=_now(), deleted_by=self.actor, reason=reason
        )
        await self.bus.publish(self.topics.agent_deleted, event, key=str(agent_id))
        del self.agents[agent_id]

    def _get(self, agent_id: uuid.UUID) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgentError(f"no agent {agent_id}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
