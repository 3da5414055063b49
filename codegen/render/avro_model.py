"""Avro IR -> Python models: class names, annotations, deep-type aliases, defaults, record order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import naming
from ..ir import Array, AvroType, Enum, Fixed, Logical, Map, NamedRef, NamedType, Primitive, Record, Union, named_refs
from ..load.avro import default_problem
from ..naming import literal

# Deeply nested arrays, maps and unions (``list[list[...]]`` 200 levels down) are cut into pieces:
# every ALIAS_EVERY levels of a type (counted from its innermost level) become a type alias of the
# models module, so no annotation nests deeper than that, and pydantic builds each piece's validator
# once, innermost first (see ``schemabus.runtime.avro.prebuild``).
ALIAS_EVERY = 8

# Module-level names of the generated models module (imported under underscore aliases so schema
# names cannot shadow them); class names are added per project.
MODEL_IMPORTS = frozenset({"_dt", "_decimal", "_enum", "_t", "_uuid", "_pd", "_avro"})


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


class AvroModel:
    """Naming and annotations of every named Avro type of a project, computed once."""

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
        # Deep types: the alias of each piece (by structure), in order of definition; the classes
        # and aliases the models module has defined so far (a later record is a forward reference).
        self._aliases: dict[AvroType, AliasSpec] = {}
        self._new_aliases: list[AliasSpec] = []
        self._defined: set[str] = set()
        self._in_alias = 0
        # Names of the models module that the code generated since the last clear() refers to.
        self.referenced: set[str] = set()
        self._heights: dict[int, tuple[AvroType, int]] = {}
        self._attributes: dict[str, list[str]] = {}

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
            parts = [self.annotation(b) for b in t.branches if not is_null(b)]
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
        for full in self.record_order():
            n = self.named[full]
            assert isinstance(n, Record)
            fields = self.field_specs(n)
            specs.append(
                ClassSpec("record", self.class_names[full], full, n.doc, fields=fields, aliases=self._new_aliases)
            )
            self._new_aliases = []
            self._defined.add(self.class_names[full])
        return specs

    def record_order(self) -> list[str]:
        """Full names of the records, each after the named types its fields use."""
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
        """The Python attribute of each field of ``record`` (the models, the writer, the reader and the
        programs all ask: computed once per record)."""
        names = self._attributes.get(record.fullname)
        if names is None:
            used: set[str] = set()
            names = self._attributes[record.fullname] = [
                naming.field_name(f.name, self.module_names, used) for f in record.fields
            ]
        return list(names)

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


def _decimal_annotation(precision: int, scale: int) -> str:
    return f"_t.Annotated[_decimal.Decimal, _pd.Field(max_digits={precision}, decimal_places={scale})]"


def _records_in(t: AvroType, named: dict[str, NamedType]) -> set[str]:
    """Full names of the records ``t`` uses directly (through arrays, maps and unions)."""
    return {ref.fullname for ref in named_refs(t) if isinstance(named[ref.fullname], Record)}


def is_null(t: AvroType) -> bool:
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
