"""Dead-letter records: the headers that say where a record came from and why it failed, and how a
failed record becomes one (:func:`build_dead_letter`)."""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
REASON_HANDLER_ERROR = "handler-error"
MAX_TEXT_BYTES = 8 * 1024  # message and stack trace; Kafka's default record limit is 1 MiB

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
