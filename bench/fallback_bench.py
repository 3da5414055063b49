"""Could the Python fallback codec be derived from the codec program at import, instead of generated?

Measures encoding without the compiled codec, in one run, on the same events:

  generated      the straight-line writer ``schemabus generate`` emits today (``_w_<Record>``)
  from program   writers built at import from the same codec program (``_P_<Record>``): one closure
                 per node, as a runtime could derive them instead of generating code
  compiled       the compiled encoder (runtime/_speedups.c) over that program, for scale

Each derived writer is checked to write the generated writer's bytes first.

    .venv/bin/python bench/fallback_bench.py [--loops 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import platform_events as pe
from schemabus.runtime import avro as rt
from schemabus.runtime.speedups import compiled_encoder

Writer = Callable[[Any, bytearray], None]


def _long(n: int, b: bytearray) -> None:
    if -64 <= n < 64:
        b.append((n << 1) ^ (n >> 63))
    else:
        b += rt.write_long(n)


def _text(s: str, b: bytearray) -> None:
    data = s.encode()
    _long(len(data), b)
    b += data


def derive(node: tuple[Any, ...]) -> Writer:
    """A writer for one program node (the opcodes of runtime/avro.py)."""
    op = node[0]
    if op == rt.OP_NULL:
        return lambda v, b: None
    if op == rt.OP_BOOLEAN:
        return lambda v, b: b.append(1 if v else 0)
    if op in (rt.OP_INT, rt.OP_LONG):
        check = rt.write_int if op == rt.OP_INT else rt.write_long

        def number(v: int, b: bytearray) -> None:
            if -64 <= v < 64:
                b.append((v << 1) ^ (v >> 63))
            else:
                b += check(v)

        return number
    if op == rt.OP_DOUBLE:
        return lambda v, b: b.extend(rt.pack_double(v))
    if op == rt.OP_FLOAT:
        return lambda v, b: b.extend(rt.pack_float(v))
    if op == rt.OP_STRING:
        return _text
    if op == rt.OP_BYTES:

        def raw(v: bytes, b: bytearray) -> None:
            _long(len(v), b)
            b += v

        return raw
    if op == rt.OP_FIXED:
        return lambda v, b: b.extend(v)
    if op == rt.OP_UUID:

        def uuid(v: Any, b: bytearray) -> None:
            b.append(72)
            b += str(v).encode()

        return uuid
    if op == rt.OP_ENUM:
        table = node[1]
        return lambda v, b: b.extend(table[v])
    if op == rt.OP_TIMESTAMP:
        to_number = node[2]
        return lambda v, b: _long(to_number(v), b)
    if op == rt.OP_CONVERT:
        to_wire, inner = node[1], derive(node[2])
        return lambda v, b: inner(to_wire(v), b)
    if op == rt.OP_OPTIONAL:
        null_index, value_index, inner = node[1], node[2], derive(node[3])
        null_byte, value_byte = null_index << 1, value_index << 1

        def optional(v: Any, b: bytearray) -> None:
            if v is None:
                b.append(null_byte)
            else:
                b.append(value_byte)
                inner(v, b)

        return optional
    if op in (rt.OP_ARRAY, rt.OP_MAP):
        inner = derive(node[1])
        is_map = op == rt.OP_MAP

        def block(v: Any, b: bytearray) -> None:
            if v:
                _long(len(v), b)
                if is_map:
                    for key, item in v.items():
                        _text(key, b)
                        inner(item, b)
                else:
                    for item in v:
                        inner(item, b)
            b.append(0)

        return block
    if op == rt.OP_RECORD:
        fields = [(name, derive(child)) for name, child in node[1]]

        def record(v: Any, b: bytearray) -> None:
            for name, write in fields:
                write(getattr(v, name), b)

        return record
    if op == rt.OP_PYTHON:
        return node[1]  # type: ignore[no-any-return]
    raise ValueError(f"opcode {op} is not derived here")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.catalog_examples import examples, records  # the catalog's events, drawn once

    cases = []
    for topic, name in (
        ("agent.lifecycle.created", "AgentCreated"),
        ("task.execution.completed", "TaskCompleted"),
        ("cost.tracking.recorded", "CostRecorded"),
    ):
        serde = getattr(pe, topic.replace(".", "_").upper()).value  # the generated AvroSerde
        program, generated = serde.program, serde.write
        value = examples(records(topic), 1)[0][1]
        cases.append((name, program, generated, value))
    print(f"{'record':28} {'generated µs':>13} {'from program':>13} {'ratio':>6} {'compiled':>9}")
    for name, program, generated, value in cases:
        if program[0] == rt.OP_PYTHON:
            print(f"{name:28} its program is the generated writer itself (OP_PYTHON): nothing to derive")
            continue
        derived = derive(program)
        compiled = compiled_encoder(program)
        want, got = bytearray(), bytearray()
        generated(value, want)
        derived(value, got)
        assert got == want, f"{name}: the derived writer writes other bytes"
        best = {"generated": float("inf"), "derived": float("inf"), "compiled": float("inf")}
        for _ in range(args.rounds):
            for label, write in (("generated", generated), ("derived", derived)):
                t = time.perf_counter()
                for _ in range(args.loops):
                    write(value, bytearray())
                best[label] = min(best[label], (time.perf_counter() - t) / args.loops * 1e6)
            if compiled is not None:
                t = time.perf_counter()
                for _ in range(args.loops):
                    compiled(value)
                best["compiled"] = min(best["compiled"], (time.perf_counter() - t) / args.loops * 1e6)
        ratio = best["derived"] / best["generated"]
        print(f"{name:28} {best['generated']:13.2f} {best['derived']:13.2f} {ratio:5.2f}x {best['compiled']:9.2f}")


if __name__ == "__main__":
    main()
