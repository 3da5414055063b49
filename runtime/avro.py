"""Avro binary building blocks for generated codecs, and the base class of generated Avro models.

Generated encoders and decoders inline the common case of a number (a small int) and call these
functions for the rest: large numbers, strings and bytes, conversions. Every conversion matches
fastavro's output byte for byte (tests/codegen/test_roundtrip.py).

Generated codecs also describe each record as a *codec program* for the compiled codec
(``schemabus.runtime._speedups``, built from runtime/_speedups.c when a C compiler is present). A
program is a tree of tuples, each starting with one of the ``OP_*`` codes below; one program serves
encoding and decoding:

    (OP_NULL,) (OP_BOOLEAN,) (OP_INT,) (OP_LONG,) (OP_FLOAT,) (OP_DOUBLE,) (OP_BYTES,) (OP_STRING,)
    (OP_UUID,)                          a UUID as its 36-character text
    (OP_FIXED, size)
    (OP_ENUM, {member: encoded index}, members by index, enum name)   the generated _E_ and _S_ tables
    (OP_ARRAY, items) (OP_MAP, values)  one block, then the end marker (any blocks when decoding)
    (OP_OPTIONAL, null index, value index, node)   a union of null and one other branch
    (OP_RECORD, ((attribute, node), ...), model class, field names)
    (OP_TIMESTAMP, 1 or 1000, to number, from number)   micros or millis; the conversions handle any
                                                   value the compiled path does not handle itself
    (OP_CONVERT, to wire, node, from wire)   node encodes to_wire(value) / decodes the raw value
    (OP_PYTHON, writer, reader)         the generated Python writer and reader of a record

Both paths write the same bytes (tests/runtime/test_speedups.py); :mod:`schemabus.runtime.speedups`
loads the extension and turns programs into encoders.
"""

from __future__ import annotations

import datetime as _dt
import struct
import uuid as _uuid
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import Annotated, Any, ClassVar, Never, TypeVar

import pydantic
from pydantic_core import CoreSchema, core_schema

# What generated code uses: the contract of runtime/contract.py (tests/codegen/test_contract.py).
__all__ = [
    "OP_ARRAY",
    "OP_BOOLEAN",
    "OP_BYTES",
    "OP_CONVERT",
    "OP_DOUBLE",
    "OP_ENUM",
    "OP_FIXED",
    "OP_FLOAT",
    "OP_INT",
    "OP_LONG",
    "OP_MAP",
    "OP_NULL",
    "OP_OPTIONAL",
    "OP_PYTHON",
    "OP_RECORD",
    "OP_STRING",
    "OP_TIMESTAMP",
    "OP_UUID",
    "AvroDecodeError",
    "AvroRecord",
    "AvroTruncatedError",
    "CodecProgram",
    "DeepType",
    "EmptyUnion",
    "Int32",
    "Int64",
    "bad_length",
    "construct",
    "date_to_days",
    "days_to_date",
    "decimal_from_bytes",
    "decimal_from_wire",
    "decimal_to_bytes",
    "decimal_to_fixed",
    "decimal_to_wire",
    "local_timestamp_to_micros",
    "local_timestamp_to_millis",
    "micros_to_local_timestamp",
    "micros_to_time",
    "micros_to_timestamp",
    "millis_to_local_timestamp",
    "millis_to_time",
    "millis_to_timestamp",
    "pack_double",
    "pack_float",
    "prebuild",
    "read_bytes",
    "read_long",
    "read_string",
    "time_to_micros",
    "time_to_millis",
    "timestamp_to_micros",
    "timestamp_to_millis",
    "unpack_double",
    "unpack_float",
    "uuid_from_str",
    "write_bytes",
    "write_int",
    "write_long",
    "write_string",
]

Int32 = Annotated[int, pydantic.Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, pydantic.Field(ge=-(2**63), le=2**63 - 1)]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()

pack_float = struct.Struct("<f").pack
pack_double = struct.Struct("<d").pack
unpack_float = struct.Struct("<f").unpack_from
unpack_double = struct.Struct("<d").unpack_from


