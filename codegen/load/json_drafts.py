"""JSON Schema drafts: which draft a document is written in, and the same document in one dialect.

Every later stage (codegen, compatibility) reads documents in one dialect, 2020-12's, so draft
differences are settled here once, keyword by keyword:

========================  ==========================================  ==========================
keyword                   draft-04 / 06 / 07 (2019-09 where marked)   2020-12 (what stages read)
========================  ==========================================  ==========================
base URI                  ``id`` (04), ``$id``                        ``$id``
anchor                    ``$id: "#name"`` (04-07)                    ``$anchor``
bounds                    ``exclusiveMaximum: true`` + ``maximum``    ``exclusiveMaximum: <n>``
                          (04; ``false`` means inclusive)
tuples                    ``items: [...]`` + ``additionalItems``      ``prefixItems`` + ``items``
                          (04-2019-09)
dependencies              ``dependencies`` (04-07)                    ``dependentRequired`` /
                                                                      ``dependentSchemas``
``$ref`` beside others    the others are ignored (04-07)              both apply
========================  ==========================================  ==========================

Keywords a draft does not have are ignored by its validators, so they are dropped (``prefixItems``
in a draft-07 file, ``dependencies`` in a 2020-12 file). Where a keyword moves, :class:`PointerMap`
maps the new location back to the one written in the file, so messages point at what the user wrote.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import pointer


class Draft(enum.Enum):
    """A JSON Schema draft, by the name ``[tool.schemabus]`` and messages use."""

    DRAFT4 = "draft-04"
    DRAFT6 = "draft-06"
    DRAFT7 = "draft-07"
    DRAFT2019_09 = "2019-09"
    DRAFT2020_12 = "2020-12"

    @property
    def metaschema(self) -> str:
        return _METASCHEMAS[self][0]

    @property
    def order(self) -> int:
        return list(Draft).index(self)


# The ``$schema`` URI of each draft, first the canonical one, then spellings seen in the wild.
_METASCHEMAS: dict[Draft, tuple[str, ...]] = {
    Draft.DRAFT4: ("http://json-schema.org/draft-04/schema#", "http://json-schema.org/schema#"),
    Draft.DRAFT6: ("http://json-schema.org/draft-06/schema#",),
    Draft.DRAFT7: ("http://json-schema.org/draft-07/schema#",),
    Draft.DRAFT2019_09: ("https://json-schema.org/draft/2019-09/schema",),
    Draft.DRAFT2020_12: ("https://json-schema.org/draft/2020-12/schema",),
}


def _uri_key(uri: str) -> str:
    return uri.strip().rstrip("#").removeprefix("https://").removeprefix("http://")


_BY_URI = {_uri_key(uri): draft for draft, uris in _METASCHEMAS.items() for uri in uris}
# Confluent's serializers default ``json.schema.spec.version`` to draft_7: a file without ``$schema``
# is read as draft-07 unless [tool.schemabus] says otherwise.
DEFAULT_DRAFT = Draft.DRAFT7


def parse_draft(name: str) -> Draft | None:
    """A draft from its name (``draft-07``, ``7``, ``2020-12``) or its ``$schema`` URI; None if unknown."""
    text = name.strip().lower()
    for draft in Draft:
        if text in (draft.value, draft.value.removeprefix("draft-"), draft.value.removeprefix("draft-0")):
            return draft
    return _BY_URI.get(_uri_key(name))


def known_drafts() -> str:
    return ", ".join(d.value for d in Draft)


def declared_draft(document: Any) -> str | None:
    """The ``$schema`` a document declares (None when it declares none)."""
    if isinstance(document, dict) and isinstance(document.get("$schema"), str):
        return str(document["$schema"])
    return None


# --- where subschemas are -----------------------------------------------------------------------

# Keywords whose value is one schema, an array of schemas, or an object whose values are schemas.
ONE = (
    "additionalProperties",
    "unevaluatedProperties",
    "items",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
)
MANY = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")
# Keywords that only describe: a $ref beside them is not constrained by them in any draft.
ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "$schema"}
)
# Locations other schemas point into: kept beside a $ref even where the draft ignores its siblings.
LOCATIONS = frozenset({"$defs", "definitions", "$id", "id", "$anchor"})


@dataclass
class PointerMap:
    """Maps a JSON pointer of the normalized document to the pointer written in the file."""

    moves: dict[str, str] = field(default_factory=dict)  # normalized prefix -> original prefix
    # Where each schema written in the file is in the normalized document (original -> normalized),
    # for ``$ref``s, which are written against the file.
    positions: dict[str, str] = field(default_factory=dict)

    def original(self, normalized: str) -> str:
        best = ""
        for prefix in self.moves:
            if len(prefix) > len(best) and (normalized == prefix or normalized.startswith(prefix + "/")):
                best = prefix
        if not best:
            return normalized
        return self.moves[best] + normalized[len(best) :]


def normalize(document: Any, draft: Draft) -> tuple[Any, PointerMap]:
    """``document`` (written in ``draft``) in the 2020-12 dialect, and where its keywords moved from."""
    moves = PointerMap()
    return _Normalizer(draft, moves).schema(document, "", ""), moves


class _Normalizer:
    def __init__(self, draft: Draft, moves: PointerMap) -> None:
        self.draft = draft
        self.moves = moves

    def schema(self, node: Any, at: str, written: str) -> Any:
        """``node`` is a schema found at ``at`` (normalized) and ``written`` (in the file)."""
        self.moves.positions[written] = at
        if not isinstance(node, dict):
            return node  # booleans (06+); anything else the metaschema check has refused
        if at != written:
            self.moves.moves[at] = written
        d = self.draft
        out: dict[str, Any] = {}
        keep = node
        if "$ref" in node and d.order <= Draft.DRAFT7.order:
            keep = {k: v for k, v in node.items() if k == "$ref" or k in ANNOTATIONS or k in LOCATIONS}
        for key, value in keep.items():
            if key in ONE or key in MANY or key in NAMED:
                continue  # below
            if key == "id" and d is Draft.DRAFT4:
                if isinstance(value, str):
                    self._identify(out, value, at, written, "id")
                continue
            if key == "$id" and d.order <= Draft.DRAFT7.order and isinstance(value, str):
                self._identify(out, value, at, written, "$id")
                continue
            if key in ("exclusiveMaximum", "exclusiveMinimum") and isinstance(value, bool):
                continue  # draft-04's flags: settled with their bound below
            if key in ("maximum", "minimum") and d is Draft.DRAFT4 and keep.get("exclusive" + key.title()) is True:
                exclusive = "exclusive" + key.title()
                out[exclusive] = value
                self.moves.moves[at + pointer(exclusive)] = written + pointer(key)
                continue
            if key in _NEW_IN_2019 and d.order <= Draft.DRAFT7.order:
                continue
            if key in _NEW_IN_2020 and d.order < Draft.DRAFT2020_12.order:
                continue
            if key in ("$recursiveRef", "$recursiveAnchor") and d is not Draft.DRAFT2019_09:
                continue
            out[key] = value
        self._subschemas(keep, out, at, written)
        return out

    def _identify(self, out: dict[str, Any], value: str, at: str, written: str, key: str) -> None:
        if value.startswith("#"):
            if len(value) > 1:
                out["$anchor"] = value[1:]
                self.moves.moves[at + "/$anchor"] = written + pointer(key)
        else:
            out["$id"] = value
            if key != "$id":
                self.moves.moves[at + "/$id"] = written + pointer(key)

    def _subschemas(self, node: dict[str, Any], out: dict[str, Any], at: str, written: str) -> None:
        d = self.draft
        tuple_form = isinstance(node.get("items"), list) and d.order <= Draft.DRAFT2019_09.order
        if tuple_form:  # the keywords move even where a finding points at one the file lacks
            self.moves.moves[at + "/prefixItems"] = written + "/items"
            self.moves.moves[at + "/items"] = written + "/additionalItems"
        for key in ONE:
            if key not in node or (key == "items" and isinstance(node[key], list)):
                continue
            if key == "additionalItems":
                if tuple_form:  # the items after the tuple: 2020-12's "items" beside "prefixItems"
                    out["items"] = self.schema(node[key], at + "/items", written + "/additionalItems")
                continue  # beside a single-schema "items" (or in 2020-12) it constrains nothing
            if key == "items" and tuple_form:
                continue
            if key in ("unevaluatedProperties", "unevaluatedItems") and d.order <= Draft.DRAFT7.order:
                continue
            if key in ("if", "then", "else") and d.order <= Draft.DRAFT6.order:
                continue
            if key in ("contains", "propertyNames") and d is Draft.DRAFT4:
                continue
            if key == "contentSchema" and d.order <= Draft.DRAFT7.order:
                continue
            out[key] = self.schema(node[key], at + pointer(key), written + pointer(key))
        for key in MANY:
            value = node.get(key)
            if not isinstance(value, list):
                continue
            if key == "items":
                if not tuple_form:
                    continue
                target = "prefixItems"
            elif key == "prefixItems":
                if d is not Draft.DRAFT2020_12:
                    continue
                target = key
            else:
                target = key
            out[target] = [
                self.schema(v, at + pointer(target, i), written + pointer(key, i)) for i, v in enumerate(value)
            ]
        for key in NAMED:
            value = node.get(key)
            if not isinstance(value, dict):
                continue
            if key == "dependencies":
                if d.order <= Draft.DRAFT7.order:
                    self._dependencies(value, out, at, written)
                continue
            if key in ("dependentSchemas",) and d.order <= Draft.DRAFT7.order:
                continue
            out[key] = {
                name: self.schema(v, at + pointer(key, name), written + pointer(key, name)) for name, v in value.items()
            }

    def _dependencies(self, value: dict[str, Any], out: dict[str, Any], at: str, written: str) -> None:
        """draft-04..07 ``dependencies``: arrays of names are 2019-09's ``dependentRequired``, schemas its
        ``dependentSchemas``."""
        for keyword in ("dependentRequired", "dependentSchemas"):
            self.moves.moves[at + "/" + keyword] = written + "/dependencies"
        for name, dep in value.items():
            if isinstance(dep, list):
                out.setdefault("dependentRequired", {})[name] = dep
                self.moves.moves[at + pointer("dependentRequired", name)] = written + pointer("dependencies", name)
            else:
                deps = out.setdefault("dependentSchemas", {})
                where = at + pointer("dependentSchemas", name)
                deps[name] = self.schema(dep, where, written + pointer("dependencies", name))
                self.moves.moves.setdefault(where, written + pointer("dependencies", name))


# Keywords that earlier drafts do not have (their validators ignore them).
_NEW_IN_2019 = frozenset({"dependentRequired", "maxContains", "minContains", "$anchor", "$vocabulary"})
_NEW_IN_2020 = frozenset({"$dynamicRef", "$dynamicAnchor"})
