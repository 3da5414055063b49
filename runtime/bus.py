"""What a bus is, and the one serialization path every bus uses.

Generated publishers call :meth:`Bus.publish`; the in-memory bus and the Kafka bus both encode
with :class:`RecordCodec`, so code tested on one runs unchanged on the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, NamedTuple, Protocol, TypeVar

from .registry import SchemaIds
from .serde import AvroSerde, DeserializationError, frame_header
from .topic import DeliveryResult, Headers, Topic

__all__ = ["Bus", "RecordCodec", "TopicEncoder"]

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


class TopicEncoder(NamedTuple):
    """A topic's serializers, bound to the schema ids of its subjects: value and key to framed bytes."""

    value: Callable[[Any], bytes]
    key: Callable[[Any], bytes]  # raises TypeError when the topic has no key schema


class RecordCodec:
    """Key and value of a topic to framed bytes and back, with schema ids from :class:`SchemaIds`.

    Encoding binds each topic's serdes to its schema ids once (:meth:`encoder`, which may ask the
    registry); :attr:`encoders` holds what is bound, for hot paths that must not ask again.
    """

    def __init__(self, ids: SchemaIds) -> None:
        self.ids = ids
        self._encoders: dict[Topic[Any, Any], TopicEncoder] = {}

    @property
    def encoders(self) -> Mapping[Topic[Any, Any], TopicEncoder]:
        """The topics bound so far (read-only; :meth:`encoder` adds to it)."""
        return self._encoders

    def encoder(self, topic: Topic[Any, Any]) -> TopicEncoder:
        """The topic's :class:`TopicEncoder`: the schema ids on first use (registered or looked up,
        as the :class:`SchemaIds` mode says), then from memory."""
        bound = self._encoders.get(topic)
        if bound is None:
            bound = self._encoders[topic] = self._bind(topic)
        return bound

    def _bind(self, topic: Topic[Any, Any]) -> TopicEncoder:
        value = topic.value
        value_id = None if value.schema is None else self.ids.id_for(topic.value_subject, value.schema, value.format)
        key = topic.key
        if key is None:
            return TopicEncoder(value.serializer(value_id), partial(_no_key_schema, topic.name))
        key_id = None if key.schema is None else self.ids.id_for(topic.key_subject, key.schema, key.format)
        return TopicEncoder(value.serializer(value_id), key.serializer(key_id))

    def encode_value(self, topic: Topic[Any, V], value: V) -> bytes:
        return self.encoder(topic).value(value)

    def encode_key(self, topic: Topic[K, Any], key: K | None) -> bytes | None:
        return None if key is None else self.encoder(topic).key(key)

    def decode_value(self, topic: Topic[Any, V], data: bytes | None) -> V:
        if data is None:
            raise DeserializationError("invalid-payload", "the record has no value (a tombstone)")
        serde = topic.value
        own = None if serde.schema is None else self._own_id(topic.value_subject, serde.schema, serde.format)
        return serde.deserialize(data, own, self.ids)

    def value_decoder(self, topic: Topic[Any, V]) -> Callable[[bytes | None], V]:
        """``decode_value`` for ``topic``, for a consumer's hot path: a record framed with the id of the
        topic's own Avro schema (once it is known) is read directly, without checking the frame and
        the id anew for each; anything else, and anything the direct read finds wrong, goes through
        :meth:`decode_value`, which decodes or raises as it always does."""
        slow: Callable[[bytes | None], V] = partial(self.decode_value, topic)
        serde = topic.value
        if not isinstance(serde, AvroSerde):
            return slow
        ids, subject, schema = self.ids, topic.value_subject, serde.schema
        read = serde.reader()
        header: bytes | None = None

        def decode(data: bytes | None) -> V:
            nonlocal header
            if header is None:
                own = ids.known_id(subject, schema)
                if own is None:  # not known yet: decode_value looks it up
                    return slow(data)
                header = frame_header(own)
            if data is not None and data.startswith(header):
                try:
                    value, end = read(data, 5)
                except Exception:
                    return slow(data)
                if end == len(data):
                    return value  # type: ignore[no-any-return]
            return slow(data)

        return decode

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


def _no_key_schema(topic: str, key: Any) -> bytes:
    raise TypeError(f"topic {topic} has no key schema; publish without a key")
