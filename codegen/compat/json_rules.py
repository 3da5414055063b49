"""JSON Schema compatibility with Confluent Schema Registry's semantics.

Confluent's JSON Schema provider decides compatibility by diffing two schemas
(``io.confluent.kafka.schemaregistry.json.diff.SchemaDiff.compare(original, update)``): every
change found gets a ``Difference.Type``, and the pair is compatible when each of them is in
``SchemaDiff.COMPATIBLE_CHANGES``. The registry checks BACKWARD as ``compare(original=previous,
update=new)``, i.e. the *writer* is the original and the *reader* the update. So
``can_read(reader, writer)`` here is ``compare(original=writer, update=reader)``, whatever the
level: FORWARD simply swaps which version reads (see :mod:`.levels`).

What is compared (each a small rule unit below; rule IDs are Confluent's ``Difference.Type``
names, and :data:`COMPATIBLE_CHANGES` lists the ones that never break a reader):

* a schema is split the way the registry's schema loader (everit) splits it: ``true``/``{}`` (any
  value), ``false``, one schema per *kind of keyword* it holds - ``enum``, ``const``, each of
  ``allOf``/``anyOf``/``oneOf``, ``not``, ``if``, and the type (``type``, or the type its keywords
  imply); a list of types is an ``anyOf``. An object with several kinds (``"type": "string"`` with
  ``"enum"``) is an implicit ``allOf`` of them.
* differing kinds: ``TYPE_CHANGED``, except into a union that holds a compatible branch
  (``SUM_TYPE_EXTENDED``), out of an ``allOf`` one of whose parts is compatible
  (``PRODUCT_TYPE_NARROWED``), from ``false`` or to any-value, which are compatible.
* numbers: integer to number ``TYPE_EXTENDED``, number to integer ``TYPE_NARROWED``; bounds and
  ``multipleOf``. Strings: ``minLength``/``maxLength``/``pattern``. Arrays: ``items``, tuples
  (``items`` as a list, or ``prefixItems``) with their open/closed content model
  (``additionalItems``, or ``items`` beside ``prefixItems``), ``minItems``/``maxItems``/
  ``uniqueItems``. Objects: properties added/removed against the content model (open: no
  ``additionalProperties`` or ``true`` and no ``patternProperties``; partially open: a
  ``patternProperties`` or ``additionalProperties`` schema covers the name; closed otherwise),
  ``required``, ``additionalProperties``, ``dependencies``/``dependentRequired``/
  ``dependentSchemas``, ``minProperties``/``maxProperties``. ``enum`` and ``const`` values.
  ``allOf``/``anyOf``/``oneOf``: criterion, subschema count, and a maximum matching of old to new
  subschemas by compatibility (``COMBINED_TYPE_SUBSCHEMAS_CHANGED`` when none covers them all).
  ``not`` (compared the other way round).
* Each document is read in its draft (``$schema``, else the project's default, draft-07) and
  compared in one dialect, 2020-12's (:mod:`~schemabus.codegen.load.json_drafts`): draft-04's
  boolean ``exclusiveMaximum``, tuple ``items`` with ``additionalItems``, ``dependencies`` are what
  their draft means by them, and findings point at the keyword as written.
* ``$ref`` is followed by path, ``$id`` or anchor (:class:`~schemabus.codegen.load.json_refs.RefIndex`,
  also into a bundle's embedded files). Up to draft-07 a ``$ref`` object's other keywords are
  ignored, as those drafts and the registry's draft-7 loader say; from 2019-09 they apply beside
  it, as an ``allOf``. A pair already being compared further up is taken as compatible, so recursive
  schemas terminate.

Where each finding points (``Incompatibility.source``): into the *reader's* schema for whatever the
reader has (an added keyword or property, a changed value, a narrower enum), into the *writer's*
schema for what the reader no longer has (a removed property or tuple item, a removed keyword).

Where this deliberately differs from Confluent's code: numbers are compared exactly (Confluent
compares ``multipleOf`` by ``intValue()``, and ``exclusiveMaximum`` against ``maximum``); when a
schema object that merely combines keyword kinds (``type`` with ``enum``) fails to match, the
failing keyword's own findings are reported (``ENUM_ARRAY_NARROWED`` at ``.../enum``) instead of
Confluent's ``COMBINED_TYPE_SUBSCHEMAS_CHANGED`` (same verdict). Not compared, as in Confluent:
``format``, ``propertyNames``, ``contains``, ``patternProperties`` schemas themselves, ``if``/
``then``/``else``; ``unevaluated*`` is ignored. Since 8.x Confluent splits
``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`` into ``OPTIONAL_``/``REQUIRED_``/
``REQUIRED_..._WITH_DEFAULT_`` variants; this module keeps the single 7.x ID.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..diagnostics import SchemaError, Source
from ..load.json_drafts import DEFAULT_DRAFT, Draft
from ..load.json_refs import RefError, RefIndex
from ..load.jsonschema import index_documents
from .findings import Incompatibility, Rule, rule


@dataclass(frozen=True)
class JsonVersion:
    """One version of a JSON schema: ``document`` (as written) is the file ``file``.

    ``index`` holds the files its ``$ref``s may reach, ``file`` among them (see
    :func:`~schemabus.codegen.load.jsonschema.index_documents`); without one, only the document
    itself (a bundle, say). ``default_draft`` reads a document without ``$schema``.
    """

    file: str
    document: Any
    index: RefIndex | None = None
    default_draft: Draft = DEFAULT_DRAFT


# --- rule IDs -------------------------------------------------------------------------------

COMPATIBLE_CHANGES: frozenset[str] = frozenset(
    {
        # Confluent's SchemaDiff.COMPATIBLE_CHANGES: changes that never stop a reader.
        "ID_CHANGED",
        "DESCRIPTION_CHANGED",
        "TITLE_CHANGED",
        "DEFAULT_CHANGED",
        "SCHEMA_REMOVED",
        "TYPE_EXTENDED",
        "MAX_LENGTH_INCREASED",
        "MAX_LENGTH_REMOVED",
        "MIN_LENGTH_DECREASED",
        "MIN_LENGTH_REMOVED",
        "PATTERN_REMOVED",
        "MAXIMUM_INCREASED",
        "MAXIMUM_REMOVED",
        "MINIMUM_DECREASED",
        "MINIMUM_REMOVED",
        "EXCLUSIVE_MAXIMUM_INCREASED",
        "EXCLUSIVE_MAXIMUM_REMOVED",
        "EXCLUSIVE_MINIMUM_DECREASED",
        "EXCLUSIVE_MINIMUM_REMOVED",
        "MULTIPLE_OF_REDUCED",
        "MULTIPLE_OF_REMOVED",
        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
        "REQUIRED_ATTRIBUTE_REMOVED",
        "DEPENDENCY_ARRAY_NARROWED",
        "DEPENDENCY_ARRAY_REMOVED",
        "DEPENDENCY_SCHEMA_REMOVED",
        "MAX_PROPERTIES_INCREASED",
        "MAX_PROPERTIES_REMOVED",
        "MIN_PROPERTIES_DECREASED",
        "MIN_PROPERTIES_REMOVED",
        "ADDITIONAL_PROPERTIES_ADDED",
        "ADDITIONAL_PROPERTIES_EXTENDED",
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "MAX_ITEMS_INCREASED",
        "MAX_ITEMS_REMOVED",
        "MIN_ITEMS_DECREASED",
        "MIN_ITEMS_REMOVED",
        "UNIQUE_ITEMS_REMOVED",
        "ADDITIONAL_ITEMS_ADDED",
        "ADDITIONAL_ITEMS_EXTENDED",
        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
        "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "ENUM_ARRAY_EXTENDED",
        "COMBINED_TYPE_EXTENDED",
        "PRODUCT_TYPE_NARROWED",
        "SUM_TYPE_EXTENDED",
        "NOT_TYPE_NARROWED",
    }
)

RULES: dict[str, Rule] = {}


def _rule(id: str, purpose: str) -> str:
    RULES[id] = rule(id, "JSON", purpose)
    return id


# The incompatible Difference.Types this module reports, each with what it protects.
SCHEMA_ADDED = _rule("SCHEMA_ADDED", "A reader does not constrain with a new subschema what the writer left free.")
TYPE_CHANGED = _rule("TYPE_CHANGED", "A reader keeps accepting the kind of value the writer writes.")
TYPE_NARROWED = _rule("TYPE_NARROWED", "A reader does not demand integers where the writer writes any number.")
MAX_LENGTH_ADDED = _rule("MAX_LENGTH_ADDED", "A reader does not cap string length the writer left uncapped.")
MAX_LENGTH_DECREASED = _rule("MAX_LENGTH_DECREASED", "A reader accepts strings as long as the writer allows.")
MIN_LENGTH_ADDED = _rule("MIN_LENGTH_ADDED", "A reader does not demand a minimum string length the writer lacks.")
MIN_LENGTH_INCREASED = _rule("MIN_LENGTH_INCREASED", "A reader accepts strings as short as the writer allows.")
PATTERN_ADDED = _rule("PATTERN_ADDED", "A reader does not demand a pattern the writer's strings need not match.")
PATTERN_CHANGED = _rule("PATTERN_CHANGED", "A reader's pattern still matches the writer's strings.")
MAXIMUM_ADDED = _rule("MAXIMUM_ADDED", "A reader does not cap numbers the writer left uncapped.")
MAXIMUM_DECREASED = _rule("MAXIMUM_DECREASED", "A reader accepts numbers as large as the writer allows.")
MINIMUM_ADDED = _rule("MINIMUM_ADDED", "A reader does not set a lower bound the writer lacks.")
MINIMUM_INCREASED = _rule("MINIMUM_INCREASED", "A reader accepts numbers as small as the writer allows.")
EXCLUSIVE_MAXIMUM_ADDED = _rule("EXCLUSIVE_MAXIMUM_ADDED", "A reader does not cap numbers the writer left uncapped.")
EXCLUSIVE_MAXIMUM_DECREASED = _rule(
    "EXCLUSIVE_MAXIMUM_DECREASED", "A reader accepts numbers as large as the writer allows."
)
EXCLUSIVE_MINIMUM_ADDED = _rule("EXCLUSIVE_MINIMUM_ADDED", "A reader does not set a lower bound the writer lacks.")
EXCLUSIVE_MINIMUM_INCREASED = _rule(
    "EXCLUSIVE_MINIMUM_INCREASED", "A reader accepts numbers as small as the writer allows."
)
MULTIPLE_OF_ADDED = _rule("MULTIPLE_OF_ADDED", "A reader does not demand a multiple the writer's numbers need not be.")
MULTIPLE_OF_EXPANDED = _rule("MULTIPLE_OF_EXPANDED", "A reader's multipleOf still divides the writer's numbers.")
MULTIPLE_OF_CHANGED = _rule("MULTIPLE_OF_CHANGED", "A reader's multipleOf still divides the writer's numbers.")
REQUIRED_ATTRIBUTE_ADDED = _rule(
    "REQUIRED_ATTRIBUTE_ADDED", "A reader does not require, without a default, a property the writer may omit."
)
MAX_PROPERTIES_ADDED = _rule("MAX_PROPERTIES_ADDED", "A reader does not cap the property count the writer left free.")
MAX_PROPERTIES_DECREASED = _rule("MAX_PROPERTIES_DECREASED", "A reader accepts as many properties as the writer.")
MIN_PROPERTIES_ADDED = _rule("MIN_PROPERTIES_ADDED", "A reader does not demand a property count the writer lacks.")
MIN_PROPERTIES_INCREASED = _rule("MIN_PROPERTIES_INCREASED", "A reader accepts as few properties as the writer.")
ADDITIONAL_PROPERTIES_REMOVED = _rule(
    "ADDITIONAL_PROPERTIES_REMOVED", "A reader does not forbid additional properties the writer allowed."
)
ADDITIONAL_PROPERTIES_NARROWED = _rule(
    "ADDITIONAL_PROPERTIES_NARROWED", "A reader does not constrain additional properties the writer left free."
)
DEPENDENCY_ARRAY_ADDED = _rule("DEPENDENCY_ARRAY_ADDED", "A reader does not add a property dependency.")
DEPENDENCY_ARRAY_EXTENDED = _rule("DEPENDENCY_ARRAY_EXTENDED", "A reader does not make a dependency demand more.")
DEPENDENCY_ARRAY_CHANGED = _rule("DEPENDENCY_ARRAY_CHANGED", "A reader does not make a dependency demand others.")
DEPENDENCY_SCHEMA_ADDED = _rule("DEPENDENCY_SCHEMA_ADDED", "A reader does not add a schema dependency.")
PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL = _rule(
    "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    "A reader does not constrain a property the writer's open content model let hold any value.",
)
REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL = _rule(
    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "A reader does not add, as required and without a default, a property the writer's data lacks.",
)
PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL = _rule(
    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A reader that allows no additional properties keeps every property the writer writes.",
)
PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A property a reader no longer declares is still accepted by its additional or pattern properties.",
)
PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A property a reader adds accepts what the writer's additional or pattern properties allowed for it.",
)
MAX_ITEMS_ADDED = _rule("MAX_ITEMS_ADDED", "A reader does not cap array length the writer left uncapped.")
MAX_ITEMS_DECREASED = _rule("MAX_ITEMS_DECREASED", "A reader accepts arrays as long as the writer allows.")
MIN_ITEMS_ADDED = _rule("MIN_ITEMS_ADDED", "A reader does not demand a minimum array length the writer lacks.")
MIN_ITEMS_INCREASED = _rule("MIN_ITEMS_INCREASED", "A reader accepts arrays as short as the writer allows.")
UNIQUE_ITEMS_ADDED = _rule("UNIQUE_ITEMS_ADDED", "A reader does not demand unique items the writer may repeat.")
ADDITIONAL_ITEMS_REMOVED = _rule(
    "ADDITIONAL_ITEMS_REMOVED", "A reader does not forbid tuple items beyond its own that the writer allowed."
)
ADDITIONAL_ITEMS_NARROWED = _rule(
    "ADDITIONAL_ITEMS_NARROWED", "A reader does not constrain additional tuple items the writer left free."
)
ITEM_ADDED_TO_OPEN_CONTENT_MODEL = _rule(
    "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
    "A reader does not constrain a tuple position the writer's open content model let hold any value.",
)
ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL = _rule(
    "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A reader that allows no additional items keeps every tuple position the writer writes.",
)
ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A tuple position a reader drops is still accepted by its additional items schema.",
)
ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A tuple position a reader adds accepts what the writer's additional items schema allowed there.",
)
ENUM_ARRAY_NARROWED = _rule("ENUM_ARRAY_NARROWED", "A reader accepts every enum value the writer may write.")
ENUM_ARRAY_CHANGED = _rule("ENUM_ARRAY_CHANGED", "A reader accepts every enum or const value the writer may write.")
COMBINED_TYPE_CHANGED = _rule(
    "COMBINED_TYPE_CHANGED", "A reader does not switch allOf/anyOf/oneOf to a stricter criterion."
)
PRODUCT_TYPE_EXTENDED = _rule("PRODUCT_TYPE_EXTENDED", "A reader does not add subschemas to an allOf.")
SUM_TYPE_NARROWED = _rule("SUM_TYPE_NARROWED", "A reader does not drop alternatives from an anyOf/oneOf.")
COMBINED_TYPE_SUBSCHEMAS_CHANGED = _rule(
    "COMBINED_TYPE_SUBSCHEMAS_CHANGED", "Each of the writer's alternatives has a compatible one in the reader."
)
NOT_TYPE_EXTENDED = _rule("NOT_TYPE_EXTENDED", "A reader's not-schema does not exclude values the writer allowed.")


@dataclass(frozen=True)
class Difference:
    """One change between a writer's and a reader's schema, compatible or not (Confluent's
    ``Difference``): ``type`` is the ``Difference.Type`` name."""

    type: str
    source: Source
    message: str

    @property
    def compatible(self) -> bool:
        return self.type in COMPATIBLE_CHANGES


def differences(reader: JsonVersion, writer: JsonVersion) -> list[Difference]:
    """Every change from ``writer`` to ``reader``, compatible ones included, in schema order."""
    differ = _Differ()
    out: list[Difference] = []
    w = _Loader(writer, "writer")
    r = _Loader(reader, "reader")
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


# --- loading: a schema value as the kinds the registry's loader sees --------------------------

_TYPE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "object": (
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
        "propertyNames",
    ),
    "array": ("items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "string": ("minLength", "maxLength", "pattern", "format"),
}
_COMBINATORS = ("allOf", "anyOf", "oneOf")


@dataclass(eq=False)
class _Schema:
    """One schema as the registry's loader builds it (an everit ``Schema`` class).

    ``kind`` is one of: any, false, string, number, boolean, null, object, array, enum, const,
    combined, not, conditional. ``node`` is the JSON object it was read from (``{}`` for booleans),
    ``source`` where that object is; ``key`` identifies it for memoising and cycle detection.
    """

    kind: str
    node: dict[str, Any]
    source: Source
    base: str  # the file relative $refs in ``node`` resolve against
    loader: _Loader
    tag: str = ""  # "" for the whole object; the keyword kind for one part of an implicit allOf
    integer: bool = False  # number: "type": "integer"
    criterion: str = ""  # combined: allOf, anyOf or oneOf
    subs: list[_Schema] = field(default_factory=list)
    synthetic: bool = False  # combined: an object holding several kinds of keywords
    at: Source | None = None  # combined: where the combinator is written (``/anyOf``, ``/type``)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.loader.side, self.source.file, self.source.pointer, self.tag)

    @property
    def keyword_source(self) -> Source:
        return self.at if self.at is not None else self.source


@dataclass(frozen=True)
class _Node:
    value: Any
    source: Source
    base: str


class _Loader:
    """Reads one version's schemas (normalized to 2020-12), following ``$ref`` through its index."""

    def __init__(self, version: JsonVersion, side: str) -> None:
        self.version = version
        self.side = side
        self._cache: dict[tuple[str, str], _Schema] = {}
        self.index = version.index or index_documents({version.file: version.document}, version.default_draft)
        if version.file not in self.index.docs:
            raise ValueError(f"{version.file} is not in the version's index")

    def root(self) -> _Schema:
        doc = self.index.docs[self.version.file]
        return self.load(_Node(doc.normalized, Source(self.version.file), self.version.file))

    def written(self, source: Source) -> Source:
        """Where ``source`` (a pointer into a normalized document) is in the file as written."""
        doc = self.index.docs.get(source.file)
        return Source(source.file, doc.moves.original(source.pointer)) if doc else source

    def child(self, parent: _Schema, keyword: str) -> _Node | None:
        if keyword not in parent.node:
            return None
        return _Node(parent.node[keyword], parent.source.at(keyword), parent.base)

    def deref(self, node: _Node) -> _Node:
        seen: set[tuple[str, str]] = set()
        while isinstance(node.value, dict) and isinstance(node.value.get("$ref"), str) and not _beside_ref(node.value):
            where = (node.source.file, node.source.pointer)
            if where in seen:
                raise SchemaError(node.source.at("$ref"), "$ref loops without reaching a schema")
            seen.add(where)
            node = self._target(node, node.value["$ref"])
        return node

    def _target(self, node: _Node, ref: str) -> _Node:
        try:
            target = self.index.resolve(node.source.file, node.source.pointer, ref)
        except RefError as e:
            raise SchemaError(self.written(node.source.at("$ref")), str(e)) from None
        pointer = target.pointer if target.pointer or not target.written else target.written
        return _Node(target.schema, Source(target.file, pointer), target.file)

    def load(self, node: _Node) -> _Schema:
        node = self.deref(node)
        cache_key = (node.source.file, node.source.pointer)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        value = node.value
        if value is True or value is False:
            schema = _Schema("any" if value else "false", {}, node.source, node.base, self)
            self._cache[cache_key] = schema
            return schema
        if not isinstance(value, dict):
            raise SchemaError(node.source, "a schema must be an object or a boolean")
        # Cached before its parts are read, so a schema that refers to itself terminates.
        schema = _Schema("any", value, node.source, node.base, self)
        self._cache[cache_key] = schema
        parts = list(self._parts(schema))
        if len(parts) == 1:
            only = parts[0]
            schema.kind, schema.integer, schema.criterion = only.kind, only.integer, only.criterion
            schema.subs, schema.at = only.subs, only.at
        elif parts:
            schema.kind, schema.criterion, schema.subs, schema.synthetic = "combined", "allOf", parts, True
        return schema

    def _parts(self, whole: _Schema) -> Iterator[_Schema]:
        """The schemas the loader makes of one object, one per kind of keyword it holds."""
        node = whole.node
        if isinstance(node.get("$ref"), str):  # 2019-09 and later: the target applies beside the rest
            yield self.load(self._target(_Node(node, whole.source, whole.base), node["$ref"]))

        def part(kind: str, tag: str, **fields: Any) -> _Schema:
            return _Schema(kind, node, whole.source, whole.base, self, tag=tag, **fields)

        if isinstance(node.get("enum"), list):
            yield part("enum", "enum")
        for keyword in _COMBINATORS:
            if isinstance(node.get(keyword), list):
                subs = [
                    self.load(_Node(s, whole.source.at(keyword, i), whole.base)) for i, s in enumerate(node[keyword])
                ]
                yield part("combined", keyword, criterion=keyword, subs=subs, at=whole.source.at(keyword))
        if "not" in node:
            yield part("not", "not")
        if "const" in node:
            yield part("const", "const")
        if any(k in node for k in ("if", "then", "else")):
            yield part("conditional", "if")
        declared = node.get("type")
        if isinstance(declared, str):
            yield self._typed(whole, declared, "type")
        elif isinstance(declared, list):
            subs = [self._typed(whole, t, f"type:{t}") for t in declared if isinstance(t, str)]
            yield part("combined", "type", criterion="anyOf", subs=subs, at=whole.source.at("type"))
        else:
            for kind, keywords in _TYPE_KEYWORDS.items():
                if any(k in node for k in keywords):
                    yield self._typed(whole, kind, f"implied:{kind}")

    def _typed(self, whole: _Schema, declared: str, tag: str) -> _Schema:
        kind = "number" if declared == "integer" else declared
        if kind not in ("string", "number", "boolean", "null", "object", "array"):
            raise SchemaError(whole.source.at("type"), f"unknown type {declared!r}")
        return _Schema(kind, whole.node, whole.source, whole.base, self, tag=tag, integer=declared == "integer")


