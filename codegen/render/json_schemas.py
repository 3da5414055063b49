"""Reading JSON Schemas for the models: locations, ``$ref`` targets, which schema is a class, and
what a schema's keywords say (its types, the kinds of value it constrains, its title and description)."""

from __future__ import annotations

from typing import Any

from ..diagnostics import SchemaError, Source
from ..ir import JsonSchemaFile
from ..load.json_refs import RefError, RefIndex

# A schema's location: (file, pointer in its normalized document); detached targets use the pointer
# written in the file prefixed with "!".
Key = tuple[str, str]

_ANNOTATION_ONLY = frozenset(
    {
        "title",
        "description",
        "$comment",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "$anchor",
        "$defs",
        "definitions",
        "$vocabulary",
        "$dynamicAnchor",
        "$recursiveAnchor",
        "contentMediaType",
        "contentEncoding",
    }
)
_OBJECT_KEYWORDS: tuple[str, ...] = (
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
)
_ARRAY_KEYWORDS: tuple[str, ...] = (
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "unevaluatedItems",
)
_STRING_KEYWORDS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


class JsonSchemas:
    """The schemas of a project's files, by location, and the ``$ref`` targets found on the way."""

    def __init__(self, files: dict[str, JsonSchemaFile]) -> None:
        self.files = files
        indexes = {id(f.index): f.index for f in files.values() if f.index is not None}
        if len(indexes) != 1:
            raise ValueError("the files must come from one load_json_schema_files call")
        self.index: RefIndex = next(iter(indexes.values()))
        self._schemas: dict[Key, Any] = {}  # $ref targets, detached ones included

    def resolve(self, key: Key, ref: str) -> tuple[Key, Any]:
        """The location and schema ``ref`` (written at ``key``) names."""
        file, at = key
        try:
            target = self.index.resolve(file, at.removeprefix("!") if at.startswith("!") else at, ref)
        except RefError as e:  # the loader checked every $ref: only a detached target's own can fail
            raise SchemaError(Source(file, at), str(e)) from None
        target_key: Key = (
            target.file,
            target.pointer if target.pointer or not target.written else "!" + target.written,
        )
        self._schemas[target_key] = target.schema
        return target_key, target.schema

    def schema_at(self, key: Key) -> Any:
        if key in self._schemas:
            return self._schemas[key]
        file, at = key
        doc = self.files[file].normalized
        node = doc
        for part in [p.replace("~1", "/").replace("~0", "~") for p in at.split("/")[1:]]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def class_target(self, key: Key, schema: Any) -> Key | None:
        """The location of the class that models ``schema`` as a whole (following ``$ref``), if any."""
        seen: set[Key] = set()
        while isinstance(schema, dict) and key not in seen:
            seen.add(key)
            if isinstance(schema.get("$ref"), str) and not assertions(schema, "$ref"):
                key, schema = self.resolve(key, schema["$ref"])
            elif _single_all_of(schema):  # allOf of one schema is that schema
                key, schema = (key[0], key[1] + "/allOf/0"), schema["allOf"][0]
            else:
                break
        return key if self.is_class(schema, key) else None

    def is_class(self, schema: Any, key: Key) -> bool:
        """Whether ``schema`` is modelled by a class: an object with properties (or ``required``, or
        ``allOf`` classes). A root without ``"type"`` is read as an object (see README)."""
        if not isinstance(schema, dict):
            return False
        declared = types(schema)
        if declared is not None and declared != {"object"}:
            return False
        if "properties" in schema or "required" in schema:
            return declared is not None or key[1] == "" or kinds(schema) == {"object"}
        if not isinstance(schema.get("allOf"), list) or (declared is None and kinds(schema) - {"object"}):
            return False
        # One class and nothing else is that class itself; two, or one with properties, make a new one.
        bases, inline = self.class_branches(schema, key)
        return len(bases) + len(inline) > 1 or (bool(bases) and bool(inline))

    def class_branches(self, schema: dict[str, Any], key: Key) -> tuple[list[Key], list[dict[str, Any]]]:
        """The ``allOf`` branches a class is made of: classes it derives from (by location), and
        inline objects whose properties it declares itself."""
        bases: list[Key] = []
        inline: list[dict[str, Any]] = []
        branches = schema.get("allOf")
        for i, branch in enumerate(branches if isinstance(branches, list) else []):
            if not isinstance(branch, dict):
                continue
            if isinstance(branch.get("$ref"), str) and not assertions(branch, "$ref"):
                target = self.class_target((key[0], f"{key[1]}/allOf/{i}"), branch)
                if target is not None:
                    bases.append(target)
            elif "properties" in branch and types(branch) in (None, {"object"}):
                inline.append(branch)
        return bases, inline


def types(schema: dict[str, Any]) -> set[str] | None:
    """The types ``"type"`` declares, or None without one."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return None


def kinds(schema: dict[str, Any]) -> set[str]:
    """The kinds of value a typeless schema's keywords constrain."""
    found = set()
    if any(k in schema for k in _OBJECT_KEYWORDS):
        found.add("object")
    if any(k in schema for k in _ARRAY_KEYWORDS):
        found.add("array")
    if any(k in schema for k in _STRING_KEYWORDS):
        found.add("string")
    if any(k in schema for k in _NUMBER_KEYWORDS):
        found.add("number")
    return found


def assertions(schema: dict[str, Any], *ignore: str) -> bool:
    """Whether ``schema`` constrains anything (other than the keywords in ``ignore``)."""
    return any(k not in _ANNOTATION_ONLY and k not in ignore for k in schema)


def _single_all_of(schema: dict[str, Any]) -> bool:
    branches = schema.get("allOf")
    return isinstance(branches, list) and len(branches) == 1 and not assertions(schema, "allOf")


def title(schema: Any) -> str:
    found = schema.get("title") if isinstance(schema, dict) else None
    return found if isinstance(found, str) and found.strip() else ""


def doc(schema: Any) -> str:
    """A schema's ``description``, or ``""``."""
    found = schema.get("description") if isinstance(schema, dict) else None
    return found if isinstance(found, str) and found.strip() else ""


def escape(part: str) -> str:
    """``part`` as a JSON pointer token."""
    return part.replace("~", "~0").replace("/", "~1")


def property_pointer(at: str, wire: str) -> str:
    return at + "/properties/" + escape(wire)
