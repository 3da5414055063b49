"""Dead-letter records: original bytes and headers kept, failure headers added, stack traces truncated."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import traceback
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka import KafkaError

from schemabus.runtime import DeserializationError
from schemabus.runtime.dlq import (
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
    MAX_TEXT_BYTES,
    PAYLOAD_REFERENCE,
    SHORT_TEXT_BYTES,
    DeadLetterError,
    DeadLetterRecord,
    DeadLetterWriter,
    build_dead_letter,
    describe,
    dlq_topic_name,
    parse_dead_letter,
    reference_to,
    shortened,
)
from schemabus.runtime.dlq.records import DLQ_HEADROOM_BYTES, DLQ_PRODUCER_MAX_BYTES
from schemabus.runtime.dlq_cli import dlq

KEY = b"agent-\xff\x00-7"  # not UTF-8: must survive byte for byte
VALUE = bytes([0, 0, 0, 0, 42]) + bytes(range(256))
HEADERS = [("trace", b"t-1"), ("tenant", b"acme"), ("trace", b"t-2"), ("empty", None)]


class PaymentDeclined(Exception):
    pass


def _raise(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as e:
        return e


def _build(error: BaseException, **kwargs: object) -> DeadLetterRecord:
    args: dict[str, object] = {
        "topic": "billing.invoice.created",
        "partition": 4,
        "offset": 1234567,
        "timestamp_ms": 1_700_000_000_123,
        "key": KEY,
        "value": VALUE,
        "headers": HEADERS,
        "group": "svc.billing.invoice.created.charge",
        "error": error,
        "attempts": 4,
    }
    args.update(kwargs)
    return build_dead_letter(**args)  # type: ignore[arg-type]


def _dlq_headers(record: DeadLetterRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers if k.startswith(HEADER_PREFIX)}


def test_dead_letter_keeps_original_bytes_and_headers_and_adds_failure_headers() -> None:
    record = _build(_raise(PaymentDeclined("card expired")))
    assert record.topic == "dlq.billing.invoice.created" == dlq_topic_name("billing.invoice.created")
    assert record.key == KEY
    assert record.value == VALUE
    # Original headers first, in order, repeats kept (a null value becomes empty bytes).
    assert list(record.headers[:4]) == [("trace", b"t-1"), ("tenant", b"acme"), ("trace", b"t-2"), ("empty", b"")]
    headers = _dlq_headers(record)
    assert [k for k, _ in record.headers[4:]] == list(headers)  # each dead-letter header once
    assert headers[HEADER_ORIGINAL_TOPIC] == "billing.invoice.created"
    assert headers[HEADER_ORIGINAL_PARTITION] == "4"
    assert headers[HEADER_ORIGINAL_OFFSET] == "1234567"
    assert headers[HEADER_ORIGINAL_TIMESTAMP] == "1700000000123"
    assert headers[HEADER_CONSUMER_GROUP] == "svc.billing.invoice.created.charge"
    assert headers[HEADER_EXCEPTION_CLASS] == f"{__name__}.PaymentDeclined"
    assert headers[HEADER_EXCEPTION_MESSAGE] == "card expired"
    assert headers[HEADER_ATTEMPTS] == "4"
    assert headers[HEADER_REASON] == "handler-error"
    trace = headers[HEADER_EXCEPTION_STACKTRACE]
    assert trace.startswith("Traceback (most recent call last):")
    assert "in _raise" in trace
    assert trace.rstrip().endswith("PaymentDeclined: card expired")


def test_header_names_follow_one_documented_namespace() -> None:
    assert HEADER_PREFIX == "schemabus.dlq."
    names = [
        HEADER_ORIGINAL_TOPIC,
        HEADER_ORIGINAL_PARTITION,
        HEADER_ORIGINAL_OFFSET,
        HEADER_ORIGINAL_TIMESTAMP,
        HEADER_CONSUMER_GROUP,
        HEADER_EXCEPTION_CLASS,
        HEADER_EXCEPTION_MESSAGE,
        HEADER_EXCEPTION_STACKTRACE,
        HEADER_ATTEMPTS,
        HEADER_REASON,
    ]
    assert [n.removeprefix(HEADER_PREFIX) for n in names] == [
        "original.topic",
        "original.partition",
        "original.offset",
        "original.timestamp",
        "consumer.group",
        "exception.class",
        "exception.message",
        "exception.stacktrace",
        "attempts",
        "reason",
    ]


@pytest.mark.parametrize("reason", ["bad-magic", "truncated", "unknown-schema-id", "invalid-payload", "validation"])
def test_poison_messages_carry_their_reason(reason: str) -> None:
    record = _build(_raise(DeserializationError(reason, "cannot decode")), attempts=0)
    headers = _dlq_headers(record)
    assert headers[HEADER_REASON] == reason
    assert headers[HEADER_ATTEMPTS] == "0"
    assert headers[HEADER_EXCEPTION_CLASS] == "schemabus.runtime.serde.DeserializationError"
    assert record.value == VALUE


def test_explicit_reason_and_an_exception_never_raised() -> None:
    record = _build(ValueError("boom"), reason="custom")
    headers = _dlq_headers(record)
    assert headers[HEADER_REASON] == "custom"
    assert headers[HEADER_EXCEPTION_CLASS] == "builtins.ValueError"
    assert headers[HEADER_EXCEPTION_STACKTRACE].strip() == "ValueError: boom"  # no frames: never raised


def _deep(n: int) -> None:
    if n == 0:
        raise RuntimeError("bottom of a deep stack: ünïcödé")
    _deeper(n - 1)  # two functions in turn: Python does not fold the traceback's alternating frames


def _deeper(n: int) -> None:
    _deep(n)


def test_long_stack_traces_keep_their_end_within_8_kib() -> None:
    try:
        _deep(300)
    except RuntimeError as e:
        error: BaseException = e
    record = _build(error)
    raw = dict((k, v) for k, v in record.headers)[HEADER_EXCEPTION_STACKTRACE]
    assert MAX_TEXT_BYTES == 8 * 1024
    assert len(raw) <= MAX_TEXT_BYTES
    text = raw.decode()  # still valid UTF-8 after the cut
    assert text.startswith("…[") and "bytes truncated]" in text.splitlines()[0]
    assert text.rstrip().endswith("RuntimeError: bottom of a deep stack: ünïcödé")


def test_long_messages_are_truncated_too() -> None:
    record = _build(ValueError("é" * 10_000))
    message = dict(record.headers)[HEADER_EXCEPTION_MESSAGE]
    assert len(message) <= MAX_TEXT_BYTES
    assert message.decode().endswith("bytes truncated]")


def test_earlier_dead_letter_headers_are_replaced_not_repeated() -> None:
    first = _build(_raise(ValueError("first")))
    again = _build(_raise(KeyError("second")), headers=first.headers, attempts=1)
    names = [k for k, _ in again.headers]
    assert names.count(HEADER_EXCEPTION_CLASS) == 1
    assert _dlq_headers(again)[HEADER_EXCEPTION_CLASS] == "builtins.KeyError"
    assert [h for h in again.headers if not h[0].startswith(HEADER_PREFIX)] == [
        h for h in first.headers if not h[0].startswith(HEADER_PREFIX)
    ]


def test_parse_reads_back_what_build_wrote() -> None:
    record = _build(_raise(PaymentDeclined("card expired")))
    letter = parse_dead_letter(
        topic=record.topic,
        partition=0,
        offset=9,
        timestamp_ms=1_700_000_001_000,
        key=record.key,
        value=record.value,
        headers=record.headers,
    )
    assert (letter.key, letter.value) == (KEY, VALUE)
    assert letter.headers == (("trace", b"t-1"), ("tenant", b"acme"), ("trace", b"t-2"), ("empty", b""))
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        "billing.invoice.created",
        4,
        1234567,
    )
    assert letter.original_timestamp_ms == 1_700_000_000_123
    assert letter.consumer_group == "svc.billing.invoice.created.charge"
    assert letter.exception_class == f"{__name__}.PaymentDeclined"
    assert letter.exception_message == "card expired"
    assert letter.attempts == 4
    assert letter.reason == "handler-error"
    assert letter.stacktrace is not None and "PaymentDeclined" in letter.stacktrace

    as_json = json.loads(json.dumps(letter.to_json()))
    assert as_json["original"] == {
        "topic": "billing.invoice.created",
        "partition": 4,
        "offset": 1234567,
        "timestamp_ms": 1_700_000_000_123,
    }
    assert as_json["value"]["schema_id"] == 42
    assert "text" not in as_json["key"]  # not UTF-8: base64 only
    assert as_json["headers"][0] == {"name": "trace", "value": {"base64": "dC0x", "size": 3, "text": "t-1"}}

    text = describe([letter])
    assert "dlq.billing.invoice.created[0]@9" in text
    assert "original: billing.invoice.created[4]@1234567" in text
    assert f"{__name__}.PaymentDeclined: card expired" in text
    assert "schema id 42" in text
    assert "Traceback" not in text and "Traceback" in describe([letter], stacktrace=True)


def test_records_without_dead_letter_headers_parse_with_nothing_known() -> None:
    letter = parse_dead_letter(
        topic="dlq.x.y.z", partition=0, offset=0, timestamp_ms=0, key=None, value=b"v", headers=None
    )
    assert letter.original_topic is None and letter.attempts is None and letter.headers == ()


def test_cli_needs_bootstrap_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHEMABUS_BOOTSTRAP_SERVERS", raising=False)
    for command in (["inspect", "a.b.c"], ["replay", "dlq.a.b.c"]):
        result = CliRunner().invoke(dlq, command)
        assert result.exit_code == 2
        assert "--bootstrap-servers" in result.output
    assert CliRunner().invoke(dlq, ["--help"]).output.count("inspect") >= 1


def test_unreadable_dead_letter_headers_parse_as_unknown_and_json_keeps_a_null_key() -> None:
    letter = parse_dead_letter(
        topic="dlq.x.y.z",
        partition=0,
        offset=0,
        timestamp_ms=0,
        key=None,
        value=b"v",
        headers=[(HEADER_ATTEMPTS, b"three"), (HEADER_ORIGINAL_OFFSET, None)],
    )
    assert letter.attempts is None and letter.original_offset is None  # not a number: unknown, not an error
    assert letter.to_json()["key"] is None
    assert "key:      null" in describe([letter])
    record = build_dead_letter(
        topic="x.y.z",
        partition=0,
        offset=0,
        timestamp_ms=0,
        key=None,
        value=b"v",
        headers=[],
        group="g",
        error=ValueError("no"),
        attempts=2,
    )
    assert record.header(HEADER_ATTEMPTS) == b"2" and record.header("missing") is None


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _record(size: int = 10) -> DeadLetterRecord:
    return build_dead_letter(
        topic="x.y.z",
        partition=0,
        offset=0,
        timestamp_ms=0,
        key=b"k",
        value=b"v" * size,
        headers=[],
        group="g",
        error=ValueError("no"),
        attempts=1,
    )


def test_a_dead_letter_the_producer_refuses_is_a_dead_letter_error() -> None:
    """librdkafka refuses a record larger than message.max.bytes before sending anything: here even
    a reference to the record is larger."""
    writer = DeadLetterWriter(_closed_port(), create_topics=False, producer_config={"message.max.bytes": 100})
    writer.ensure_topic("dlq.x.y.z")  # nothing to create without create_topics
    with pytest.raises(DeadLetterError, match=r"cannot write to dead-letter topic dlq\.x\.y\.z"):
        writer.write(_record(size=5000))
    writer.close()


def test_a_dead_letter_no_broker_acknowledges_is_a_dead_letter_error() -> None:
    writer = DeadLetterWriter(_closed_port(), create_topics=False, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DeadLetterError, match=r"cannot write to dead-letter topic dlq\.x\.y\.z: .*timed out"):
        asyncio.run(writer.write_async(_record()))
    assert time.monotonic() - started < 10
    writer.close()


# --- dead letters too large for their topic ----------------------------------------------------------


def test_shortened_texts_keep_the_start_of_the_message_and_the_end_of_the_stack_and_count_every_cut_byte() -> None:
    try:
        _deep(300)
    except RuntimeError as e:
        error: BaseException = e
    full_trace = "".join(traceback.format_exception(error)).encode()
    record = _build(error)
    message = ValueError("m" * 20_000)
    record = _build(message)
    short = shortened(record)
    assert short.key == record.key and short.value == record.value
    text = dict(short.headers)[HEADER_EXCEPTION_MESSAGE].decode()
    assert len(text.encode()) <= SHORT_TEXT_BYTES
    kept, cut = text.split("…[")
    assert kept == "m" * len(kept) and cut.endswith(" bytes truncated]")
    assert len(kept) + int(cut.split()[0]) == 20_000  # both cuts counted, once each
    assert shortened(short) == short  # short enough: unchanged

    trace = dict(shortened(_build(error)).headers)[HEADER_EXCEPTION_STACKTRACE].decode()
    assert len(trace.encode()) <= SHORT_TEXT_BYTES
    first, rest = trace.split("\n", 1)
    assert first.startswith("…[") and first.endswith(" bytes truncated]")
    assert full_trace.endswith(rest.encode())
    assert len(rest.encode()) + int(first[2:].split()[0]) == len(full_trace)
    # Every other header is untouched.
    others = [h for h in record.headers if h[0] not in (HEADER_EXCEPTION_MESSAGE, HEADER_EXCEPTION_STACKTRACE)]
    assert [h for h in short.headers if h[0] not in (HEADER_EXCEPTION_MESSAGE, HEADER_EXCEPTION_STACKTRACE)] == others


def test_a_reference_points_to_the_record_and_says_what_it_left_out() -> None:
    big = bytes(2_000_000)
    record = _build(_raise(PaymentDeclined("card expired " * 2000)), value=big)
    assert not record.is_reference and record.size > len(big)
    pointer = reference_to(record)
    assert pointer.is_reference and pointer.topic == record.topic
    assert (pointer.key, pointer.value) == (KEY, b"")  # empty, not null: no compaction takes it for a tombstone
    assert [h for h in pointer.headers if not h[0].startswith(HEADER_PREFIX)] == [
        h for h in record.headers if not h[0].startswith(HEADER_PREFIX)
    ]
    headers = _dlq_headers(pointer)
    assert headers[HEADER_PAYLOAD] == PAYLOAD_REFERENCE == "reference"
    assert headers[HEADER_PAYLOAD_SIZE] == "2000000"
    assert headers[HEADER_PAYLOAD_OMITTED] == "value"
    for name in (HEADER_ORIGINAL_TOPIC, HEADER_ORIGINAL_PARTITION, HEADER_ORIGINAL_OFFSET, HEADER_REASON):
        assert headers[name] == _dlq_headers(record)[name]
    assert len(headers[HEADER_EXCEPTION_MESSAGE].encode()) <= SHORT_TEXT_BYTES
    assert pointer.size < 4 * 1024

    # Too small a limit for the original headers, then for the key too: they are left out, in that order.
    no_headers = reference_to(record, limit=pointer.size - 1)
    assert no_headers.key == KEY and _dlq_headers(no_headers)[HEADER_PAYLOAD_OMITTED] == "value,headers"
    assert all(k.startswith(HEADER_PREFIX) for k, _ in no_headers.headers)
    bare = reference_to(record, limit=no_headers.size - 1)
    assert bare.key is None and _dlq_headers(bare)[HEADER_PAYLOAD_OMITTED] == "value,key,headers"

    letter = parse_dead_letter(
        topic=bare.topic, partition=0, offset=3, timestamp_ms=0, key=bare.key, value=bare.value, headers=bare.headers
    )
    assert letter.reference and letter.payload_size == 2_000_000 and letter.omitted == ("value", "key", "headers")
    assert letter.source == "billing.invoice.created[4]@1234567"
    text = describe([letter])
    assert "value:    payload not copied: 2000000 bytes, read it from billing.invoice.created[4]@1234567" in text
    assert "key:      not copied" in text and "headers:  not copied" in text
    as_json = letter.to_json()
    assert as_json["payload"] == {"copied": False, "size": 2_000_000, "omitted": ["value", "key", "headers"]}
    assert as_json["value"] is None and as_json["key"] is None
    copy = parse_dead_letter(
        topic=record.topic, partition=0, offset=4, timestamp_ms=0, key=KEY, value=VALUE, headers=record.headers
    )
    assert not copy.reference and copy.to_json()["payload"] == {"copied": True}
    assert "payload not copied" not in describe([copy])


def test_a_writer_tries_the_copy_then_shorter_texts_then_a_reference_by_size() -> None:
    record = _build(ValueError("x" * 6000), value=bytes(50_000))
    short, pointer = shortened(record), reference_to(record)
    assert record.size > short.size > pointer.size
    assert DeadLetterWriter.fitting(record, record.size) == [record, short, reference_to(record, limit=record.size)]
    assert DeadLetterWriter.fitting(record, record.size - 1) == [short, reference_to(record, limit=record.size - 1)]
    assert DeadLetterWriter.fitting(record, short.size - 1)[0].is_reference
    assert DeadLetterWriter.fitting(record, 10) == [reference_to(record, limit=10)]  # the smallest, whatever happens


class _Refusing:
    """A producer whose broker takes records of at most ``limit`` bytes (the topic's max.message.bytes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.pending: list[tuple[Callable[[KafkaError | None, Any], None], KafkaError | None]] = []

    def produce(self, topic: str, *, key: bytes | None, value: bytes | None, headers: Any, on_delivery: Any) -> None:
        size = len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers)
        if size > self.limit:
            self.pending.append((on_delivery, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)))
        else:
            self.sent.append((key, value, headers))
            self.pending.append((on_delivery, None))

    def poll(self, timeout: float) -> int:
        for callback, error in self.pending:
            callback(error, SimpleNamespace(partition=lambda: 0, offset=lambda: 7))
        self.pending.clear()
        return 0

    def flush(self, timeout: float) -> int:
        return 0


