"""Avro IR -> Python encoders: straight-line writer code, union dispatch, enum tables."""

from __future__ import annotations

from .. import naming
from ..ir import Array, AvroType, Enum, Fixed, Logical, Map, NamedRef, Primitive, Record, Union
from ..naming import literal
from .avro_codec import NUMBER_LOGICALS, CodeEmitter, avro_long_literal, zz_byte
from .avro_model import is_null


class AvroWriter(CodeEmitter):
    """The straight-line writer of each record: it appends the record's Avro encoding to a bytearray."""

    KIND = "w"

    def writer_body(self, record: Record) -> list[str]:
        """The statements of the record's writer, which encodes ``v`` into ``b``."""
        self.restart()
        lines: list[str] = []
        for name, f in zip(self.model.attribute_names(record), record.fields):
            self.emit(f.type, f"v.{name}", lines, "")
        return lines or ["pass"]

    def helper_function(self, name: str, annotation: str, body: list[str]) -> tuple[str, list[str]]:
        return f"def {name}(v: {annotation}, b: bytearray) -> None:", body

    def emit(self, t: AvroType, expr: str, out: list[str], ind: str) -> None:
        if isinstance(t, Primitive):
            self._write_primitive(t.name, expr, out, ind)
        elif isinstance(t, Logical):
            self._write_logical(t, expr, out, ind)
        elif isinstance(t, (Array, Map)) and not self.in_helper(t):
            out.append(f"{ind}{self.helper(t)}({expr}, b)")
        elif isinstance(t, Array):
            x, y = self.tmp(), self.tmp()
            out += [f"{ind}{x} = {expr}", f"{ind}if {x}:"]
            self._write_count(f"len({x})", out, ind + "    ")
            self._declare_empty(t.items, y, out, ind + "    ")
            out.append(f"{ind}    for {y} in {x}:")
            self.emit(t.items, y, out, ind + "        ")
            out.append(f"{ind}b.append(0)")
        elif isinstance(t, Map):
            x, k, y = self.tmp(), self.tmp(), self.tmp()
            out += [f"{ind}{x} = {expr}", f"{ind}if {x}:"]
            self._write_count(f"len({x})", out, ind + "    ")
            self._declare_empty(t.values, y, out, ind + "    ")
            out.append(f"{ind}    for {k}, {y} in {x}.items():")
            self._write_primitive("string", k, out, ind + "        ")
            self.emit(t.values, y, out, ind + "        ")
            out.append(f"{ind}b.append(0)")
        elif isinstance(t, Union):
            self._write_union(t, expr, out, ind)
        else:
            n = self.model.named[t.fullname]
            if isinstance(n, Record):
                out.append(f"{ind}_w_{self.model.class_names[n.fullname]}({expr}, b)")
            elif isinstance(n, Enum):
                out.append(f"{ind}b += _E_{self.model.class_names[n.fullname]}[{expr}]")
            else:
                x = self.tmp()
                message = literal(f"fixed {n.fullname} needs {n.size} bytes, not ")
                out += [
                    f"{ind}{x} = {expr}",
                    f"{ind}if len({x}) != {n.size}:",
                    f"{ind}    raise ValueError({message} + str(len({x})))",
                    f"{ind}b += {x}",
                ]

    @staticmethod
    def _declare_empty(t: AvroType, var: str, out: list[str], ind: str) -> None:
        """Declare the loop variable over items of the empty union (no value): mypy cannot infer it."""
        if isinstance(t, Union) and not t.branches:
            out.append(f"{ind}{var}: _avro.EmptyUnion")

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
        else:  # the length, then the bytes: a call, where inline code would take 7 lines per value
            out.append(f"{ind}_avro.write_{name}(b, {expr})")

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
                size = self.model.named[t.base.fullname]
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
        base, to, _ = NUMBER_LOGICALS[lg]
        self._write_primitive(base, f"_avro.{to}({expr})", out, ind)

    def _write_union(self, t: Union, expr: str, out: list[str], ind: str) -> None:
        if not t.branches:
            out.append(f"{ind}raise TypeError({literal('an empty union holds no value')})")
            return
        x = self.tmp()
        out.append(f"{ind}{x} = {expr}")
        non_null = [(i, b) for i, b in enumerate(t.branches) if not is_null(b)]
        if t.null_index is not None and len(non_null) == 1:
            i, b = non_null[0]
            out += [f"{ind}if {x} is None:", f"{ind}    b.append({zz_byte(t.null_index)})", f"{ind}else:"]
            out.append(f"{ind}    b.append({zz_byte(i)})")
            self.emit(b, x, out, ind + "    ")
            return
        first = True
        for i, b in self.union_dispatch(t):
            out.append(f"{ind}{'if' if first else 'elif'} {self.union_check(b, x)}:")
            first = False
            out.append(f"{ind}    b += {avro_long_literal(i)}")
            body: list[str] = []
            self.emit(b, x, body, ind + "    ")
            out += body
        out += [f"{ind}else:", f'{ind}    raise TypeError(f"{{type({x}).__name__}} matches no branch of the union")']

    @staticmethod
    def union_dispatch(t: Union) -> list[tuple[int, AvroType]]:
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
        n = self.model.named[t.fullname]
        if isinstance(n, Fixed):
            return f"isinstance({x}, bytes) and len({x}) == {n.size}"
        self.model.referenced.add(self.model.class_names[n.fullname])
        return f"isinstance({x}, {self.model.class_names[n.fullname]})"

    def enum_tables(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(class name, [(member, zig-zag bytes literal)]) for each enum."""
        out = []
        for full in sorted(self.model.named):
            n = self.model.named[full]
            if isinstance(n, Enum):
                used: set[str] = set()
                out.append(
                    (
                        self.model.class_names[full],
                        [(naming.enum_member(s, used), avro_long_literal(i)) for i, s in enumerate(n.symbols)],
                    )
                )
        return out
