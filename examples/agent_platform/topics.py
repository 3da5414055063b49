"""The topics the agent platform uses, as the generated descriptors of the catalog.

A service normally uses the generated constants as they are (``pe.AGENT_LIFECYCLE_CREATED``...).
This example groups them in one object so that a namespace can be put in front of every name: its
integration test runs the whole service on topics (and schema subjects) of its own, and two copies
of the demo can share one development cluster.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import platform_events as pe
from schemabus.runtime import Topic


@dataclasses.dataclass(frozen=True)
class PlatformTopics:
    """Every topic the service publishes to or consumes, typed by key and value."""

    agent_created: Topic[str, pe.AgentCreated] = pe.AGENT_LIFECYCLE_CREATED
    agent_updated: Topic[str, pe.AgentUpdated] = pe.AGENT_LIFECYCLE_UPDATED
    agent_deleted: Topic[str, pe.AgentDeleted] = pe.AGENT_LIFECYCLE_DELETED
    search_started: Topic[str, pe.SearchStarted] = pe.CAPABILITY_SEARCH_STARTED
    search_completed: Topic[str, pe.SearchCompleted] = pe.CAPABILITY_SEARCH_COMPLETED
    search_failed: Topic[str, pe.SearchFailed] = pe.CAPABILITY_SEARCH_FAILED
    cost_recorded: Topic[pe.CostRecordedKey, pe.CostRecorded] = pe.COST_TRACKING_RECORDED
    cost_summary: Topic[pe.CostSummaryKey, pe.CostSummaryUpdated] = pe.COST_SUMMARY_UPDATED

    def namespaced(self, namespace: str) -> PlatformTopics:
        """The same topics, each named ``{namespace}{name}`` (unchanged when ``namespace`` is empty)."""
        if not namespace:
            return self
        renamed: dict[str, Any] = {
            field.name: dataclasses.replace(getattr(self, field.name), name=namespace + getattr(self, field.name).name)
            for field in dataclasses.fields(self)
        }
        return PlatformTopics(**renamed)

    def all(self) -> list[Topic[Any, Any]]:
        """Every topic, for the topic check at start."""
        return [getattr(self, field.name) for field in dataclasses.fields(self)]
