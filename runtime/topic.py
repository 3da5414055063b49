"""Topic descriptors and the envelope types that cross the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from .serde import Serde

if TYPE_CHECKING:
    from .handler import FunctionHandler

__all__ = ["DeliveryResult", "Event", "Headers", "Topic", "normalize_headers"]

K = TypeVar("K")
V = TypeVar("V")

# Kafka headers are ordered (name, bytes) pairs; names may repeat. A mapping is accepted for convenience.
Headers = Mapping[str, str | bytes] | Sequence[tuple[str, str | bytes]]


def normalize_headers(headers: Headers | None) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, v.encode() if isinstance(v, str) else bytes(v)) for k, v in items]


@dataclass(frozen=True, eq=False)
class Topic(Generic[K, V]):
    """One topic of the catalog: its name, key and value serdes, and its broker settings
    (``replication_factor`` None: the broker's default; ``configs``: further Kafka topic configs)."""

    name: str
    key: Serde[K] | None
    value: Serde[V]
    partitions: int = 1
    retention_ms: int = 7 * 24 * 3600 * 1000
    cleanup_policy: str = "delete"
    compatibility: str = "BACKWARD"
    replication_factor: int | None = None
    configs: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def topic_configs(self) -> dict[str, str]:
        """Every topic config the catalog sets, as Kafka takes them: ``retention.ms``, ``cleanup.policy``
        and :attr:`configs`."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy, **self.configs}

    # Cached: the serialization path asks for the subject on every record.
    @cached_property
    def key_subject(self) -> str:
        return f"{self.name}-key"

    @cached_property
    def value_subject(self) -> str:
        return f"{self.name}-value"

    def handler(
        self, *, group: str | None = None, name: str | None = None
    ) -> Callable[[Callable[[Event[K, V]], Awaitable[None]]], FunctionHandler[K, V]]:
        """Decorate ``async def fn(event)`` to handle this topic::

        @AGENT_LIFECYCLE_CREATED.handler(group="billing")
        async def on_created(event: Event[str, AgentCreated]) -> None: ...
        """
        from .handler import FunctionHandler

        def wrap(fn: Callable[[Event[K, V]], Awaitable[None]]) -> FunctionHandler[K, V]:
            return FunctionHandler(self, fn, group=group, name=name)

        return wrap

    def __repr__(self) -> str:
        return f"Topic({self.name!r})"


@dataclass(frozen=True, slots=True)
class Event(Generic[K, V]):
    """What a handler receives: the decoded key and value, and where the record came from."""

    topic: str
    key: K | None
    value: V
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = 0
    offset: int = 0
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name`` (Kafka allows repeats), or None."""
        for k, v in reversed(self.headers):
            if k == name:
                return v
        return None


class DeliveryResult(NamedTuple):
    """Where the broker stored a published record (a named tuple: built once per record on the hot
    path, where a frozen dataclass's ``__init__`` costs three times as much)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0
