"""The constraints of a Pydantic annotation (``Field(ge=0)``, ``Annotated[str, MaxLen(64)]``,
``condecimal(max_digits=12)``), read from its metadata as one flat mapping."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, get_args, get_origin

from pydantic.fields import FieldInfo

# The constraint attributes pydantic and annotated-types put on metadata objects (Ge.ge,
# Interval.lt, MaxLen.max_length, pydantic's own metadata for max_digits and pattern, ...).
NAMES = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern", "max_digits", "decimal_places")


def collect(metadata: Iterable[Any]) -> dict[str, Any]:
    """Every constraint set in ``metadata``, by name; a later one wins, as it does in pydantic."""
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.update(collect(item.metadata))
            continue
        for name in NAMES:
            value = getattr(item, name, None)
            if value is not None:
                out[name] = value
    return out


def unwrap(annotation: Any, constraints: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``Annotated[T, ...]`` -> ``T`` and the constraints of its metadata added to ``constraints``."""
    while get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        constraints = {**constraints, **collect(metadata)}
        annotation = base
    return annotation, constraints


def describe(constraints: dict[str, Any], *, skip: Iterable[str] = ()) -> str:
    """``ge=0, max_length=64``: the constraints a schema has no place for, for a doc note."""
    return ", ".join(f"{k}={constraints[k]!r}" for k in NAMES if k in constraints and k not in skip)
