"""Load ``.avsc`` files into the IR: parse, validate with locations, resolve named types across files."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ..diagnostics import SchemaError, SchemaErrors, Source
from ..ir import (
    PRIMITIVES,
    Array,
    AvroSchema,
    AvroType,
    Enum,
    Field,
    Fixed,
    Logical,
    Map,
    NamedRef,
    NamedType,
    Primitive,
    Record,
    Union,
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOGICAL_BASES: dict[str, tuple[str, ...]] = {
    "decimal": ("bytes", "fixed"),
    "uuid": ("string",),
    "date": ("int",),
    "time-millis": ("int",),
    "time-micros": ("long",),
    "timestamp-millis": ("long",),
    "timestamp-micros": ("long",),
    "local-timestamp-millis": ("long",),
    "local-timestamp-micros": ("long",),
}
_ORDERS = ("ascending", "descending", "ignore")
# How deep types may nest (arrays, maps, unions and named types inside one another), and how deep a
# default value may nest, for code generation: far beyond any real schema, within what Python
# (and so the generated code, pydantic and mypy) handles.
MAX_DEPTH = 256
MAX_DEFAULT_DEPTH = 64


def read_json(path_text: str, source: Source) -> Any:
    try:
        return json.loads(path_text)
    except json.JSONDecodeError as e:
        raise SchemaError(source, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise SchemaError(source, "invalid JSON: arrays and objects nest too deep to read") from None
    except ValueError as e:  # a number with more digits than Python converts (sys.get_int_max_str_digits)
        raise SchemaError(source, f"invalid JSON: {e}") from None


class _Parser:
    """Parses the JSON of one file; named types go into the shared ``named`` table."""

    def __init__(self, file: str, named: dict[str, NamedType], pending: dict[str, tuple[Source, str]]) -> None:
        self.file = file
        self.named = named
        self.pending = pending  # references to names not (yet) defined: resolved after all files
        self.defined_here: list[str] = []
        self.referenced: set[str] = set()
        self.errors: list[SchemaError] = []  # errors of single fields: the rest of the file is still read
        self._depth = 0

    def parse(self, node: Any, src: Source, namespace: str) -> AvroType:
        if self._depth >= MAX_DEPTH:
            raise SchemaError(src, f"types nest more than {MAX_DEPTH} levels deep here")
        self._depth += 1
        try:
            return self._parse(node, src, namespace)
        finally:
            self._depth -= 1

    def _parse(self, node: Any, src: Source, namespace: str) -> AvroType:
        if isinstance(node, str):
            if node in PRIMITIVES:
                return Primitive(node, src)
            return self._ref(node, src, namespace)
        if isinstance(node, list):
            # The empty union is a valid schema (Apache Avro's Java and Python parsers accept it):
            # no value can be written with it, and reading one fails.
            branches = tuple(self.parse(b, src.at(i), namespace) for i, b in enumerate(node))
            self._check_union(branches, src)
            return Union(branches, src)
        if not isinstance(node, dict):
            raise SchemaError(src, f"a type must be a string, an object or an array, not {json.dumps(node)}")
        if "type" not in node:
            raise SchemaError(src, 'a type object needs a "type"')
        kind = node["type"]
        logical = node.get("logicalType")
        if isinstance(kind, str) and kind in ("record", "error"):
            return self._record(node, src, namespace)
        if kind == "enum":
            return self._named(self._enum(node, src, namespace), src)
        if kind == "fixed":
            fixed = self._fixed(node, src, namespace)
            ref = self._named(fixed, src)
            if not logical:
                return ref
            t = self._logical(logical, node, ref, "fixed", src)
            if isinstance(t, Logical):
                self.named[fixed.fullname] = Fixed(
                    fixed.fullname, fixed.size, src, fixed.doc, fixed.aliases, t.logical, t.precision, t.scale
                )
            return t
        if kind == "array":
            if "items" not in node:
                raise SchemaError(src, 'an array needs "items"')
            return Array(self.parse(node["items"], src.at("items"), namespace), src)
        if kind == "map":
            if "values" not in node:
                raise SchemaError(src, 'a map needs "values"')
            return Map(self.parse(node["values"], src.at("values"), namespace), src)
        if isinstance(kind, str) and kind in PRIMITIVES:
            base = Primitive(kind, src)
            return self._logical(logical, node, base, kind, src) if logical else base
        # {"type": "com.acme.Named"} or {"type": {...}} wraps another type
        if isinstance(kind, (dict, list, str)):
            return self.parse(kind, src.at("type"), namespace)
        raise SchemaError(src.at("type"), f"unknown type {json.dumps(kind)}")

    def _logical(self, logical: Any, node: dict[str, Any], base: AvroType, base_name: str, src: Source) -> AvroType:
        # Unknown or misapplied logical types are ignored, as the Avro specification requires.
        allowed = _LOGICAL_BASES.get(logical) if isinstance(logical, str) else None
        if allowed is None or base_name not in allowed:
            return base
        if logical == "decimal":
            precision, scale = node.get("precision"), node.get("scale", 0)
            if not isinstance(precision, int) or isinstance(precision, bool) or precision <= 0:
                raise SchemaError(src.at("precision"), "decimal precision must be a positive integer")
            if not isinstance(scale, int) or isinstance(scale, bool) or not 0 <= scale <= precision:
                raise SchemaError(src.at("scale"), "decimal scale must be an integer between 0 and the precision")
            if isinstance(base, NamedRef):
                fixed = self.named[base.fullname]
                assert isinstance(fixed, Fixed)
                max_digits = len(str(2 ** (8 * fixed.size - 1) - 1))
                if precision > max_digits:
                    raise SchemaError(
                        src.at("precision"), f"fixed({fixed.size}) holds at most {max_digits} decimal digits"
                    )
            return Logical("decimal", base, src, precision, scale)
        return Logical(logical, base, src)

    def _fullname(self, node: dict[str, Any], src: Source, namespace: str) -> tuple[str, str]:
        name = node.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(src.at("name"), f'a {node["type"]} needs a "name"')
        ns = node.get("namespace", namespace)
        if ns is not None and not isinstance(ns, str):
            raise SchemaError(src.at("namespace"), "a namespace must be a string")
        if "." in name:
            full = name
        else:
            full = f"{ns}.{name}" if ns else name
        for part in full.split("."):
            if not _NAME.fullmatch(part):
                raise SchemaError(src.at("name"), f"invalid name {json.dumps(full)}")
        return full, full.rpartition(".")[0]

    def _named(self, t: NamedType, src: Source) -> NamedRef:
        if t.fullname in self.named:
            raise SchemaError(src, f'"{t.fullname}" is defined twice (first in {self.named[t.fullname].source})')
        self.named[t.fullname] = t
        self.defined_here.append(t.fullname)
        self.pending.pop(t.fullname, None)
        return NamedRef(t.fullname, src)

    def _ref(self, name: str, src: Source, namespace: str) -> NamedRef | Logical:
        candidates = [name] if "." in name else ([f"{namespace}.{name}"] if namespace else []) + [name]
        for full in candidates:
            if full in self.named:
                if full not in self.defined_here:
                    self.referenced.add(full)
                target = self.named[full]
                if isinstance(target, Fixed) and target.logical:
                    return Logical(target.logical, NamedRef(full, src), src, target.precision, target.scale)
                return NamedRef(full, src)
        full = candidates[0]
        if not _NAME.fullmatch(name.rpartition(".")[2]):
            raise SchemaError(src, f"unknown type {json.dumps(name)}")
        self.pending.setdefault(full, (src, name))
        self.referenced.add(full)
        return NamedRef(full, src)

    def _aliases(self, node: dict[str, Any], src: Source) -> tuple[str, ...]:
        aliases = node.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise SchemaError(src.at("aliases"), "aliases must be an array of strings")
        return tuple(aliases)

    def _doc(self, node: dict[str, Any], src: Source) -> str | None:
        doc = node.get("doc")
        if doc is not None and not isinstance(doc, str):
            raise SchemaError(src.at("doc"), "doc must be a string")
        return doc

    def _record(self, node: dict[str, Any], src: Source, namespace: str) -> NamedRef:
        full, ns = self._fullname(node, src, namespace)
        fields_node = node.get("fields")
        if not isinstance(fields_node, list):
            raise SchemaError(src.at("fields"), "a record needs a fields array")
        # Register a placeholder first so the record can refer to itself (recursive types).
        placeholder = Record(full, (), src, self._doc(node, src), self._aliases(node, src))
        ref = self._named(placeholder, src)
        fields: list[Field] = []
        seen: set[str] = set()
        for i, f in enumerate(fields_node):
            try:
                field = self._field(f, src.at("fields", i), ns, seen)
            except SchemaError as e:  # reported with the errors of the other fields
                self.errors.append(e)
                continue
            fields.append(field)
        self.named[full] = Record(full, tuple(fields), src, placeholder.doc, placeholder.aliases)
        return ref

    def _field(self, f: Any, fsrc: Source, ns: str, seen: set[str]) -> Field:
        if not isinstance(f, dict):
            raise SchemaError(fsrc, "a field must be an object")
        fname = f.get("name")
        if not isinstance(fname, str) or not fname:
            raise SchemaError(fsrc.at("name"), 'a field needs a "name"')
        if fname in seen:
            raise SchemaError(fsrc.at("name"), f'field "{fname}" appears twice')
        seen.add(fname)
        if "type" not in f:
            raise SchemaError(fsrc, f'field "{fname}" needs a "type"')
        ftype = self.parse(f["type"], fsrc.at("type"), ns)
        order = f.get("order", "ascending")
        if order not in _ORDERS:
            raise SchemaError(fsrc.at("order"), f"order must be one of {', '.join(_ORDERS)}")
        return Field(
            name=fname,
            type=ftype,
            source=fsrc,
            doc=self._doc(f, fsrc),
            has_default="default" in f,
            default=f.get("default"),
            aliases=self._aliases(f, fsrc),
            order=order,
        )

    def _enum(self, node: dict[str, Any], src: Source, namespace: str) -> Enum:
        full, _ = self._fullname(node, src, namespace)
        symbols = node.get("symbols")
        if not isinstance(symbols, list) or not symbols:
            raise SchemaError(src.at("symbols"), "an enum needs a non-empty symbols array")
        for i, s in enumerate(symbols):
            if not isinstance(s, str) or not _NAME.fullmatch(s):
                raise SchemaError(src.at("symbols", i), f"invalid enum symbol {json.dumps(s)}")
        if len(set(symbols)) != len(symbols):
            raise SchemaError(src.at("symbols"), "enum symbols must be unique")
        default = node.get("default")
        if default is not None and default not in symbols:
            raise SchemaError(src.at("default"), f"enum default {json.dumps(default)} is not one of its symbols")
        return Enum(full, tuple(symbols), src, self._doc(node, src), default, self._aliases(node, src))

    def _fixed(self, node: dict[str, Any], src: Source, namespace: str) -> Fixed:
        full, _ = self._fullname(node, src, namespace)
        size = node.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise SchemaError(src.at("size"), "a fixed needs a non-negative integer size")
        return Fixed(full, size, src, self._doc(node, src), self._aliases(node, src))

    def _check_union(self, branches: tuple[AvroType, ...], src: Source) -> None:
        seen: dict[str, int] = {}
        for i, b in enumerate(branches):
            if isinstance(b, Union):
                raise SchemaError(src.at(i), "a union may not directly contain another union")
            key = _union_key(b)
            if key in seen:
                raise SchemaError(src.at(i), f"a union may hold only one {key} (branches {seen[key]} and {i})")
            seen[key] = i


def _union_key(t: AvroType) -> str:
    if isinstance(t, Logical):
        return _union_key(t.base)
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, NamedRef):
        return t.fullname
    return "array" if isinstance(t, Array) else "map"


def load_avro_files(
    files: Iterable[tuple[str, str]], *, codegen: bool = False
) -> tuple[dict[str, NamedType], dict[str, AvroSchema]]:
    """Parse ``(file name, text)`` pairs; named types may be used across files in any order.

    Returns the named-type table (definition order) and one :class:`AvroSchema` per file.
    All errors are collected and raised together as :class:`SchemaErrors`: every broken field of
    every file, unknown types and invalid defaults alike. With ``codegen``, also what code
    generation cannot take: a file that defines and uses no named type (nothing to generate), a
    default nested too deep.
    """
    named: dict[str, NamedType] = {}
    pending: dict[str, tuple[Source, str]] = {}
    parsed: list[tuple[str, AvroType, set[str], list[str]]] = []
    errors: list[SchemaError] = []
    for file, text in files:
        src = Source(file)
        parser = _Parser(file, named, pending)
        try:
            root = parser.parse(read_json(text, src), src, "")
        except SchemaError as e:
            errors += [*parser.errors, e]
            continue
        errors += parser.errors
        parsed.append((file, root, parser.referenced, parser.defined_here))
    for src, written in pending.values():
        errors.append(SchemaError(src, f'unknown type "{written}"'))
    for file, root, referenced, defined in parsed:
        _check_defaults(root, named, set(), errors, codegen)
        # A file of named types from other files (a union of references, as a topic holding several
        # event types registers it) has its types generated from theirs: only a file of nothing but
        # primitives and containers of them has nothing to generate.
        if codegen and not defined and not referenced:
            errors.append(SchemaError(Source(file), f"nothing to generate: {_nothing_here(root, named)}"))
    if errors:
        raise SchemaErrors(errors)
    out: dict[str, AvroSchema] = {}
    for file, root, referenced, defined in parsed:
        deps = tuple(sorted(n for n in referenced if n not in defined))
        out[file] = AvroSchema(file, root, canonical_json(root, named), deps)
    return named, out


def _nothing_here(root: AvroType, named: dict[str, NamedType]) -> str:
    written = json.dumps(_to_json(root, named, set(named), ""), ensure_ascii=False)
    if len(written) > 60:
        written = written[:57] + "..."
    return f"the file's type is {written}, and it defines no record, enum or fixed type"


def _check_defaults(
    t: AvroType, named: dict[str, NamedType], seen: set[str], errors: list[SchemaError], codegen: bool
) -> None:
    """Every invalid default of the records ``t`` reaches, into ``errors``; names not defined are
    skipped (reported as unknown types)."""
    stack = [t]
    while stack:
        node = stack.pop()
        if isinstance(node, Logical):
            stack.append(node.base)
        elif isinstance(node, Array):
            stack.append(node.items)
        elif isinstance(node, Map):
            stack.append(node.values)
        elif isinstance(node, Union):
            stack += node.branches
        elif isinstance(node, NamedRef) and node.fullname not in seen and node.fullname in named:
            seen.add(node.fullname)
            n = named[node.fullname]
            if not isinstance(n, Record):
                continue
            for f in n.fields:
                if f.has_default:
                    problem = default_problem(f.type, f.default, named)
                    if problem is None and codegen and _nesting(f.default) > MAX_DEFAULT_DEPTH:
                        problem = f"it nests more than {MAX_DEFAULT_DEPTH} levels deep, more than schemabus generates"
                    if problem:
                        errors.append(
                            SchemaError(f.source.at("default"), f'invalid default for field "{f.name}": {problem}')
                        )
            stack += reversed([f.type for f in n.fields])


def _nesting(value: Any) -> int:
    """How deep JSON arrays and objects nest in ``value`` (0 for a scalar)."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [v for x in level if isinstance(x, (list, dict)) for v in (x.values() if isinstance(x, dict) else x)]
    return depth - 1


