"""Arrays: ``items``, tuples (``items`` as a list, or ``prefixItems``) with their open or closed content
model (``additionalItems``, or ``items`` beside ``prefixItems``), ``minItems``/``maxItems``/``uniqueItems``."""

from __future__ import annotations

from .catalog import (
    ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    ITEM_ADDED_TO_OPEN_CONTENT_MODEL,
    ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    SCHEMA_ADDED,
    UNIQUE_ITEMS_ADDED,
    Difference,
)
from .common import Walk, add, additional, compatible, counts, permits, schema_of
from .schemas import Node, Schema


def compare_arrays(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    _items(walk, out, original, update)
    _tuple(walk, out, original, update)
    keywords = (_additional_items_keyword(original), _additional_items_keyword(update))
    additional(walk, out, original, update, keywords, "ITEMS", "items")
    counts(out, original, update, ("maxItems", "MAX_ITEMS"), ("minItems", "MIN_ITEMS"))
    o_unique, u_unique = original.node.get("uniqueItems") is True, update.node.get("uniqueItems") is True
    if o_unique and not u_unique:
        add(
            out,
            "UNIQUE_ITEMS_REMOVED",
            original.source.at("uniqueItems"),
            "the reader no longer demands unique items",
        )
    elif u_unique and not o_unique:
        add(
            out,
            UNIQUE_ITEMS_ADDED,
            update.source.at("uniqueItems"),
            "the reader demands unique items, which the writer's arrays need not have",
        )


def _items(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o, u = _all_items(original), _all_items(update)
    if o is None and u is not None:
        add(
            out,
            SCHEMA_ADDED,
            u.source,
            "the reader constrains the array's items with a schema, where the writer allowed any items",
        )
    elif o is not None and u is None:
        add(out, "SCHEMA_REMOVED", o.source, "the reader no longer constrains the array's items")
    elif o is not None and u is not None:
        walk.compare(out, original.loader.load(o), update.loader.load(u))


def _tuple(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o_items, u_items = _tuple_items(original), _tuple_items(update)
    for o_node, u_node in zip(o_items, u_items):
        walk.compare(out, original.loader.load(o_node), update.loader.load(u_node))
    for node in o_items[len(u_items) :]:
        _item_removed(walk, out, update, original.loader.load(node))
    for node in u_items[len(o_items) :]:
        _item_added(walk, out, original, update.loader.load(node))


def _item_removed(walk: Walk, out: list[Difference], update: Schema, writer_item: Schema) -> None:
    where = writer_item.source
    keyword = _additional_items_keyword(update)
    if permits(update, keyword) and schema_of(update, keyword) is None:
        add(
            out,
            "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
            where,
            "the reader drops this tuple item; its open content model still accepts it",
        )
        return
    covering = schema_of(update, keyword)
    if covering is not None:
        sub = walk.trial(writer_item, update.loader.load(covering))
        out.extend(sub)
        if compatible(sub):
            add(
                out,
                "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                where,
                f"the reader drops this tuple item; its {keyword} schema accepts the writer's values",
            )
        else:
            add(
                out,
                ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                where,
                f"the reader drops this tuple item, and its {keyword} schema does not accept all of the "
                "writer's values",
            )
    elif writer_item.kind == "false":
        add(
            out,
            "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            where,
            "the reader drops a tuple item the writer forbade",
        )
    else:
        add(
            out,
            ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL,
            where,
            "the reader drops this tuple item and allows no additional items, so the writer's item is rejected",
        )


def _item_added(walk: Walk, out: list[Difference], original: Schema, reader_item: Schema) -> None:
    where = reader_item.source
    keyword = _additional_items_keyword(original)
    if permits(original, keyword) and schema_of(original, keyword) is None:
        if reader_item.kind == "any":
            add(
                out,
                "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
                where,
                "the reader adds a tuple item that accepts any value",
            )
        else:
            add(
                out,
                ITEM_ADDED_TO_OPEN_CONTENT_MODEL,
                where,
                "the reader adds a tuple item, but the writer's open content model lets its arrays hold any "
                "value there",
            )
        return
    covering = schema_of(original, keyword)
    if covering is None:
        add(
            out,
            "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
            where,
            "the reader adds a tuple item where the writer allowed no more items",
        )
        return
    sub = walk.trial(original.loader.load(covering), reader_item)
    out.extend(sub)
    if compatible(sub):
        add(
            out,
            "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            where,
            f"the reader adds a tuple item accepting what the writer's {keyword} schema allowed there",
        )
    else:
        add(
            out,
            ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
            where,
            f"the reader adds a tuple item that does not accept all the writer's {keyword} schema allowed there",
        )


def _all_items(schema: Schema) -> Node | None:
    """the one schema every item must match (``items`` as a schema, without ``prefixItems``)."""
    if "prefixItems" in schema.node:
        return None
    value = schema.node.get("items")
    return Node(value, schema.source.at("items"), schema.base) if isinstance(value, dict | bool) else None


def _tuple_items(schema: Schema) -> list[Node]:
    for keyword in ("prefixItems", "items"):
        value = schema.node.get(keyword)
        if isinstance(value, list):
            return [Node(v, schema.source.at(keyword, i), schema.base) for i, v in enumerate(value)]
    return []


def _additional_items_keyword(schema: Schema) -> str:
    """What constrains items past the tuple: ``items`` beside ``prefixItems`` (2020-12), else ``additionalItems``."""
    return "items" if "prefixItems" in schema.node else "additionalItems"
