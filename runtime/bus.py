"""What a bus is, and the one serialization path every bus uses.

Generated publishers call :meth:`Bus.publish`; the in-memory bus and the Kafka bus both encode
with :class:`RecordCodec`, so code tested on one runs unchanged on the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from .registry import SchemaIds
from .serde import DeserializationError
from .topic import DeliveryResult, Headers, Topic

__all__ = ["Bus", "RecordCodec"]

K = TypeVar("K")
V = TypeVar("V")


class Bus(Protocol):
    async def publish(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult: ...

    async def publish_many(
        self,
        topic: Topic[K, V],
        values: Iterable[V],
        *,
        keys: Iterable[K | None] | None = None,
        headers: Headers | None = None,
    ) -> int:
        """Publish every value (with the key at the same position of ``keys``), each encoded before
        any is sent; return how many once all are published."""
        ...


class RecordCodec:
    """Key and value of a topic to framed bytes and back, with schema ids from :class:`SchemaIds`."""

    def __init__(self, ids: SchemaIds) -> None:
        self.ids = ids

    def encode_value(self, topic: Topic[Any, V], value: V) -> bytes:
        serde = topic.value
        schema_id = None if serde.schema is None else self.ids.id_for(topic.value_subject, serde.schema, serde.format)
        return serde.serialize(value, schema_id)

    def encode_key(self, topic: Topic[K, Any], key: K | None) -> bytes | None:
        if key is None:
            return None
        serde = topic.key
        if serde is None:
            raise TypeError(f"topic {topic.name} has no key schema; publish without a key")
        schema_id = None if serde.schema is None else self.ids.id_for(topic.key_subject, serde.schema, serde.format)
        return serde.serialize(key, schema_id)

    def decode_value(self, topic: Topic[Any, V], data: bytes | None) -> V:
        if data is None:
            raise DeserializationError("invalid-payload", "the record has no value (a tombstone)")
        serde = topic.value
        own = None if serde.schema is None else self._own_id(topic.value_subject, serde.schema, serde.format)
        return serde.deserialize(data, own, self.ids)

    def decode_key(self, topic: Topic[K, Any], data: bytes | None) -> K | None:
        if data is None or topic.key is None:
            return None
        serde = topic.key
        own = None if serde.schema is None else self._own_id(topic.key_subject, serde.schema, serde.format)
        return serde.deserialize(data, own, self.ids)

    def _own_id(self, subject: str, schema: str, schema_type: str) -> int | None:
        known = self.ids.known_id(subject, schema)
        if known is not None:
            return known
        try:
            return self.ids.id_for(subject, schema, schema_type)
        except LookupError:
            return None  # never registered: every record is decoded through schema resolution
