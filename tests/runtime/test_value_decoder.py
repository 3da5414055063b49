"""RecordCodec.value_decoder, the consumer's per-topic decoder: what decode_value returns or raises, for
every kind of record (its direct read serves only records framed with the topic's own schema id)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import platform_events as pe
from schemabus.runtime import DeserializationError, RecordCodec, SchemaIds
from schemabus.runtime.serde import frame_header
from schemabus.runtime.testing import InMemoryRegistry

TOPIC = pe.AGENT_LIFECYCLE_CREATED


def created(n: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=n),
        agent_type=pe.AgentType.CODER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        creator_id=f"user-{n}",
        capabilities=["search"],
        labels={"team": "research"},
    )


def outcome(decode: Callable[[bytes | None], Any], data: bytes | None) -> object:
    try:
        return decode(data)
    except DeserializationError as e:
        return ("raised", e.reason)


@pytest.fixture
def codec() -> RecordCodec:
    return RecordCodec(SchemaIds(InMemoryRegistry(), "register"))


def test_the_decoder_returns_or_raises_what_decode_value_does_for_every_kind_of_record(codec: RecordCodec) -> None:
    good = codec.encode_value(TOPIC, created(1))
    own = int.from_bytes(good[1:5], "big")
    payload = good[5:]
    records: list[bytes | None] = [
        good,
        codec.encode_value(TOPIC, created(2)),
        good + b"\x00",  # a byte too many
        good[:-3],  # cut short
        frame_header(own) + b"\x07",  # a payload the schema cannot read
        frame_header(own),  # a frame and nothing else
        b"\x01" + good[1:],  # bad magic byte
        frame_header(own + 1000) + payload,  # an id the registry does not know
        b"\x00\x00",  # too short for a frame
        None,  # a tombstone
    ]
    decode = codec.value_decoder(TOPIC)
    expected = [outcome(lambda d: codec.decode_value(TOPIC, d), r) for r in records]
    assert [outcome(decode, r) for r in records] == expected
    assert expected[0] == created(1) and expected[1] == created(2)
    assert all(isinstance(e, tuple) for e in expected[2:])  # each bad record was refused


def test_a_decoder_made_before_the_topic_s_schema_id_is_known_reads_records_once_it_is() -> None:
    registry = InMemoryRegistry()
    reader = RecordCodec(SchemaIds(registry, "lookup"))
    decode = reader.value_decoder(TOPIC)  # nothing registered yet
    writer = RecordCodec(SchemaIds(registry, "register"))
    data = writer.encode_value(TOPIC, created(3))
    assert decode(data) == created(3)
    assert decode(data) == created(3)  # now from the direct read
