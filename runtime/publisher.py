"""Typed publishers: the generated ``<Topic>Publisher`` classes subclass :class:`Publisher`."""

from __future__ import annotations

from collections.abc import Iterable
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
        self._check(value, key)
        return await self._connected().publish(self.topic, value, key=key, headers=headers)

    async def publish_many(
        self, values: Iterable[V], *, keys: Iterable[K | None] | None = None, headers: Headers | None = None
    ) -> int:
        """Send every value (with the key at the same position of ``keys``) and return how many once
        the broker acknowledged them all: the bulk path, much cheaper per record than :meth:`publish`.
        Every value and key is checked and encoded before the first is sent; failures raise
        :class:`~schemabus.runtime.errors.PublishBatchError` naming the records by position."""
        values = list(values)
        key_list = None if keys is None else list(keys)
        if key_list is not None and len(key_list) != len(values):
            raise ValueError(f"{len(values)} values but {len(key_list)} keys")
        topic = self.topic
        value_type, key_type = topic.value.type, None if topic.key is None else topic.key.type
        # One pass over exact types first (the common case, cheap per record); any other type gets
        # the full check of publish(), which accepts subclasses and names the problem.
        if not (
            all(type(v) is value_type for v in values)
            and (key_list is None or all(type(k) is key_type or k is None for k in key_list))
        ):
            for i, value in enumerate(values):
                self._check(value, None if key_list is None else key_list[i])
        return await self._connected().publish_many(self.topic, values, keys=key_list, headers=headers)

    def _check(self, value: V, key: K | None) -> None:
        topic = self.topic
        if type(value) is not topic.value.type and not isinstance(value, topic.value.type):
            raise TypeError(f"{topic.name} carries {topic.value.type.__name__}, not {type(value).__name__}")
        if key is not None:
            if topic.key is None:
                raise TypeError(f"{topic.name} has no key schema; publish without a key")
            if not isinstance(key, topic.key.type):
                raise TypeError(f"{topic.name} is keyed by {topic.key.type.__name__}, not {type(key).__name__}")

    def _connected(self) -> Bus:
        if self._bus is None:
            raise NotConnectedError(
                f"{type(self).__name__} is not connected to a bus: pass one when you create it, "
                f"e.g. {type(self).__name__}(InMemoryBus()) in tests"
            )
        return self._bus