def default_problem(t: AvroType, value: Any, named: dict[str, NamedType]) -> str | None:
    """Why ``value`` (JSON) is not a valid Avro default for ``t``, or None when it is."""
    if isinstance(t, Logical):
        return default_problem(t.base, value, named)
    if isinstance(t, Union):
        if not t.branches:
            return "the empty union holds no value"
        # The specification ties a union's default to its first branch.
        return default_problem(t.branches[0], value, named)
    if isinstance(t, Array):
        if not isinstance(value, list):
            return "expected an array"
        return next((p for v in value if (p := default_problem(t.items, v, named))), None)
    if isinstance(t, Map):
        if not isinstance(value, dict):
            return "expected an object"
        return next((p for v in value.values() if (p := default_problem(t.values, v, named))), None)
    if isinstance(t, NamedRef):
        if t.fullname not in named:
            return None  # an unknown type, reported as such
        n = named[t.fullname]
        if isinstance(n, Enum):
            return None if value in n.symbols else f"{json.dumps(value)} is not a symbol of {n.fullname}"
        if isinstance(n, Fixed):
            if not isinstance(value, str) or len(value) != n.size:
                return f"expected a string of {n.size} characters"
            return None
        if not isinstance(value, dict):
            return f"expected an object for record {n.fullname}"
        for f in n.fields:
            if f.name in value:
                p = default_problem(f.type, value[f.name], named)
            elif f.has_default:
                p = None
            else:
                p = f'missing field "{f.name}"'
            if p:
                return p
        return None
    name = t.name
    if name in ("float", "double") and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:  # fastavro refuses such a schema (and could not write its default): so does schemabus
            struct.pack("<f" if name == "float" else "<d", float(value))
        except OverflowError:
            return f"the number is beyond the range of a {name}"
    ok = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31,
        "long": isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63,
        "float": isinstance(value, (int, float, Decimal)) and not isinstance(value, bool),
        "double": isinstance(value, (int, float, Decimal)) and not isinstance(value, bool),
        "bytes": isinstance(value, str) and all(ord(c) < 256 for c in value),
        "string": isinstance(value, str),
    }[name]
    return None if ok else f"{json.dumps(value)} is not a valid {name}"


