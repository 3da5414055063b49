"""Model <-> bytes in Confluent's wire format: magic byte 0, a 4-byte big-endian schema id, the payload.

A :class:`Serde` knows one schema. Generated code builds one per key or value schema; the bus
asks the registry for the schema id once and caches it, so a warm publisher never calls the registry.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

import fastavro
import pydantic
import pydantic_core

from .avro import CodecProgram
from .json_schema import document_validator
from .speedups import compiled_encoder, compiled_reader

__all__ = [
    "MAGIC_BYTE",
    "AvroSerde",
    "DeserializationError",
    "JsonSerde",
    "Serde",
    "StringSerde",
    "WriterSchemas",
    "frame_header",
    "split_frame",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
MAGIC_BYTE = 0
SchemaFormat = Literal["AVRO", "JSON", "STRING"]
_NO_AVRO_ID = "an Avro value needs a schema id: register or look up the schema first"


class DeserializationError(ValueError):
    """Bytes that cannot become the expected model: a poison message. Never retried."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # bad-magic, truncated, unknown-schema-id, invalid-payload, validation


class WriterSchemas(Protocol):
    """Finds the writer schema of an id found on the wire (the registry, through a cache)."""

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        """Return ``(schema_type, schema_text)``; raise ``KeyError`` when the id is unknown."""
        ...


def frame_header(schema_id: int) -> bytes:
    return bytes((MAGIC_BYTE,)) + schema_id.to_bytes(4, "big")


def split_frame(data: bytes) -> tuple[int, int]:
    """Check the frame of ``data``; return its schema id and the offset of the payload."""
    if len(data) < 5:
        raise DeserializationError("truncated", f"{len(data)} bytes are too few for the 5-byte wire-format header")
    if data[0] != MAGIC_BYTE:
        raise DeserializationError("bad-magic", f"unknown magic byte {data[0]} (expected {MAGIC_BYTE})")
    return int.from_bytes(data[1:5], "big"), 5


class Serde(Protocol[T]):
    """Turns one model type into framed bytes and back."""

    @property
    def format(self) -> SchemaFormat: ...

    @property
    def schema(self) -> str | None:
        """The schema text registered for the subject (None for plain strings)."""
        ...

    @property
    def type(self) -> type[T]: ...

    def serialize(self, value: T, schema_id: int | None) -> bytes: ...

    def serializer(self, schema_id: int | None) -> Callable[[T], bytes]:
        """``serialize`` with the schema id bound: what a publisher calls per record once it knows the id."""
        ...

    def deserialize(self, data: bytes, schema_id: int | None, writers: WriterSchemas | None) -> T:
        """Decode framed ``data``; ``schema_id`` is the id this serde's own schema has (if known)."""
        ...


@dataclass(frozen=True, eq=False)
class AvroSerde(Generic[T]):
    """Avro with generated codecs; fastavro resolves data written with another schema.

    ``write`` and ``read`` are the generated Python writer and reader; ``program`` describes the
    same encoding to the compiled codec (runtime/avro.py), which is used instead when it is built.
    """

    type: type[T]
    schema: str
    write: Callable[[T, bytearray], None]
    read: Callable[[bytes, int], tuple[T, int]]
    program: CodecProgram | None = None
    format: SchemaFormat = "AVRO"
    # Caches, fresh in every copy (dataclasses.replace): parsed schemas; the serializer per schema
    # id (None: no frame) and the reader ("read").
    _parsed: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _bound: dict[int | str | None, Any] = field(default_factory=dict, init=False, repr=False)

    def encode(self, value: T) -> bytes:
        """The Avro payload alone (no frame), as ``fastavro.schemaless_writer`` writes it."""
        bound = self._bound.get(None)
        if bound is None:
            bound = self._bound[None] = self._encoder(b"")
        return bound(value)

    def reader(self) -> Callable[[bytes, int], tuple[T, int]]:
        """``(data, pos) -> (value, end)`` for data written with exactly this schema: the compiled reader
        when the extension is built, else the generated one. Bad bytes raise what the reader meets
        (IndexError, ValueError…), not DeserializationError: :meth:`decode` checks and wraps."""
        read = self._bound.get("read")
        if read is None:
            read = self._bound["read"] = compiled_reader(self.program) or self.read
        return read

    def decode(self, payload: bytes, pos: int = 0) -> T:
        """Read a payload written with exactly this schema."""
        read = self.reader()
        try:
            value, end = read(payload, pos)
        except (IndexError, ValueError, UnicodeDecodeError, OverflowError, struct.error, RecursionError) as e:
            truncated = isinstance(e, IndexError | struct.error)  # struct.error: too few bytes for a float
            raise DeserializationError("truncated" if truncated else "invalid-payload", str(e)) from e
        if end != len(payload):
            reason = "truncated" if end > len(payload) else "invalid-payload"
            raise DeserializationError(reason, f"payload has {len(payload)} bytes but the schema read {end}")
        return value

    def serialize(self, value: T, schema_id: int | None) -> bytes:
        if schema_id is None:
            raise ValueError(_NO_AVRO_ID)
        bound = self._bound.get(schema_id)
        if bound is None:
            bound = self._bound[schema_id] = self.serializer(schema_id)
        return bound(value)

    def serializer(self, schema_id: int | None) -> Callable[[T], bytes]:
        if schema_id is None:
            raise ValueError(_NO_AVRO_ID)
        return self._encoder(frame_header(schema_id))

    def _encoder(self, header: bytes) -> Callable[[T], bytes]:
        """``value -> header + payload``: compiled when the extension is built, else the Python writer."""
        compiled = compiled_encoder(self.program, header)
        if compiled is not None:
            return compiled
        write = self.write

        def serialize(value: T) -> bytes:
            out = bytearray(header)
            write(value, out)
            return bytes(out)

        return serialize

    def deserialize(self, data: bytes, schema_id: int | None, writers: WriterSchemas | None) -> T:
        writer_id, start = split_frame(data)
        if writer_id == schema_id:
            return self.decode(data, start)
        # Written with another version of the schema: resolve it against ours, as Avro specifies.
        text = _writer_kind(writer_id, writers, "AVRO")
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(data[start:]), self._writer(text), self._reader(), return_record_name=False
            )
        except Exception as e:  # fastavro raises many types for bad bytes or unresolvable schemas
            raise DeserializationError("invalid-payload", f"cannot resolve writer schema {writer_id}: {e}") from e
        try:
            return _adapter(self.type).validate_python(record)
        except pydantic.ValidationError as e:
            raise DeserializationError("validation", str(e)) from e

    def _reader(self) -> Any:
        if "" not in self._parsed:
            self._parsed[""] = fastavro.parse_schema(json.loads(self.schema))
        return self._parsed[""]

    def _writer(self, text: str) -> Any:
        if text not in self._parsed:
            self._parsed[text] = fastavro.parse_schema(json.loads(text))
        return self._parsed[text]


