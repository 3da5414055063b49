"""Where the subschemas of a JSON Schema document are: the one walk every reader of ``$ref``, ``$id``,
anchors and patterns shares (codegen's loader, the compatibility check, the serdes' validator)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Keywords whose value is instance data, never a schema (a "$ref" in there is just a string).
DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
# Keywords whose value maps names to schemas: a property or a definition may be called "default".
NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"})


def escape(part: str) -> str:
    """A JSON pointer's reference token (RFC 6901)."""
    return part.replace("~", "~0").replace("/", "~1")


def children(node: Any, at: str = "") -> Iterator[tuple[str, Any]]:
    """``(pointer, value)`` of each place in ``node`` (at pointer ``at``) where subschemas may be: every
    item of a list, every keyword's value but instance data, and every entry of a name map."""
    if isinstance(node, list):
        for i, value in enumerate(node):
            yield f"{at}/{i}", value
    elif isinstance(node, dict):
        for key, value in node.items():
            where = at + "/" + escape(key)
            if key in NAME_MAPS and isinstance(value, dict):
                for name, sub in value.items():
                    yield where + "/" + escape(name), sub
            elif key not in DATA_KEYWORDS:
                yield where, value


def schema_objects(node: Any, at: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(pointer, object)`` of every schema object in ``node``, itself included."""
    if isinstance(node, dict):
        yield at, node
    for where, value in children(node, at):
        yield from schema_objects(value, where)
