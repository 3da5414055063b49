"""Typed handlers: subclass a generated ``<Topic>Handler`` or decorate a function with ``topic.handler()``;
batch handlers, which take a list of one partition's events: subclass :class:`BatchHandler` or decorate a
function with ``topic.batch_handler()``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from .topic import Event, Topic

__all__ = [
    "AnyBatchHandler",
    "AnyHandler",
    "AnyRecordHandler",
    "BatchFailedError",
    "BatchHandler",
    "FunctionBatchHandler",
    "FunctionHandler",
    "Handler",
    "consumer_group",
]

# A batch's models all live until the handler returns: past about 100 (of a model of a few nested
# fields) they outnumber the garbage collector's youngest generation (700 objects), which then moves
# them on to older ones, and consuming measured 1.5x slower per record at 500 than at 100.
DEFAULT_MAX_BATCH = 100

K = TypeVar("K")
V = TypeVar("V")


class Handler(Generic[K, V]):
    """Base of handler classes. Generated stubs set ``topic``; users implement :meth:`handle`.

    ``group`` overrides the consumer group (see :func:`consumer_group` for the default).
    """

    topic: ClassVar[Topic[Any, Any]]
    group: ClassVar[str | None] = None

    @property
    def name(self) -> str:
        return type(self).__name__

    async def handle(self, event: Event[K, V]) -> None:
        raise NotImplementedError(f"{type(self).__name__}.handle is not implemented")

    async def __call__(self, event: Event[K, V]) -> None:
        await self.handle(event)


class FunctionHandler(Generic[K, V]):
    """A handler made from ``async def fn(event)`` by ``Topic.handler()``."""

    def __init__(
        self,
        topic: Topic[K, V],
        fn: Callable[[Event[K, V]], Awaitable[None]],
        *,
        group: str | None = None,
        name: str | None = None,
    ) -> None:
        self.topic = topic
        self.fn = fn
        self.group = group
        self.name: str = name or str(getattr(fn, "__name__", "handler"))

    async def __call__(self, event: Event[K, V]) -> None:
        await self.fn(event)

    async def handle(self, event: Event[K, V]) -> None:
        await self.fn(event)


class BatchHandler(Generic[K, V]):
    """Base of batch handler classes: set ``topic`` (and ``group``, ``max_batch``), implement
    :meth:`handle_batch`.

    ``handle_batch`` gets the events of one partition in offset order, at most ``max_batch`` of them
    (what has been fetched and not handled yet, so as many as are waiting, up to that). Their offsets
    are committed once it returns. When it raises, README ("Batch handlers") says what happens: in
    short, :class:`BatchFailedError` names the event that failed (those before it are committed), the
    retry policy retries from there, and an event given up on goes to the dead-letter topic alone.
    """

    topic: ClassVar[Topic[Any, Any]]
    group: ClassVar[str | None] = None
    max_batch: ClassVar[int] = DEFAULT_MAX_BATCH

    @property
    def name(self) -> str:
        return type(self).__name__

    async def handle_batch(self, events: list[Event[K, V]]) -> None:
        raise NotImplementedError(f"{type(self).__name__}.handle_batch is not implemented")

    async def __call__(self, events: list[Event[K, V]]) -> None:
        await self.handle_batch(events)


class FunctionBatchHandler(Generic[K, V]):
    """A batch handler made from ``async def fn(events)`` by ``Topic.batch_handler()``."""

    def __init__(
        self,
        topic: Topic[K, V],
        fn: Callable[[list[Event[K, V]]], Awaitable[None]],
        *,
        group: str | None = None,
        name: str | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.topic = topic
        self.fn = fn
        self.group = group
        self.name: str = name or str(getattr(fn, "__name__", "handler"))
        self.max_batch = max_batch

    async def __call__(self, events: list[Event[K, V]]) -> None:
        await self.fn(events)

    async def handle_batch(self, events: list[Event[K, V]]) -> None:
        await self.fn(events)


class BatchFailedError(Exception):
    """Raised by a batch handler: the event at ``index`` of the list it was given failed, every event
    before it was handled. Raise it ``from`` the error itself: the retry policy judges that one
    (:class:`~schemabus.runtime.RetryableError`…), and the dead letter names it.

        for i, event in enumerate(events):
            try:
                await store(event.value)
            except StoreError as e:
                raise BatchFailedError(i) from e

    Spring Kafka's ``BatchListenerFailedException``. Any other exception from a batch handler says
    only that the batch failed: see README ("Batch handlers").
    """

    def __init__(self, index: int, message: str | None = None) -> None:
        if index < 0:
            raise ValueError("index must be >= 0")
        super().__init__(message or f"the event at index {index} of the batch failed")
        self.index = index


AnyRecordHandler = Handler[Any, Any] | FunctionHandler[Any, Any]
AnyBatchHandler = BatchHandler[Any, Any] | FunctionBatchHandler[Any, Any]
AnyHandler = AnyRecordHandler | AnyBatchHandler


def consumer_group(handler: AnyHandler, service: str | None = None) -> str:
    """The consumer group of a handler: its ``group`` if set, else ``{service}.{topic}.{handler}``.

    One group per handler, so every handler sees every record of its topic; ``service`` (the
    application name from the bus configuration) keeps two deployments of one handler apart.
    """
    if handler.group:
        return handler.group
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", handler.name).lower()
    topic: str = handler.topic.name
    return ".".join([service, topic, snake] if service else [topic, snake])
