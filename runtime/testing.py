"""An in-memory bus and schema registry for quickstarts and users' unit tests: no servers needed.

The bus encodes as the Kafka bus does (schema ids, Confluent framing, generated codecs) and runs
handlers through the production consumer loop, so a handler tested here sees the bytes, retries,
dead letters and commits it will see in production.

    bus = InMemoryBus()
    bus.subscribe(MyHandler())
    await AgentLifecycleCreatedPublisher(bus).publish(AgentCreated(...), key="agent-1")
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .bus import RecordCodec
from .config import ConsumerSettings
from .consumer import ConsumerRunner
from .errors import IncompatibleSchemaError, RegistryError
from .handler import AnyHandler, consumer_group
from .memory_log import InMemoryConsumer, InMemoryDeadLetterWriter, InMemoryLog, StoredRecord
from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaVersion, canonical_schema
from .retry import RetryPolicy
from .topic import DeliveryResult, Event, Headers, Topic

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["InMemoryBus", "InMemoryLog", "InMemoryRegistry", "StoredRecord"]

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


class InMemoryBus:
    """Publishes into an in-memory Kafka (:class:`InMemoryLog`) and runs the subscribed handlers through
    the production handler loop (:class:`~schemabus.runtime.consumer.ConsumerRunner` over an
    :class:`InMemoryConsumer`): per-partition order, retries (``retry``), dead letters with the
    original bytes and headers in ``dlq.{topic}`` (``dead_letters``), poison records, commits.

    ``publish`` returns once every subscribed handler has handled (or dead-lettered) the record and
    committed it, as a consumer group would; what stops a runner in production (a handler raising
    with ``dead_letters=False``, an unimplemented stub) is raised to the publisher's caller. With
    ``metrics``, the handlers' counters and durations are reported there as a ``ConsumerRunner``'s are.
    """

    def __init__(
        self,
        registry: InMemoryRegistry | None = None,
        *,
        id_mode: IdMode = "register",
        retry: RetryPolicy | None = None,
        dead_letters: bool = True,
        service: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.registry = registry or InMemoryRegistry()
        self.codec = RecordCodec(SchemaIds(self.registry, id_mode))
        self.log = InMemoryLog()
        self.retry = retry
        self.dead_letters = dead_letters
        self.service = service
        self._handlers: list[AnyHandler] = []

    def subscribe(self, handler: AnyHandler) -> None:
        self.log.declare(handler.topic.name, handler.topic.partitions)
        self._handlers.append(handler)

    async def publish(
        self, topic: Topic[K, V], value: V, *, key: K | None = None, headers: Headers | None = None
    ) -> DeliveryResult:
        key_bytes = self.codec.encode_key(topic, key)
        value_bytes = self.codec.encode_value(topic, value)
        record = self.append(topic, key_bytes, value_bytes, headers)
        await self.deliver()
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
            self.append(topic, key_bytes, value_bytes, headers)
        await self.deliver()
        return len(encoded)

    async def deliver(self) -> None:
        """Run each subscribed handler whose consumer group has records left (after :meth:`append`, say)
        through the production loop until the group has committed every record of its topic."""
        behind = [h for h in self._handlers if not self.log.caught_up(self._group(h), h.topic.name)]
        if not behind:
            return
        runner = ConsumerRunner(
            "in-memory",
            self.registry,
            behind,
            service=self.service,
            retry=self.retry,
            dead_letters=InMemoryDeadLetterWriter(self.log) if self.dead_letters else False,
            # Its topics live in the in-memory log: there is no cluster to wait for or check them on.
            settings=ConsumerSettings(topic_check="off", startup_timeout=None),
            commit_interval=0.001,
            poll_timeout=0.005,
            consumer_factory=partial(InMemoryConsumer, log=self.log),
            metrics=self.metrics,
        )
        task = asyncio.create_task(runner.run(), name="schemabus-in-memory")
        try:
            while not task.done() and not all(self.log.caught_up(self._group(h), h.topic.name) for h in behind):
                await asyncio.sleep(0.001)
        finally:
            runner.stop()
            await task

    def _group(self, handler: AnyHandler) -> str:
        return consumer_group(handler, self.service)

    def append(
        self, topic: Topic[Any, Any], key: bytes | None, value: bytes | None, headers: Headers | None = None
    ) -> StoredRecord:
        """Store raw bytes as a producer would send them, without running the handlers (for poison-message
        tests: :meth:`deliver` then runs them)."""
        return self.log.append(topic.name, key, value, headers, partitions=topic.partitions)

    def records(self, topic: str) -> list[StoredRecord]:
        """Every stored record of ``topic``, by partition then offset (``dlq.{topic}`` holds dead letters)."""
        return self.log.records(topic)

    def decode(self, topic: Topic[K, V], record: StoredRecord) -> Event[K, V]:
        """Decode a stored record the way a consumer would."""
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