@pytest.mark.parametrize(
    ("limit", "expected"), [(200_000, "copy"), (55_000, "shortened"), (20_000, "reference"), (10, "error")]
)
def test_a_dead_letter_the_broker_refuses_for_its_size_is_written_shorter_or_as_a_reference(
    limit: int, expected: str
) -> None:
    """The writer does not know the topic's limit (it did not create the topic): the broker's refusal
    for size makes it try the next, smaller form of the dead letter."""
    record = _build(ValueError("x" * 6000), value=bytes(50_000))
    writer = DeadLetterWriter(_closed_port(), create_topics=False)
    producer = _Refusing(limit)
    writer._producer_made = producer  # type: ignore[assignment]
    if expected == "error":
        with pytest.raises(DeadLetterError, match="too large"):
            writer.write(record)
        assert producer.sent == []
        return
    assert writer.write(record) == (0, 7)
    ((key, value, headers),) = producer.sent
    if expected == "copy":
        assert (key, value, headers) == (record.key, record.value, list(record.headers))
    elif expected == "shortened":
        assert (key, value, headers) == (record.key, record.value, list(shortened(record).headers))
    else:
        assert value == b"" and dict(headers)[HEADER_PAYLOAD] == b"reference"
        assert dict(headers)[HEADER_PAYLOAD_SIZE] == b"50000"


