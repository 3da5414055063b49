"""A schema value as the kinds the registry's loader (everit) sees.

``true``/``{}`` (any value), ``false``, one schema per *kind of keyword* an object holds - ``enum``,
``const``, each of ``allOf``/``anyOf``/``oneOf``, ``not``, ``if``, and the type (``type``, or the type its
keywords imply); a list of types is an ``anyOf``, and an object with several kinds is an implicit
``allOf`` of them. Documents are read normalized to 2020-12 (:mod:`~schemabus.codegen.load.json_drafts`);
``$ref`` is followed by path, ``$id`` or anchor; up to draft-07 a ``$ref`` object's other keywords
are ignored, from 2019-09 they apply beside it, as an ``allOf``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ...diagnostics import SchemaError, Source
from ...load.json_drafts import DEFAULT_DRAFT, Draft
from ...load.json_refs import RefError, RefIndex
from ...load.jsonschema import index_documents


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
class Schema:
    """One schema as the registry's loader builds it (an everit ``Schema`` class).

    ``kind`` is one of: any, false, string, number, boolean, null, object, array, enum, const,
    combined, not, conditional. ``node`` is the JSON object it was read from (``{}`` for booleans),
    ``source`` where that object is; ``key`` identifies it for memoising and cycle detection.
    """

    kind: str
    node: dict[str, Any]
    source: Source
    base: str  # the file relative $refs in ``node`` resolve against
    loader: Loader
    tag: str = ""  # "" for the whole object; the keyword kind for one part of an implicit allOf
    integer: bool = False  # number: "type": "integer"
    criterion: str = ""  # combined: allOf, anyOf or oneOf
    subs: list[Schema] = field(default_factory=list)
    synthetic: bool = False  # combined: an object holding several kinds of keywords
    at: Source | None = None  # combined: where the combinator is written (``/anyOf``, ``/type``)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.loader.side, self.source.file, self.source.pointer, self.tag)

    @property
    def keyword_source(self) -> Source:
        return self.at if self.at is not None else self.source


@dataclass(frozen=True)
class Node:
    """A JSON value in a document, where it is, and the file its relative ``$ref``s resolve against."""

    value: Any
    source: Source
    base: str


class Loader:
    """Reads one version's schemas (normalized to 2020-12), following ``$ref`` through its index."""

    def __init__(self, version: JsonVersion, side: str) -> None:
        self.version = version
        self.side = side
        self._cache: dict[tuple[str, str], Schema] = {}
        self.index = version.index or index_documents({version.file: version.document}, version.default_draft)
        if version.file not in self.index.docs:
            raise ValueError(f"{version.file} is not in the version's index")

    def root(self) -> Schema:
        doc = self.index.docs[self.version.file]
        return self.load(Node(doc.normalized, Source(self.version.file), self.version.file))

    def written(self, source: Source) -> Source:
        """Where ``source`` (a pointer into a normalized document) is in the file as written."""
        doc = self.index.docs.get(source.file)
        return Source(source.file, doc.moves.original(source.pointer)) if doc else source

    def child(self, parent: Schema, keyword: str) -> Node | None:
        if keyword not in parent.node:
            return None
        return Node(parent.node[keyword], parent.source.at(keyword), parent.base)

    def deref(self, node: Node) -> Node:
        seen: set[tuple[str, str]] = set()
        while isinstance(node.value, dict) and isinstance(node.value.get("$ref"), str) and not _beside_ref(node.value):
            where = (node.source.file, node.source.pointer)
            if where in seen:
                raise SchemaError(node.source.at("$ref"), "$ref loops without reaching a schema")
            seen.add(where)
            node = self._target(node, node.value["$ref"])
        return node

    def _target(self, node: Node, ref: str) -> Node:
        try:
            target = self.index.resolve(node.source.file, node.source.pointer, ref)
        except RefError as e:
            raise SchemaError(self.written(node.source.at("$ref")), str(e)) from None
        pointer = target.pointer if target.pointer or not target.written else target.written
        return Node(target.schema, Source(target.file, pointer), target.file)

    def load(self, node: Node) -> Schema:
        node = self.deref(node)
        cache_key = (node.source.file, node.source.pointer)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        value = node.value
        if value is True or value is False:
            schema = Schema("any" if value else "false", {}, node.source, node.base, self)
            self._cache[cache_key] = schema
            return schema
        if not isinstance(value, dict):
            raise SchemaError(node.source, "a schema must be an object or a boolean")
        # Cached before its parts are read, so a schema that refers to itself terminates.
        schema = Schema("any", value, node.source, node.base, self)
        self._cache[cache_key] = schema
        parts = list(self._parts(schema))
        if len(parts) == 1:
            only = parts[0]
            schema.kind, schema.integer, schema.criterion = only.kind, only.integer, only.criterion
            schema.subs, schema.at = only.subs, only.at
        elif parts:
            schema.kind, schema.criterion, schema.subs, schema.synthetic = "combined", "allOf", parts, True
        return schema

    def _parts(self, whole: Schema) -> Iterator[Schema]:
        """The schemas the loader makes of one object, one per kind of keyword it holds."""
        node = whole.node
        if isinstance(node.get("$ref"), str):  # 2019-09 and later: the target applies beside the rest
            yield self.load(self._target(Node(node, whole.source, whole.base), node["$ref"]))

        def part(kind: str, tag: str, **fields: Any) -> Schema:
            return Schema(kind, node, whole.source, whole.base, self, tag=tag, **fields)

        if isinstance(node.get("enum"), list):
            yield part("enum", "enum")
        for keyword in _COMBINATORS:
            if isinstance(node.get(keyword), list):
                subs = [
                    self.load(Node(s, whole.source.at(keyword, i), whole.base)) for i, s in enumerate(node[keyword])
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

    def _typed(self, whole: Schema, declared: str, tag: str) -> Schema:
        kind = "number" if declared == "integer" else declared
        if kind not in ("string", "number", "boolean", "null", "object", "array"):
            raise SchemaError(whole.source.at("type"), f"unknown type {declared!r}")
        return Schema(kind, whole.node, whole.source, whole.base, self, tag=tag, integer=declared == "integer")


def _beside_ref(node: dict[str, Any]) -> bool:
    """Whether keywords beside a ``$ref`` constrain too (the normalized document of a draft up to 07
    has already dropped them)."""
    return any(k not in _NOT_BESIDE_REF for k in node)


_NOT_BESIDE_REF = frozenset(
    {"$ref", "title", "description", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly"}
    | {"$defs", "definitions", "$id", "$anchor", "$schema"}
)
