"""Strings (``minLength``, ``maxLength``, ``pattern``), numbers (integer to number ``TYPE_EXTENDED``, number to
integer ``TYPE_NARROWED``, bounds, ``multipleOf``, compared exactly where Confluent compares
``multipleOf`` by ``intValue()``), ``enum`` and ``const`` values."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .catalog import (
    ENUM_ARRAY_CHANGED,
    ENUM_ARRAY_NARROWED,
    MULTIPLE_OF_ADDED,
    MULTIPLE_OF_CHANGED,
    MULTIPLE_OF_EXPANDED,
    PATTERN_ADDED,
    PATTERN_CHANGED,
    TYPE_NARROWED,
    Difference,
)
from .common import Walk, add, canonical, counts, limit, show
from .schemas import Schema


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None


def compare_strings(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    counts(out, original, update, ("maxLength", "MAX_LENGTH"), ("minLength", "MIN_LENGTH"))
    o, u = original.node.get("pattern"), update.node.get("pattern")
    if o is None and u is not None:
        add(out, PATTERN_ADDED, update.source.at("pattern"), f"the reader adds pattern {show(u)}")
    elif o is not None and u is None:
        add(out, "PATTERN_REMOVED", original.source.at("pattern"), f"the reader drops pattern {show(o)}")
    elif o != u:
        add(
            out,
            PATTERN_CHANGED,
            update.source.at("pattern"),
            f"the reader's pattern {show(u)} differs from the writer's {show(o)}",
        )


def compare_numbers(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    for keyword, name in (
        ("maximum", "MAXIMUM"),
        ("minimum", "MINIMUM"),
        ("exclusiveMaximum", "EXCLUSIVE_MAXIMUM"),
        ("exclusiveMinimum", "EXCLUSIVE_MINIMUM"),
    ):
        # Draft-4 boolean exclusiveMaximum/Minimum are not limits: _decimal() makes them None.
        o, u = _decimal(original.node.get(keyword)), _decimal(update.node.get(keyword))
        limit(out, original, update, keyword, name, o, u)
    _multiple_of(out, original, update)
    type_at = update.source.at("type") if "type" in update.node else update.source
    if original.integer and not update.integer:
        add(
            out,
            "TYPE_EXTENDED",
            type_at,
            "the reader accepts any number where the writer wrote integers",
        )
    elif update.integer and not original.integer:
        add(out, TYPE_NARROWED, type_at, "the reader requires integers where the writer allows any number")


def _multiple_of(out: list[Difference], original: Schema, update: Schema) -> None:
    o, u = _decimal(original.node.get("multipleOf")), _decimal(update.node.get("multipleOf"))
    if o == u:
        return
    if o is None:
        add(
            out,
            MULTIPLE_OF_ADDED,
            update.source.at("multipleOf"),
            f"the reader adds multipleOf {update.node['multipleOf']}, which the writer does not have",
        )
    elif u is None:
        add(
            out,
            "MULTIPLE_OF_REMOVED",
            original.source.at("multipleOf"),
            f"the reader drops the writer's multipleOf {original.node['multipleOf']}",
        )
    elif o != 0 and u % o == 0:
        add(
            out,
            MULTIPLE_OF_EXPANDED,
            update.source.at("multipleOf"),
            f"the reader's multipleOf {update.node['multipleOf']} is a multiple of the writer's "
            f"{original.node['multipleOf']}, so some of the writer's numbers are rejected",
        )
    elif u != 0 and o % u == 0:
        add(
            out,
            "MULTIPLE_OF_REDUCED",
            update.source.at("multipleOf"),
            f"the reader's multipleOf {update.node['multipleOf']} divides the writer's {original.node['multipleOf']}",
        )
    else:
        add(
            out,
            MULTIPLE_OF_CHANGED,
            update.source.at("multipleOf"),
            f"the reader's multipleOf {update.node['multipleOf']} does not divide the writer's "
            f"{original.node['multipleOf']}",
        )


def compare_enums(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o = {canonical(v): v for v in original.node.get("enum", [])}
    u = {canonical(v): v for v in update.node.get("enum", [])}
    if o.keys() == u.keys():
        return
    where = update.source.at("enum")
    missing = ", ".join(show(v) for k, v in o.items() if k not in u)
    if o.keys() <= u.keys():
        add(out, "ENUM_ARRAY_EXTENDED", where, "the reader's enum adds values to the writer's")
    elif u.keys() <= o.keys():
        add(out, ENUM_ARRAY_NARROWED, where, f"the reader's enum lacks the writer's values {missing}")
    else:
        add(out, ENUM_ARRAY_CHANGED, where, f"the reader's enum replaces the writer's values {missing} with others")


def compare_consts(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o, u = original.node.get("const"), update.node.get("const")
    if canonical(o) != canonical(u):
        add(
            out,
            ENUM_ARRAY_CHANGED,
            update.source.at("const"),
            f"the reader's const {show(u)} differs from the writer's {show(o)}",
        )
