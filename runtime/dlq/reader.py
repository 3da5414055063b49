"""Reading dead letters back and replaying them: what ``schemabus dlq inspect`` and ``replay`` run."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from ..kafka_logging import BrokerErrors
from ..reading import read_to_end
from .records import (
    DLQ_PREFIX,
    DLQ_PRODUCER_MAX_BYTES,
    HEADER_ATTEMPTS,
    HEADER_CONSUMER_GROUP,
    HEADER_EXCEPTION_CLASS,
    HEADER_EXCEPTION_MESSAGE,
    HEADER_EXCEPTION_STACKTRACE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TIMESTAMP,
    HEADER_ORIGINAL_TOPIC,
    HEADER_PAYLOAD,
    HEADER_PAYLOAD_OMITTED,
    HEADER_PAYLOAD_SIZE,
    HEADER_PREFIX,
    HEADER_REASON,
    PAYLOAD_REFERENCE,
    TIMEOUT,
    ClientConfig,
    DeadLetterError,
    RawHeaders,
    broker_errors,
    client_config,
    dlq_topic_name,
    is_dlq_topic,
    message_fields,
    raw_headers,
)


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
    # A reference (``schemabus.dlq.payload: reference``): the record was too large to copy; its value
    # (``payload_size`` bytes) and what ``omitted`` names are only in the original topic.
    reference: bool = False
    payload_size: int | None = None
    omitted: tuple[str, ...] = ()
    dlq_headers: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def source(self) -> str:
        """Where the original record was: ``topic[partition]@offset``."""
        return f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"

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
            "payload": (
                {"copied": False, "size": self.payload_size, "omitted": list(self.omitted)}
                if self.reference
                else {"copied": True}
            ),
            "key": None if "key" in self.omitted else blob(self.key),
            "value": None if self.reference else blob(self.value),
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
    for k, v in raw_headers(headers):
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
        reference=own.get(HEADER_PAYLOAD) == PAYLOAD_REFERENCE.encode(),
        payload_size=_int(own.get(HEADER_PAYLOAD_SIZE)),
        omitted=tuple(p for p in (_text(own.get(HEADER_PAYLOAD_OMITTED)) or "").split(",") if p),
        dlq_headers=own,
    )


def _parse_message(message: Message) -> DeadLetter:
    return parse_dead_letter(**message_fields(message))


def _reader(config: ClientConfig, group: str | None, errors: BrokerErrors) -> Consumer:
    return Consumer(
        {
            **client_config(config),
            **errors.config(),
            "group.id": group or f"schemabus.dlq-inspect.{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )


def read_dead_letters(
    bootstrap: ClientConfig, dlq_topic: str, limit: int | None = 100, *, timeout: float = TIMEOUT
) -> list[DeadLetter]:
    """The records of ``dlq_topic`` (oldest first, at most ``limit``), without committing anything.

    Raises ServerUnavailableError when no broker answers within ``timeout`` seconds, LookupError when
    the topic does not exist."""
    conf = client_config(bootstrap)
    errors = broker_errors(conf)
    consumer = _reader(conf, None, errors)
    try:
        messages = read_to_end(consumer, dlq_topic, errors=errors, limit=limit, timeout=timeout)
    finally:
        consumer.close()
    letters = sorted((_parse_message(m) for m in messages), key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    return letters if limit is None else letters[:limit]


@dataclass
class ReplayResult:
    """What :func:`replay` republished, by original topic (``fetched``: how many of those were read
    back from the original topic, their dead letters being references), and what it could not:
    dead letters without an original topic (``skipped``), references whose record the original topic
    no longer has (``missing``: past its retention, or compacted away)."""

    replayed: Counter[str] = field(default_factory=Counter)
    skipped: list[DeadLetter] = field(default_factory=list)
    fetched: Counter[str] = field(default_factory=Counter)
    missing: list[DeadLetter] = field(default_factory=list)

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

    A dead letter that is a reference to its record (too large to copy) is replayed by reading the
    record back from its original topic, partition and offset and republishing that; when the topic
    no longer has it (past its retention, or compacted away) the dead letter is listed in
    :attr:`ReplayResult.missing`, and nothing is republished for it.

    Progress is committed under consumer group ``group`` (default ``schemabus.dlq-replay.{dlq_topic}``)
    once the broker acknowledged the republished records, so running replay again only republishes
    records that were dead-lettered since (dead letters skipped or missing are not tried again).

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
    conf = client_config(bootstrap)
    errors = broker_errors(conf)
    consumer = _reader(conf, group, errors)
    producer = Producer(
        {
            **conf,
            **errors.config(),
            "enable.idempotence": True,
            "acks": "all",
            # Records not acknowledged by then fail (and are reported) rather than wait for 5 minutes.
            "message.timeout.ms": max(1, int(timeout * 1000)),
            "message.max.bytes": DLQ_PRODUCER_MAX_BYTES,  # the original topic's limit is what counts
        }
    )
    result = ReplayResult()
    originals: Consumer | None = None  # reads the records that dead letters refer to
    try:
        messages = read_to_end(consumer, dlq_topic, errors=errors, group=group, limit=limit, timeout=timeout)
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
            key, value = letter.key, letter.value
            headers: list[tuple[str, str | bytes | None]] = list(letter.headers)
            if letter.reference:
                if originals is None:
                    originals = _reader(conf, None, errors)
                found_record = _read_original(originals, letter, errors=errors, timeout=timeout)
                if found_record is None:
                    result.missing.append(letter)
                    continue
                key, value = found_record.key(), found_record.value()
                headers = [(k, v) for k, v in raw_headers(found_record.headers()) if not k.startswith(HEADER_PREFIX)]
                result.fetched[target] += 1
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
            producer.produce(target, key=key, value=value, headers=headers, on_delivery=on_delivery, **kwargs)
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
        if originals is not None:
            originals.close()
    return result


def _read_original(consumer: Consumer, letter: DeadLetter, *, errors: BrokerErrors, timeout: float) -> Message | None:
    """The record ``letter`` refers to, read from its original topic; None when the topic no longer
    has it (past its retention, compacted away, or the topic or partition is gone)."""
    topic, partition, offset = letter.original_topic, letter.original_partition, letter.original_offset
    if topic is None or partition is None or offset is None:
        return None
    metadata = errors.call(
        f"read the metadata of topic {topic}", lambda: consumer.list_topics(topic, timeout=timeout), client=consumer
    ).topics.get(topic)
    if metadata is None or metadata.error is not None or partition not in metadata.partitions:
        return None
    low, high = errors.call(
        f"read the offsets of {topic}[{partition}]",
        partial(consumer.get_watermark_offsets, TopicPartition(topic, partition), timeout=timeout, cached=False),
        client=consumer,
        retry_for=timeout,
    )
    if not low <= offset < high:
        return None
    consumer.assign([TopicPartition(topic, partition, offset)])
    try:
        started = time.monotonic()
        while True:
            waited = time.monotonic() - started
            if waited > timeout:
                raise errors.unavailable(f"read {letter.source}", elapsed=waited, client=consumer)
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                errors(error)
                continue
            at = message.offset()
            assert at is not None
            return message if at == offset else None  # a later offset: the record was compacted away
    finally:
        consumer.unassign()


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
            f"  key:      {'not copied' if 'key' in d.omitted else show(d.key)}",
            f"  value:    {show(d.value)}",
        ]
        if d.reference:
            size = "?" if d.payload_size is None else str(d.payload_size)
            lines[-1] = f"  value:    payload not copied: {size} bytes, read it from {d.source}"
            if "headers" in d.omitted:
                lines.append("  headers:  not copied")
        if d.headers:
            lines.append("  headers:  " + ", ".join(f"{k}={show(v)}" for k, v in d.headers))
        if stacktrace and d.stacktrace:
            lines.append("  " + d.stacktrace.rstrip().replace("\n", "\n  "))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
