"""Hypothesis strategies for the input of a Pydantic model, read from its fields' annotations and
constraints (the types tests/importer/models.py uses). Values are within what Avro holds: ints in
64 bits, finite floats, datetimes of microseconds; a plain ``datetime`` is drawn aware (the importer
writes it as an instant, and says so)."""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
import uuid
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, NaiveDatetime

from schemabus.codegen.importer.constraints import collect, unwrap

INT64 = (-(2**63), 2**63 - 1)
_TEXT = st.text(max_size=12)
_ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))])
MAX_DEPTH = 3  # recursive models (Subtask.children): lists are empty below this depth


def model_input(model: type[BaseModel], depth: int = 0, *, utf8: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """A dict the model validates, keyed as its input is (by alias where a field has one). With
    ``utf8``, bytes are UTF-8 text: pydantic's JSON writes bytes as UTF-8 and fails on others."""
    fields = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        fields[key] = value(info.annotation, collect(info.metadata), depth, utf8)
    return st.fixed_dictionaries(fields)


def value(annotation: Any, constraints: dict[str, Any], depth: int, utf8: bool) -> st.SearchStrategy[Any]:
    annotation, constraints = unwrap(annotation, constraints)
    origin = get_origin(annotation)
    if annotation is type(None):
        return st.none()
    if origin in (typing.Union, types.UnionType):
        return st.one_of([value(arg, constraints, depth, utf8) for arg in get_args(annotation)])
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin in (list, tuple):
        if depth >= MAX_DEPTH:
            return st.just(origin())
        lists = st.lists(value(get_args(annotation)[0], {}, depth + 1, utf8), max_size=3)
        return lists.map(tuple) if origin is tuple else lists
    if origin is dict:
        if depth >= MAX_DEPTH:
            return st.just({})
        return st.dictionaries(_TEXT, value(get_args(annotation)[1], {}, depth + 1, utf8), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_input(annotation, depth + 1, utf8=utf8)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    return scalar(annotation, constraints, utf8)


def scalar(annotation: Any, c: dict[str, Any], utf8: bool) -> st.SearchStrategy[Any]:
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = c["ge"] if "ge" in c else c["gt"] + 1 if "gt" in c else INT64[0]
        high = c["le"] if "le" in c else c["lt"] - 1 if "lt" in c else INT64[1]
        return st.integers(low, high)
    if annotation is float:
        return st.floats(c.get("ge"), c.get("le"), allow_nan=False, allow_infinity=False)
    if annotation is str:
        if "pattern" in c:
            return st.from_regex(c["pattern"], fullmatch=True)
        return st.text(min_size=c.get("min_length", 0), max_size=c.get("max_length", 12))
    if annotation is bytes:
        return st.text(max_size=12).map(str.encode) if utf8 else st.binary(max_size=12)
    if annotation is Decimal:
        precision, scale = c["max_digits"], c["decimal_places"]
        bound = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        return st.decimals(-bound, bound, places=scale, allow_nan=False, allow_infinity=False)
    if annotation is uuid.UUID:
        return st.uuids()
    if annotation in (AwareDatetime, dt.datetime):
        return st.datetimes(timezones=_ZONES)
    if annotation is NaiveDatetime:
        return st.datetimes()
    if annotation is dt.date:
        return st.dates()
    if annotation is dt.time:
        return st.times()
    raise TypeError(f"no strategy for {annotation!r}")
