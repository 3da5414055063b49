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
from .errors import IncompatibleSchemaError, RegistryError
from .handler import AnyHandler
from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaVersion, canonical_schema
from .topic import DeliveryResult, Event, Headers, Topic, normalize_headers

__all__ = ["InMemoryBus", "InMemoryRegistry", "StoredRecord"]

K = TypeVar("K")
V = TypeVar("V")


class InMemoryRegistry:
    """Confluent's registry semantics: one global id per distinct schema, versions per subject, and
    re-registering a schema the subject holds returns its id unchecked. A new version must be
    compatible with the subject's earlier ones at the subject's level (:meth:`set_compatibility`,
    else ``default_level``, BACKWARD as in Confluent's registry), by the rules ``schemabus check``
    applies; a refusal raises :class:`IncompatibleSchemaError`, as :class:`ConfluentRegistry` does
    for a real registry's refusal. The bus sets no levels: the catalog's are set by ``schemabus register``.
    """

    def __init__(self, default_level: str = "BACKWARD") -> None:
        self.default_level = _known_level(default_level)
        self._levels: dict[str, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, tuple[str, str]] = {}
        self._subjects: dict[str, list[int]] = defaultdict(list)

    def set_compatibility(self, subject: str | None, level: str) -> None:
        """Set ``subject``'s compatibility level (Confluent's ``PUT /config/{subject}``), or with
        ``subject=None`` the global default (``PUT /config``). Levels: NONE, BACKWARD, FORWARD, FULL
        and their ``_TRANSITIVE`` forms."""
        if subject is None:
            self.default_level = _known_level(level)
        else:
            self._levels[subject] = _known_level(level)

    def compatibility(self, subject: str | None = None) -> str:
        """``subject``'s level, else the global default (``GET /config/{subject}?defaultToGlobal=true``)."""
        return self.default_level if subject is None else self._levels.get(subject, self.default_level)

    def register_schema(self, subject: str, schema: str, schema_type: str) -> int:
        key = (schema_type, canonical_schema(schema))
        schema_id = self._ids.get(key)
        if schema_id is not None and schema_id in self._subjects.get(subject, []):
            return schema_id
        self._check(subject, schema, schema_type)
        if schema_id is None:
            schema_id = len(self._ids) + 1
            self._ids[key] = schema_id
            self._schemas[schema_id] = (schema_type, schema)
        self._subjects[subject].append(schema_id)
        return schema_id

    def _check(self, subject: str, schema: str, schema_type: str) -> None:
        """Raise IncompatibleSchemaError when ``schema`` may not be the next version of ``subject``."""
        level = self.compatibility(subject)
        held = [(f"version {n}", *self._schemas[i]) for n, i in enumerate(self._subjects.get(subject, []), 1)]
        if level == "NONE" or not held:
            return
        against = held if level.endswith("_TRANSITIVE") else held[-1:]
        for label, held_type, _ in against:
            if held_type != schema_type:
                reason = f"the new schema is {schema_type}, {label} is {held_type}"
                raise IncompatibleSchemaError(subject, reason, level=level)
        # Imported on use: importing the runtime loads no codegen module.
        from schemabus.codegen.compat.local import check_texts
        from schemabus.codegen.diagnostics import SchemaError, SchemaErrors

        try:
            findings = check_texts(level, schema_type, ("new version", schema), [(n, t) for n, _, t in against])
        except (SchemaError, SchemaErrors) as e:
            raise RegistryError(
                f"the registry refused the schema of subject {subject!r} as invalid: {' '.join(str(e).split())}",
                http_status=422,
                error_code=42201,
            ) from None
        if findings:
            compared = sorted(
                {f.writer_version if f.reader_version == "new version" else f.reader_version for f in findings},
                key=lambda label: int(label.removeprefix("version ")),
            )
            noun = "incompatibility" if len(findings) == 1 else "incompatibilities"
            raise IncompatibleSchemaError(
                subject,
                f"{len(findings)} {noun} with {', '.join(compared)}",
                level=level,
                incompatibilities=[f"{f} [reader: {f.reader_version}, writer: {f.writer_version}]" for f in findings],
            )

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


def _known_level(level: str) -> str:
    from schemabus.codegen.compat.levels import LEVELS  # imported on use, as in InMemoryRegistry._check

    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r} (expected one of {', '.join(LEVELS)})")
    return level
