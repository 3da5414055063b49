"""JSON Schema -> Pydantic models: every file's schemas, in one module, named from the schemas.

The models follow one rule: **never refuse a document the schema accepts; refuse what a type can
say.** Each keyword becomes part of a Python type where pydantic can check it exactly (types,
``required``, closed objects, numeric bounds, lengths, patterns, tuples, ``enum``/``const``); a
keyword no type can carry (``not``, ``if``, ``uniqueItems``, ``oneOf``'s "exactly one",
``patternProperties``, ``dependentRequired``, ...) leaves the type wider, and the serde validates
every document against the schema itself (``schemabus.runtime.json_schema``).

Names: a file's root is named by its ``title``, else its file name; ``$defs``/``definitions``
entries by their title, else their key; an inline object by its title, else its property's name.
Names are made unique in the module (never a numbered ``Thing1`` unless two schemas have the same
name in the same place), and every identifier is made in :mod:`..naming`.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import naming
from ..diagnostics import SchemaError, Source
from ..ir import JsonSchemaFile
from ..load.json_refs import RefError, RefIndex

# A schema's location: (file, pointer in its normalized document); detached targets use the pointer
# written in the file prefixed with "!".
Key = tuple[str, str]

# Module-level names of the generated module (imported under underscore aliases).
MODULE_IMPORTS = frozenset({"_dt", "_js", "_pd", "_t", "_te", "_uuid", "MISSING"})

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
_FORMATS = {"date-time": "_pd.AwareDatetime", "date": "_dt.date", "uuid": "_uuid.UUID"}
_JSON_VALUE = "_pd.JsonValue"
# Longest tuple spelled out as a union of every allowed length.
_MAX_TUPLE_UNION = 8


@dataclass
class _Definition:
    name: str
    kind: str  # "class" | "alias"
    lines: list[str]
    bases: list[str] = field(default_factory=list)  # classes it derives from (defined before it)
    uses: set[str] = field(default_factory=set)  # named definitions its text mentions
    root_type: str = ""  # a RootModel's type
    wires: set[str] = field(default_factory=set)  # a class's properties (JSON names), its bases' too


@dataclass
class JsonModels:
    """The ``json_models`` module (before formatting), and the model class of each file's root."""

    body: list[str]  # definitions, in an order that imports
    roots: dict[str, str]  # schema file -> the model class of its root
    imports: list[str]  # module imports the body needs
    names: list[str]  # every class and alias the body defines
    own_roots: dict[str, str]  # schema file -> the name given to its root, when the root has a definition


