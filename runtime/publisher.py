"""Typed publishers: the generated ``<Topic>Publisher`` classes subclass :class:`Publisher`."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from .bus import Bus
from .topic import DeliveryResult, Headers, Topic

__all__ = ["NotConnectedError", "Publisher"]

K = TypeVar("K")
V = TypeVar("V")


class NotConnectedError(RuntimeError):
    """A publisher was used before it was given a bus."""


class Publisher(Generic[K, V]):
    """Publishes one topic's models; rejects anything but the topic's key and value types."""

    topic: ClassVar[Topic[Any, Any]]

    def __init__(self, bus: Bus | None = None) -> None:
        self._bus = bus

    def connect(self, bus: Bus) -> None:
        self._bus = bus

    async def publish(self, value: V, *, key: K | None = None, headers: Headers | None = None) -> DeliveryResult:
        """Serialize and send ``value``; the result says where the broker stored it."""
        topic = self.topic
        if type(value) is not topic.value.type and not isinstance(value, topic.value.type):
            raise TypeError(f"{topic.name} carries {topic.value.type.__name__}, not {type(value).__name__}")
        if key is not None:
            if topic.key is None:
                raise TypeError(f"{topic.name} has no key schema; publish without a key")
            if not isinstance(key, topic.key.type):
                raise TypeError(f"{topic.name} is keyed by {topic.key.type.__name__}, not {type(key).__name__}")
        if self._bus is None:
            raise NotConnectedError(
                f"{type(self).__name__} is not connected to a bus: pass one when you create it, "
                f"e.g. {type(self).__name__}(InMemoryBus()) in tests"
            )
        return await self._bus.publish(topic, value, key=key, headers=headers)
