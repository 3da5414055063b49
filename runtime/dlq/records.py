"""Dead-letter records: the headers that say where a record came from and why it failed, and how a
failed record becomes one (:func:`build_dead_letter`)."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import Message

from ..config import secret_values
from ..kafka_logging import BrokerErrors, librdkafka_logger
from ..serde import DeserializationError

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
# Only on a dead letter that could not hold a copy of the record (a reference to it instead):
HEADER_PAYLOAD = HEADER_PREFIX + "payload"  # "reference"
HEADER_PAYLOAD_SIZE = HEADER_PREFIX + "payload.size"  # bytes of the original value (decimal)
HEADER_PAYLOAD_OMITTED = HEADER_PREFIX + "payload.omitted"  # what was left out: "value", "value,key,headers"
PAYLOAD_REFERENCE = "reference"
REASON_HANDLER_ERROR = "handler-error"
MAX_TEXT_BYTES = 8 * 1024  # message and stack trace; Kafka's default record limit is 1 MiB
SHORT_TEXT_BYTES = 1024  # message and stack trace of a dead letter that is too large with MAX_TEXT_BYTES
# Bytes a dead-letter topic takes beyond its source topic's max.message.bytes: the dead-letter headers
# (at most 2 * MAX_TEXT_BYTES and a few short ones) and the record batch's framing.
DLQ_HEADROOM_BYTES = 64 * 1024
# The dead-letter producer's message.max.bytes (librdkafka's default is 1,000,000, less than the
# broker takes by default): the topic's max.message.bytes is the limit that counts.
DLQ_PRODUCER_MAX_BYTES = 100 * 1024 * 1024
# What a record batch of one record adds to its key, value and headers (batch header 61 bytes, record
# and header lengths as varints), rounded up.
RECORD_OVERHEAD_BYTES = 128

# bootstrap servers ("host:port,…") or a full librdkafka client configuration (security settings etc.)
ClientConfig = str | Mapping[str, Any]
TIMEOUT = 30.0


# Headers as confluent's Message.headers() returns them, or as a producer accepts them.
RawHeaders = Mapping[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]] | None


def raw_headers(headers: RawHeaders) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, b"" if v is None else v.encode() if isinstance(v, str) else bytes(v)) for k, v in items]


def dlq_topic_name(topic: str) -> str:
    """The dead-letter topic of ``topic``: ``dlq.{topic}``."""
    return DLQ_PREFIX + topic


def client_config(config: ClientConfig) -> dict[str, Any]:
    if isinstance(config, str):
        return {"bootstrap.servers": config, "logger": librdkafka_logger()}
    return {"logger": librdkafka_logger(), **config}


def broker_errors(conf: Mapping[str, Any]) -> BrokerErrors:
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

    @property
    def size(self) -> int:
        """An upper bound of the bytes this record takes as a record batch of its own: what the
        producer's ``message.max.bytes`` and the topic's ``max.message.bytes`` are compared with."""
        return (
            RECORD_OVERHEAD_BYTES
            + len(self.key or b"")
            + len(self.value or b"")
            + sum(len(k.encode()) + len(v) + 10 for k, v in self.headers)
        )

    @property
    def is_reference(self) -> bool:
        """Whether this dead letter points to its record instead of holding a copy (see :func:`reference_to`)."""
        return self.header(HEADER_PAYLOAD) == PAYLOAD_REFERENCE.encode()


def _qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


_HEAD_MARKER = re.compile(r"…\[(\d+) bytes truncated\]\Z")
_TAIL_MARKER = re.compile(r"\A…\[(\d+) bytes truncated\]\n")


def _head(text: str, limit: int) -> str:
    """The start of ``text`` within ``limit`` UTF-8 bytes, ending with a marker that says how many
    bytes were cut (a text cut before is cut again with the two counts added)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    before = _HEAD_MARKER.search(text)
    cut = int(before.group(1)) if before else 0
    if before:
        data = text[: before.start()].encode()
    keep = min(limit, len(data))
    while True:  # the marker's length depends on the count it shows
        marker = f"…[{len(data) - keep + cut} bytes truncated]"
        fit = max(limit - len(marker.encode()), 0)
        if fit >= keep or keep == 0:
            break
        keep = fit
    return data[:keep].decode(errors="ignore") + marker


