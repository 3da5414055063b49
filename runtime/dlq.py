"""Dead-letter topics: where a record goes when it cannot be handled, and how to look at it and replay it.

A record that cannot be decoded (a poison message) or whose handler kept failing is written to
``dlq.{topic}`` with its **original key, value and headers, byte for byte**, plus headers that say
where it came from and why it failed. They follow Kafka Connect's ``__connect.errors.*`` and
Spring Kafka's ``kafka_dlt-*`` headers, under one namespace; every value is UTF-8 text:

==========================================  =====================================================
``schemabus.dlq.original.topic``            topic the record was read from
``schemabus.dlq.original.partition``        its partition (decimal)
``schemabus.dlq.original.offset``           its offset (decimal)
``schemabus.dlq.original.timestamp``        its timestamp, ms since the epoch (decimal)
``schemabus.dlq.consumer.group``            consumer group of the handler that gave up
``schemabus.dlq.exception.class``           fully qualified class of the error (``builtins.ValueError``)
``schemabus.dlq.exception.message``         its message (at most 8 KiB)
``schemabus.dlq.exception.stacktrace``      its traceback; the last 8 KiB when longer
``schemabus.dlq.attempts``                  how many times the handler ran (0 for a poison message)
``schemabus.dlq.reason``                    ``handler-error``, or the poison reason: ``bad-magic``,
                                            ``truncated``, ``unknown-schema-id``, ``invalid-payload``,
                                            ``validation``
==========================================  =====================================================

:class:`DeadLetterWriter` produces with an idempotent producer and waits for the broker's
acknowledgement; when it cannot write, it raises :class:`DeadLetterError` so that the consumer stops
without committing the record. :func:`read_dead_letters` and :func:`replay` are what
``schemabus dlq inspect`` and ``schemabus dlq replay`` run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export

from .config import secret_values
from .kafka_logging import BrokerErrors, librdkafka_logger
from .serde import DeserializationError

__all__ = [
    "DLQ_PREFIX",
    "HEADER_ATTEMPTS",
    "HEADER_CONSUMER_GROUP",
    "HEADER_EXCEPTION_CLASS",
    "HEADER_EXCEPTION_MESSAGE",
    "HEADER_EXCEPTION_STACKTRACE",
    "HEADER_ORIGINAL_OFFSET",
    "HEADER_ORIGINAL_PARTITION",
    "HEADER_ORIGINAL_TIMESTAMP",
    "HEADER_ORIGINAL_TOPIC",
    "HEADER_PREFIX",
    "HEADER_REASON",
    "MAX_TEXT_BYTES",
    "REASON_HANDLER_ERROR",
    "ClientConfig",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterRecord",
    "DeadLetterWriter",
    "ReplayResult",
    "build_dead_letter",
    "dlq_topic_name",
    "is_dlq_topic",
    "parse_dead_letter",
    "read_dead_letters",
    "replay",
]

DLQ_PREFIX = "dlq."
HEADER_PREFIX = "schemabus.dlq."
HEADER_ORIGINAL_TOPIC = HEADER_PREFIX + "original.topic"
HEADER_ORIGINAL_PARTITION = HEADER_PREFIX + "original.partition"
HEADER_ORIGINAL_OFFSET = HEADER_PREFIX + "original.offset"
HEADER_ORIGINAL_TIMESTAMP = HEADER_PREFIX + "original.timestamp"
HEADER_CONSUMER_GROUP = HEADER_PREFIX + "consumer.group"
HEADER_EXCEPTION_CLASS = HEADER_PREFIX + "exception.class"
HEADER_EXCEPTION_MESSAGE = HEADER_PREFIX + "exception.message"
HEADER_EXCEPTION_STACKTRACE = HEADER_PREFIX + "exception.stacktrace"
HEADER_ATTEMPTS = HEADER_PREFIX + "attempts"
HEADER_REASON = HEADER_PREFIX + "reason"
REASON_HANDLER_ERROR = "handler-error"
MAX_TEXT_BYTES = 8 * 1024  # message and stack trace; Kafka's default record limit is 1 MiB

# bootstrap servers ("host:port,…") or a full librdkafka client configuration (security settings etc.)
ClientConfig = str | Mapping[str, Any]
TIMEOUT = 30.0


# Headers as confluent's Message.headers() returns them, or as a producer accepts them.
RawHeaders = Mapping[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]] | None


def _headers(headers: RawHeaders) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, b"" if v is None else v.encode() if isinstance(v, str) else bytes(v)) for k, v in items]


def dlq_topic_name(topic: str) -> str:
    """The dead-letter topic of ``topic``: ``dlq.{topic}``."""
    return DLQ_PREFIX + topic


def _client_config(config: ClientConfig) -> dict[str, Any]:
    if isinstance(config, str):
        return {"bootstrap.servers": config, "logger": librdkafka_logger()}
    return {"logger": librdkafka_logger(), **config}


def _broker_errors(conf: Mapping[str, Any]) -> BrokerErrors:
    return BrokerErrors(str(conf.get("bootstrap.servers", "?")), secret_values(conf))


def is_dlq_topic(topic: str) -> bool:
    """Whether ``topic`` is a dead-letter topic (``dlq.{topic}``)."""
    return topic.startswith(DLQ_PREFIX) and len(topic) > len(DLQ_PREFIX)


class DeadLetterError(RuntimeError):
    """A record could not be written to its dead-letter topic (so it must not be committed)."""


# --- building dead-letter records ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A record to write to a dead-letter topic: original key and value bytes, original plus dlq headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> bytes | None:
        for k, v in reversed(self.headers):
            if k == name:
                return v
        return None


def _qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def _head(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = f"…[{len(data) - limit} bytes truncated]"
    return data[: max(limit - len(marker.encode()), 0)].decode(errors="ignore") + marker


def _tail(text: str, limit: int) -> str:
    """The end of ``text`` within ``limit`` UTF-8 bytes: Python tracebacks end with the innermost frame."""
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = f"…[{len(data) - limit} bytes truncated]\n"
    keep = max(limit - len(marker.encode()), 0)
    return marker + data[len(data) - keep :].decode(errors="ignore")


def format_stacktrace(exc: BaseException, limit: int = MAX_TEXT_BYTES) -> str:
    return _tail("".join(traceback.format_exception(exc)), limit)


def build_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: RawHeaders,
    group: str,
    error: BaseException,
    attempts: int,
    reason: str | None = None,
    max_text_bytes: int = MAX_TEXT_BYTES,
) -> DeadLetterRecord:
    """The dead-letter record of a record of ``topic`` that failed with ``error``.

    ``reason`` defaults to the poison reason of a :class:`DeserializationError`, else ``handler-error``.
    Dead-letter headers the record already carried (it failed before, was replayed, failed again)
    are replaced, not repeated.
    """
    if reason is None:
        reason = error.reason if isinstance(error, DeserializationError) else REASON_HANDLER_ERROR
    kept = tuple((k, v) for k, v in _headers(headers) if not k.startswith(HEADER_PREFIX))
    dlq_headers = (
        (HEADER_ORIGINAL_TOPIC, topic),
        (HEADER_ORIGINAL_PARTITION, str(partition)),
        (HEADER_ORIGINAL_OFFSET, str(offset)),
        (HEADER_ORIGINAL_TIMESTAMP, str(timestamp_ms)),
        (HEADER_CONSUMER_GROUP, group),
        (HEADER_EXCEPTION_CLASS, _qualified_name(error)),
        (HEADER_EXCEPTION_MESSAGE, _head(str(error), max_text_bytes)),
        (HEADER_EXCEPTION_STACKTRACE, format_stacktrace(error, max_text_bytes)),
        (HEADER_ATTEMPTS, str(attempts)),
        (HEADER_REASON, reason),
    )
    return DeadLetterRecord(
        topic=dlq_topic_name(topic),
        key=key,
        value=value,
        headers=kept + tuple((k, v.encode()) for k, v in dlq_headers),
    )


def dead_letter_of(message: Message, *, group: str, error: BaseException, attempts: int) -> DeadLetterRecord:
    """:func:`build_dead_letter` for a message as a confluent ``Consumer`` returns it."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return build_dead_letter(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        headers=message.headers(),
        group=group,
        error=error,
        attempts=attempts,
    )


