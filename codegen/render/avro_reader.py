"""Avro IR -> Python decoders: straight-line reader code."""

from __future__ import annotations

from ..ir import Array, AvroType, Enum, Logical, Map, NamedRef, Primitive, Record, Union
from .avro_codec import NUMBER_LOGICALS, CodeEmitter


class AvroReader(CodeEmitter):
    """The straight-line reader of each record: it decodes the record's fields from ``buf`` at ``p``."""

    KIND = "r"

    def reader_body(self, record: Record) -> tuple[list[str], list[tuple[str, str]]]:
        """Statements that decode each field into a local, and the (attribute, local) pairs."""
        self.restart()
        lines: list[str] = []
        pairs = []
        for name, f in zip(self.model.attribute_names(record), record.fields):
            var = self.tmp()
            self.emit(f.type, var, lines, "")
            pairs.append((name, var))
        return lines, pairs

    def helper_function(self, name: str, annotation: str, body: list[str]) -> tuple[str, list[str]]:
        return f"def {name}(buf: bytes, p: int) -> tuple[{annotation}, int]:", [*body, "return v, p"]

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

    def emit(self, t: AvroType, var: str, out: list[str], ind: str) -> None:
        if isinstance(t, Primitive):
            self._read_primitive(t.name, var, out, ind)
        elif isinstance(t, Logical):
            self._read_logical(t, var, out, ind)
        elif isinstance(t, (Array, Map)) and not self.in_helper(t):
            out.append(f"{ind}{var}, p = {self.helper(t)}(buf, p)")
        elif isinstance(t, (Array, Map)):
            # Collect into a fresh, precisely typed local: ``var`` may be declared as a union.
            coll, count, item, key = self.tmp(), self.tmp(), self.tmp(), self.tmp()
            out.append(f"{ind}{coll}: {self.model.annotation(t)} = {'[]' if isinstance(t, Array) else '{}'}")
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
                self.emit(t.items, item, out, ind + "        ")
                out.append(f"{ind}        {coll}.append({item})")
            else:
                self._read_primitive("string", key, out, ind + "        ")
                self.emit(t.values, item, out, ind + "        ")
                out.append(f"{ind}        {coll}[{key}] = {item}")
            out.append(f"{ind}{var} = {coll}")
        elif isinstance(t, Union):
            i = self.tmp()
            out.append(f"{ind}{var}: {self.model.annotation(t)}")
            self._read_long(i, out, ind)
            if not t.branches:
                out.append(f'{ind}raise _avro.AvroDecodeError(f"union index {{{i}}} out of range: the union is empty")')
                return
            for k, b in enumerate(t.branches):
                out.append(f"{ind}{'if' if k == 0 else 'elif'} {i} == {k}:")
                body: list[str] = []
                self.emit(b, var, body, ind + "    ")
                out += body or [f"{ind}    {var} = None"]
            out += [f"{ind}else:", f'{ind}    raise _avro.AvroDecodeError(f"union index {{{i}}} out of range")']
        else:
            n = self.model.named[t.fullname]
            if isinstance(n, Record):
                out.append(f"{ind}{var}, p = _r_{self.model.class_names[n.fullname]}(buf, p)")
            elif isinstance(n, Enum):
                i = self.tmp()
                self._read_long(i, out, ind)
                cls = self.model.class_names[n.fullname]
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
        else:  # a call, where inline code would take 11 lines per value
            out.append(f"{ind}{var}, p = _avro.read_{name}(buf, p)")

    def _read_logical(self, t: Logical, var: str, out: list[str], ind: str) -> None:
        lg = t.logical
        raw = self.tmp()
        if lg == "decimal":
            if isinstance(t.base, NamedRef):
                self.emit(t.base, raw, out, ind)
            else:
                self._read_primitive("bytes", raw, out, ind)
            out.append(f"{ind}{var} = _avro.decimal_from_bytes({raw}, {t.scale}, {t.precision})")
            return
        if lg == "uuid":
            self._read_primitive("string", raw, out, ind)
            out.append(f"{ind}{var} = _avro.uuid_from_str({raw})")
            return
        self._read_long(raw, out, ind)
        out.append(f"{ind}{var} = _avro.{NUMBER_LOGICALS[lg][2]}({raw})")