def canonical_json(root: AvroType, named: dict[str, NamedType], home: str | None = None) -> str:
    """The schema JSON: named types inlined at first use, by full name after that.

    With ``home`` (a file name), only the named types defined in that file are inlined; the others
    are left as references by full name, as a registry schema with references has them.
    """
    return json.dumps(_to_json(root, named, set(), "", home), separators=(",", ":"), ensure_ascii=False)


def _to_json(
    t: AvroType, named: dict[str, NamedType], emitted: set[str], namespace: str, home: str | None = None
) -> Any:
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, Logical):
        base = _to_json(t.base, named, emitted, namespace, home)
        if isinstance(t.base, NamedRef):
            # The logical type of a fixed lives on its definition; later uses are plain names.
            if not isinstance(base, dict):
                return base
            out: dict[str, Any] = base
        else:
            out = {"type": base}
        out["logicalType"] = t.logical
        if t.logical == "decimal":
            out["precision"] = t.precision
            out["scale"] = t.scale
        return out
    if isinstance(t, Array):
        return {"type": "array", "items": _to_json(t.items, named, emitted, namespace, home)}
    if isinstance(t, Map):
        return {"type": "map", "values": _to_json(t.values, named, emitted, namespace, home)}
    if isinstance(t, Union):
        return [_to_json(b, named, emitted, namespace, home) for b in t.branches]
    n = named[t.fullname]
    if n.fullname in emitted or (home is not None and n.source.file != home):
        return n.fullname
    emitted.add(n.fullname)
    out = {"type": "record" if isinstance(n, Record) else "enum" if isinstance(n, Enum) else "fixed"}
    out["name"] = n.fullname
    if not n.namespace and namespace:
        # A name without a namespace would take the enclosing one: say that it has none.
        out["namespace"] = ""
    if n.doc is not None:
        out["doc"] = n.doc
    if n.aliases:
        out["aliases"] = list(n.aliases)
    if isinstance(n, Record):
        fields = []
        for f in n.fields:
            fj: dict[str, Any] = {"name": f.name, "type": _to_json(f.type, named, emitted, n.namespace, home)}
            if f.doc is not None:
                fj["doc"] = f.doc
            if f.has_default:
                fj["default"] = f.default
            if f.aliases:
                fj["aliases"] = list(f.aliases)
            if f.order != "ascending":
                fj["order"] = f.order
            fields.append(fj)
        out["fields"] = fields
    elif isinstance(n, Enum):
        out["symbols"] = list(n.symbols)
        if n.default is not None:
            out["default"] = n.default
    else:
        out["size"] = n.size
    return out
