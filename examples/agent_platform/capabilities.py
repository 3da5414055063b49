"""Capability execution with lifecycle events: the search capability.

:meth:`SearchCapability.execute_with_lifecycle` follows the seed: publish ``started``, run the
capability, then publish ``completed`` with the result and how long it took, or ``failed`` with the
error, and raise the error to the caller. The three events share one ``operation_id``, which is
also their key, so all events of one execution land on the same partition of their topics.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import platform_events as pe
from platform_events import ErrorInfo, SearchQuery, SearchResult
from schemabus.runtime import Bus, RetryableError

from .topics import PlatformTopics

SearchFn = Callable[[SearchQuery, Mapping[str, str]], Awaitable[SearchResult]]


class SearchCapability:
    """An agent's search capability; ``search`` does the work (an index, a web search, a stub in tests)."""

    capability_type = "search"

    def __init__(self, bus: Bus, topics: PlatformTopics, agent_id: uuid.UUID, search: SearchFn) -> None:
        self.bus = bus
        self.topics = topics
        self.agent_id = agent_id
        self.search = search

    async def execute_with_lifecycle(self, query: SearchQuery, params: Mapping[str, str] | None = None) -> SearchResult:
        """Run the search between its ``started`` and its ``completed`` or ``failed`` event."""
        params = dict(params or {})
        operation_id = uuid.uuid4()
        key = str(operation_id)
        started = pe.SearchStarted(
            operation_id=operation_id, agent_id=self.agent_id, query=query, params=params, timestamp=_now()
        )
        await self.bus.publish(self.topics.search_started, started, key=key)
        began = time.monotonic()
        try:
            result = await self.search(query, params)
        except Exception as error:
            failed = pe.SearchFailed(
                operation_id=operation_id,
                agent_id=self.agent_id,
                error=error_info(error),
                params=params,
                timestamp=_now(),
            )
            await self.bus.publish(self.topics.search_failed, failed, key=key)
            raise
        completed = pe.SearchCompleted(
            operation_id=operation_id,
            agent_id=self.agent_id,
            result=result,
            duration_ms=round((time.monotonic() - began) * 1000),
            timestamp=_now(),
        )
        await self.bus.publish(self.topics.search_completed, completed, key=key)
        return result


def error_info(error: Exception) -> ErrorInfo:
    """The shared ``ErrorInfo`` of a failure: its class, its message, and whether a retry may succeed.

    The stack trace is left out: it can hold parameters a user passed, and the schema says so.
    """
    retryable = isinstance(error, RetryableError | TimeoutError | ConnectionError)
    return ErrorInfo(error_type=type(error).__name__, message=str(error), retryable=retryable)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