class JsonPython:
    """Renders every JSON Schema file of a project into one module."""

    def __init__(self, files: dict[str, JsonSchemaFile], taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.files = files
        indexes = {id(f.index): f.index for f in files.values() if f.index is not None}
        if len(indexes) != 1:
            raise ValueError("the files must come from one load_json_schema_files call")
        self.index: RefIndex = next(iter(indexes.values()))
        self.taken: set[str] = set(taken) | set(MODULE_IMPORTS)
        self.names: dict[Key, str] = {}
        self._copies: dict[tuple[str, str], str] = {}
        self.attributes: set[str] = set()  # every field name: class names avoid them, and vice versa
        self.definitions: dict[str, _Definition] = {}
        self._current: _Definition | None = None
        self._wrapping: Key | None = None  # the root a RootModel is being made for
        self._pending: list[Key] = []
        self._schemas: dict[Key, Any] = {}
        self._name_everything()

    # --- naming -------------------------------------------------------------------------------

    def _name_everything(self) -> None:
        for file in sorted(self.files):
            doc = self.files[file].normalized
            self._name((file, ""), _title(doc) or _file_stem(file), file)
            if isinstance(doc, dict):
                for container in ("$defs", "definitions"):
                    defs = doc.get(container)
                    if isinstance(defs, dict):
                        for key, sub in defs.items():
                            where = "/" + container + "/" + key.replace("~", "~0").replace("/", "~1")
                            wanted = _title(sub) or key
                            # The same definition copied into several files is one type.
                            same = (wanted, json.dumps(sub, sort_keys=True))
                            if "$ref" not in same[1] and same in self._copies:
                                self.names[(file, where)] = self._copies[same]
                            else:
                                self._copies[same] = self._name((file, where), wanted, file)

    def _name(self, key: Key, wanted: str, file: str) -> str:
        if key in self.names:
            return self.names[key]
        candidates = [naming.pascal(wanted)]
        stem = naming.pascal(_file_stem(file))
        if stem != candidates[0]:
            candidates.append(stem + candidates[0])
        parts = [naming.pascal(p) for p in posixpath.dirname(file).split("/") if p]
        if parts:
            candidates.append("".join(parts) + candidates[-1])
        for name in candidates:
            free = name not in self.taken and name not in self.attributes
            if free and naming.class_name(name, set()) == name:  # not a keyword or a reserved name
                self.taken.add(name)
                self.names[key] = name
                return name
        name = naming.class_name(candidates[-1], self.taken | self.attributes)
        self.taken.add(name)
        self.names[key] = name
        return name

    # --- rendering ----------------------------------------------------------------------------

    def render(self) -> JsonModels:
        roots: dict[str, str] = {}
        for file in sorted(self.files):
            roots[file] = self._root(file)
        for key in list(self.names):
            self._define(key)
        while self._pending:
            self._define(self._pending.pop(0))
        ordered = self._ordered()
        body = [line for d in ordered for line in ("", "", *d.lines)]
        text = "\n".join(body)
        imports = [
            imp
            for alias, imp in (
                ("_dt.", "import datetime as _dt"),
                ("_t.", "import typing as _t"),
                ("_uuid.", "import uuid as _uuid"),
                ("_te.", "import typing_extensions as _te"),
            )
            if alias in text
        ]
        own = {f: self.names[(f, "")] for f in self.files if self.names[(f, "")] in self.definitions}
        return JsonModels(body, roots, imports, [d.name for d in ordered], own)

    def _root(self, file: str) -> str:
        """The model class of a file's root: its own class, the class a root ``$ref`` names, or a
        ``RootModel`` around any other type."""
        schema = self.files[file].normalized
        key: Key = (file, "")
        target = self._class_target(key, schema)
        if target is not None:
            return self._define(target)
        name = self.names[key]
        if name not in self.definitions:
            definition = self._begin(name, "root")
            self._wrapping = key
            expr = self.type_of(schema, key, name, root=True)
            self._wrapping = None
            definition.root_type = expr
            self._finish(
                [
                    f"class {name}(_pd.RootModel[{expr}]):",
                    f"    {naming.docstring(_doc(schema) or _default_doc(file))}",
                ]
            )
        return name

    def _class_target(self, key: Key, schema: Any) -> Key | None:
        """The location of the class that models ``schema`` as a whole (following ``$ref``), if any."""
        seen: set[Key] = set()
        while isinstance(schema, dict) and key not in seen:
            seen.add(key)
            if isinstance(schema.get("$ref"), str) and not _assertions(schema, "$ref"):
                key, schema = self._resolve(key, schema["$ref"])
            elif _single_all_of(schema):  # allOf of one schema is that schema
                key, schema = (key[0], key[1] + "/allOf/0"), schema["allOf"][0]
            else:
                break
        return key if self._is_class(schema, key) else None

    def _is_class(self, schema: Any, key: Key) -> bool:
        """Whether ``schema`` is modelled by a class: an object with properties (or ``required``, or
        ``allOf`` classes). A root without ``"type"`` is read as an object (see README)."""
        if not isinstance(schema, dict):
            return False
        types = _types(schema)
        if types is not None and types != {"object"}:
            return False
        if "properties" in schema or "required" in schema:
            return types is not None or key[1] == "" or _kinds(schema) == {"object"}
        if not isinstance(schema.get("allOf"), list) or (types is None and _kinds(schema) - {"object"}):
            return False
        # One class and nothing else is that class itself; two, or one with properties, make a new one.
        bases, inline = self._class_branches(schema, key)
        return len(bases) + len(inline) > 1 or (bool(bases) and bool(inline))

    def _resolve(self, key: Key, ref: str) -> tuple[Key, Any]:
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

    def _schema_at(self, key: Key) -> Any:
        if key in self._schemas:
            return self._schemas[key]
        file, at = key
        doc = self.files[file].normalized
        node = doc
        for part in [p.replace("~1", "/").replace("~0", "~") for p in at.split("/")[1:]]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def _define(self, key: Key) -> str:
        """Render the named schema at ``key`` (once) and return its name."""
        name = self.names.get(key) or self._name(key, _pointer_name(key[1]), key[0])
        if name in self.definitions:
            return name
        schema = self._schema_at(key)
        if self._is_class(schema, key):
            self._class(name, schema, key)
        else:
            self._begin(name, "alias")
            expr = self.type_of(schema, key, name, root=key[1] == "")
            doc = _doc(schema)
            lines = [f"{name} = {expr}"]
            if doc:
                lines.append(naming.docstring(doc, indent=""))
            self._finish(lines)
        return name

    def _begin(self, name: str, kind: str) -> _Definition:
        self.definitions[name] = self._current = _Definition(name, kind, [])
        return self._current

    def _finish(self, lines: list[str]) -> None:
        assert self._current is not None
        self._current.lines = lines
        self._current = None

    # --- types --------------------------------------------------------------------------------

    def type_of(self, schema: Any, key: Key, hint: str, root: bool = False) -> str:
        """The Python type expression of ``schema`` (at ``key``); ``hint`` names inline classes."""
        if schema is True or (isinstance(schema, dict) and not _assertions(schema)):
            return _JSON_VALUE
        if schema is False:
            return "_js.Nothing"
        if not isinstance(schema, dict):
            return _JSON_VALUE
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target_key, _ = self._resolve(key, ref)
            self._want(target_key)
            name = self.names.get(target_key) or self._name(target_key, _pointer_name(target_key[1]), target_key[0])
            return self._use(name)
        if "enum" in schema:
            return _literal(schema["enum"]) if isinstance(schema["enum"], list) else _JSON_VALUE
        if "const" in schema:
            return _literal([schema["const"]])
        types = _types(schema)
        combinators = [k for k in ("anyOf", "oneOf") if isinstance(schema.get(k), list)]
        if types is None and not _kinds(schema) and combinators:
            return self._union(schema, key, hint, combinators[0])
        if types is None and not _kinds(schema) and isinstance(schema.get("allOf"), list):
            return self._all_of(schema, key, hint)
        if self._is_class(schema, key) and types is None:
            return self._object(schema, key, hint)
        if types is None:
            kinds = _kinds(schema)
            if kinds == {"object"}:
                obj = self._object(schema, key, hint)
                return obj if root else f"{obj} | _js.NonObject"
            if kinds == {"array"}:
                return f"{self._array(schema, key, hint)} | _js.NonArray"
            return _JSON_VALUE
        parts = [self._typed(t, schema, key, hint) for t in sorted(types, key=_TYPE_ORDER.index)]
        return _join(parts)

    def _use(self, name: str) -> str:
        if self._current is not None:
            self._current.uses.add(name)
        return name

    def _want(self, key: Key) -> None:
        if key not in self.names or self.names[key] not in self.definitions:
            self._pending.append(key)

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
            for keyword, arg in (
                ("minimum", "ge"),
                ("maximum", "le"),
                ("exclusiveMinimum", "gt"),
                ("exclusiveMaximum", "lt"),
            ):
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
        if self._is_class(schema, key):
            return self._object(schema, key, hint)
        branches = [b for b in schema["allOf"] if b is not True]
        if not branches:
            return _JSON_VALUE
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
            return _annotated(f"list[{_JSON_VALUE}]", [f"min_length={low}"] if low else [])
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
        if "properties" in schema or "required" in schema or self._is_class(schema, key):
            name = self._inline_class_name(schema, key, hint)
            if name not in self.definitions:
                outer = self._current
                self._class(name, schema, key)
                self._current = outer
            return self._use(name)
        return self._mapping(schema, key, hint)

    def _mapping(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        """An object without properties: ``dict[str, V]``, V wide enough for every value it allows."""
        file, at = key
        additional = schema.get("additionalProperties", True)
        patterns = schema.get("patternProperties")
        patterns = patterns if isinstance(patterns, dict) else {}
        values = [
            self.type_of(sub, (file, f"{at}/patternProperties/{_escape(p)}"), hint + "Value")
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

    def _inline_class_name(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        if key == self._wrapping:  # the object a RootModel's union holds: a class of its own name
            key, hint = (key[0], key[1] + "/#object"), hint + "Object"
        elif key in self.names:
            return self.names[key]
        return self._name(key, hint if key[1].endswith("#object") else _title(schema) or hint, key[0])

    def _class_branches(self, schema: dict[str, Any], key: Key) -> tuple[list[Key], list[dict[str, Any]]]:
        """The ``allOf`` branches a class is made of: classes it derives from (by location), and
        inline objects whose properties it declares itself."""
        bases: list[Key] = []
        inline: list[dict[str, Any]] = []
        branches = schema.get("allOf")
        for i, branch in enumerate(branches if isinstance(branches, list) else []):
            if not isinstance(branch, dict):
                continue
            if isinstance(branch.get("$ref"), str) and not _assertions(branch, "$ref"):
                target = self._class_target((key[0], f"{key[1]}/allOf/{i}"), branch)
                if target is not None:
                    bases.append(target)
            elif "properties" in branch and _types(branch) in (None, {"object"}):
                inline.append(branch)
        return bases, inline

    # --- classes ------------------------------------------------------------------------------

    def _class(self, name: str, schema: dict[str, Any], key: Key) -> None:
        definition = self._begin(name, "class")
        file, at = key
        base_keys, inline = self._class_branches(schema, key)
        bases: list[str] = []
        for base_key in base_keys:
            base = self._define(base_key)
            if base not in bases:
                bases.append(base)
        self._current = definition
        bases = _without_ancestors(bases, self.definitions)
        definition.bases = bases
        inherited = {w for b in bases for w in self.definitions[b].wires}
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in [*inline, schema]:
            properties.update(part.get("properties") or {})
            required += [r for r in part.get("required") or [] if isinstance(r, str)]
        # A base's fields would be "additional" to a closed subclass: only a class of its own closes.
        closed = schema.get("additionalProperties") is False and "patternProperties" not in schema and not bases
        lines = [f"class {name}({', '.join(bases) if bases else '_js.JsonRecord'}):"]
        where = f"{file}#{at}" if at else file
        lines.append(f"    {naming.docstring(_doc(schema) or f'JSON Schema object ``{where}``.')}")
        body: list[str] = []
        if closed:
            body.append('    model_config = _pd.ConfigDict(extra="forbid")')
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict) and _assertions(additional) and "patternProperties" not in schema:
            extra = self.type_of(additional, (file, at + "/additionalProperties"), name + "Value")
            self._current = definition
            body.append(f"    __pydantic_extra__: dict[str, {extra}] = _pd.Field(init=False)")
        used: set[str] = set()
        definition.wires = set(inherited)
        for wire in [*properties, *[r for r in dict.fromkeys(required) if r not in properties]]:
            sub = properties.get(wire, True)
            if sub is False or wire in inherited:
                # absent in the model, or typed by the base already: both only wider than the
                # schema (allOf's intersection), and the serde checks the rest.
                continue
            definition.wires.add(wire)
            attr = naming.field_name(wire, frozenset(self.taken), used, ascii_only=False)
            self.attributes.add(attr)
            at_property = (file, _property_pointer(at, wire))
            annotation = self.type_of(sub, at_property, naming.pascal(wire))
            self._current = definition
            args = []
            if attr != wire:
                args += [f"validation_alias={naming.literal(wire)}", f"serialization_alias={naming.literal(wire)}"]
            doc = _doc(sub)
            if doc:
                args.append(f"description={naming.literal(doc)}")
            if wire in required:
                default = ""
            elif (value := self._default(sub, at_property)) is not None:
                default = value  # written only when set: a document read without it stays without it
            else:
                annotation, default = f"{annotation} | MISSING", "MISSING"
            if args:
                field_args = ", ".join(([f"default={default}"] if default else []) + args)
                body.append(f"    {attr}: {annotation} = _pd.Field({field_args})")
            else:
                body.append(f"    {attr}: {annotation}" + (f" = {default}" if default else ""))
        definition.lines = lines + ([""] + body if body else [])
        self._current = None

    def _default(self, schema: Any, key: Key) -> str | None:
        """The Python literal of a property's ``default`` when it is a JSON scalar its schema accepts
        (checked here, so a model never starts from a value its schema refuses), else None."""
        if not isinstance(schema, dict) or "default" not in schema:
            return None
        value = schema["default"]
        if not (value is None or isinstance(value, bool | int | float | str)):
            return None
        target = schema
        if isinstance(schema.get("$ref"), str):
            target = self._resolve(key, schema["$ref"])[1]
        if not isinstance(target, dict) or "$ref" in json.dumps(target) or "format" in target:
            return None
        import jsonschema

        if not jsonschema.Draft202012Validator({k: v for k, v in target.items() if k != "default"}).is_valid(value):
            return None
        return naming.literal(value)

    # --- output order -------------------------------------------------------------------------

    def _ordered(self) -> list[_Definition]:
        """Definitions in an order that imports: a class after its bases, an alias after what it uses
        (classes are used by name in annotations, which are read later, so they may come in any order)."""
        out: list[_Definition] = []
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            if state.get(name) == 2:
                return
            d = self.definitions[name]
            if state.get(name) == 1:
                return  # a cycle: resolved below by quoting
            state[name] = 1
            deps = d.bases if d.kind == "class" else sorted(d.uses)  # aliases and RootModels: eagerly
            for dep in deps:
                if dep in self.definitions:
                    visit(dep)
            state[name] = 2
            out.append(d)

        for name in sorted(self.definitions, key=lambda n: (self.definitions[n].kind != "alias", n)):
            visit(name)
        # An alias or a RootModel that uses something defined after it (a cycle) reads it later: the
        # alias is quoted, the RootModel's type moves into an annotation of its body.
        position = {d.name: i for i, d in enumerate(out)}
        for i, d in enumerate(out):
            if d.kind == "root" and any(position.get(u, -1) >= i for u in d.uses):
                d.lines = [f"class {d.name}(_pd.RootModel[_t.Any]):", d.lines[1], "", f"    root: {d.root_type}"]
            elif d.kind == "alias" and _bare_self_union(d.name, d.lines[0].split(" = ", 1)[1]):
                # "X is X or null": no structure to type; any JSON value is wide enough.
                d.lines[0] = f"{d.name} = {_JSON_VALUE}"
            elif d.kind == "alias" and any(position.get(u, -1) >= i for u in d.uses):
                expr = d.lines[0].split(" = ", 1)[1]
                d.lines[0] = f"{d.name} = _te.TypeAliasType({naming.literal(d.name)}, {naming.literal(expr)})"
        return out


# --- helpers ----------------------------------------------------------------------------------

_BOUNDS = (("minimum", "ge"), ("maximum", "le"), ("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt"))
_TYPE_ORDER = ["object", "array", "string", "integer", "number", "boolean", "null"]


def _types(schema: dict[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return None


def _kinds(schema: dict[str, Any]) -> set[str]:
    """The kinds of value a typeless schema's keywords constrain."""
    kinds = set()
    if any(k in schema for k in _OBJECT_KEYWORDS):
        kinds.add("object")
    if any(k in schema for k in _ARRAY_KEYWORDS):
        kinds.add("array")
    if any(k in schema for k in _STRING_KEYWORDS):
        kinds.add("string")
    if any(k in schema for k in _NUMBER_KEYWORDS):
        kinds.add("number")
    return kinds


def _assertions(schema: dict[str, Any], *ignore: str) -> bool:
    """Whether ``schema`` constrains anything (other than the keywords in ``ignore``)."""
    return any(k not in _ANNOTATION_ONLY and k not in ignore for k in schema)


def _bare_self_union(name: str, expr: str) -> bool:
    """Whether the type ``expr`` holds ``name`` as a member of its top-level union (not inside a
    container, which would make it a well-founded recursive type)."""
    depth, members, current = 0, [], ""
    for c in expr:
        depth += c == "["
        depth -= c == "]"
        if c == "|" and depth == 0:
            members.append(current.strip())
            current = ""
        else:
            current += c
    return name in [*members, current.strip()]


def _single_all_of(schema: dict[str, Any]) -> bool:
    branches = schema.get("allOf")
    return isinstance(branches, list) and len(branches) == 1 and not _assertions(schema, "allOf")


def _title(schema: Any) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    return title if isinstance(title, str) and title.strip() else ""


def _doc(schema: Any) -> str:
    doc = schema.get("description") if isinstance(schema, dict) else None
    return doc if isinstance(doc, str) and doc.strip() else ""


def _default_doc(file: str) -> str:
    return f"The root of JSON Schema ``{file}``."


def _file_stem(file: str) -> str:
    name = posixpath.basename(file)
    for suffix in (".schema.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "Model"
    return name or "Model"


def _pointer_name(pointer: str) -> str:
    last = pointer.removeprefix("!").rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    return last or "Model"


def _branch_hint(hint: str, branch: Any, i: int) -> str:
    return _title(branch) or f"{hint}Option{i + 1}"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _property_pointer(at: str, wire: str) -> str:
    return at + "/properties/" + _escape(wire)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number_literal(value: Any, kind: str) -> str:
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return naming.literal(value)


def _annotated(base: str, args: list[str]) -> str:
    return f"_t.Annotated[{base}, _pd.Field({', '.join(args)})]" if args else base


def _join(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if _JSON_VALUE in unique:
        return _JSON_VALUE
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
            return _JSON_VALUE  # a float, object or array value
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


def _without_ancestors(bases: list[str], definitions: dict[str, _Definition]) -> list[str]:
    """Bases without those another base derives from (Python refuses such an MRO)."""

    def ancestors(name: str) -> Iterator[str]:
        d = definitions.get(name)
        for b in d.bases if d else []:
            yield b
            yield from ancestors(b)

    inherited = {a for b in bases for a in ancestors(b)}
    return [b for b in bases if b not in inherited]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
