"""Topic descriptors and the envelope types that cross the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from .serde import Serde

if TYPE_CHECKING:
    from .handler import FunctionBatchHandler, FunctionHandler

__all__ = ["DeliveryResult", "Event", "Headers", "Topic", "event_of", "normalize_headers"]

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

    def batch_handler(
        self, *, group: str | None = None, name: str | None = None, max_batch: int = 100
    ) -> Callable[[Callable[[list[Event[K, V]]], Awaitable[None]]], FunctionBatchHandler[K, V]]:
        """Decorate ``async def fn(events)`` to handle this topic in batches: lists of at most
        ``max_batch`` events of one partition, in offset order, committed once ``fn`` returns
        (:class:`~schemabus.runtime.handler.BatchHandler` says what a failure leads to)::

        @AGENT_LIFECYCLE_CREATED.batch_handler(group="warehouse", max_batch=1000)
        async def load(events: list[Event[str, AgentCreated]]) -> None: ...
        """
        from .handler import FunctionBatchHandler

        def wrap(fn: Callable[[list[Event[K, V]]], Awaitable[None]]) -> FunctionBatchHandler[K, V]:
            return FunctionBatchHandler(self, fn, group=group, name=name, max_batch=max_batch)

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


_SET_EVENT_FIELDS = tuple(
    getattr(Event, name).__set__ for name in ("topic", "key", "value", "headers", "partition", "offset", "timestamp_ms")
)


def event_of(
    topic: str,
    key: object,
    value: object,
    headers: tuple[tuple[str, bytes], ...],
    partition: int,
    offset: int,
    timestamp_ms: int,
    _new: Callable[[type[Event[Any, Any]]], Event[Any, Any]] = object.__new__,
    _fields: tuple[Callable[[Event[Any, Any], object], None], ...] = _SET_EVENT_FIELDS,
) -> Event[Any, Any]:
    """``Event(topic, key, value, ...)`` for the consumer's hot path: the frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__``, twice as slow as its slots' own setters used here."""
    event = _new(Event)
    set_topic, set_key, set_value, set_headers, set_partition, set_offset, set_timestamp = _fields
    set_topic(event, topic)
    set_key(event, key)
    set_value(event, value)
    set_headers(event, headers)
    set_partition(event, partition)
    set_offset(event, offset)
    set_timestamp(event, timestamp_ms)
    return event


class DeliveryResult(NamedTuple):
    """Where the broker stored a published record (a named tuple: built once per record on the hot
    path, where a frozen dataclass's ``__init__`` costs three times as much)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0