(
    OP_NULL,
    OP_BOOLEAN,
    OP_INT,
    OP_LONG,
    OP_FLOAT,
    OP_DOUBLE,
    OP_BYTES,
    OP_STRING,
    OP_FIXED,
    OP_ENUM,
    OP_ARRAY,
    OP_MAP,
    OP_OPTIONAL,
    OP_RECORD,
    OP_UUID,
    OP_TIMESTAMP,
    OP_CONVERT,
    OP_PYTHON,
) = range(18)

CodecProgram = tuple[Any, ...]


def decimal_to_wire(scale: int, precision: int, size: int | None = None) -> Callable[[Decimal], bytes]:
    """``decimal_to_bytes`` (or ``decimal_to_fixed`` with ``size``) with the schema's scale and precision bound."""
    if size is None:
        return lambda d: decimal_to_bytes(d, scale, precision)
    return lambda d: decimal_to_fixed(d, scale, precision, size)


def decimal_from_wire(scale: int, precision: int) -> Callable[[bytes], Decimal]:
    """``decimal_from_bytes`` with the schema's scale and precision bound."""
    return lambda b: decimal_from_bytes(b, scale, precision)


class AvroDecodeError(ValueError):
    """The bytes are not a valid encoding of the schema (bad union index, bad enum index...)."""


class AvroTruncatedError(AvroDecodeError, IndexError):
    """The bytes end inside a value (a poison message of reason ``truncated``)."""


def bad_length(n: int, what: str) -> AvroDecodeError:
    """The error for a string or bytes length ``n`` that is negative or runs past the end."""
    if n < 0:
        return AvroDecodeError(f"a {what} has a negative length")
    return AvroTruncatedError(f"truncated payload: a {what} runs past the end")


class AvroRecord(pydantic.BaseModel):
    """Base of generated Avro record models.

    Fields are built by their Python name or their Avro name; ``model_dump`` and JSON use the Avro names.
    Decoders build models without validation (:func:`construct`), so a consumer that only reads
    never builds a validator.
    """

    model_config = pydantic.ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        protected_namespaces=(),
        # The validator and serializer of a model are built on its first use, not at import: a
        # service pays for the models it uses, not for every model of the package it imports.
        defer_build=True,
    )
    __avro_name__: ClassVar[str] = ""


def _no_value(value: object) -> Never:
    raise ValueError("an empty Avro union holds no value")


class _NoValue:
    """Validation of the empty union: every value is refused."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: pydantic.GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(_no_value)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: pydantic.GetJsonSchemaHandler) -> dict[str, Any]:
        return {"not": {}}


EmptyUnion = Annotated[Never, _NoValue]
"""The type of the empty Avro union ``[]``: no value has it (Apache Avro accepts the schema; a
field of this type can be neither written nor read)."""


class DeepType:
    """Marks a piece of a deeply nested type (arrays and maps hundreds of levels deep) in
    ``Annotated[piece, DeepType()]``: pydantic uses the validator :func:`prebuild` made for it
    instead of building the piece again inside the type that holds it. Without prebuild, the piece
    is built on first use, as any type is."""

    def __init__(self) -> None:
        self.schema: CoreSchema | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: pydantic.GetCoreSchemaHandler) -> CoreSchema:
        if self.schema is None:
            self.schema = handler(source)
        return self.schema


def prebuild(alias: object) -> None:
    """Build the validator of ``alias`` (``Annotated[piece, DeepType()]``) now.

    Generated models alias a deep type every few levels, innermost piece first, and prebuild each:
    pydantic then never recurses through more than one piece at a time, where it would exceed
    Python's recursion limit on the whole type."""
    origin: Any = getattr(alias, "__origin__", None)
    for marker in getattr(alias, "__metadata__", ()):
        if isinstance(marker, DeepType) and marker.schema is None:
            marker.schema = pydantic.TypeAdapter(origin).core_schema


M = TypeVar("M", bound=pydantic.BaseModel)


