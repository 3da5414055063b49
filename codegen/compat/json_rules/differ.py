"""Confluent's ``SchemaDiff`` walk: ``original`` is the writer, ``update`` the reader.

Differing kinds are ``TYPE_CHANGED``, except into a union that holds a compatible branch
(``SUM_TYPE_EXTENDED``), out of an ``allOf`` one of whose parts is compatible (``PRODUCT_TYPE_NARROWED``),
from ``false`` or to any value, which are compatible. A pair already being compared further up is taken
as compatible, so recursive schemas terminate. A finding points into the reader's schema for whatever the
reader has, into the writer's for what the reader no longer has."""

from __future__ import annotations

from collections.abc import Callable

from ..findings import Incompatibility
from .arrays import compare_arrays
from .catalog import RULES, TYPE_CHANGED, Difference
from .combinators import compare_combined, compare_nots
from .common import Walk, add, canonical, compatible, describe
from .objects import compare_objects
from .scalars import compare_consts, compare_enums, compare_numbers, compare_strings
from .schemas import JsonVersion, Loader, Schema


def differences(reader: JsonVersion, writer: JsonVersion) -> list[Difference]:
    """Every change from ``writer`` to ``reader``, compatible ones included, in schema order."""
    differ = Differ()
    out: list[Difference] = []
    w = Loader(writer, "writer")
    r = Loader(reader, "reader")
    differ.compare(out, w.root(), r.root())
    # Pointers into the files as written (a draft-07 tuple's "items" rather than "prefixItems").
    side = {id(d): r if d.source.file in r.index.docs else w for d in out}
    return _unique([Difference(d.type, side[id(d)].written(d.source), d.message) for d in out])


def can_read(reader: JsonVersion, writer: JsonVersion) -> list[Incompatibility]:
    """Why ``reader`` cannot read data valid against ``writer`` (empty when it can), by
    Confluent's rules: ``SchemaDiff.compare(original=writer, update=reader)``."""
    return [
        Incompatibility(RULES[d.type], d.source, d.message) for d in differences(reader, writer) if not d.compatible
    ]


def _unique(diffs: list[Difference]) -> list[Difference]:
    seen: set[Difference] = set()
    out = []
    for d in diffs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


class Differ:
    """The :class:`~.common.Walk` of one comparison: each pair of schemas is compared once (memoised)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Difference]] = {}
        self._in_progress: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()

    def trial(self, original: Schema, update: Schema) -> list[Difference]:
        """the differences of a pair, without reporting them (a sub-context in Confluent's code)."""
        sub: list[Difference] = []
        self.compare(sub, original, update)
        return sub

    def compare(self, out: list[Difference], original: Schema, update: Schema) -> None:
        key = (original.key, update.key)
        cached = self._memo.get(key)
        if cached is not None:
            out.extend(cached)
            return
        if key in self._in_progress:
            return  # a recursive schema met itself: the enclosing comparison decides
        self._in_progress.add(key)
        found: list[Difference] = []
        try:
            self._compare(found, original, update)
        finally:
            self._in_progress.discard(key)
        self._memo[key] = found
        out.extend(found)

    def _compare(self, out: list[Difference], original: Schema, update: Schema) -> None:
        if original.kind != "combined" and update.kind == "combined":
            if len(update.subs) == 1:
                sub = self.trial(original, update.subs[0])
                if compatible(sub):
                    out.extend(sub)
                    return
            elif update.criterion in ("anyOf", "oneOf"):
                for branch in update.subs:
                    sub = self.trial(original, branch)
                    if compatible(sub):
                        out.extend(sub)
                        add(
                            out,
                            "SUM_TYPE_EXTENDED",
                            update.keyword_source,
                            f"the reader widens {describe(original)} to {describe(update)}",
                        )
                        return
        elif original.kind == "combined" and update.kind != "combined":
            if len(original.subs) == 1:
                sub = self.trial(original.subs[0], update)
                if compatible(sub):
                    out.extend(sub)
                    return
            if original.criterion == "allOf":
                for part in original.subs:
                    sub = self.trial(part, update)
                    if compatible(sub):
                        out.extend(sub)
                        add(
                            out,
                            "PRODUCT_TYPE_NARROWED",
                            update.source,
                            f"the reader relaxes {describe(original)} to {describe(update)}",
                        )
                        return
        if original.kind != update.kind:
            if original.kind == "false" or update.kind == "any":
                return
            add(
                out,
                TYPE_CHANGED,
                update.source,
                f"the reader expects {describe(update)} where the writer has {describe(original)}",
            )
            return
        if original.tag == "" and update.tag == "":
            self._annotations(out, original, update)
        compare = _BY_KIND.get(original.kind)
        if compare is not None:
            compare(self, out, original, update)

    # Annotations: always compatible, listed for completeness.
    def _annotations(self, out: list[Difference], original: Schema, update: Schema) -> None:
        for keyword, type in (
            ("$id", "ID_CHANGED"),
            ("title", "TITLE_CHANGED"),
            ("description", "DESCRIPTION_CHANGED"),
            ("default", "DEFAULT_CHANGED"),
        ):
            o, u = original.node.get(keyword), update.node.get(keyword)
            if canonical(o) != canonical(u):
                where = update.source.at(keyword) if keyword in update.node else original.source.at(keyword)
                add(out, type, where, f"the reader's {keyword} differs from the writer's")


# The comparison of each kind of schema (the kinds without one compare equal once their kinds match).
_BY_KIND: dict[str, Callable[[Walk, list[Difference], Schema, Schema], None]] = {
    "string": compare_strings,
    "number": compare_numbers,
    "enum": compare_enums,
    "const": compare_consts,
    "not": compare_nots,
    "combined": compare_combined,
    "object": compare_objects,
    "array": compare_arrays,
}
