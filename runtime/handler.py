"""Typed handlers: subclass a generated ``<Topic>Handler`` or decorate a function with ``topic.handler()``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from .topic import Event, Topic

__all__ = ["FunctionHandler", "Handler", "consumer_group"]

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


AnyHandler = Handler[Any, Any] | FunctionHandler[Any, Any]


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