def _writer_kind(writer_id: int, writers: WriterSchemas | None, expected: str) -> str:
    """The text of the writer schema ``writer_id``, which must be of type ``expected``; else a poison message."""
    if writers is None:
        raise DeserializationError("unknown-schema-id", f"schema id {writer_id} is not known here")
    try:
        kind, text = writers.schema_by_id(writer_id)
    except KeyError:
        raise DeserializationError("unknown-schema-id", f"schema id {writer_id} is not in the registry") from None
    if kind != expected:
        name = "Avro" if expected == "AVRO" else "JSON Schema"
        raise DeserializationError("invalid-payload", f"schema id {writer_id} is a {kind} schema, not {name}")
    return text


_ADAPTERS: dict[Any, pydantic.TypeAdapter[Any]] = {}


def _adapter(t: type[T]) -> pydantic.TypeAdapter[T]:
    if t not in _ADAPTERS:
        _ADAPTERS[t] = pydantic.TypeAdapter(t)
    return _ADAPTERS[t]


M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True, eq=False)
class JsonSerde(Generic[M]):
    """JSON Schema values: pydantic's JSON, framed, and checked against the schema both ways.

    Every document written or read is validated against ``schema`` (read as JSON Schema ``draft``),
    so what the model cannot express itself (see :mod:`schemabus.runtime.json_schema`) is still
    enforced: a value the schema refuses is never published (``ValueError``), and a record it
    refuses is poison (``DeserializationError``, reason ``validation``). Only what is set is
    written: an absent optional field (``MISSING``, or a schema default nobody set) is left out,
    ``None`` is written as ``null``, so a document read and written again is the same document.
    """

    type: type[M]
    schema: str
    draft: str = "draft-07"
    format: SchemaFormat = "JSON"

    def encode(self, value: M) -> bytes:
        data = value.model_dump_json(by_alias=True, exclude_unset=True).encode()
        try:
            self.validator()(pydantic_core.from_json(data))
        except ValueError as e:
            raise ValueError(f"{self.type.__name__} does not satisfy its schema: {e}") from None
        return data

    def serialize(self, value: M, schema_id: int | None) -> bytes:
        return self.serializer(schema_id)(value)

    def serializer(self, schema_id: int | None) -> Callable[[M], bytes]:
        if schema_id is None:
            raise ValueError("a JSON Schema value needs a schema id: register or look up the schema first")
        header = frame_header(schema_id)
        encode = self.encode

        def serialize(value: M) -> bytes:
            return header + encode(value)

        return serialize

    def deserialize(self, data: bytes, schema_id: int | None, writers: WriterSchemas | None) -> M:
        writer_id, start = split_frame(data)
        if writer_id != schema_id:
            # Another version of the schema (or none at all): JSON needs no resolution, so the model
            # validates the document either way, but the id must be a JSON schema the registry knows.
            _writer_kind(writer_id, writers, "JSON")
        try:
            document = pydantic_core.from_json(data[start:])
        except ValueError as e:
            raise DeserializationError("invalid-payload", f"invalid JSON: {e}") from e
        try:
            self.validator()(document)
        except ValueError as e:
            raise DeserializationError("validation", f"{self.type.__name__} does not satisfy its schema: {e}") from e
        try:
            return self.type.model_validate(document)
        except pydantic.ValidationError as e:
            raise DeserializationError("validation", f"{self.type.__name__}: {e}") from e

    def validator(self) -> Callable[[Any], None]:
        """Validates a parsed JSON document against the schema (``ValueError`` when it does not hold)."""
        return document_validator(self.schema, self.draft)


@dataclass(frozen=True, eq=False)
class StringSerde:
    """A plain UTF-8 key or value, as Kafka's StringSerializer writes it: no frame, no registry."""

    type: type[str] = str
    schema: str | None = None
    format: SchemaFormat = "STRING"

    def serialize(self, value: str, schema_id: int | None) -> bytes:
        return value.encode()

    def serializer(self, schema_id: int | None) -> Callable[[str], bytes]:
        return str.encode

    def deserialize(self, data: bytes, schema_id: int | None, writers: WriterSchemas | None) -> str:
        try:
            return data.decode()
        except UnicodeDecodeError as e:
            raise DeserializationError("invalid-payload", f"key is not UTF-8: {e}") from e
