"""Avro IR -> codec programs: each record's encoding as data, for the compiled codec (runtime/avro.py)."""

from __future__ import annotations

from ..ir import Array, AvroType, Enum, Fixed, Logical, Map, NamedRef, Primitive, Record, Union
from ..naming import literal
from .avro_codec import NUMBER_LOGICALS
from .avro_model import AvroModel, is_null

# The compiled codec takes programs up to PROGRAM_DEPTH nodes deep; deeper records use their Python
# writer and reader.
PROGRAM_DEPTH = 64


def programs(model: AvroModel) -> list[tuple[str, str]]:
    """(class name, program expression) for every record, each after the records it uses.

    A record whose fields the compiled codec cannot encode (a union other than null and one
    branch) is handed to its generated Python writer and reader, as is a use of a record inside
    its own definition (recursion).
    """
    done: set[str] = set()
    out = []
    for full in model.record_order():
        n = model.named[full]
        assert isinstance(n, Record)
        cls = model.class_names[full]
        fields: list[str] | None = []
        for name, f in zip(model.attribute_names(n), n.fields):
            node = program_node(model, f.type, done)
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


def program_node(model: AvroModel, t: AvroType, done: set[str], depth: int = 1) -> str | None:
    """The program node of ``t``: the encoding the generated writers and readers use; None when the
    compiled codec cannot encode it (or ``t`` nests too deep for it)."""
    if depth > PROGRAM_DEPTH:
        return None
    if isinstance(t, Primitive):
        return f"(_avro.OP_{t.name.upper()},)"
    if isinstance(t, Logical):
        return _logical_node(model, t)
    if isinstance(t, Array | Map):
        inner = program_node(model, t.items if isinstance(t, Array) else t.values, done, depth + 1)
        return None if inner is None else f"(_avro.OP_{'ARRAY' if isinstance(t, Array) else 'MAP'}, {inner})"
    if isinstance(t, Union):
        non_null = [(i, b) for i, b in enumerate(t.branches) if not is_null(b)]
        if t.null_index is None or len(non_null) != 1:
            return None
        i, b = non_null[0]
        inner = program_node(model, b, done, depth + 1)
        return None if inner is None else f"(_avro.OP_OPTIONAL, {t.null_index}, {i}, {inner})"
    n = model.named[t.fullname]
    if isinstance(n, Record):
        cls = model.class_names[n.fullname]
        return f"_P_{cls}" if n.fullname in done else f"(_avro.OP_PYTHON, _w_{cls}, _r_{cls})"
    if isinstance(n, Enum):
        cls = model.class_names[n.fullname]
        return f"(_avro.OP_ENUM, _E_{cls}, tuple(_S_{cls}.values()), {literal(cls)})"
    return f"(_avro.OP_FIXED, {n.size})"


def _logical_node(model: AvroModel, t: Logical) -> str:
    lg = t.logical
    if lg == "decimal":
        args = f"{t.scale}, {t.precision}"
        if isinstance(t.base, NamedRef):
            fixed = model.named[t.base.fullname]
            assert isinstance(fixed, Fixed)
            to, base = f"_avro.decimal_to_wire({args}, {fixed.size})", f"(_avro.OP_FIXED, {fixed.size})"
        else:
            to, base = f"_avro.decimal_to_wire({args})", "(_avro.OP_BYTES,)"
        return f"(_avro.OP_CONVERT, {to}, {base}, _avro.decimal_from_wire({args}))"
    if lg == "uuid":
        return "(_avro.OP_UUID,)"
    base, to, back = NUMBER_LOGICALS[lg]
    if lg in ("timestamp-micros", "timestamp-millis"):  # the compiled codec converts UTC ones itself
        return f"(_avro.OP_TIMESTAMP, {1 if lg == 'timestamp-micros' else 1000}, _avro.{to}, _avro.{back})"
    return f"(_avro.OP_CONVERT, _avro.{to}, (_avro.OP_{base.upper()},), _avro.{back})"
