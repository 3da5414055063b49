"""Python default values in the JSON form an Avro schema's ``default`` takes for the field's type."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_LOCAL = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)

# A record's wire field names and the Python attributes that hold them, by the record's full name.
RecordFields = dict[str, list[tuple[str, str]]]


def avro_default(schema: Any, value: Any, named: dict[str, dict[str, Any]], fields: RecordFields) -> Any:
    """``value`` as the default of a field of type ``schema`` (a union's default is of its first
    branch); ``named`` holds the definitions of the named types a reference may name."""
    if isinstance(schema, list):
        return avro_default(schema[0], value, named, fields)
    if isinstance(schema, str):
        if schema in named:
            return avro_default(named[schema], value, named, fields)
        return _primitive(schema, value)
    kind = schema["type"]
    if "logicalType" in schema:
        return _logical(schema, value)
    if kind == "record":
        return _record(schema, value, named, fields)
    if kind == "enum":
        return value.value if isinstance(value, enum.Enum) else value
    if kind == "array":
        return [avro_default(schema["items"], v, named, fields) for v in value]
    if kind == "map":
        return {k: avro_default(schema["values"], v, named, fields) for k, v in value.items()}
    return _primitive(kind, value)


def _primitive(kind: str, value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    convert: dict[str, Callable[[Any], Any]] = {
        "null": lambda v: None,
        "boolean": bool,
        "int": int,
        "long": int,
        "float": float,
        "double": float,
        "string": str,
        "bytes": lambda v: bytes(v).decode("latin-1"),  # Avro writes a bytes default as code points 0-255
    }
    return convert[kind](value)


def _logical(schema: dict[str, Any], value: Any) -> Any:
    logical = schema["logicalType"]
    if logical == "decimal":
        unscaled = int(Decimal(value).scaleb(schema["scale"]))
        size = max(1, (unscaled.bit_length() + 8) // 8)  # the shortest two's complement, as Avro writes it
        return unscaled.to_bytes(size, "big", signed=True).decode("latin-1")
    if logical == "uuid":
        return str(value)
    if logical == "date":
        return (value - _EPOCH_DATE).days
    if logical == "time-micros":
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    if logical == "timestamp-micros":
        return (value - _EPOCH_UTC) // _MICROSECOND
    if logical == "local-timestamp-micros":
        return (value - _EPOCH_LOCAL) // _MICROSECOND
    raise ValueError(f"no default conversion for logical type {logical}")


def _record(schema: dict[str, Any], value: Any, named: dict[str, dict[str, Any]], fields: RecordFields) -> Any:
    if not isinstance(value, BaseModel):
        return value
    fullname = next(name for name, definition in named.items() if definition is schema)
    types = {f["name"]: f["type"] for f in schema["fields"]}
    return {wire: avro_default(types[wire], getattr(value, attr), named, fields) for wire, attr in fields[fullname]}
