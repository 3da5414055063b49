"""``allOf``/``anyOf``/``oneOf``: criterion, subschema count, and a maximum matching of the writer's
subschemas to the reader's by compatibility (``COMBINED_TYPE_SUBSCHEMAS_CHANGED`` when none covers them
all); ``not``, compared the other way round."""

from __future__ import annotations

from typing import Any

from .catalog import (
    COMBINED_TYPE_CHANGED,
    COMBINED_TYPE_SUBSCHEMAS_CHANGED,
    NOT_TYPE_EXTENDED,
    PRODUCT_TYPE_EXTENDED,
    SUM_TYPE_NARROWED,
    Difference,
)
from .common import Walk, add, canonical, compatible, describe
from .schemas import Schema


def compare_nots(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o_node = original.loader.child(original, "not")
    u_node = update.loader.child(update, "not")
    if o_node is None or u_node is None:
        return
    excluded_by_reader = update.loader.load(u_node)
    excluded_by_writer = original.loader.load(o_node)
    found = walk.trial(excluded_by_reader, excluded_by_writer)
    if not found:
        return  # Confluent reports NOT_TYPE_NARROWED here too; nothing changed, so nothing is listed
    if compatible(found):
        add(
            out,
            "NOT_TYPE_NARROWED",
            u_node.source,
            "the reader's not-schema excludes no value the writer's did not exclude",
        )
    else:
        add(
            out,
            NOT_TYPE_EXTENDED,
            u_node.source,
            "the reader's not-schema excludes values the writer's not-schema allowed",
        )


def compare_combined(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    where = update.keyword_source
    if original.criterion != update.criterion:
        o_single, u_single = len(original.subs) == 1, len(update.subs) == 1
        extended = (
            update.criterion == "anyOf"
            or (update.criterion == "oneOf" and o_single)
            or (update.criterion == "allOf" and o_single and u_single)
        )
        if not extended:
            add(
                out,
                COMBINED_TYPE_CHANGED,
                where,
                f"the reader combines its subschemas with {update.criterion} where the writer used "
                f"{original.criterion}",
            )
            return
        add(
            out,
            "COMBINED_TYPE_EXTENDED",
            where,
            f"the reader combines with {update.criterion} where the writer used {original.criterion}",
        )
    o_subs = _distinct(original.subs)
    u_subs = _distinct(update.subs)
    counts = f"{_subschemas(len(u_subs))} where the writer's has {len(o_subs)}"
    if len(o_subs) < len(u_subs):
        if update.criterion == "allOf":
            add(out, PRODUCT_TYPE_EXTENDED, where, f"the reader's allOf has {counts}: data must match more")
        else:
            add(out, "SUM_TYPE_EXTENDED", where, f"the reader's {update.criterion} has {counts}")
    elif len(o_subs) > len(u_subs):
        if update.criterion == "allOf":
            add(out, "PRODUCT_TYPE_NARROWED", where, f"the reader's allOf has {counts}")
        else:
            add(
                out,
                SUM_TYPE_NARROWED,
                where,
                f"the reader's {update.criterion} has {counts}: some of the writer's alternatives are gone",
            )
    edges: dict[tuple[int, int], list[Difference]] = {}
    for i, o in enumerate(o_subs):
        for j, u in enumerate(u_subs):
            sub = walk.trial(o, u)
            if compatible(sub):
                edges[(i, j)] = sub
    matching = _max_matching(len(o_subs), len(u_subs), edges.keys())
    for pair in sorted(matching.items()):
        out.extend(edges[pair])
    if len(matching) >= min(len(o_subs), len(u_subs)):
        return
    if original.synthetic and update.synthetic and _parts_by_kind(walk, out, o_subs, u_subs):
        return
    unmatched = [i for i in range(len(o_subs)) if i not in matching]
    add(
        out,
        COMBINED_TYPE_SUBSCHEMAS_CHANGED,
        where,
        f"the writer's {_show_parts(original, o_subs, unmatched)} has no compatible counterpart among the "
        f"reader's {update.criterion if not update.synthetic else 'keywords'}",
    )


def _parts_by_kind(walk: Walk, out: list[Difference], o_subs: list[Schema], u_subs: list[Schema]) -> bool:
    """For objects that combine kinds of keywords (``type`` with ``enum``), report why parts of the
    same kind differ; False when that finds nothing incompatible."""
    by_tag = {u.tag: u for u in u_subs}
    found: list[Difference] = []
    for o in o_subs:
        u = by_tag.get(o.tag)
        if u is not None:
            found.extend(walk.trial(o, u))
    if compatible(found):
        return False
    out.extend(found)
    return True


def _distinct(schemas: list[Schema]) -> list[Schema]:
    """Subschemas without repeats (the registry compares them as a set)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for s in schemas:
        key = (canonical(s.node) if s.kind not in ("any", "false") or s.node else s.kind, s.tag)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _subschemas(n: int) -> str:
    return f"{n} subschema" if n == 1 else f"{n} subschemas"


def _show_parts(combined: Schema, subs: list[Schema], indexes: list[int]) -> str:
    if combined.synthetic:
        return " and ".join(describe(subs[i]) for i in indexes)
    return ", ".join(f"subschema {i}" for i in indexes) if len(indexes) > 1 else f"subschema {indexes[0]}"


def _max_matching(left: int, right: int, edges: Any) -> dict[int, int]:
    """A maximum bipartite matching (augmenting paths): left index -> right index."""
    adjacent: dict[int, list[int]] = {i: [] for i in range(left)}
    for i, j in sorted(edges):
        adjacent[i].append(j)
    owner: dict[int, int] = {}

    def augment(i: int, visited: set[int]) -> bool:
        for j in adjacent[i]:
            if j in visited:
                continue
            visited.add(j)
            if j not in owner or augment(owner[j], visited):
                owner[j] = i
                return True
        return False

    for i in range(left):
        augment(i, set())
    del right
    return {i: j for j, i in owner.items()}