def _tail(text: str, limit: int) -> str:
    """The end of ``text`` within ``limit`` UTF-8 bytes: Python tracebacks end with the innermost frame.
    It starts with a marker that says how many bytes were cut (counts add up when cut again)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    before = _TAIL_MARKER.match(text)
    cut = int(before.group(1)) if before else 0
    if before:
        data = text[before.end() :].encode()
    keep = min(limit, len(data))
    while True:
        marker = f"…[{len(data) - keep + cut} bytes truncated]\n"
        fit = max(limit - len(marker.encode()), 0)
        if fit >= keep or keep == 0:
            break
        keep = fit
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
    kept = tuple((k, v) for k, v in raw_headers(headers) if not k.startswith(HEADER_PREFIX))
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


def shortened(record: DeadLetterRecord, max_text_bytes: int = SHORT_TEXT_BYTES) -> DeadLetterRecord:
    """``record`` with its exception message and stack trace cut to ``max_text_bytes`` each (the end of
    the stack trace kept), as :func:`build_dead_letter` cuts them: what a dead letter too large for
    its topic tries before :func:`reference_to`."""

    def cut(name: str, value: bytes) -> bytes:
        if name == HEADER_EXCEPTION_MESSAGE:
            return _head(value.decode(errors="replace"), max_text_bytes).encode()
        if name == HEADER_EXCEPTION_STACKTRACE:
            return _tail(value.decode(errors="replace"), max_text_bytes).encode()
        return value

    return replace(record, headers=tuple((k, cut(k, v)) for k, v in record.headers))


def reference_to(record: DeadLetterRecord, *, limit: int | None = None) -> DeadLetterRecord:
    """A dead letter that points to the record instead of copying it, for a record whose copy its
    dead-letter topic cannot take: no value (empty bytes, so that no compaction reads it as a
    tombstone), the dead-letter headers of ``record`` (texts :func:`shortened`) with its original
    topic, partition and offset, and :data:`HEADER_PAYLOAD` ``reference``, :data:`HEADER_PAYLOAD_SIZE`
    (the value's size) and :data:`HEADER_PAYLOAD_OMITTED` (what was left out).

    The original key and headers are kept when the result's :attr:`~DeadLetterRecord.size` is within
    ``limit`` (bytes; None: always), else left out too, the headers first.
    """
    short = shortened(record)
    own = tuple((k, v) for k, v in short.headers if k.startswith(HEADER_PREFIX) and not k.startswith(HEADER_PAYLOAD))
    original = tuple((k, v) for k, v in short.headers if not k.startswith(HEADER_PREFIX))
    size = str(len(record.value or b"")).encode()
    candidates: list[tuple[bytes | None, tuple[tuple[str, bytes], ...], str]] = [
        (record.key, original, "value"),
        (record.key, (), "value,headers" if original else "value"),
        (None, (), "value" + (",key" if record.key is not None else "") + (",headers" if original else "")),
    ]
    for key, headers, omitted in candidates:
        flags = ((HEADER_PAYLOAD, PAYLOAD_REFERENCE.encode()), (HEADER_PAYLOAD_SIZE, size))
        pointer = DeadLetterRecord(
            topic=record.topic,
            key=key,
            value=b"",
            headers=headers + own + flags + ((HEADER_PAYLOAD_OMITTED, omitted.encode()),),
        )
        if limit is None or pointer.size <= limit:
            break
    return pointer


def message_fields(message: Message) -> dict[str, Any]:
    """Where a consumed message was and what it held, as :func:`build_dead_letter` and
    ``parse_dead_letter`` take them."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp_ms": message.timestamp()[1],
        "key": message.key(),
        "value": message.value(),
        "headers": message.headers(),
    }


def dead_letter_of(message: Message, *, group: str, error: BaseException, attempts: int) -> DeadLetterRecord:
    """:func:`build_dead_letter` for a message as a confluent ``Consumer`` returns it."""
    return build_dead_letter(**message_fields(message), group=group, error=error, attempts=attempts)