# --- writing ---------------------------------------------------------------------------------


class DeadLetterWriter:
    """Writes dead-letter records and waits until the broker has them.

    ``config`` is the bootstrap servers or a client configuration; the producer is idempotent with
    ``acks=all``. With ``create_topics`` a missing ``dlq.*`` topic is created on first use
    (``partitions`` and ``replication_factor`` default to the broker's defaults).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        create_topics: bool = True,
        partitions: int | None = None,
        replication_factor: int | None = None,
        timeout: float = TIMEOUT,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        conf = _client_config(config)
        self.timeout = timeout
        self._producer_conf = {
            **conf,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 0,
            "message.timeout.ms": int(timeout * 1000),
            **(producer_config or {}),
        }
        self._producer_made: Producer | None = None  # on the first write: a writer that never writes has none
        self._admin = AdminClient(conf) if create_topics else None
        self._partitions = partitions or -1
        self._replication = replication_factor or -1
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    @property
    def _producer(self) -> Producer:
        if self._producer_made is None:
            with self._lock:
                if self._producer_made is None:
                    self._producer_made = Producer(self._producer_conf)
        return self._producer_made

    def ensure_topic(self, topic: str) -> None:
        """Create ``topic`` unless it exists (a no-op without ``create_topics``)."""
        if self._admin is None or topic in self._ready:
            return
        with self._lock:
            if topic in self._ready:
                return
            try:
                # All topics: a metadata request for one topic could auto-create it with broker defaults.
                existing = self._admin.list_topics(timeout=self.timeout).topics
                if topic not in existing:
                    futures = self._admin.create_topics(
                        [NewTopic(topic, num_partitions=self._partitions, replication_factor=self._replication)],
                        request_timeout=self.timeout,
                    )
                    try:
                        futures[topic].result(timeout=self.timeout)
                    except KafkaException as e:
                        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                            raise
            except Exception as e:
                raise DeadLetterError(f"cannot create dead-letter topic {topic}: {e}") from e
            self._ready.add(topic)

    def write(self, record: DeadLetterRecord) -> tuple[int, int]:
        """Produce ``record`` and wait for the broker's acknowledgement; return (partition, offset).

        Raises :class:`DeadLetterError` when the record is not stored (broker error or timeout).
        """
        self.ensure_topic(record.topic)
        done = threading.Event()
        outcome: list[tuple[KafkaError | None, Message]] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            outcome.append((error, message))
            done.set()

        try:
            self._producer.produce(
                record.topic,
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                on_delivery=on_delivery,
            )
        except (KafkaException, BufferError) as e:
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {e}") from e
        deadline = time.monotonic() + self.timeout + 5.0  # librdkafka gives up after `timeout` itself
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadLetterError(f"no acknowledgement from dead-letter topic {record.topic} in {self.timeout}s")
            self._producer.poll(min(remaining, 0.1))
        error, message = outcome[0]
        if error is not None:
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {error.str()}")
        partition, offset = message.partition(), message.offset()
        return (partition if partition is not None else -1, offset if offset is not None else -1)

    async def write_async(self, record: DeadLetterRecord) -> tuple[int, int]:
        """:meth:`write` in a worker thread, so the event loop keeps serving other partitions."""
        return await asyncio.get_running_loop().run_in_executor(None, self.write, record)

    def close(self) -> None:
        if self._producer_made is not None:
            self._producer_made.flush(self.timeout)


# --- reading -----------------------------------------------------------------------------------


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


def _int(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class DeadLetter:
    """A record read back from a dead-letter topic, with its dead-letter headers parsed."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]  # the original headers (dead-letter headers removed)
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_timestamp_ms: int | None = None
    consumer_group: str | None = None
    exception_class: str | None = None
    exception_message: str | None = None
    stacktrace: str | None = None
    attempts: int | None = None
    reason: str | None = None
    dlq_headers: dict[str, bytes] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: bytes as base64, and as text when they are UTF-8."""

        def blob(data: bytes | None) -> dict[str, Any] | None:
            if data is None:
                return None
            out: dict[str, Any] = {"base64": base64.b64encode(data).decode(), "size": len(data)}
            with contextlib.suppress(UnicodeDecodeError):
                out["text"] = data.decode()
            if len(data) >= 5 and data[0] == 0:
                out["schema_id"] = int.from_bytes(data[1:5], "big")
            return out

        return {
            "dlq": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
            "timestamp_ms": self.timestamp_ms,
            "original": {
                "topic": self.original_topic,
                "partition": self.original_partition,
                "offset": self.original_offset,
                "timestamp_ms": self.original_timestamp_ms,
            },
            "consumer_group": self.consumer_group,
            "reason": self.reason,
            "attempts": self.attempts,
            "exception": {"class": self.exception_class, "message": self.exception_message},
            "stacktrace": self.stacktrace,
            "key": blob(self.key),
            "value": blob(self.value),
            "headers": [{"name": k, "value": blob(v)} for k, v in self.headers],
        }


def parse_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: RawHeaders,
) -> DeadLetter:
    own: dict[str, bytes] = {}
    original: list[tuple[str, bytes]] = []
    for k, v in _headers(headers):
        if k.startswith(HEADER_PREFIX):
            own[k] = v
        else:
            original.append((k, v))
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        headers=tuple(original),
        original_topic=_text(own.get(HEADER_ORIGINAL_TOPIC)),
        original_partition=_int(own.get(HEADER_ORIGINAL_PARTITION)),
        original_offset=_int(own.get(HEADER_ORIGINAL_OFFSET)),
        original_timestamp_ms=_int(own.get(HEADER_ORIGINAL_TIMESTAMP)),
        consumer_group=_text(own.get(HEADER_CONSUMER_GROUP)),
        exception_class=_text(own.get(HEADER_EXCEPTION_CLASS)),
        exception_message=_text(own.get(HEADER_EXCEPTION_MESSAGE)),
        stacktrace=_text(own.get(HEADER_EXCEPTION_STACKTRACE)),
        attempts=_int(own.get(HEADER_ATTEMPTS)),
        reason=_text(own.get(HEADER_REASON)),
        dlq_headers=own,
    )


def _parse_message(message: Message) -> DeadLetter:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return parse_dead_letter(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        headers=message.headers(),
    )


def _reader(config: ClientConfig, group: str | None, errors: BrokerErrors) -> Consumer:
    return Consumer(
        {
            **_client_config(config),
            **errors.config(),
            "group.id": group or f"schemabus.dlq-inspect.{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )


def _read_to_end(
    consumer: Consumer,
    topic: str,
    *,
    errors: BrokerErrors,
    group: str | None = None,
    limit: int | None,
    timeout: float,
) -> list[Message]:
    """The records of every partition of ``topic`` from the start (or ``group``'s committed offset) to
    the end as of now, up to ``limit`` in all (the oldest of each partition first). A broker that does
    not answer within ``timeout`` (or a read that makes no progress for that long) raises
    ServerUnavailableError; a topic that does not exist, LookupError."""
    metadata = errors.call(
        f"read the metadata of topic {topic}", lambda: consumer.list_topics(topic, timeout=timeout), client=consumer
    ).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise LookupError(f"topic {topic} does not exist on {errors.servers}")
    remaining: dict[int, int] = {}  # partition -> end offset
    starts: list[TopicPartition] = []
    committed: dict[int, int] = {}
    if group is not None:
        found = errors.call(
            f"read the offsets committed by group {group} on {topic}",
            lambda: consumer.committed([TopicPartition(topic, p) for p in metadata.partitions], timeout=timeout),
            client=consumer,
            retry_for=timeout,
        )
        committed = {tp.partition: tp.offset for tp in found if tp.offset >= 0}
    for p in sorted(metadata.partitions):
        low, high = errors.call(
            f"read the offsets of {topic}[{p}]",
            partial(consumer.get_watermark_offsets, TopicPartition(topic, p), timeout=timeout, cached=False),
            client=consumer,
            retry_for=timeout,
        )
        start = max(committed.get(p, low), low)
        if start < high:
            remaining[p] = high
            starts.append(TopicPartition(topic, p, start))
    if not starts:
        return []
    consumer.assign(starts)
    out: list[Message] = []
    progress = time.monotonic()
    while remaining and (limit is None or len(out) < limit):
        idle = time.monotonic() - progress
        if idle > timeout:
            what = f"read {topic} to the end (partitions {sorted(remaining)} gave no record)"
            raise errors.unavailable(what, elapsed=idle, client=consumer)
        batch = consumer.consume(num_messages=500 if limit is None else min(500, limit - len(out)), timeout=0.2)
        for message in batch:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                errors(error)
                continue
            p, o = message.partition(), message.offset()
            assert p is not None and o is not None
            end = remaining.get(p)
            if end is None or o >= end:
                continue
            out.append(message)
            progress = time.monotonic()
            if o >= end - 1:
                del remaining[p]
        if not batch:  # offsets may end in a gap (a transaction marker): ask where the consumer is
            for tp in consumer.position([TopicPartition(topic, p) for p in list(remaining)]):
                if tp.offset >= remaining[tp.partition]:
                    del remaining[tp.partition]
    return out if limit is None else out[:limit]


def read_dead_letters(
    bootstrap: ClientConfig, dlq_topic: str, limit: int | None = 100, *, timeout: float = TIMEOUT
) -> list[DeadLetter]:
    """The records of ``dlq_topic`` (oldest first, at most ``limit``), without committing anything.

    Raises ServerUnavailableError when no broker answers within ``timeout`` seconds, LookupError when
    the topic does not exist."""
    conf = _client_config(bootstrap)
    errors = _broker_errors(conf)
    consumer = _reader(conf, None, errors)
    try:
        messages = _read_to_end(consumer, dlq_topic, errors=errors, limit=limit, timeout=timeout)
    finally:
        consumer.close()
    letters = sorted((_parse_message(m) for m in messages), key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    return letters if limit is None else letters[:limit]


@dataclass
class ReplayResult:
    """What :func:`replay` republished, by original topic, and what it could not (no original topic)."""

    replayed: Counter[str] = field(default_factory=Counter)
    skipped: list[DeadLetter] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.replayed.values())


def replay(
    bootstrap: ClientConfig,
    dlq_topic: str,
    *,
    group: str | None = None,
    limit: int | None = None,
    timeout: float = TIMEOUT,
) -> ReplayResult:
    """Republish every record of ``dlq_topic`` to its original topic: original key, value and headers
    (without the dead-letter headers), into its original partition when the topic still has it.

    Progress is committed under consumer group ``group`` (default ``schemabus.dlq-replay.{dlq_topic}``)
    once the broker acknowledged the republished records, so running replay again only republishes
    records that were dead-lettered since.

    ``dlq_topic`` must be a dead-letter topic (``dlq.*``): ValueError otherwise, before anything is read.
    Raises ServerUnavailableError when no broker answers within ``timeout`` seconds (nothing is
    committed then), LookupError when the topic does not exist.
    """
    if not is_dlq_topic(dlq_topic):
        raise ValueError(
            f"{dlq_topic} is not a dead-letter topic (their names start with {DLQ_PREFIX!r}): "
            f"its dead letters are in {dlq_topic_name(dlq_topic)}"
        )
    group = group or f"schemabus.dlq-replay.{dlq_topic}"
    conf = _client_config(bootstrap)
    errors = _broker_errors(conf)
    consumer = _reader(conf, group, errors)
    producer = Producer(
        {
            **conf,
            **errors.config(),
            "enable.idempotence": True,
            "acks": "all",
            # Records not acknowledged by then fail (and are reported) rather than wait for 5 minutes.
            "message.timeout.ms": max(1, int(timeout * 1000)),
        }
    )
    result = ReplayResult()
    try:
        messages = _read_to_end(consumer, dlq_topic, errors=errors, group=group, limit=limit, timeout=timeout)
        letters = [_parse_message(m) for m in messages]
        failures: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error)

        partitions: dict[str, int] = {}
        for letter in letters:
            target = letter.original_topic
            if not target:
                result.skipped.append(letter)
                continue
            if target not in partitions:
                found = errors.call(
                    f"read the metadata of topic {target}",
                    partial(producer.list_topics, target, timeout=timeout),
                    client=producer,
                ).topics.get(target)
                partitions[target] = 0 if found is None or found.error is not None else len(found.partitions)
            kwargs: dict[str, Any] = {}
            if letter.original_partition is not None and 0 <= letter.original_partition < partitions[target]:
                kwargs["partition"] = letter.original_partition
            producer.produce(
                target,
                key=letter.key,
                value=letter.value,
                headers=list(letter.headers),
                on_delivery=on_delivery,
                **kwargs,
            )
            producer.poll(0)
            result.replayed[target] += 1
        started = time.monotonic()
        left = producer.flush(timeout + 5.0)  # message.timeout.ms fails what is left before that
        if left or (failures and all(errors.unreachable_error(f) for f in failures)):
            raise errors.unavailable(
                f"republish the records of {dlq_topic} (nothing committed)",
                elapsed=time.monotonic() - started,
                fallback=failures[0].str() if failures else None,
            )
        if failures:
            raise DeadLetterError(f"replay of {dlq_topic}: {failures[0].str()}; nothing committed")
        if messages:
            ends: dict[int, int] = {}
            for m in messages:
                p, o = m.partition(), m.offset()
                assert p is not None and o is not None
                ends[p] = max(ends.get(p, -1), o + 1)
            errors.call(
                f"commit the replayed offsets of group {group} (the records were republished; "
                f"a new replay would send them again)",
                lambda: consumer.commit(
                    offsets=[TopicPartition(dlq_topic, p, o) for p, o in sorted(ends.items())], asynchronous=False
                ),
                client=consumer,
            )
    finally:
        consumer.close()
    return result


def describe(letters: Sequence[DeadLetter], *, stacktrace: bool = False) -> str:
    """Human-readable text for ``schemabus dlq inspect``."""

    def show(data: bytes | None) -> str:
        if data is None:
            return "null"
        try:
            text = data.decode()
            if text.isprintable():
                return f"{text[:200]!r}{'…' if len(text) > 200 else ''} ({len(data)} bytes)"
        except UnicodeDecodeError:
            pass
        framed = f", schema id {int.from_bytes(data[1:5], 'big')}" if len(data) >= 5 and data[0] == 0 else ""
        return f"{data[:32].hex(' ')}{' …' if len(data) > 32 else ''} ({len(data)} bytes{framed})"

    blocks = []
    for d in letters:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.timestamp_ms / 1000))
        lines = [
            f"{d.topic}[{d.partition}]@{d.offset}  {when}  reason={d.reason}  attempts={d.attempts}",
            f"  original: {d.original_topic}[{d.original_partition}]@{d.original_offset}  group={d.consumer_group}",
            f"  error:    {d.exception_class}: {d.exception_message}",
            f"  key:      {show(d.key)}",
            f"  value:    {show(d.value)}",
        ]
        if d.headers:
            lines.append("  headers:  " + ", ".join(f"{k}={show(v)}" for k, v in d.headers))
        if stacktrace and d.stacktrace:
            lines.append("  " + d.stacktrace.rstrip().replace("\n", "\n  "))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
