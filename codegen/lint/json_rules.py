"""Lint rules for JSON Schema files (one function per rule), and the walk over their subschemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..diagnostics import Source
from .base import Hit, LintContext, rule

# Keywords whose value is a schema, an array of schemas, or an object of schemas (2020-12 and draft 7).
_ONE = (
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
)
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


def subschemas(node: Any, src: Source) -> Iterator[tuple[dict[str, Any], Source]]:
    """Every schema object in a document, with its location (``const``, ``enum``, ``default`` and
    ``examples`` hold values, not schemas, and are not entered)."""
    if not isinstance(node, dict):
        return
    yield node, src
    for key in _ONE:
        yield from subschemas(node.get(key), src.at(key))
    for key in _MANY:
        value = node.get(key)
        if isinstance(value, list):
            for i, sub in enumerate(value):
                yield from subschemas(sub, src.at(key, i))
    for key in _NAMED:
        value = node.get(key)
        if isinstance(value, dict):
            for name, sub in value.items():
                yield from subschemas(sub, src.at(key, name))


def described(node: Any, key: str = "description") -> bool:
    value = node.get(key) if isinstance(node, dict) else None
    return isinstance(value, str) and bool(value.strip())


@rule("JSON_TITLE", "A JSON Schema file used as a topic's key or value has a title (it names the generated model).")
def json_title(ctx: LintContext) -> Iterator[Hit]:
    files = sorted({use.file for _, _, use in ctx.topic_uses() if use.kind == "json" and use.file})
    for file in files:
        document = ctx.project.json[file].document
        if isinstance(document, dict) and not described(document, "title"):  # a boolean schema has none
            yield Hit(Source(file), "schema has no title")


@rule(
    "JSON_ADDITIONAL_PROPERTIES",
    "A JSON Schema object with properties sets additionalProperties (or unevaluatedProperties): "
    "open and closed content models evolve under different compatibility rules.",
)
def json_additional_properties(ctx: LintContext) -> Iterator[Hit]:
    for file, schema in ctx.project.json.items():
        for node, src in subschemas(schema.document, Source(file)):
            if "properties" in node and "additionalProperties" not in node and "unevaluatedProperties" not in node:
                yield Hit(src, "object schema with properties does not set additionalProperties")
