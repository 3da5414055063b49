"""An in-memory bus and schema registry for quickstarts and users' unit tests: no servers needed.

Both run the same serialization path as the Kafka bus (schema ids, Confluent framing, generated
codecs), so a handler tested here sees exactly the bytes it will see in production.

    bus = InMemoryBus()
    bus.subscribe(MyHandler())
    await AgentLifecycleCreatedPublisher(bus).publish(AgentCreated(...), key="agent-1")
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .bus import RecordCodec
from .handler import AnyHandler
from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaVersion, canonical_schema
from .topic import DeliveryResult, Event, Headers, Topic, normalize_headers

__all__ = ["InMemoryBus", "InMemoryRegistry", "StoredRecord"]

K = TypeVar("K")
V = TypeVar("V")


class InMemoryRegistry:
    """Confluent's registry semantics for ids and versions: one global id per distinct schema,
    versions per subject, re-registering an existing schema returns its id. No compatibility checks."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, tuple[str, str]] = {}
        self._subjects: dict[str, list[int]] = defaultdict(list)

    def register_schema(self, subject: str, schema: str, schema_type: str) -> int:
        key = (schema_type, canonical_schema(schema))
        schema_id = self._ids.get(key)
        if schema_id is None:
            schema_id = len(self._ids) + 1
            self._ids[key] = schema_id
            self._schemas[schema_id] = (schema_type, schema)
        if schema_id not in self._subjects[subject]:
            self._subjects[subject].append(schema_id)
        return schema_id

    def lookup_schema(self, subject: str, schema: str, schema_type: str) -> int:
        schema_id = self._ids.get((schema_type, canonical_schema(schema)))
        if schema_id is None or schema_id not in self._subjects.get(subject, []):
            raise SchemaNotRegisteredError(f"schema is not registered under subject {subject!r}")
        return schema_id

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        return self._schemas[schema_id]

    def lookup_version(self, subject: str, version: SchemaVersion, schema: str, schema_type: str) -> int:
        versions = self._subjects.get(subject, [])
        index = len(versions) if version == "latest" else version
        if not 1 <= index <= len(versions):
            raise SchemaNotRegisteredError(f"subject {subject!r} has no version {version}")
        schema_id = versions[index - 1]
        held_type, held = self._schemas[schema_id]
        if (held_type, canonical_schema(held)) != (schema_type, canonical_schema(schema)):
            raise SchemaNotRegisteredError(
                f"version {index} of subject {subject!r} (id {schema_id}) "
                "is not the schema this code was generated from"
            )
        return schema_id

    def subjects(self) -> list[str]:
        return sorted(s for s, v in self._subjects.items() if v)

    def versions(self, subject: str) -> list[int]:
        """Schema ids of the subject's versions, oldest first."""
        return list(self._subjects.get(subject, []))


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the broker would hold it: bytes, not models."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


class InMemoryBus:
    """Publishes into per-partition logs and dispatches each record to the subscribed handlers at once.

    Handler exceptions propagate to the publisher's caller, which is what a unit test wants to see.
    """

    def __init__(self, registry: InMemoryRegistry | None = None, *, id_mode: IdMode = "register") -> None:
        self.registry = registry or InMemoryRegistry()
        self.codec = RecordCodec(SchemaIds(self.registry, id_mode))
        self._logs: dict[tuple[str, int], list[StoredRecord]] = defaultdict(list)
        self._handlers: dict[str, list[tuple[Topic[Any, Any], AnyHandler]]] = defaultdict(list)

    def subscribe(self, handler: AnyHandler) -> None:
        self._handlers[handler.topic.name].append((handler.topic, handler))

    async def publish(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult:
        key_bytes = self.codec.encode_key(topic, key)
        value_bytes = self.codec.encode_value(topic, value)
        record = await self._deliver(topic, key_bytes, value_bytes, headers)
        return DeliveryResult(record.topic, record.partition, record.offset, record.timestamp_ms)

    async def publish_many(
        self,
        topic: Topic[K, V],
        values: Iterable[V],
        *,
        keys: Iterable[K | None] | None = None,
        headers: Headers | None = None,
    ) -> int:
        """As :meth:`KafkaBus.publish_many`: every record is encoded before the first is stored."""
        values = list(values)
        key_list: Iterable[K | None] = [None] * len(values) if keys is None else keys
        encoded = [
            (self.codec.encode_key(topic, k), self.codec.encode_value(topic, v))
            for v, k in zip(values, key_list, strict=True)
        ]
        for key_bytes, value_bytes in encoded:
            await self._deliver(topic, key_bytes, value_bytes, headers)
        return len(encoded)

    async def _deliver(
        self, topic: Topic[Any, Any], key: bytes | None, value: bytes, headers: Headers | None
    ) -> StoredRecord:
        record = self.append(topic, key, value, headers)
        for subscribed_topic, handler in self._handlers.get(topic.name, []):
            await handler(self._event(subscribed_topic, record))
        return record

    def append(
        self, topic: Topic[Any, Any], key: bytes | None, value: bytes, headers: Headers | None = None
    ) -> StoredRecord:
        """Store raw bytes as a producer would send them (no dispatch): for poison-message tests."""
        partition = (zlib.crc32(key) if key is not None else len(self._logs)) % max(topic.partitions, 1)
        log = self._logs[(topic.name, partition)]
        record = StoredRecord(
            topic.name,
            partition,
            len(log),
            key,
            value,
            tuple(normalize_headers(headers)),
            int(time.time() * 1000),
        )
        log.append(record)
        return record

    def records(self, topic: str) -> list[StoredRecord]:
        """Every stored record of ``topic``, by partition then offset."""
        return [r for (name, _), log in sorted(self._logs.items()) if name == topic for r in log]

    def decode(self, topic: Topic[K, V], record: StoredRecord) -> Event[K, V]:
        """Decode a stored record the way a consumer would."""
        return self._event(topic, record)

    def _event(self, topic: Topic[K, V], record: StoredRecord) -> Event[K, V]:
        return Event(
            topic=record.topic,
            key=self.codec.decode_key(topic, record.key),
            value=self.codec.decode_value(topic, record.value),
            headers=record.headers,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp_ms,
        )
