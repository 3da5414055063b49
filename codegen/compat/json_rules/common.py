"""What the comparisons of every kind share: the walk, messages, bounds and additional content."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Protocol

from ...diagnostics import Source
from .catalog import Difference
from .schemas import Node, Schema


class Walk(Protocol):
    """What a comparison of one kind needs from the differ (:class:`~.differ.Differ`)."""

    def compare(self, out: list[Difference], original: Schema, update: Schema) -> None:
        """Add the differences of a pair to ``out`` (``original`` is the writer, ``update`` the reader)."""

    def trial(self, original: Schema, update: Schema) -> list[Difference]:
        """The differences of a pair, without reporting them."""


def add(out: list[Difference], type: str, source: Source, message: str) -> None:
    out.append(Difference(type, source, message))


def canonical(value: Any) -> str:
    """A JSON value as one canonical string, to compare values by."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def compatible(diffs: list[Difference]) -> bool:
    return all(d.compatible for d in diffs)


def describe(schema: Schema) -> str:
    """A few words for the values a schema accepts, for messages."""
    kind = schema.kind
    if kind == "any":
        return "any value"
    if kind == "false":
        return "no value at all"
    if kind == "number":
        return "an integer" if schema.integer else "a number"
    if kind in ("string", "object", "array", "boolean"):
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    if kind == "null":
        return "null"
    if kind == "enum":
        return f"one of {show(schema.node.get('enum'))}"
    if kind == "const":
        return f"the constant {show(schema.node.get('const'))}"
    if kind == "not":
        return "a value not matching a schema"
    if kind == "conditional":
        return "an if/then/else schema"
    if schema.synthetic:
        return " and ".join(describe(s) for s in schema.subs)
    if schema.subs and all(s.tag.startswith("type:") for s in schema.subs):
        return " or ".join(describe(s) for s in schema.subs)
    return f"{schema.criterion} of {len(schema.subs)} schemas"


def limit(
    out: list[Difference],
    original: Schema,
    update: Schema,
    keyword: str,
    name: str,
    o: Decimal | int | None,
    u: Decimal | int | None,
) -> None:
    """A bound keyword (``maxLength``, ``minimum``, ...): NAME_ADDED/REMOVED/INCREASED/DECREASED."""
    if o == u:
        return
    if o is None:
        add(
            out,
            f"{name}_ADDED",
            update.source.at(keyword),
            f"the reader adds {keyword} {update.node[keyword]}, which the writer does not have",
        )
    elif u is None:
        add(
            out,
            f"{name}_REMOVED",
            original.source.at(keyword),
            f"the reader drops the writer's {keyword} {original.node[keyword]}",
        )
    elif o < u:
        add(
            out,
            f"{name}_INCREASED",
            update.source.at(keyword),
            f"the reader raises {keyword} from {original.node[keyword]} to {update.node[keyword]}",
        )
    else:
        add(
            out,
            f"{name}_DECREASED",
            update.source.at(keyword),
            f"the reader lowers {keyword} from {original.node[keyword]} to {update.node[keyword]}",
        )


def counts(out: list[Difference], original: Schema, update: Schema, *limits: tuple[str, str]) -> None:
    for keyword, name in limits:
        o, u = _count(original.node.get(keyword)), _count(update.node.get(keyword))
        limit(out, original, update, keyword, name, o, u)


def permits(schema: Schema, keyword: str) -> bool:
    return schema.node.get(keyword, True) is not False


def schema_of(schema: Schema, keyword: str) -> Node | None:
    """the schema of ``additionalProperties``/``additionalItems`` when it is one (not a boolean)."""
    value = schema.node.get(keyword)
    return Node(value, schema.source.at(keyword), schema.base) if isinstance(value, dict) else None


def additional(
    walk: Walk,
    out: list[Difference],
    original: Schema,
    update: Schema,
    keywords: tuple[str, str],
    name: str,
    things: str,
) -> None:
    """``additionalProperties`` or the items past a tuple (``additionalItems``, or ``items`` beside
    ``prefixItems``; ``keywords`` are the writer's and the reader's): ADDITIONAL_<name>_ADDED,
    _REMOVED, _EXTENDED or _NARROWED."""
    o_kw, u_kw = keywords
    o_permits, u_permits = permits(original, o_kw), permits(update, u_kw)
    o_schema, u_schema = schema_of(original, o_kw), schema_of(update, u_kw)
    if o_permits != u_permits:
        if u_permits:
            where = update.source.at(u_kw) if u_kw in update.node else original.source.at(o_kw)
            add(
                out,
                f"ADDITIONAL_{name}_ADDED",
                where,
                f"the reader allows additional {things}, which the writer forbade",
            )
        else:
            add(
                out,
                f"ADDITIONAL_{name}_REMOVED",
                update.source.at(u_kw),
                f"the reader forbids additional {things}, which the writer allowed",
            )
    elif o_schema is None and u_schema is not None:
        add(
            out,
            f"ADDITIONAL_{name}_NARROWED",
            u_schema.source,
            f"the reader constrains additional {things} with a schema, where the writer allowed any",
        )
    elif o_schema is not None and u_schema is None:
        add(
            out,
            f"ADDITIONAL_{name}_EXTENDED",
            o_schema.source,
            f"the reader allows any additional {things}, where the writer constrained them",
        )
    elif o_schema is not None and u_schema is not None:
        walk.compare(out, original.loader.load(o_schema), update.loader.load(u_schema))