def test_the_dead_letter_producer_takes_records_larger_than_librdkafkas_default() -> None:
    writer = DeadLetterWriter(_closed_port(), create_topics=False)
    assert writer.limit("dlq.x.y.z") == DLQ_PRODUCER_MAX_BYTES >= 100 * 1000 * 1000
    assert writer.limit("dlq.x.y.z", producer_max_bytes=1_000_000) == 1_000_000
    assert DLQ_HEADROOM_BYTES >= 2 * MAX_TEXT_BYTES + 16 * 1024


def test_in_exactly_once_mode_the_dead_letter_that_fits_the_bus_producer_is_chosen_before_writing() -> None:
    """A record the broker refused would abort the transaction: the transactional writer picks the
    form that fits the bus producer's message.max.bytes (librdkafka's 1,000,000 by default) first."""
    from schemabus.runtime.transactions import TransactionalDeadLetterWriter

    sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    def send_bytes_sync(topic: str, value: bytes | None, *, key: bytes | None, headers: Any, timeout: float) -> Any:
        sent.append((topic, key, value, headers))
        return SimpleNamespace(partition=0, offset=len(sent) - 1)

    def bus(configured: dict[str, Any]) -> Any:
        return SimpleNamespace(
            send_bytes_sync=send_bytes_sync,
            kafka=SimpleNamespace(librdkafka_config=lambda: {"bootstrap.servers": "x"}),
            settings=SimpleNamespace(librdkafka_config=lambda: configured),
        )

    record = _build(ValueError("no"), value=bytes(1_000_000))
    writer = TransactionalDeadLetterWriter(_closed_port(), bus({}), create_topics=False)
    assert writer.write(record) == (0, 0)
    assert sent[-1][2] == b"" and dict(sent[-1][3])[HEADER_PAYLOAD_SIZE] == b"1000000"  # a reference
    roomy = TransactionalDeadLetterWriter(_closed_port(), bus({"message.max.bytes": 2_000_000}), create_topics=False)
    roomy.write(record)
    assert sent[-1][2] == record.value  # the copy