def construct(cls: type[M], values: dict[str, Any], fields_set: frozenset[str] | set[str]) -> M:
    """Build a model from values already known valid (decoded with the model's own writer schema).

    The same result as ``cls.model_construct(**values)`` when ``values`` holds every field, without
    its per-field bookkeeping: this is the hot path of every decoder.
    """
    m = cls.__new__(cls)
    _setattr(m, "__dict__", values)
    _setattr(m, "__pydantic_fields_set__", set(fields_set))
    _setattr(m, "__pydantic_extra__", None)
    _setattr(m, "__pydantic_private__", None)
    return m


_setattr = object.__setattr__


def write_long(n: int) -> bytes:
    """Zig-zag varint of a long (any size up to 64 bits)."""
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise ValueError(f"{n} is out of range for an Avro long")
    n = (n << 1) ^ (n >> 63)
    # Unrolled for up to 4 groups of 7 bits (lengths, counts, ids, dates) and for 8 (timestamps in
    # microseconds): one tuple per call instead of an append per byte; other sizes finish in a loop.
    if n < 0x4000:
        return bytes((n,)) if n < 0x80 else bytes((n & 0x7F | 0x80, n >> 7))
    if n < 0x10000000:
        if n < 0x200000:
            return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14))
        return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14 & 0x7F | 0x80, n >> 21))
    if 0x2000000000000 <= n < 0x100000000000000:  # eight bytes: today's timestamps in microseconds
        return bytes(
            (
                n & 0x7F | 0x80,
                n >> 7 & 0x7F | 0x80,
                n >> 14 & 0x7F | 0x80,
                n >> 21 & 0x7F | 0x80,
                n >> 28 & 0x7F | 0x80,
                n >> 35 & 0x7F | 0x80,
                n >> 42 & 0x7F | 0x80,
                n >> 49,
            )
        )
    out = bytearray((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14 & 0x7F | 0x80, n >> 21 & 0x7F | 0x80))
    n >>= 28
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def write_int(n: int) -> bytes:
    if not _INT_MIN <= n <= _INT_MAX:
        raise ValueError(f"{n} is out of range for an Avro int")
    return write_long(n)


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a zig-zag varint starting at ``pos``; returns the value and the position after it."""
    shift = 0
    n = 0
    while True:
        try:
            c = buf[pos]
        except IndexError:
            raise AvroTruncatedError("truncated payload: a number runs past the end") from None
        pos += 1
        if shift == 63 and c > 1:
            raise AvroDecodeError("a varint is longer than 64 bits")
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7


def write_string(b: bytearray, s: str) -> None:
    """Append a string: the length of its UTF-8 bytes, then the bytes (one byte of length up to 63)."""
    data = s.encode()
    n = len(data)
    if n < 64:
        b.append(n << 1)
    else:
        b += write_long(n)
    b += data


def write_bytes(b: bytearray, data: bytes) -> None:
    """Append bytes: their length, then the bytes."""
    n = len(data)
    if n < 64:
        b.append(n << 1)
    else:
        b += write_long(n)
    b += data


def _length(buf: bytes, p: int, what: str) -> tuple[int, int]:
    """The length of a string or bytes at ``p``: checked to be within ``buf``; and where the data starts."""
    c = buf[p]
    if c < 128:
        n = (c >> 1) ^ -(c & 1)
        p += 1
    else:
        n, p = read_long(buf, p)
    if n < 0 or p + n > len(buf):
        raise bad_length(n, what)
    return n, p


def read_string(buf: bytes, p: int) -> tuple[str, int]:
    """The string at ``p``, and the position after it."""
    n, p = _length(buf, p, "string")
    return str(buf[p : p + n], "utf-8"), p + n


def read_bytes(buf: bytes, p: int) -> tuple[bytes, int]:
    """The bytes at ``p``, and the position after them."""
    n, p = _length(buf, p, "bytes")
    return bytes(buf[p : p + n]), p + n


def decimal_to_bytes(d: Decimal, scale: int, precision: int) -> bytes:
    """Two's-complement big-endian unscaled value, sized as fastavro sizes it."""
    n = _unscaled(d, scale, precision)
    return n.to_bytes((abs(n).bit_length() + 8) // 8, "big", signed=True)


def decimal_to_fixed(d: Decimal, scale: int, precision: int, size: int) -> bytes:
    n = _unscaled(d, scale, precision)
    try:
        return n.to_bytes(size, "big", signed=True)
    except OverflowError:
        raise ValueError(f"{d} does not fit in fixed({size})") from None


def _unscaled(d: Decimal, scale: int, precision: int) -> int:
    """The unscaled integer of ``d`` at ``scale``; an error when it needs more places or digits."""
    try:
        num, den = d.as_integer_ratio()
    except (ValueError, OverflowError):
        raise ValueError(f"{d} cannot be encoded as an Avro decimal") from None
    unscaled, rest = divmod(num * _POW10[scale] if scale < len(_POW10) else num * 10**scale, den)
    if rest:
        raise ValueError(f"{d} has more than {scale} decimal places")
    if (
        not -(_POW10[precision] if precision < len(_POW10) else 10**precision)
        < unscaled
        < (_POW10[precision] if precision < len(_POW10) else 10**precision)
    ):
        raise ValueError(f"{d} has more than {precision} digits")
    return int(unscaled)


_POW10 = [10**i for i in range(64)]


def decimal_from_bytes(b: bytes, scale: int, precision: int) -> Decimal:
    unscaled = Decimal(int.from_bytes(b, "big", signed=True))
    if precision <= _DEFAULT_PRECISION:
        return unscaled.scaleb(-scale)  # exact: the default context holds every digit
    with localcontext() as ctx:
        ctx.prec = precision
        return unscaled.scaleb(-scale)


_DEFAULT_PRECISION = 28  # decimal's default context precision (not changed by this module)
_new_uuid = _uuid.UUID.__new__
_SAFE_UNKNOWN = _uuid.SafeUUID.unknown


def uuid_from_str(s: str) -> _uuid.UUID:
    """``uuid.UUID(s)`` for the canonical 36-character form, twice as fast; anything else goes
    through ``uuid.UUID`` (which raises ValueError for malformed text)."""
    digits = s.replace("-", "")
    if len(s) != 36 or len(digits) != 32 or not digits.isalnum():
        return _uuid.UUID(s)
    u = _new_uuid(_uuid.UUID)
    _setattr(u, "int", int(digits, 16))
    _setattr(u, "is_safe", _SAFE_UNKNOWN)
    return u


def date_to_days(d: _dt.date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


def days_to_date(n: int) -> _dt.date:
    return _dt.date.fromordinal(n + _EPOCH_ORDINAL)


def time_to_millis(t: _dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000


def time_to_micros(t: _dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def millis_to_time(n: int) -> _dt.time:
    s, ms = divmod(n, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return _dt.time(h, m, s, ms * 1000)


def micros_to_time(n: int) -> _dt.time:
    s, us = divmod(n, 1_000_000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return _dt.time(h, m, s, us)


def _micros_since(delta: _dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_to_micros(t: _dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("a timestamp needs a timezone (use local-timestamp for naive datetimes)")
    return _micros_since(t - _EPOCH)


def timestamp_to_millis(t: _dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("a timestamp needs a timezone (use local-timestamp for naive datetimes)")
    delta = t - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def local_timestamp_to_micros(t: _dt.datetime) -> int:
    return _micros_since(t.replace(tzinfo=None) - _EPOCH_NAIVE)


def local_timestamp_to_millis(t: _dt.datetime) -> int:
    delta = t.replace(tzinfo=None) - _EPOCH_NAIVE
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


# timedelta(days, seconds, microseconds, milliseconds): positional arguments are the fast path.
def micros_to_timestamp(n: int) -> _dt.datetime:
    return _EPOCH + _timedelta(0, 0, n)


def millis_to_timestamp(n: int) -> _dt.datetime:
    return _EPOCH + _timedelta(0, 0, 0, n)


def micros_to_local_timestamp(n: int) -> _dt.datetime:
    return _EPOCH_NAIVE + _timedelta(0, 0, n)


def millis_to_local_timestamp(n: int) -> _dt.datetime:
    return _EPOCH_NAIVE + _timedelta(0, 0, 0, n)


_timedelta = _dt.timedelta