# --- comparing ------------------------------------------------------------------------------


def _beside_ref(node: dict[str, Any]) -> bool:
    """Whether keywords beside a ``$ref`` constrain too (the normalized document of a draft up to 07
    has already dropped them)."""
    return any(k not in _NOT_BESIDE_REF for k in node)


_NOT_BESIDE_REF = frozenset(
    {"$ref", "title", "description", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly"}
    | {"$defs", "definitions", "$id", "$anchor", "$schema"}
)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _compatible(diffs: list[Difference]) -> bool:
    return all(d.compatible for d in diffs)


def _unique(diffs: list[Difference]) -> list[Difference]:
    seen: set[Difference] = set()
    out = []
    for d in diffs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _describe(schema: _Schema) -> str:
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
        return f"one of {_show(schema.node.get('enum'))}"
    if kind == "const":
        return f"the constant {_show(schema.node.get('const'))}"
    if kind == "not":
        return "a value not matching a schema"
    if kind == "conditional":
        return "an if/then/else schema"
    if schema.synthetic:
        return " and ".join(_describe(s) for s in schema.subs)
    if schema.subs and all(s.tag.startswith("type:") for s in schema.subs):
        return " or ".join(_describe(s) for s in schema.subs)
    return f"{schema.criterion} of {len(schema.subs)} schemas"


class _Differ:
    """Confluent's ``SchemaDiff`` walk: ``original`` is the writer, ``update`` the reader."""

    def __init__(self) -> None:
        self._memo: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Difference]] = {}
        self._in_progress: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        self._by_kind: dict[str, Callable[[list[Difference], _Schema, _Schema], None]] = {
            "string": self._string,
            "number": self._number,
            "enum": self._enum,
            "const": self._const,
            "not": self._not,
            "combined": self._combined,
            "object": self._object,
            "array": self._array,
        }

    @staticmethod
    def add(out: list[Difference], type: str, source: Source, message: str) -> None:
        out.append(Difference(type, source, message))

    def trial(self, original: _Schema, update: _Schema) -> list[Difference]:
        """the differences of a pair, without reporting them (a sub-context in Confluent's code)."""
        sub: list[Difference] = []
        self.compare(sub, original, update)
        return sub

    def compare(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
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

    def _compare(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        if original.kind != "combined" and update.kind == "combined":
            if len(update.subs) == 1:
                sub = self.trial(original, update.subs[0])
                if _compatible(sub):
                    out.extend(sub)
                    return
            elif update.criterion in ("anyOf", "oneOf"):
                for branch in update.subs:
                    sub = self.trial(original, branch)
                    if _compatible(sub):
                        out.extend(sub)
                        self.add(
                            out,
                            "SUM_TYPE_EXTENDED",
                            update.keyword_source,
                            f"the reader widens {_describe(original)} to {_describe(update)}",
                        )
                        return
        elif original.kind == "combined" and update.kind != "combined":
            if len(original.subs) == 1:
                sub = self.trial(original.subs[0], update)
                if _compatible(sub):
                    out.extend(sub)
                    return
            if original.criterion == "allOf":
                for part in original.subs:
                    sub = self.trial(part, update)
                    if _compatible(sub):
                        out.extend(sub)
                        self.add(
                            out,
                            "PRODUCT_TYPE_NARROWED",
                            update.source,
                            f"the reader relaxes {_describe(original)} to {_describe(update)}",
                        )
                        return
        if original.kind != update.kind:
            if original.kind == "false" or update.kind == "any":
                return
            self.add(
                out,
                TYPE_CHANGED,
                update.source,
                f"the reader expects {_describe(update)} where the writer has {_describe(original)}",
            )
            return
        if original.tag == "" and update.tag == "":
            self._annotations(out, original, update)
        compare = self._by_kind.get(original.kind)
        if compare is not None:
            compare(out, original, update)

    # Annotations: always compatible, listed for completeness.
    def _annotations(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        for keyword, type in (
            ("$id", "ID_CHANGED"),
            ("title", "TITLE_CHANGED"),
            ("description", "DESCRIPTION_CHANGED"),
            ("default", "DEFAULT_CHANGED"),
        ):
            o, u = original.node.get(keyword), update.node.get(keyword)
            if _json(o) != _json(u):
                where = update.source.at(keyword) if keyword in update.node else original.source.at(keyword)
                self.add(out, type, where, f"the reader's {keyword} differs from the writer's")

    # --- limits shared by strings, numbers, arrays and objects ---

    def _limit(
        self,
        out: list[Difference],
        original: _Schema,
        update: _Schema,
        keyword: str,
        name: str,
        o: Decimal | int | None,
        u: Decimal | int | None,
    ) -> None:
        """A bound keyword (``maxLength``, ``minimum``, ...): NAME_ADDED/REMOVED/INCREASED/DECREASED."""
        if o == u:
            return
        if o is None:
            self.add(
                out,
                f"{name}_ADDED",
                update.source.at(keyword),
                f"the reader adds {keyword} {update.node[keyword]}, which the writer does not have",
            )
        elif u is None:
            self.add(
                out,
                f"{name}_REMOVED",
                original.source.at(keyword),
                f"the reader drops the writer's {keyword} {original.node[keyword]}",
            )
        elif o < u:
            self.add(
                out,
                f"{name}_INCREASED",
                update.source.at(keyword),
                f"the reader raises {keyword} from {original.node[keyword]} to {update.node[keyword]}",
            )
        else:
            self.add(
                out,
                f"{name}_DECREASED",
                update.source.at(keyword),
                f"the reader lowers {keyword} from {original.node[keyword]} to {update.node[keyword]}",
            )

    def _counts(self, out: list[Difference], original: _Schema, update: _Schema, *limits: tuple[str, str]) -> None:
        for keyword, name in limits:
            o, u = _count(original.node.get(keyword)), _count(update.node.get(keyword))
            self._limit(out, original, update, keyword, name, o, u)

    # --- strings (StringSchemaDiff) ---

    def _string(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        self._counts(out, original, update, ("maxLength", "MAX_LENGTH"), ("minLength", "MIN_LENGTH"))
        o, u = original.node.get("pattern"), update.node.get("pattern")
        if o is None and u is not None:
            self.add(out, PATTERN_ADDED, update.source.at("pattern"), f"the reader adds pattern {_show(u)}")
        elif o is not None and u is None:
            self.add(out, "PATTERN_REMOVED", original.source.at("pattern"), f"the reader drops pattern {_show(o)}")
        elif o != u:
            self.add(
                out,
                PATTERN_CHANGED,
                update.source.at("pattern"),
                f"the reader's pattern {_show(u)} differs from the writer's {_show(o)}",
            )

    # --- numbers (NumberSchemaDiff) ---

    def _number(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        for keyword, name in (
            ("maximum", "MAXIMUM"),
            ("minimum", "MINIMUM"),
            ("exclusiveMaximum", "EXCLUSIVE_MAXIMUM"),
            ("exclusiveMinimum", "EXCLUSIVE_MINIMUM"),
        ):
            # Draft-4 boolean exclusiveMaximum/Minimum are not limits: _decimal() makes them None.
            o, u = _decimal(original.node.get(keyword)), _decimal(update.node.get(keyword))
            self._limit(out, original, update, keyword, name, o, u)
        self._multiple_of(out, original, update)
        type_at = update.source.at("type") if "type" in update.node else update.source
        if original.integer and not update.integer:
            self.add(
                out,
                "TYPE_EXTENDED",
                type_at,
                "the reader accepts any number where the writer wrote integers",
            )
        elif update.integer and not original.integer:
            self.add(out, TYPE_NARROWED, type_at, "the reader requires integers where the writer allows any number")

    def _multiple_of(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o, u = _decimal(original.node.get("multipleOf")), _decimal(update.node.get("multipleOf"))
        if o == u:
            return
        if o is None:
            self.add(
                out,
                MULTIPLE_OF_ADDED,
                update.source.at("multipleOf"),
                f"the reader adds multipleOf {update.node['multipleOf']}, which the writer does not have",
            )
        elif u is None:
            self.add(
                out,
                "MULTIPLE_OF_REMOVED",
                original.source.at("multipleOf"),
                f"the reader drops the writer's multipleOf {original.node['multipleOf']}",
            )
        elif o != 0 and u % o == 0:
            self.add(
                out,
                MULTIPLE_OF_EXPANDED,
                update.source.at("multipleOf"),
                f"the reader's multipleOf {update.node['multipleOf']} is a multiple of the writer's "
                f"{original.node['multipleOf']}, so some of the writer's numbers are rejected",
            )
        elif u != 0 and o % u == 0:
            self.add(
                out,
                "MULTIPLE_OF_REDUCED",
                update.source.at("multipleOf"),
                f"the reader's multipleOf {update.node['multipleOf']} divides the writer's "
                f"{original.node['multipleOf']}",
            )
        else:
            self.add(
                out,
                MULTIPLE_OF_CHANGED,
                update.source.at("multipleOf"),
                f"the reader's multipleOf {update.node['multipleOf']} does not divide the writer's "
                f"{original.node['multipleOf']}",
            )

    # --- enum and const (EnumSchemaDiff, ConstSchemaDiff) ---

    def _enum(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o = {_json(v): v for v in original.node.get("enum", [])}
        u = {_json(v): v for v in update.node.get("enum", [])}
        if o.keys() == u.keys():
            return
        where = update.source.at("enum")
        missing = ", ".join(_show(v) for k, v in o.items() if k not in u)
        if o.keys() <= u.keys():
            self.add(out, "ENUM_ARRAY_EXTENDED", where, "the reader's enum adds values to the writer's")
        elif u.keys() <= o.keys():
            self.add(out, ENUM_ARRAY_NARROWED, where, f"the reader's enum lacks the writer's values {missing}")
        else:
            self.add(
                out, ENUM_ARRAY_CHANGED, where, f"the reader's enum replaces the writer's values {missing} with others"
            )

    def _const(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o, u = original.node.get("const"), update.node.get("const")
        if _json(o) != _json(u):
            self.add(
                out,
                ENUM_ARRAY_CHANGED,
                update.source.at("const"),
                f"the reader's const {_show(u)} differs from the writer's {_show(o)}",
            )

    # --- not (NotSchemaDiff): compared the other way round ---

    def _not(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o_node = original.loader.child(original, "not")
        u_node = update.loader.child(update, "not")
        if o_node is None or u_node is None:
            return
        excluded_by_reader = update.loader.load(u_node)
        excluded_by_writer = original.loader.load(o_node)
        found = self.trial(excluded_by_reader, excluded_by_writer)
        if not found:
            return  # Confluent reports NOT_TYPE_NARROWED here too; nothing changed, so nothing is listed
        if _compatible(found):
            self.add(
                out,
                "NOT_TYPE_NARROWED",
                u_node.source,
                "the reader's not-schema excludes no value the writer's did not exclude",
            )
        else:
            self.add(
                out,
                NOT_TYPE_EXTENDED,
                u_node.source,
                "the reader's not-schema excludes values the writer's not-schema allowed",
            )

    # --- allOf, anyOf, oneOf (CombinedSchemaDiff) ---

    def _combined(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        where = update.keyword_source
        if original.criterion != update.criterion:
            o_single, u_single = len(original.subs) == 1, len(update.subs) == 1
            extended = (
                update.criterion == "anyOf"
                or (update.criterion == "oneOf" and o_single)
                or (update.criterion == "allOf" and o_single and u_single)
            )
            if not extended:
                self.add(
                    out,
                    COMBINED_TYPE_CHANGED,
                    where,
                    f"the reader combines its subschemas with {update.criterion} where the writer used "
                    f"{original.criterion}",
                )
                return
            self.add(
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
                self.add(out, PRODUCT_TYPE_EXTENDED, where, f"the reader's allOf has {counts}: data must match more")
            else:
                self.add(out, "SUM_TYPE_EXTENDED", where, f"the reader's {update.criterion} has {counts}")
        elif len(o_subs) > len(u_subs):
            if update.criterion == "allOf":
                self.add(out, "PRODUCT_TYPE_NARROWED", where, f"the reader's allOf has {counts}")
            else:
                self.add(
                    out,
                    SUM_TYPE_NARROWED,
                    where,
                    f"the reader's {update.criterion} has {counts}: some of the writer's alternatives are gone",
                )
        edges: dict[tuple[int, int], list[Difference]] = {}
        for i, o in enumerate(o_subs):
            for j, u in enumerate(u_subs):
                sub = self.trial(o, u)
                if _compatible(sub):
                    edges[(i, j)] = sub
        matching = _max_matching(len(o_subs), len(u_subs), edges.keys())
        for pair in sorted(matching.items()):
            out.extend(edges[pair])
        if len(matching) >= min(len(o_subs), len(u_subs)):
            return
        if original.synthetic and update.synthetic and self._parts_by_kind(out, o_subs, u_subs):
            return
        unmatched = [i for i in range(len(o_subs)) if i not in matching]
        self.add(
            out,
            COMBINED_TYPE_SUBSCHEMAS_CHANGED,
            where,
            f"the writer's {_show_parts(original, o_subs, unmatched)} has no compatible counterpart among the "
            f"reader's {update.criterion if not update.synthetic else 'keywords'}",
        )

    def _parts_by_kind(self, out: list[Difference], o_subs: list[_Schema], u_subs: list[_Schema]) -> bool:
        """For objects that combine kinds of keywords (``type`` with ``enum``), report why parts of the
        same kind differ; False when that finds nothing incompatible."""
        by_tag = {u.tag: u for u in u_subs}
        found: list[Difference] = []
        for o in o_subs:
            u = by_tag.get(o.tag)
            if u is not None:
                found.extend(self.trial(o, u))
        if _compatible(found):
            return False
        out.extend(found)
        return True

    # --- objects (ObjectSchemaDiff) ---

    def _object(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        self._required(out, original, update)
        self._properties(out, original, update)
        self._dependencies(out, original, update)
        keywords = ("additionalProperties", "additionalProperties")
        self._additional(out, original, update, keywords, "PROPERTIES", "properties")
        self._counts(out, original, update, ("maxProperties", "MAX_PROPERTIES"), ("minProperties", "MIN_PROPERTIES"))

    def _required(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o_props, u_props = _props(original), _props(update)
        o_req, u_req = _required_names(original), _required_names(update)
        for name in o_props:
            if name not in u_props:
                continue
            if name in o_req and name not in u_req:
                self.add(
                    out,
                    "REQUIRED_ATTRIBUTE_REMOVED",
                    original.source.at("required", o_req[name]),
                    f"the reader no longer requires {name!r}",
                )
            elif name in u_req and name not in o_req:
                where = update.source.at("required", u_req[name])
                if self._has_default(update, name):
                    self.add(
                        out,
                        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
                        where,
                        f"the reader requires {name!r}, with a default",
                    )
                else:
                    self.add(
                        out,
                        REQUIRED_ATTRIBUTE_ADDED,
                        where,
                        f"the reader requires {name!r} without a default, but the writer's data may omit it",
                    )

    def _has_default(self, schema: _Schema, name: str) -> bool:
        node = _props(schema).get(name)
        if node is None:
            return False
        if isinstance(node.value, dict) and "default" in node.value:
            return True
        target = schema.loader.deref(node).value
        return isinstance(target, dict) and "default" in target

    def _properties(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o_props, u_props = _props(original), _props(update)
        for name in [*o_props, *(n for n in u_props if n not in o_props)]:
            if name not in u_props:
                self._property_removed(out, original, update, name)
            elif name not in o_props:
                self._property_added(out, original, update, name)
            else:
                o = original.loader.load(o_props[name])
                u = update.loader.load(u_props[name])
                self.compare(out, o, u)

    def _property_removed(self, out: list[Difference], original: _Schema, update: _Schema, name: str) -> None:
        # Only the reader's content model matters: it now decides what the writer's property meets.
        where = original.source.at("properties", name)
        writer_property = original.loader.load(_props(original)[name])
        if _open_object(update):
            self.add(
                out,
                "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
                where,
                f"the reader no longer declares {name!r}; its open content model still accepts it",
            )
            return
        covering = _covering_property(update, name)
        if covering is not None:
            label, node = covering
            sub = self.trial(writer_property, update.loader.load(node))
            out.extend(sub)
            if _compatible(sub):
                self.add(
                    out,
                    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                    where,
                    f"the reader no longer declares {name!r}; its {label} accepts the writer's values",
                )
            else:
                self.add(
                    out,
                    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                    where,
                    f"the reader no longer declares {name!r}, and its {label}, which now applies to it, does not "
                    "accept all of the writer's values",
                )
        elif writer_property.kind == "false":
            self.add(
                out,
                "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                where,
                f"the reader drops {name!r}, which the writer forbade",
            )
        else:
            self.add(
                out,
                PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
                where,
                f"the reader drops {name!r} and allows no additional properties, so the writer's {name!r} is rejected",
            )

    def _property_added(self, out: list[Difference], original: _Schema, update: _Schema, name: str) -> None:
        # Only the writer's content model matters: it decides what its data may hold under the name.
        where = update.source.at("properties", name)
        reader_property = update.loader.load(_props(update)[name])
        if _open_object(original):
            if reader_property.kind == "any":
                self.add(
                    out,
                    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
                    where,
                    f"the reader adds {name!r} with a schema that accepts any value",
                )
            else:
                self.add(
                    out,
                    PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
                    where,
                    f"the reader adds {name!r}, but the writer's open content model lets its data hold {name!r} "
                    "with any value",
                )
            return
        covering = _covering_property(original, name)
        if covering is not None:
            label, node = covering
            sub = self.trial(original.loader.load(node), reader_property)
            out.extend(sub)
            if _compatible(sub):
                self.add(
                    out,
                    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                    where,
                    f"the reader adds {name!r}, accepting what the writer's {label} allowed for it",
                )
            else:
                self.add(
                    out,
                    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                    where,
                    f"the reader adds {name!r}, but does not accept all that the writer's {label} allowed for it",
                )
        # Closed and partially open content models alike: is the new property required?
        if name in _required_names(update):
            if self._has_default(update, name):
                self.add(
                    out,
                    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
                    where,
                    f"the reader adds required {name!r} with a default",
                )
            else:
                self.add(
                    out,
                    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
                    where,
                    f"the reader adds {name!r} as required without a default, but the writer's data need not have it",
                )
        else:
            self.add(
                out,
                "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                where,
                f"the reader adds optional {name!r}, which the writer's content model did not let its data hold freely",
            )

    def _dependencies(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o_arrays, o_schemas = _deps(original)
        u_arrays, u_schemas = _deps(update)
        for name in [*o_arrays, *(n for n in u_arrays if n not in o_arrays)]:
            if name not in u_arrays:
                self.add(
                    out,
                    "DEPENDENCY_ARRAY_REMOVED",
                    original.source.at(*o_arrays[name][0]),
                    f"the reader drops the dependency of {name!r}",
                )
                continue
            if name not in o_arrays:
                self.add(
                    out,
                    DEPENDENCY_ARRAY_ADDED,
                    update.source.at(*u_arrays[name][0]),
                    f"the reader adds a dependency: with {name!r} present, {_show(sorted(u_arrays[name][1]))} "
                    "must be too",
                )
                continue
            o, u = o_arrays[name][1], u_arrays[name][1]
            where = update.source.at(*u_arrays[name][0])
            if o == u:
                continue
            if u >= o:
                self.add(
                    out,
                    DEPENDENCY_ARRAY_EXTENDED,
                    where,
                    f"with {name!r} present, the reader also demands {_show(sorted(u - o))}",
                )
            elif o >= u:
                self.add(
                    out,
                    "DEPENDENCY_ARRAY_NARROWED",
                    where,
                    f"with {name!r} present, the reader no longer demands {_show(sorted(o - u))}",
                )
            else:
                self.add(
                    out,
                    DEPENDENCY_ARRAY_CHANGED,
                    where,
                    f"with {name!r} present, the reader demands {_show(sorted(u))} instead of {_show(sorted(o))}",
                )
        for name in [*o_schemas, *(n for n in u_schemas if n not in o_schemas)]:
            if name not in u_schemas:
                self.add(
                    out,
                    "DEPENDENCY_SCHEMA_REMOVED",
                    o_schemas[name].source,
                    f"the reader drops the schema dependency of {name!r}",
                )
            elif name not in o_schemas:
                self.add(
                    out,
                    DEPENDENCY_SCHEMA_ADDED,
                    u_schemas[name].source,
                    f"the reader adds a schema that data with {name!r} must match",
                )
            else:
                self.compare(out, original.loader.load(o_schemas[name]), update.loader.load(u_schemas[name]))

    def _additional(
        self,
        out: list[Difference],
        original: _Schema,
        update: _Schema,
        keywords: tuple[str, str],
        name: str,
        things: str,
    ) -> None:
        """``additionalProperties`` or the items past a tuple (``additionalItems``, or ``items`` beside
        ``prefixItems``; ``keywords`` are the writer's and the reader's): ADDITIONAL_<name>_ADDED,
        _REMOVED, _EXTENDED or _NARROWED."""
        o_kw, u_kw = keywords
        o_permits, u_permits = _permits(original, o_kw), _permits(update, u_kw)
        o_schema, u_schema = _schema_of(original, o_kw), _schema_of(update, u_kw)
        if o_permits != u_permits:
            if u_permits:
                where = update.source.at(u_kw) if u_kw in update.node else original.source.at(o_kw)
                self.add(
                    out,
                    f"ADDITIONAL_{name}_ADDED",
                    where,
                    f"the reader allows additional {things}, which the writer forbade",
                )
            else:
                self.add(
                    out,
                    f"ADDITIONAL_{name}_REMOVED",
                    update.source.at(u_kw),
                    f"the reader forbids additional {things}, which the writer allowed",
                )
        elif o_schema is None and u_schema is not None:
            self.add(
                out,
                f"ADDITIONAL_{name}_NARROWED",
                u_schema.source,
                f"the reader constrains additional {things} with a schema, where the writer allowed any",
            )
        elif o_schema is not None and u_schema is None:
            self.add(
                out,
                f"ADDITIONAL_{name}_EXTENDED",
                o_schema.source,
                f"the reader allows any additional {things}, where the writer constrained them",
            )
        elif o_schema is not None and u_schema is not None:
            self.compare(out, original.loader.load(o_schema), update.loader.load(u_schema))

    # --- arrays (ArraySchemaDiff) ---

    def _array(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        self._items(out, original, update)
        self._tuple(out, original, update)
        keywords = (_additional_items_keyword(original), _additional_items_keyword(update))
        self._additional(out, original, update, keywords, "ITEMS", "items")
        self._counts(out, original, update, ("maxItems", "MAX_ITEMS"), ("minItems", "MIN_ITEMS"))
        o_unique, u_unique = original.node.get("uniqueItems") is True, update.node.get("uniqueItems") is True
        if o_unique and not u_unique:
            self.add(
                out,
                "UNIQUE_ITEMS_REMOVED",
                original.source.at("uniqueItems"),
                "the reader no longer demands unique items",
            )
        elif u_unique and not o_unique:
            self.add(
                out,
                UNIQUE_ITEMS_ADDED,
                update.source.at("uniqueItems"),
                "the reader demands unique items, which the writer's arrays need not have",
            )

    def _items(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o, u = _all_items(original), _all_items(update)
        if o is None and u is not None:
            self.add(
                out,
                SCHEMA_ADDED,
                u.source,
                "the reader constrains the array's items with a schema, where the writer allowed any items",
            )
        elif o is not None and u is None:
            self.add(out, "SCHEMA_REMOVED", o.source, "the reader no longer constrains the array's items")
        elif o is not None and u is not None:
            self.compare(out, original.loader.load(o), update.loader.load(u))

    def _tuple(self, out: list[Difference], original: _Schema, update: _Schema) -> None:
        o_items, u_items = _tuple_items(original), _tuple_items(update)
        for o_node, u_node in zip(o_items, u_items):
            self.compare(out, original.loader.load(o_node), update.loader.load(u_node))
        for node in o_items[len(u_items) :]:
            self._item_removed(out, update, original.loader.load(node))
        for node in u_items[len(o_items) :]:
            self._item_added(out, original, update.loader.load(node))

    def _item_removed(self, out: list[Difference], update: _Schema, writer_item: _Schema) -> None:
        where = writer_item.source
        keyword = _additional_items_keyword(update)
        if _permits(update, keyword) and _schema_of(update, keyword) is None:
            self.add(
                out,
                "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
                where,
                "the reader drops this tuple item; its open content model still accepts it",
            )
            return
        covering = _schema_of(update, keyword)
        if covering is not None:
            sub = self.trial(writer_item, update.loader.load(covering))
            out.extend(sub)
            if _compatible(sub):
                self.add(
                    out,
                    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                    where,
                    f"the reader drops this tuple item; its {keyword} schema accepts the writer's values",
                )
            else:
                self.add(
                    out,
                    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                    where,
                    f"the reader drops this tuple item, and its {keyword} schema does not accept all of the "
                    "writer's values",
                )
        elif writer_item.kind == "false":
            self.add(
                out,
                "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                where,
                "the reader drops a tuple item the writer forbade",
            )
        else:
            self.add(
                out,
                ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL,
                where,
                "the reader drops this tuple item and allows no additional items, so the writer's item is rejected",
            )

    def _item_added(self, out: list[Difference], original: _Schema, reader_item: _Schema) -> None:
        where = reader_item.source
        keyword = _additional_items_keyword(original)
        if _permits(original, keyword) and _schema_of(original, keyword) is None:
            if reader_item.kind == "any":
                self.add(
                    out,
                    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
                    where,
                    "the reader adds a tuple item that accepts any value",
                )
            else:
                self.add(
                    out,
                    ITEM_ADDED_TO_OPEN_CONTENT_MODEL,
                    where,
                    "the reader adds a tuple item, but the writer's open content model lets its arrays hold any "
                    "value there",
                )
            return
        covering = _schema_of(original, keyword)
        if covering is None:
            self.add(
                out,
                "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
                where,
                "the reader adds a tuple item where the writer allowed no more items",
            )
            return
        sub = self.trial(original.loader.load(covering), reader_item)
        out.extend(sub)
        if _compatible(sub):
            self.add(
                out,
                "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                where,
                f"the reader adds a tuple item accepting what the writer's {keyword} schema allowed there",
            )
        else:
            self.add(
                out,
                ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                where,
                f"the reader adds a tuple item that does not accept all the writer's {keyword} schema allowed there",
            )


# --- helpers on schema objects ----------------------------------------------------------------


def _props(schema: _Schema) -> dict[str, _Node]:
    props = schema.node.get("properties")
    if not isinstance(props, dict):
        return {}
    return {name: _Node(value, schema.source.at("properties", name), schema.base) for name, value in props.items()}


def _required_names(schema: _Schema) -> dict[str, int]:
    """Required property names, with their index in ``required``."""
    required = schema.node.get("required")
    if not isinstance(required, list):
        return {}
    out: dict[str, int] = {}
    for i, name in enumerate(required):
        if isinstance(name, str):
            out.setdefault(name, i)
    return out


def _permits(schema: _Schema, keyword: str) -> bool:
    return schema.node.get(keyword, True) is not False


def _schema_of(schema: _Schema, keyword: str) -> _Node | None:
    """the schema of ``additionalProperties``/``additionalItems`` when it is one (not a boolean)."""
    value = schema.node.get(keyword)
    return _Node(value, schema.source.at(keyword), schema.base) if isinstance(value, dict) else None


def _open_object(schema: _Schema) -> bool:
    """Open content model: any property name may hold any value."""
    return (
        not schema.node.get("patternProperties")
        and _schema_of(schema, "additionalProperties") is None
        and _permits(schema, "additionalProperties")
    )


def _covering_property(schema: _Schema, name: str) -> tuple[str, _Node] | None:
    """Partially open content model: the pattern or additional properties schema that applies to ``name``."""
    patterns = schema.node.get("patternProperties")
    if isinstance(patterns, dict):
        for pattern, value in patterns.items():
            try:
                matches = re.search(pattern, name) is not None
            except re.error:
                matches = False
            if matches:
                return f"patternProperties {pattern!r}", _Node(
                    value, schema.source.at("patternProperties", pattern), schema.base
                )
    additional = _schema_of(schema, "additionalProperties")
    return ("additionalProperties schema", additional) if additional is not None else None


def _deps(schema: _Schema) -> tuple[dict[str, tuple[tuple[str, ...], frozenset[str]]], dict[str, _Node]]:
    """Property dependencies (name -> (pointer parts, names)) and schema dependencies (name -> node)."""
    arrays: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
    schemas: dict[str, _Node] = {}
    for keyword in ("dependencies", "dependentRequired", "dependentSchemas"):
        deps = schema.node.get(keyword)
        if not isinstance(deps, dict):
            continue
        for name, value in deps.items():
            if isinstance(value, list) and keyword != "dependentSchemas":
                arrays.setdefault(name, ((keyword, name), frozenset(v for v in value if isinstance(v, str))))
            elif isinstance(value, dict | bool) and keyword != "dependentRequired":
                schemas.setdefault(name, _Node(value, schema.source.at(keyword, name), schema.base))
    return arrays, schemas


def _all_items(schema: _Schema) -> _Node | None:
    """the one schema every item must match (``items`` as a schema, without ``prefixItems``)."""
    if "prefixItems" in schema.node:
        return None
    value = schema.node.get("items")
    return _Node(value, schema.source.at("items"), schema.base) if isinstance(value, dict | bool) else None


def _tuple_items(schema: _Schema) -> list[_Node]:
    for keyword in ("prefixItems", "items"):
        value = schema.node.get(keyword)
        if isinstance(value, list):
            return [_Node(v, schema.source.at(keyword, i), schema.base) for i, v in enumerate(value)]
    return []


def _additional_items_keyword(schema: _Schema) -> str:
    """What constrains items past the tuple: ``items`` beside ``prefixItems`` (2020-12), else ``additionalItems``."""
    return "items" if "prefixItems" in schema.node else "additionalItems"


def _distinct(schemas: list[_Schema]) -> list[_Schema]:
    """Subschemas without repeats (the registry compares them as a set)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for s in schemas:
        key = (_json(s.node) if s.kind not in ("any", "false") or s.node else s.kind, s.tag)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _subschemas(n: int) -> str:
    return f"{n} subschema" if n == 1 else f"{n} subschemas"


def _show_parts(combined: _Schema, subs: list[_Schema], indexes: list[int]) -> str:
    if combined.synthetic:
        return " and ".join(_describe(subs[i]) for i in indexes)
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
