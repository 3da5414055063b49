"""A JSON subschema as a Python annotation: types and their constraints, arrays and tuples, mappings,
unions, ``enum``/``const`` literals, and a property's default."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Protocol

from .. import naming
from .json_schemas import JsonSchemas, Key, assertions, escape, kinds, title, types

JSON_VALUE = "_pd.JsonValue"

_FORMATS = {"date-time": "_pd.AwareDatetime", "date": "_dt.date", "uuid": "_uuid.UUID"}
_BOUNDS = (("minimum", "ge"), ("maximum", "le"), ("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt"))
_TYPE_ORDER = ["object", "array", "string", "integer", "number", "boolean", "null"]
# Longest tuple spelled out as a union of every allowed length.
_MAX_TUPLE_UNION = 8


class Classes(Protocol):
    """The named types an annotation refers to (see :class:`.json_definitions.JsonDefinitions`)."""

    def refer(self, key: Key) -> str:
        """The name of the definition at ``key`` (a ``$ref`` target), rendered in its turn."""
        ...

    def inline_class(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        """The name of the class of the inline object ``schema`` at ``key``, rendered now."""
        ...


class JsonTypes:
    """Python type expressions of schemas; the classes they name are made by ``classes``."""

    def __init__(self, schemas: JsonSchemas, classes: Classes) -> None:
        self.schemas = schemas
        self.classes = classes

    def type_of(self, schema: Any, key: Key, hint: str, root: bool = False) -> str:
        """The Python type expression of ``schema`` (at ``key``); ``hint`` names inline classes."""
        if schema is True or (isinstance(schema, dict) and not assertions(schema)):
            return JSON_VALUE
        if schema is False:
            return "_js.Nothing"
        if not isinstance(schema, dict):
            return JSON_VALUE
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target_key, target = self.schemas.resolve(key, ref)
            name = self.classes.refer(target_key)
            if isinstance(target, dict) and types(target) is None and self.schemas.is_class(target, target_key):
                return f"{name} | _js.NonObject"  # typeless: used here, values not objects pass too
            return name
        if "enum" in schema:
            return _literal(schema["enum"]) if isinstance(schema["enum"], list) else JSON_VALUE
        if "const" in schema:
            return _literal([schema["const"]])
        declared = types(schema)
        combinators = [k for k in ("anyOf", "oneOf") if isinstance(schema.get(k), list)]
        if declared is None and not kinds(schema) and combinators:
            return self._union(schema, key, hint, combinators[0])
        if declared is None and not kinds(schema) and isinstance(schema.get("allOf"), list):
            return self._all_of(schema, key, hint)
        if self.schemas.is_class(schema, key) and declared is None:
            obj = self._object(schema, key, hint)
            return obj if root else f"{obj} | _js.NonObject"  # typeless: values not objects pass too
        if declared is None:
            constrained = kinds(schema)
            if constrained == {"object"}:
                obj = self._object(schema, key, hint)
                # A root without "type" is its object class (README); any other typeless object
                # schema also lets the values through that are not objects.
                return obj if root and self.schemas.is_class(schema, key) else f"{obj} | _js.NonObject"
            if constrained == {"array"}:
                return f"{self._array(schema, key, hint)} | _js.NonArray"
            return JSON_VALUE
        parts = [self._typed(t, schema, key, hint) for t in sorted(declared, key=_TYPE_ORDER.index)]
        return _join(parts)

    def _typed(self, kind: str, schema: dict[str, Any], key: Key, hint: str) -> str:
        if kind == "null":
            return "None"
        if kind == "boolean":
            return "bool"
        if kind == "string":
            fmt = schema.get("format")
            if isinstance(fmt, str) and fmt in _FORMATS:
                return _FORMATS[fmt]
            args = []
            if _count(schema.get("minLength")):
                args.append(f"min_length={schema['minLength']}")
            if _count(schema.get("maxLength")) is not None:
                args.append(f"max_length={schema['maxLength']}")
            pattern = schema.get("pattern")
            if isinstance(pattern, str) and _python_regex(pattern):
                args.append(f"pattern={naming.literal(pattern)}")
            return _annotated("str", args)
        if kind in ("integer", "number"):
            args = []
            for keyword, arg in _BOUNDS:
                value = schema.get(keyword)
                if _number(value):
                    args.append(f"{arg}={_number_literal(value, kind)}")
            multiple = schema.get("multipleOf")
            if kind == "integer" and isinstance(multiple, int) and not isinstance(multiple, bool) and multiple > 0:
                args.append(f"multiple_of={multiple}")
            return _annotated("int" if kind == "integer" else "float", args)
        if kind == "array":
            return self._array(schema, key, hint)
        return self._object(schema, key, hint)

    def _union(self, schema: dict[str, Any], key: Key, hint: str, keyword: str) -> str:
        branches = schema[keyword]
        parts = []
        for i, branch in enumerate(branches):
            if branch is False:
                continue
            parts.append(self.type_of(branch, (key[0], f"{key[1]}/{keyword}/{i}"), _branch_hint(hint, branch, i)))
        return _join(parts) if parts else "_js.Nothing"

    def _all_of(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        if self.schemas.is_class(schema, key):
            return self._object(schema, key, hint)
        branches = [b for b in schema["allOf"] if b is not True]
        if not branches:
            return JSON_VALUE
        # Every document valid for all branches is valid for the first: its type is wide enough.
        first = schema["allOf"].index(branches[0])
        return self.type_of(branches[0], (key[0], f"{key[1]}/allOf/{first}"), hint)

    def _array(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        file, at = key
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        item_hint = hint + "Item"
        rest = self.type_of(items, (file, at + "/items"), item_hint) if items is not False else None
        low = _count(schema.get("minItems")) or 0
        high = _count(schema.get("maxItems"))
        if not isinstance(prefix, list) or not prefix:
            if rest is None:
                return "tuple[()]"
            args = [f"min_length={low}"] if low else []
            args += [f"max_length={high}"] if high is not None else []
            return _annotated(f"list[{rest}]", args)
        firsts = [self.type_of(p, (file, f"{at}/prefixItems/{i}"), f"{hint}Item{i}") for i, p in enumerate(prefix)]
        if len(firsts) > _MAX_TUPLE_UNION:
            return _annotated(f"list[{JSON_VALUE}]", [f"min_length={low}"] if low else [])
        shapes = [f"tuple[{', '.join(firsts[:n])}]" if n else "tuple[()]" for n in range(low, len(firsts))]
        if rest is None:
            if low <= len(firsts):
                shapes.append(f"tuple[{', '.join(firsts)}]")
        else:
            full = ", ".join([*firsts, f"*tuple[{rest}, ...]"])
            shapes.append(f"_t.Annotated[tuple[{full}], _js.VARIADIC]")
        if high is not None:
            shapes = [s for n, s in enumerate(shapes, start=low) if n <= high or s.startswith("_t.Annotated")]
        return _join(shapes) if shapes else "_js.Nothing"

    def _object(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        if "properties" in schema or "required" in schema or self.schemas.is_class(schema, key):
            return self.classes.inline_class(schema, key, hint)
        return self._mapping(schema, key, hint)

    def _mapping(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        """An object without properties: ``dict[str, V]``, V wide enough for every value it allows."""
        file, at = key
        additional = schema.get("additionalProperties", True)
        patterns = schema.get("patternProperties")
        patterns = patterns if isinstance(patterns, dict) else {}
        values = [
            self.type_of(sub, (file, f"{at}/patternProperties/{escape(p)}"), hint + "Value")
            for p, sub in patterns.items()
        ]
        if additional is not False:
            values.append(self.type_of(additional, (file, at + "/additionalProperties"), hint + "Value"))
        names = "str"
        if additional is False and len(patterns) == 1 and _python_regex(next(iter(patterns))):
            names = _annotated("str", [f"pattern={naming.literal(next(iter(patterns)))}"])
        value = _join(values) if values else "_js.Nothing"
        args = [f"min_length={schema['minProperties']}"] if _count(schema.get("minProperties")) else []
        if _count(schema.get("maxProperties")) is not None:
            args.append(f"max_length={schema['maxProperties']}")
        return _annotated(f"dict[{names}, {value}]", args)

    def default(self, schema: Any, key: Key) -> str | None:
        """The Python literal of a property's ``default`` when it is a JSON scalar its schema accepts
        (checked here, so a model never starts from a value its schema refuses), else None."""
        if not isinstance(schema, dict) or "default" not in schema:
            return None
        value = schema["default"]
        if not (value is None or isinstance(value, bool | int | float | str)):
            return None
        target = schema
        if isinstance(schema.get("$ref"), str):
            target = self.schemas.resolve(key, schema["$ref"])[1]
        if not isinstance(target, dict) or "$ref" in json.dumps(target) or "format" in target:
            return None
        import jsonschema

        if not jsonschema.Draft202012Validator({k: v for k, v in target.items() if k != "default"}).is_valid(value):
            return None
        return naming.literal(value)


def _branch_hint(hint: str, branch: Any, i: int) -> str:
    return title(branch) or f"{hint}Option{i + 1}"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number_literal(value: Any, kind: str) -> str:
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return naming.literal(value)


def _annotated(base: str, args: list[str]) -> str:
    """``base``, with ``pydantic.Field`` constraints ``args`` if any."""
    return f"_t.Annotated[{base}, _pd.Field({', '.join(args)})]" if args else base


def _join(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if JSON_VALUE in unique:
        return JSON_VALUE
    return " | ".join(unique) if unique else "_js.Nothing"


def _literal(values: list[Any]) -> str:
    """``Literal[...]`` of JSON scalars (``None`` for null); other values need the serde's check."""
    items = []
    has_none = False
    for v in values:
        if v is None:
            has_none = True
        elif isinstance(v, bool | str) or (isinstance(v, int) and not isinstance(v, bool)):
            items.append(naming.literal(v))
        else:
            return JSON_VALUE  # a float, object or array value
    parts = [f"_t.Literal[{', '.join(dict.fromkeys(items))}]"] if items else []
    if has_none:
        parts.append("None")
    return " | ".join(parts) if parts else "_js.Nothing"


def _python_regex(pattern: str) -> bool:
    """Whether Python's ``re`` reads an ECMA-262 ``pattern`` (else the serde alone checks it)."""
    if re.search(r"\\[pPuxck]|\(\?<[A-Za-z]|\[\^?\]", pattern):
        return False  # Unicode classes, \u escapes, control escapes, named groups, ECMA's []
    try:
        re.compile(pattern)
    except (re.error, ValueError, OverflowError, RecursionError):
        return False
    return True
