"""Avro IR -> Python: class names, annotations, defaults, and straight-line codec code.

Everything a template prints is computed here; the templates only lay it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import naming
from ..ir import Array, AvroType, Enum, Fixed, Logical, Map, NamedRef, NamedType, Primitive, Record, Union
from ..load.avro import default_problem
from ..naming import literal

# Deeply nested arrays, maps and unions (``list[list[...]]`` 200 levels down) are cut into pieces:
# every ALIAS_EVERY levels of a type (counted from its innermost level) become a type alias of the
# models module, so no annotation nests deeper than that, and pydantic builds each piece's validator
# once, innermost first (see ``schemabus.runtime.avro.prebuild``); a codec that reaches
# HELPER_DEPTH nested blocks (Python allows 20) continues in a helper function; the compiled codec
# takes programs up to PROGRAM_DEPTH nodes deep, deeper records use their Python writer and reader.
ALIAS_EVERY = 8
HELPER_DEPTH = 8
PROGRAM_DEPTH = 64

# Module-level names of the generated models module (imported under underscore aliases so schema
# names cannot shadow them); class names are added per project.
MODEL_IMPORTS = frozenset({"_dt", "_decimal", "_enum", "_t", "_uuid", "_pd", "_avro"})
CODEC_HELPERS = frozenset({"_avro", "_m"})


@dataclass
class FieldSpec:
    name: str  # Python attribute
    wire: str
    annotation: str
    field_args: list[str]  # arguments of pydantic.Field(...)
    default: str | None  # "= ..." right-hand side, or None when required


@dataclass
class AliasSpec:
    """A module-level type alias of the models module: a fixed type, or a piece of a deep type."""

    name: str
    expression: str
    prebuild: bool = False  # deep pieces whose validator is built at once (see runtime.avro.prebuild)


@dataclass
class ClassSpec:
    kind: str  # "record" | "enum"
    name: str
    fullname: str
    doc: str | None
    fields: list[FieldSpec] = field(default_factory=list)
    members: list[tuple[str, str]] = field(default_factory=list)  # enum (member, symbol literal)
    default_member: str | None = None
    aliases: list[AliasSpec] = field(default_factory=list)  # defined just before the class


# Logical types carried by an int or a long: the base type, and the runtime.avro conversions to the
# number and back (used by the writers, the readers and the codec programs alike).
_NUMBER_LOGICALS = {
    "date": ("int", "date_to_days", "days_to_date"),
    "time-millis": ("int", "time_to_millis", "millis_to_time"),
    "time-micros": ("long", "time_to_micros", "micros_to_time"),
    "timestamp-millis": ("long", "timestamp_to_millis", "millis_to_timestamp"),
    "timestamp-micros": ("long", "timestamp_to_micros", "micros_to_timestamp"),
    "local-timestamp-millis": ("long", "local_timestamp_to_millis", "millis_to_local_timestamp"),
    "local-timestamp-micros": ("long", "local_timestamp_to_micros", "micros_to_local_timestamp"),
}


def _zz_byte(i: int) -> int:
    """The zig-zag byte of a small non-negative index (union branch or enum symbol < 64)."""
    return i << 1


class AvroPython:
    """Naming and code for every named Avro type of a project, computed once."""

    def __init__(self, named: dict[str, NamedType]) -> None:
        self.named = named
        short_counts: dict[str, int] = {}
        for n in named.values():
            short_counts[n.name] = short_counts.get(n.name, 0) + 1
        taken: set[str] = set(MODEL_IMPORTS) | {"Union"}
        # The name of each named type in the models module: a class, or a type alias for a fixed.
        self.class_names: dict[str, str] = {}
        for full in sorted(named):
            n = named[full]
            base = n.name if short_counts[n.name] == 1 else naming.pascal(full)
            self.class_names[full] = naming.class_name(base, taken)
        self.module_names = frozenset(taken)
        self._tmp = 0
        # Deep types: the alias of each piece (by structure), in order of definition; the classes
        # and aliases the models module has defined so far (a later record is a forward reference).
        self._aliases: dict[AvroType, AliasSpec] = {}
        self._new_aliases: list[AliasSpec] = []
        self._defined: set[str] = set()
        self._in_alias = 0
        # Names of the models module that the code generated since the last clear() refers to.
        self.referenced: set[str] = set()
        self._heights: dict[int, tuple[AvroType, int]] = {}
        # Codec helper functions of deep types: (writer or reader, type) -> name, and their code.
        self._helper_names: dict[tuple[str, AvroType], str] = {}
        self.helpers: list[tuple[str, list[str]]] = []  # (signature, body lines)

    # --- annotations -------------------------------------------------------------------------

    def height(self, t: AvroType) -> int:
        """How many arrays, maps and unions nest in ``t``, ``t`` included (0 for any other type)."""
        stack: list[tuple[AvroType, bool]] = [(t, False)]
        while stack:  # no recursion: types may nest hundreds of levels deep
            node, ready = stack.pop()
            if id(node) in self._heights:
                continue
            kids: tuple[AvroType, ...] = (
                (node.items,)
                if isinstance(node, Array)
                else (node.values,)
                if isinstance(node, Map)
                else node.branches
                if isinstance(node, Union)
                else ()
            )
            if not kids:
                self._heights[id(node)] = (node, 0)
            elif ready:
                self._heights[id(node)] = (node, 1 + max(self._heights[id(k)][1] for k in kids))
            else:
                stack.append((node, True))
                stack += [(k, False) for k in kids]
        return self._heights[id(t)][1]

    def annotation(self, t: AvroType) -> str:
        """The Python type of ``t``; a piece of a deep type is the name of its alias."""
        if isinstance(t, (Array, Map, Union)):
            h = self.height(t)
            if h >= ALIAS_EVERY and h % ALIAS_EVERY == 0:
                name = self._alias(t).name
                self.referenced.add(name)
                return name
        return self._annotation(t)

    def aliases(self) -> list[AliasSpec]:
        """The aliases of the pieces of deep types, in order of definition."""
        return list(self._aliases.values())

    def _alias(self, t: AvroType) -> AliasSpec:
        alias = self._aliases.get(t)
        if alias is None:
            self._in_alias += 1
            try:
                expression = self._annotation(t)
            finally:
                self._in_alias -= 1
            # A record the models module defines later (a recursive type) is a forward reference
            # that pydantic resolves with the class: such a piece cannot be built before.
            ready = all(self.class_names[r] in self._defined for r in _records_in(t, self.named))
            alias = AliasSpec(
                f"_Nested{len(self._aliases) + 1}", f"_t.Annotated[{expression}, _avro.DeepType()]", ready
            )
            self._aliases[t] = alias
            self._new_aliases.append(alias)
        return alias

    def _annotation(self, t: AvroType) -> str:
        if isinstance(t, Primitive):
            return {
                "null": "None",
                "boolean": "bool",
                "int": "_avro.Int32",
                "long": "_avro.Int64",
                "float": "float",
                "double": "float",
                "bytes": "bytes",
                "string": "str",
            }[t.name]
        if isinstance(t, Logical):
            if t.logical == "decimal":
                if isinstance(t.base, NamedRef):  # the logical type of a fixed is on its definition
                    name = self.class_names[t.base.fullname]
                    self.referenced.add(name)
                    return name
                return _decimal_annotation(t.precision, t.scale)
            return {
                "uuid": "_uuid.UUID",
                "date": "_dt.date",
                "time-millis": "_dt.time",
                "time-micros": "_dt.time",
                "timestamp-millis": "_pd.AwareDatetime",
                "timestamp-micros": "_pd.AwareDatetime",
                "local-timestamp-millis": "_pd.NaiveDatetime",
                "local-timestamp-micros": "_pd.NaiveDatetime",
            }[t.logical]
        if isinstance(t, Array):
            return f"list[{self.annotation(t.items)}]"
        if isinstance(t, Map):
            return f"dict[str, {self.annotation(t.values)}]"
        if isinstance(t, Union):
            if not t.branches:  # the empty union: no value has this type
                return "_avro.EmptyUnion"
            parts = [self.annotation(b) for b in t.branches if not _is_null(b)]
            if t.null_index is not None:
                parts.append("None")
            return " | ".join(parts)
        name = self.class_names[t.fullname]
        self.referenced.add(name)
        if self._in_alias and name not in self._defined:
            return f'"{name}"'  # a forward reference in an alias, which Python evaluates at once
        return name

    def fixed_alias(self, n: Fixed) -> str:
        """The type a fixed stands for: ``bytes`` of its size, or a decimal with its logical type."""
        if n.logical == "decimal":
            return _decimal_annotation(n.precision, n.scale)
        return f"_t.Annotated[bytes, _pd.Field(min_length={n.size}, max_length={n.size})]"

    # --- model classes -----------------------------------------------------------------------

    def class_specs(self) -> list[ClassSpec]:
        """Enums first (defaults refer to their members), then fixed types (aliases), then records in
        dependency order, each with the aliases of deep types it needs first."""
        specs: list[ClassSpec] = []
        for full in sorted(self.named):
            n = self.named[full]
            if isinstance(n, Enum):
                used: set[str] = set()
                members = [(naming.enum_member(s, used), literal(s)) for s in n.symbols]
                default = dict(zip(n.symbols, (m for m, _ in members))).get(n.default) if n.default else None
                specs.append(
                    ClassSpec("enum", self.class_names[full], full, n.doc, members=members, default_member=default)
                )
                self._defined.add(self.class_names[full])
        for full in sorted(self.named):
            n = self.named[full]
            if isinstance(n, Fixed):
                name = self.class_names[full]
                specs.append(ClassSpec("fixed", name, full, n.doc, aliases=[AliasSpec(name, self.fixed_alias(n))]))
                self._defined.add(name)
        for full in self._record_order():
            n = self.named[full]
            assert isinstance(n, Record)
            fields = self.field_specs(n)
            specs.append(
                ClassSpec("record", self.class_names[full], full, n.doc, fields=fields, aliases=self._new_aliases)
            )
            self._new_aliases = []
            self._defined.add(self.class_names[full])
        return specs

    def _record_order(self) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()

        def visit(full: str) -> None:
            if full in seen:
                return
            seen.add(full)
            n = self.named[full]
            if isinstance(n, Record):
                for f in n.fields:
                    for dep in _named_deps(f.type):
                        visit(dep)
                order.append(full)

        for full in sorted(self.named):
            visit(full)
        return order

    def attribute_names(self, record: Record) -> list[str]:
        """The Python attribute of each field of ``record``."""
        used: set[str] = set()
        return [naming.field_name(f.name, self.module_names, used) for f in record.fields]

    def field_specs(self, record: Record) -> list[FieldSpec]:
        out = []
        for name, f in zip(self.attribute_names(record), record.fields):
            args: list[str] = []
            if name != f.name:
                args += [f"validation_alias={literal(f.name)}", f"serialization_alias={literal(f.name)}"]
            if f.doc:
                args.append(f"description={literal(f.doc)}")
            default = None
            if f.has_default:
                expr, mutable = self.default_expr(f.type, f.default)
                if mutable:
                    factory = {"[]": "list", "{}": "dict"}.get(expr, f"lambda: {expr}")
                    args.insert(0, f"default_factory={factory}")
                elif args:
                    args.insert(0, f"default={expr}")
                else:
                    default = expr
            out.append(FieldSpec(name, f.name, self.annotation(f.type), args, default))
        return out

    def default_expr(self, t: AvroType, value: Any) -> tuple[str, bool]:
        """A Python expression for an Avro JSON default, and whether it builds a mutable value."""
        if isinstance(t, Union):
            # The specification ties the default to the first branch; be lenient like Avro 1.12.
            for b in t.branches:
                if default_problem(b, value, self.named) is None:
                    return self.default_expr(b, value)
            return self.default_expr(t.branches[0], value)  # IndexError for []: the loader refuses it
        if isinstance(t, Primitive):
            if t.name == "null":
                return "None", False
            if t.name == "bytes":
                return literal(value.encode("latin-1")), False
            if t.name in ("float", "double"):
                return literal(float(value)), False
            return literal(value), False
        if isinstance(t, Logical):
            return self._logical_default(t, value), False
        if isinstance(t, Array):
            items = [self.default_expr(t.items, v)[0] for v in value]
            return "[" + ", ".join(items) + "]", True
        if isinstance(t, Map):
            items = [f"{literal(k)}: {self.default_expr(t.values, v)[0]}" for k, v in value.items()]
            return "{" + ", ".join(items) + "}", True
        n = self.named[t.fullname]
        if isinstance(n, Enum):
            used: set[str] = set()
            members = {s: naming.enum_member(s, used) for s in n.symbols}
            return f"{self.class_names[n.fullname]}.{members[value]}", False
        if isinstance(n, Fixed):
            return literal(value.encode("latin-1")), False
        parts = []
        for f in n.fields:
            if f.name in value:
                parts.append(f"{literal(f.name)}: {self.default_expr(f.type, value[f.name])[0]}")
        return f"{self.class_names[n.fullname]}.model_validate({{{', '.join(parts)}}})", True

    def _logical_default(self, t: Logical, value: Any) -> str:
        from schemabus.runtime import avro as rt

        lg = t.logical
        if lg == "decimal":
            raw = value.encode("latin-1")
            return f"_decimal.Decimal({literal(str(rt.decimal_from_bytes(raw, t.scale, t.precision)))})"
        if lg == "uuid":
            return f"_uuid.UUID({literal(value)})"
        if lg == "date":
            return f"_dt.date.fromisoformat({literal(rt.days_to_date(value).isoformat())})"
        if lg in ("time-millis", "time-micros"):
            tm = rt.millis_to_time(value) if lg == "time-millis" else rt.micros_to_time(value)
            return f"_dt.time.fromisoformat({literal(tm.isoformat())})"
        conv = {
            "timestamp-millis": rt.millis_to_timestamp,
            "timestamp-micros": rt.micros_to_timestamp,
            "local-timestamp-millis": rt.millis_to_local_timestamp,
            "local-timestamp-micros": rt.micros_to_local_timestamp,
        }[lg]
        return f"_dt.datetime.fromisoformat({literal(conv(value).isoformat())})"

    # --- encoders ----------------------------------------------------------------------------

    def tmp(self) -> str:
        self._tmp += 1
        return f"x{self._tmp}"

    def writer_body(self, record: Record) -> list[str]:
        self._tmp = 0
        lines: list[str] = []
        for name, f in zip(self.attribute_names(record), record.fields):
            self.emit_write(f.type, f"v.{name}", lines, "")
        return lines or ["pass"]

    def _helper(self, kind: str, t: AvroType) -> str:
        """The helper function writing (``kind`` "w") or reading ("r") an array or map that sits too
        many blocks deep in a codec; made once per type."""
        name = self._helper_names.get((kind, t))
        if name is None:
            name = self._helper_names[(kind, t)] = f"_{kind}{len(self._helper_names) + 1}"
            body: list[str] = []
            annotation = self.annotation(t)
            if kind == "w":
                self.emit_write(t, "v", body, "")
                self.helpers.append((f"def {name}(v: {annotation}, b: bytearray) -> None:", body))
            else:
                self.emit_read(t, "v", body, "")
                self.helpers.append(
                    (f"def {name}(buf: bytes, p: int) -> tuple[{annotation}, int]:", [*body, "return v, p"])
                )
        return name

    def emit_write(self, t: AvroType, expr: str, out: list[str], ind: str) -> None:
        if isinstance(t, Primitive):
            self._write_primitive(t.name, expr, out, ind)
        elif isinstance(t, Logical):
            self._write_logical(t, expr, out, ind)
        elif isinstance(t, (Array, Map)) and len(ind) >= 4 * HELPER_DEPTH:
            out.append(f"{ind}{self._helper('w', t)}({expr}, b)")
        elif isinstance(t, Array):
            x, y = self.tmp(), self.tmp()
            out += [f"{ind}{x} = {expr}", f"{ind}if {x}:"]
            self._write_count(f"len({x})", out, ind + "    ")
            out.append(f"{ind}    for {y} in {x}:")
            self.emit_write(t.items, y, out, ind + "        ")
            out.append(f"{ind}b.append(0)")
        elif isinstance(t, Map):
            x, k, y = self.tmp(), self.tmp(), self.tmp()
            out += [f"{ind}{x} = {expr}", f"{ind}if {x}:"]
            self._write_count(f"len({x})", out, ind + "    ")
            out.append(f"{ind}    for {k}, {y} in {x}.items():")
            self._write_primitive("string", k, out, ind + "        ")
            self.emit_write(t.values, y, out, ind + "        ")
            out.append(f"{ind}b.append(0)")
        elif isinstance(t, Union):
            self._write_union(t, expr, out, ind)
        else:
            n = self.named[t.fullname]
            if isinstance(n, Record):
                out.append(f"{ind}_w_{self.class_names[n.fullname]}({expr}, b)")
            elif isinstance(n, Enum):
                out.append(f"{ind}b += _E_{self.class_names[n.fullname]}[{expr}]")
            else:
                x = self.tmp()
                message = literal(f"fixed {n.fullname} needs {n.size} bytes, not ")
                out += [
                    f"{ind}{x} = {expr}",
                    f"{ind}if len({x}) != {n.size}:",
                    f"{ind}    raise ValueError({message} + str(len({x})))",
                    f"{ind}b += {x}",
                ]

    def _write_primitive(self, name: str, expr: str, out: list[str], ind: str) -> None:
        if name == "null":
            return
        if name == "boolean":
            out.append(f"{ind}b.append(1 if {expr} else 0)")
        elif name in ("int", "long"):
            x = self.tmp()
            slow = "_avro.write_int" if name == "int" else "_avro.write_long"
            out += [
                f"{ind}{x} = {expr}",
                f"{ind}if -64 <= {x} < 64:",
                f"{ind}    b.append(({x} << 1) ^ ({x} >> 63))",
                f"{ind}else:",
                f"{ind}    b += {slow}({x})",
            ]
        elif name == "float":
            out.append(f"{ind}b += _avro.pack_float({expr})")
        elif name == "double":
            out.append(f"{ind}b += _avro.pack_double({expr})")
        else:
            x = self.tmp()
            out.append(f"{ind}{x} = {expr}.encode()" if name == "string" else f"{ind}{x} = {expr}")
            self._write_count(f"len({x})", out, ind)
            out.append(f"{ind}b += {x}")

    def _write_count(self, expr: str, out: list[str], ind: str) -> None:
        """A length or block count: never negative, so one byte up to 63."""
        n = self.tmp()
        out += [
            f"{ind}{n} = {expr}",
            f"{ind}if {n} < 64:",
            f"{ind}    b.append({n} << 1)",
            f"{ind}else:",
            f"{ind}    b += _avro.write_long({n})",
        ]

    def _write_logical(self, t: Logical, expr: str, out: list[str], ind: str) -> None:
        lg = t.logical
        if lg == "decimal":
            if isinstance(t.base, NamedRef):
                size = self.named[t.base.fullname]
                assert isinstance(size, Fixed)
                out.append(f"{ind}b += _avro.decimal_to_fixed({expr}, {t.scale}, {t.precision}, {size.size})")
            else:
                self._write_primitive("bytes", f"_avro.decimal_to_bytes({expr}, {t.scale}, {t.precision})", out, ind)
            return
        if lg == "uuid":
            # The canonical text of a UUID is always 36 ASCII characters: its length is one byte (72).
            out += [f"{ind}b.append(72)  # the length of a UUID's 36 characters, zig-zag encoded"]
            out.append(f"{ind}b += str({expr}).encode()")
            return
        base, to, _ = _NUMBER_LOGICALS[lg]
        self._write_primitive(base, f"_avro.{to}({expr})", out, ind)

    def _write_union(self, t: Union, expr: str, out: list[str], ind: str) -> None:
        if not t.branches:
            out.append(f"{ind}raise TypeError({literal('an empty union holds no value')})")
            return
        x = self.tmp()
        out.append(f"{ind}{x} = {expr}")
        non_null = [(i, b) for i, b in enumerate(t.branches) if not _is_null(b)]
        if t.null_index is not None and len(non_null) == 1:
            i, b = non_null[0]
            out += [f"{ind}if {x} is None:", f"{ind}    b.append({_zz_byte(t.null_index)})", f"{ind}else:"]
            out.append(f"{ind}    b.append({_zz_byte(i)})")
            self.emit_write(b, x, out, ind + "    ")
            return
        first = True
        for i, b in self.union_dispatch(t):
            out.append(f"{ind}{'if' if first else 'elif'} {self.union_check(b, x)}:")
            first = False
            out.append(f"{ind}    b += {_avro_long_literal(i)}")
            body: list[str] = []
            self.emit_write(b, x, body, ind + "    ")
            out += body
        out += [f"{ind}else:", f'{ind}    raise TypeError(f"{{type({x}).__name__}} matches no branch of the union")']

    def union_dispatch(self, t: Union) -> list[tuple[int, AvroType]]:
        """The branches an encoder tries, in order: the first whose :meth:`union_check` accepts wins."""
        names = {b.name for b in t.branches if isinstance(b, Primitive)}
        # Python floats are doubles: like fastavro, never narrow one to a float branch when a double exists.
        return [
            (i, b)
            for i, b in enumerate(t.branches)
            if not (isinstance(b, Primitive) and b.name == "float" and "double" in names)
        ]

    def union_check(self, t: AvroType, x: str) -> str:
        """The test that picks a union branch for a Python value: the first branch that accepts it wins,
        with fastavro's notion of acceptance."""
        if isinstance(t, Primitive):
            return {
                "null": f"{x} is None",
                "boolean": f"isinstance({x}, bool)",
                "int": f"type({x}) is int and -2147483648 <= {x} <= 2147483647",
                "long": f"isinstance({x}, int) and not isinstance({x}, bool)",
                "float": f"isinstance({x}, (int, float)) and not isinstance({x}, bool)",
                "double": f"isinstance({x}, (int, float)) and not isinstance({x}, bool)",
                "bytes": f"isinstance({x}, bytes)",
                "string": f"isinstance({x}, str)",
            }[t.name]
        if isinstance(t, Logical):
            return {
                "decimal": f"isinstance({x}, _decimal.Decimal)",
                "uuid": f"isinstance({x}, _uuid.UUID)",
                "date": f"type({x}) is _dt.date",
                "time-millis": f"isinstance({x}, _dt.time)",
                "time-micros": f"isinstance({x}, _dt.time)",
                "timestamp-millis": f"isinstance({x}, _dt.datetime) and {x}.tzinfo is not None",
                "timestamp-micros": f"isinstance({x}, _dt.datetime) and {x}.tzinfo is not None",
                "local-timestamp-millis": f"isinstance({x}, _dt.datetime) and {x}.tzinfo is None",
                "local-timestamp-micros": f"isinstance({x}, _dt.datetime) and {x}.tzinfo is None",
            }[t.logical]
        if isinstance(t, Array):
            return f"isinstance({x}, list)"
        if isinstance(t, Map):
            return f"isinstance({x}, dict)"
        assert isinstance(t, NamedRef)
        n = self.named[t.fullname]
        if isinstance(n, Fixed):
            return f"isinstance({x}, bytes) and len({x}) == {n.size}"
        self.referenced.add(self.class_names[n.fullname])
        return f"isinstance({x}, {self.class_names[n.fullname]})"

    # --- codec programs (for the compiled codec; see runtime/avro.py) --------------------------

    def programs(self) -> list[tuple[str, str]]:
        """(class name, program expression) for every record, each after the records it uses.

        A record whose fields the compiled codec cannot encode (a union other than null and one
        branch) is handed to its generated Python writer and reader, as is a use of a record inside
        its own definition (recursion).
        """
        done: set[str] = set()
        out = []
        for full in self._record_order():
            n = self.named[full]
            assert isinstance(n, Record)
            cls = self.class_names[full]
            fields: list[str] | None = []
            for name, f in zip(self.attribute_names(n), n.fields):
                node = self.program_node(f.type, done)
                if node is None or fields is None:
                    fields = None
                    break
                fields.append(f"({literal(name)}, {node})")
            if fields is None:
                out.append((cls, f"(_avro.OP_PYTHON, _w_{cls}, _r_{cls})"))
            else:
                out.append((cls, f"(_avro.OP_RECORD, ({''.join(x + ', ' for x in fields)}), {cls}, _F_{cls})"))
            done.add(full)
        return out

    def program_node(self, t: AvroType, done: set[str], depth: int = 1) -> str | None:
        """The program node of ``t``: the encoding of :meth:`emit_write` and :meth:`emit_read`; None
        when the compiled codec cannot encode it (or ``t`` nests too deep for it)."""
        if depth > PROGRAM_DEPTH:
            return None
        if isinstance(t, Primitive):
            return f"(_avro.OP_{t.name.upper()},)"
        if isinstance(t, Logical):
            return self._logical_node(t)
        if isinstance(t, Array | Map):
            inner = self.program_node(t.items if isinstance(t, Array) else t.values, done, depth + 1)
            return None if inner is None else f"(_avro.OP_{'ARRAY' if isinstance(t, Array) else 'MAP'}, {inner})"
        if isinstance(t, Union):
            non_null = [(i, b) for i, b in enumerate(t.branches) if not _is_null(b)]
            if t.null_index is None or len(non_null) != 1:
                return None
            i, b = non_null[0]
            inner = self.program_node(b, done, depth + 1)
            return None if inner is None else f"(_avro.OP_OPTIONAL, {t.null_index}, {i}, {inner})"
        n = self.named[t.fullname]
        if isinstance(n, Record):
            cls = self.class_names[n.fullname]
            return f"_P_{cls}" if n.fullname in done else f"(_avro.OP_PYTHON, _w_{cls}, _r_{cls})"
        if isinstance(n, Enum):
            cls = self.class_names[n.fullname]
            return f"(_avro.OP_ENUM, _E_{cls}, tuple(_S_{cls}.values()), {literal(cls)})"
        return f"(_avro.OP_FIXED, {n.size})"

    def _logical_node(self, t: Logical) -> str:
        lg = t.logical
        if lg == "decimal":
            args = f"{t.scale}, {t.precision}"
            if isinstance(t.base, NamedRef):
                fixed = self.named[t.base.fullname]
                assert isinstance(fixed, Fixed)
                to, base = f"_avro.decimal_to_wire({args}, {fixed.size})", f"(_avro.OP_FIXED, {fixed.size})"
            else:
                to, base = f"_avro.decimal_to_wire({args})", "(_avro.OP_BYTES,)"
            return f"(_avro.OP_CONVERT, {to}, {base}, _avro.decimal_from_wire({args}))"
        if lg == "uuid":
            return "(_avro.OP_UUID,)"
        base, to, back = _NUMBER_LOGICALS[lg]
        if lg in ("timestamp-micros", "timestamp-millis"):  # the compiled codec converts UTC ones itself
            return f"(_avro.OP_TIMESTAMP, {1 if lg == 'timestamp-micros' else 1000}, _avro.{to}, _avro.{back})"
        return f"(_avro.OP_CONVERT, _avro.{to}, (_avro.OP_{base.upper()},), _avro.{back})"

    # --- decoders ----------------------------------------------------------------------------

    def reader_body(self, record: Record) -> tuple[list[str], list[tuple[str, str]]]:
        """Statements that decode each field into a local, and the (attribute, local) pairs."""
        self._tmp = 0
        lines: list[str] = []
        pairs = []
        for name, f in zip(self.attribute_names(record), record.fields):
            var = self.tmp()
            self.emit_read(f.type, var, lines, "")
            pairs.append((name, var))
        return lines, pairs

    def _read_long(self, var: str, out: list[str], ind: str) -> None:
        c = self.tmp()
        out += [
            f"{ind}{c} = buf[p]",
            f"{ind}if {c} < 128:",
            f"{ind}    {var} = ({c} >> 1) ^ -({c} & 1)",
            f"{ind}    p += 1",
            f"{ind}else:",
            f"{ind}    {var}, p = _avro.read_long(buf, p)",
        ]

    def emit_read(self, t: AvroType, var: str, out: list[str], ind: str) -> None:
        if isinstance(t, Primitive):
            self._read_primitive(t.name, var, out, ind)
        elif isinstance(t, Logical):
            self._read_logical(t, var, out, ind)
        elif isinstance(t, (Array, Map)) and len(ind) >= 4 * HELPER_DEPTH:
            out.append(f"{ind}{var}, p = {self._helper('r', t)}(buf, p)")
        elif isinstance(t, (Array, Map)):
            # Collect into a fresh, precisely typed local: ``var`` may be declared as a union.
            coll, count, item, key = self.tmp(), self.tmp(), self.tmp(), self.tmp()
            out.append(f"{ind}{coll}: {self.annotation(t)} = {'[]' if isinstance(t, Array) else '{}'}")
            out.append(f"{ind}while True:")
            self._read_long(count, out, ind + "    ")
            out += [
                f"{ind}    if {count} == 0:",
                f"{ind}        break",
                # A negative count is followed by the block's size in bytes (Avro spec, "Arrays").
                f"{ind}    if {count} < 0:",
                f"{ind}        {count} = -{count}",
                f"{ind}        _, p = _avro.read_long(buf, p)",
                f"{ind}    for _ in range({count}):",
            ]
            if isinstance(t, Array):
                self.emit_read(t.items, item, out, ind + "        ")
                out.append(f"{ind}        {coll}.append({item})")
            else:
                self._read_primitive("string", key, out, ind + "        ")
                self.emit_read(t.values, item, out, ind + "        ")
                out.append(f"{ind}        {coll}[{key}] = {item}")
            out.append(f"{ind}{var} = {coll}")
        elif isinstance(t, Union):
            i = self.tmp()
            out.append(f"{ind}{var}: {self.annotation(t)}")
            self._read_long(i, out, ind)
            if not t.branches:
                out.append(f'{ind}raise _avro.AvroDecodeError(f"union index {{{i}}} out of range: the union is empty")')
                return
            for k, b in enumerate(t.branches):
                out.append(f"{ind}{'if' if k == 0 else 'elif'} {i} == {k}:")
                body: list[str] = []
                self.emit_read(b, var, body, ind + "    ")
                out += body or [f"{ind}    {var} = None"]
            out += [f"{ind}else:", f'{ind}    raise _avro.AvroDecodeError(f"union index {{{i}}} out of range")']
        else:
            n = self.named[t.fullname]
            if isinstance(n, Record):
                out.append(f"{ind}{var}, p = _r_{self.class_names[n.fullname]}(buf, p)")
            elif isinstance(n, Enum):
                i = self.tmp()
                self._read_long(i, out, ind)
                cls = self.class_names[n.fullname]
                out += [
                    f"{ind}try:",
                    f"{ind}    {var} = _S_{cls}[{i}]",
                    f"{ind}except KeyError:",
                    f'{ind}    raise _avro.AvroDecodeError(f"enum index {{{i}}} out of range for {cls}") from None',
                ]
            else:
                out += [f"{ind}{var} = buf[p : p + {n.size}]", f"{ind}p += {n.size}"]

    def _read_primitive(self, name: str, var: str, out: list[str], ind: str) -> None:
        if name == "null":
            out.append(f"{ind}{var} = None")
        elif name == "boolean":
            out += [f"{ind}{var} = buf[p] != 0", f"{ind}p += 1"]
        elif name in ("int", "long"):
            self._read_long(var, out, ind)
        elif name in ("float", "double"):
            fn, size = ("unpack_float", 4) if name == "float" else ("unpack_double", 8)
            out += [f"{ind}({var},) = _avro.{fn}(buf, p)", f"{ind}p += {size}"]
        else:
            n = self.tmp()
            self._read_long(n, out, ind)
            end = self.tmp()
            out += [
                f"{ind}{end} = p + {n}",
                f"{ind}if {n} < 0 or {end} > len(buf):",
                f"{ind}    raise _avro.bad_length({n}, {literal(name)})",
            ]
            if name == "string":
                out.append(f"{ind}{var} = str(buf[p:{end}], 'utf-8')")
            else:
                out.append(f"{ind}{var} = bytes(buf[p:{end}])")
            out.append(f"{ind}p = {end}")

    def _read_logical(self, t: Logical, var: str, out: list[str], ind: str) -> None:
        lg = t.logical
        raw = self.tmp()
        if lg == "decimal":
            if isinstance(t.base, NamedRef):
                self.emit_read(t.base, raw, out, ind)
            else:
                self._read_primitive("bytes", raw, out, ind)
            out.append(f"{ind}{var} = _avro.decimal_from_bytes({raw}, {t.scale}, {t.precision})")
            return
        if lg == "uuid":
            self._read_primitive("string", raw, out, ind)
            out.append(f"{ind}{var} = _avro.uuid_from_str({raw})")
            return
        self._read_long(raw, out, ind)
        out.append(f"{ind}{var} = _avro.{_NUMBER_LOGICALS[lg][2]}({raw})")

    # --- enum tables -------------------------------------------------------------------------

    def enum_tables(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(class name, [(member, zig-zag bytes literal)]) for each enum."""
        out = []
        for full in sorted(self.named):
            n = self.named[full]
            if isinstance(n, Enum):
                used: set[str] = set()
                out.append(
                    (
                        self.class_names[full],
                        [(naming.enum_member(s, used), _avro_long_literal(i)) for i, s in enumerate(n.symbols)],
                    )
                )
        return out


def _avro_long_literal(i: int) -> str:
    from schemabus.runtime.avro import write_long

    return literal(write_long(i))


def _decimal_annotation(precision: int, scale: int) -> str:
    return f"_t.Annotated[_decimal.Decimal, _pd.Field(max_digits={precision}, decimal_places={scale})]"


def _records_in(t: AvroType, named: dict[str, NamedType]) -> set[str]:
    """Full names of the records ``t`` uses directly (through arrays, maps and unions)."""
    out: set[str] = set()
    stack = [t]
    while stack:
        node = stack.pop()
        if isinstance(node, Array):
            stack.append(node.items)
        elif isinstance(node, Map):
            stack.append(node.values)
        elif isinstance(node, Union):
            stack += node.branches
        elif isinstance(node, NamedRef) and isinstance(named[node.fullname], Record):
            out.add(node.fullname)
    return out


def _is_null(t: AvroType) -> bool:
    return isinstance(t, Primitive) and t.name == "null"


def _named_deps(t: AvroType) -> list[str]:
    if isinstance(t, NamedRef):
        return [t.fullname]
    if isinstance(t, Logical):
        return _named_deps(t.base)
    if isinstance(t, Array):
        return _named_deps(t.items)
    if isinstance(t, Map):
        return _named_deps(t.values)
    if isinstance(t, Union):
        return [d for b in t.branches for d in _named_deps(b)]
    return []
