"""Differential tests: ``can_read`` agrees with Apache Avro's reference checker, the Python ``avro``
package's ``ReaderWriterCompatibilityChecker``, on generated schema pairs.

A pair is either a random schema and a random mutation of it (fields added, removed, renamed with
or without aliases, defaults toggled, types changed among primitives and promotions, unions gaining
or losing branches, enum symbols and defaults, fixed sizes, named types renamed with or without
aliases), or two independent random schemas drawn from the same small name pools. Both directions
of each pair are checked: the verdict and the set of incompatibility types must be equal.

Known differences between the Python package and Java's ``SchemaCompatibility`` (the reference
``can_read`` follows), handled explicitly here rather than by weakening the comparison:

* Reader aliases of records, enums and fixed types: Java resolves an unqualified alias against the
  named type's namespace (``Schema.NamedSchema.addAlias``/``getAliases``); Python compares the
  alias strings as written with the writer's full name, so a short alias never matches a
  namespaced writer there. The schemas given to the Python checker therefore carry their aliases
  resolved to full names, as Java would hold them (``_java_alias``); ``can_read`` gets them as
  written. Fixture tests in ``test_avro_rules.py`` pin the Java behaviour.
* ``"type": "error"`` records: Python raises "Unknown schema type: error" (and calls an error and a
  record a type mismatch); Java treats both as records. Not generated here; pinned by a fixture.
* A reader field whose name and one of its aliases both match writer fields: Java throws, Python
  takes the field of the same name. ``can_read`` does what Python does, so such pairs are kept.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from hypothesis import HealthCheck, Phase, event, find, given, settings
from hypothesis import strategies as st

from schemabus.codegen.compat.avro_rules import AvroVersion, can_read

# --- a small schema model: types with named types kept apart, so mutations stay consistent --------
#
# A type is a dict: {"k": "prim", "name"}, {"k": "logical", "logical", "base"}, {"k": "array", "items"},
# {"k": "map", "values"}, {"k": "union", "branches"}, {"k": "ref", "id"}. A schema is
# {"root": type, "defs": {id: definition}}; a definition has "kind" (record, enum, fixed), "fullname",
# "qualified" (written as one dotted name rather than name + namespace) and "aliases", and then
# "fields" (name, type, default: bool, aliases), "symbols" + "default", or "size" + "decimal".
# JSON is emitted with each named type defined at its first use, as both parsers require.

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
NUMERIC = ["int", "long", "float", "double"]
LOGICALS = [
    ("date", "int"),
    ("time-millis", "int"),
    ("time-micros", "long"),
    ("timestamp-millis", "long"),
    ("uuid", "string"),
    ("decimal", "bytes"),
]
NAMESPACES = ["a", "a.b", "c"]
SHORT_NAMES = ["A", "B", "Rec", "Old"]
FIELD_NAMES = ["f0", "f1", "f2", "f3", "x", "y"]
SYMBOLS = ["S0", "S1", "S2", "S3", "S4"]

Model = dict[str, Any]
Draw = Callable[..., Any]


def _prim(name: str) -> Model:
    return {"k": "prim", "name": name}


def _union_key(t: Model, defs: dict[str, Model]) -> str:
    if t["k"] == "prim":
        return str(t["name"])
    if t["k"] == "logical":
        return str(t["base"])
    if t["k"] == "ref":
        return str(defs[t["id"]]["fullname"])
    return str(t["k"])


def draw_type(draw: Draw, ids: list[str], depth: int, union_ok: bool = True) -> Model:
    kinds = ["prim", "prim", "logical"] + (["ref", "ref", "ref"] if ids else [])
    if depth > 0:
        kinds += ["array", "map"] + (["union", "union"] if union_ok else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "prim":
        return _prim(draw(st.sampled_from(PRIMITIVES)))
    if kind == "logical":
        logical, base = draw(st.sampled_from(LOGICALS))
        return {"k": "logical", "logical": logical, "base": base}
    if kind == "ref":
        return {"k": "ref", "id": draw(st.sampled_from(ids))}
    if kind == "array":
        return {"k": "array", "items": draw_type(draw, ids, depth - 1)}
    if kind == "map":
        return {"k": "map", "values": draw_type(draw, ids, depth - 1)}
    return {"k": "union", "branches": draw_branches(draw, ids, depth - 1)}


def draw_branches(draw: Draw, ids: list[str], depth: int) -> list[Model]:
    # Keys are by definition id here; ids and full names are one-to-one within a schema.
    def key(t: Model) -> str:
        return t["id"] if t["k"] == "ref" else t["base"] if t["k"] == "logical" else t.get("name", t["k"])

    size = draw(st.integers(1, 4))
    branches: list[Model] = []
    for _ in range(size):
        b = draw_type(draw, ids, depth, union_ok=False)
        if all(key(b) != key(o) for o in branches):
            branches.append(b)
    return branches


def draw_aliases(draw: Draw) -> list[str]:
    short = st.sampled_from(SHORT_NAMES)
    full = st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(SHORT_NAMES)).map(".".join)
    return list(draw(st.lists(st.one_of(short, full), max_size=2, unique=True)))


def draw_fields(draw: Draw, ids: list[str]) -> list[Model]:
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=4, unique=True))
    return [draw_field(draw, ids, n) for n in names]


def draw_field(draw: Draw, ids: list[str], name: str) -> Model:
    aliases = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=1))
    return {"name": name, "type": draw_type(draw, ids, 2), "default": draw(st.booleans()), "aliases": aliases}


@st.composite
def schemas(draw: Draw) -> Model:
    n = draw(st.integers(1, 4))
    names = draw(
        st.lists(
            st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(SHORT_NAMES)).map(".".join),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    ids = [f"T{i}" for i in range(n)]
    defs: dict[str, Model] = {}
    for i, (id_, fullname) in enumerate(zip(ids, names)):
        kind = "record" if i == 0 else draw(st.sampled_from(["record", "enum", "fixed"]))
        d: Model = {"kind": kind, "fullname": fullname, "qualified": draw(st.booleans()), "aliases": draw_aliases(draw)}
        if kind == "enum":
            d["symbols"] = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=4, unique=True))
            d["default"] = draw(st.sampled_from([None, None, *d["symbols"]]))
        elif kind == "fixed":
            d["size"] = draw(st.integers(0, 3))
            d["decimal"] = d["size"] > 0 and draw(st.booleans())
        defs[id_] = d
    for d in defs.values():
        if d["kind"] == "record":
            d["fields"] = draw_fields(draw, ids)
    # Most named types are used by the root record, so that their changes matter.
    for id_ in ids[1:]:
        if draw(st.sampled_from([True, True, True, False])):
            ref: Model = {"k": "ref", "id": id_}
            wrap = draw(st.sampled_from(["none", "none", "array", "union"]))
            t = {"k": "array", "items": ref} if wrap == "array" else {"k": "union", "branches": [_prim("null"), ref]}
            t = ref if wrap == "none" else t
            defs["T0"]["fields"].append({"name": f"r{id_}", "type": t, "default": draw(st.booleans()), "aliases": []})
    root = {"k": "ref", "id": "T0"} if draw(st.integers(0, 4)) else draw_type(draw, ids, 2)
    return {"root": root, "defs": defs}


# --- mutations -------------------------------------------------------------------------------


def type_slots(schema: Model) -> list[tuple[Any, Any, bool]]:
    """(container, key, in_union) of every type position."""
    out: list[tuple[Any, Any, bool]] = []

    def walk(container: Any, key: Any, in_union: bool) -> None:
        out.append((container, key, in_union))
        t = container[key]
        if t["k"] == "array":
            walk(t, "items", False)
        elif t["k"] == "map":
            walk(t, "values", False)
        elif t["k"] == "union":
            for i in range(len(t["branches"])):
                walk(t["branches"], i, True)

    walk(schema, "root", False)
    for d in schema["defs"].values():
        for f in d.get("fields", []):
            walk(f, "type", False)
    return out


def _replacement(draw: Draw, t: Model, ids: list[str], in_union: bool) -> Model:
    how = draw(st.sampled_from(["promote", "random", "wrap", "unwrap", "logical"]))
    if how == "promote" and t["k"] == "prim":
        pool = (
            NUMERIC if t["name"] in NUMERIC else ["bytes", "string"] if t["name"] in ("bytes", "string") else PRIMITIVES
        )
        return _prim(draw(st.sampled_from(pool)))
    if how == "wrap" and t["k"] != "union" and not in_union:
        other = draw_type(draw, ids, 1, union_ok=False)
        return {"k": "union", "branches": [t, other] if draw(st.booleans()) else [_prim("null"), t]}
    if how == "unwrap" and t["k"] == "union":
        return copy.deepcopy(draw(st.sampled_from(t["branches"])))
    if how == "logical":
        if t["k"] == "logical":
            return _prim(t["base"])
        if t["k"] == "prim":
            fitting = [lt for lt in LOGICALS if lt[1] == t["name"]]
            if fitting:
                logical, base = draw(st.sampled_from(fitting))
                return {"k": "logical", "logical": logical, "base": base}
    return draw_type(draw, ids, 1, union_ok=not in_union)


def _unique_branches(union: Model, defs: dict[str, Model]) -> bool:
    keys = [_union_key(b, defs) for b in union["branches"]]
    return len(keys) == len(set(keys)) and all(b["k"] != "union" for b in union["branches"])


def _unions(schema: Model) -> list[Model]:
    return [c[k] for c, k, _ in type_slots(schema) if c[k]["k"] == "union"]


def mutate(draw: Draw, schema: Model) -> Model:
    s = copy.deepcopy(schema)
    defs: dict[str, Model] = s["defs"]
    ids = list(defs)
    records = [d for d in defs.values() if d["kind"] == "record"]
    enums = [d for d in defs.values() if d["kind"] == "enum"]
    fixeds = [d for d in defs.values() if d["kind"] == "fixed"]
    ops = [
        "add_field",
        "remove_field",
        "rename_field",
        "toggle_default",
        "change_type",
        "change_type",
        "union_add",
        "union_remove",
        "rename_named",
        "enum_add",
        "enum_remove",
        "enum_remove",
        "enum_default",
        "fixed_size",
        "fixed_size",
        "aliases",
    ]
    for op in draw(st.lists(st.sampled_from(ops), min_size=0, max_size=4)):
        event(f"mutation {op}")
        fields = [f for r in records for f in r["fields"]]
        if op == "add_field" and records:
            r = draw(st.sampled_from(records))
            free = [n for n in FIELD_NAMES if n not in {f["name"] for f in r["fields"]}]
            if free:
                r["fields"].append(draw_field(draw, ids, draw(st.sampled_from(free))))
        elif op == "remove_field" and fields:
            r = draw(st.sampled_from([r for r in records if r["fields"]]))
            r["fields"].pop(draw(st.integers(0, len(r["fields"]) - 1)))
        elif op == "rename_field" and fields:
            r = draw(st.sampled_from([r for r in records if r["fields"]]))
            f = draw(st.sampled_from(r["fields"]))
            free = [n for n in FIELD_NAMES if n not in {g["name"] for g in r["fields"]}]
            if free:
                old, f["name"] = f["name"], draw(st.sampled_from(free))
                f["aliases"] = [old] if draw(st.booleans()) else []
        elif op == "toggle_default" and fields:
            f = draw(st.sampled_from(fields))
            f["default"] = not f["default"]
        elif op == "change_type":
            container, key, in_union = draw(st.sampled_from(type_slots(s)))
            old_t = container[key]
            container[key] = _replacement(draw, old_t, ids, in_union)
            parents = _unions(s)
            if not all(_unique_branches(u, defs) for u in parents):
                container[key] = old_t
        elif op == "union_add" and _unions(s):
            u = draw(st.sampled_from(_unions(s)))
            u["branches"].insert(draw(st.integers(0, len(u["branches"]))), draw_type(draw, ids, 1, union_ok=False))
            if not _unique_branches(u, defs):
                u["branches"] = _dedupe(u["branches"], defs)
        elif op == "union_remove":
            wide = [u for u in _unions(s) if len(u["branches"]) > 1]
            if wide:
                u = draw(st.sampled_from(wide))
                u["branches"].pop(draw(st.integers(0, len(u["branches"]) - 1)))
        elif op == "rename_named":
            d = draw(st.sampled_from(list(defs.values())))
            ns, _, short = d["fullname"].rpartition(".")
            new_ns = draw(st.sampled_from([ns, *NAMESPACES]))
            new = f"{new_ns}.{draw(st.sampled_from(SHORT_NAMES))}"
            if new not in {o["fullname"] for o in defs.values()}:
                d["fullname"] = new
                alias = draw(st.sampled_from(["none", "short", "full"]))
                if alias == "short":
                    d["aliases"] = [short]
                elif alias == "full":
                    d["aliases"] = [f"{ns}.{short}"]
        elif op == "enum_add" and enums:
            e = draw(st.sampled_from(enums))
            free = [x for x in SYMBOLS if x not in e["symbols"]]
            if free:
                e["symbols"].insert(draw(st.integers(0, len(e["symbols"]))), draw(st.sampled_from(free)))
        elif op == "enum_remove" and enums:
            e = draw(st.sampled_from(enums))
            if len(e["symbols"]) > 1:
                gone = e["symbols"].pop(draw(st.integers(0, len(e["symbols"]) - 1)))
                if e["default"] == gone:
                    e["default"] = None
        elif op == "enum_default" and enums:
            e = draw(st.sampled_from(enums))
            e["default"] = draw(st.one_of(st.none(), st.sampled_from(e["symbols"])))
        elif op == "fixed_size" and fixeds:
            x = draw(st.sampled_from(fixeds))
            x["size"] = draw(st.sampled_from([n for n in range(4) if n != x["size"]]))
            x["decimal"] = x["decimal"] and x["size"] > 0
        elif op == "aliases":
            if fields and draw(st.booleans()):
                draw(st.sampled_from(fields))["aliases"] = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=2))
            else:
                draw(st.sampled_from(list(defs.values())))["aliases"] = draw_aliases(draw)
    return s


def _dedupe(branches: list[Model], defs: dict[str, Model]) -> list[Model]:
    seen: set[str] = set()
    out = []
    for b in branches:
        if _union_key(b, defs) not in seen:
            seen.add(_union_key(b, defs))
            out.append(b)
    return out


@st.composite
def pairs(draw: Draw) -> tuple[Model, Model]:
    """(a, b): a schema and a mutation of it, or two independent schemas."""
    a = draw(schemas())
    if draw(st.sampled_from(["mutation", "mutation", "mutation", "independent"])) == "independent":
        event("pair: independent")
        return a, draw(schemas())
    event("pair: mutation")
    return a, mutate(draw, a)


# --- JSON ------------------------------------------------------------------------------------

_NO_DEFAULT = object()


def _java_alias(alias: str, namespace: str) -> str:
    """The full name Java's ``Schema.NamedSchema`` stores for an alias (see module docstring)."""
    return alias if "." in alias else f"{namespace}.{alias}"


def default_for(t: Model, defs: dict[str, Model], depth: int = 0) -> Any:
    """A valid default for a type (the first branch of a union), or _NO_DEFAULT when there is none."""
    k = t["k"]
    if k == "prim" or k == "logical":
        name = t["name"] if k == "prim" else t["base"]
        return {"null": None, "boolean": True, "int": 7, "long": 7, "float": 1.5, "double": 2.5}.get(name, "ab")
    if k == "array":
        return []
    if k == "map":
        return {}
    if k == "union":
        return default_for(t["branches"][0], defs, depth)
    d = defs[t["id"]]
    if d["kind"] == "enum":
        return d["default"] or d["symbols"][0]
    if d["kind"] == "fixed":
        return "a" * d["size"]
    if depth > 2:
        return _NO_DEFAULT
    out = {}
    for f in d["fields"]:
        v = default_for(f["type"], defs, depth + 1)
        if v is _NO_DEFAULT:
            return _NO_DEFAULT
        out[f["name"]] = v
    return out


def _record_valued(t: Model, defs: dict[str, Model]) -> bool:
    first = t["branches"][0] if t["k"] == "union" else t
    return first["k"] == "ref" and defs[first["id"]]["kind"] == "record"


def to_json(schema: Model, *, for_python: bool, record_defaults: bool = True) -> str:
    """The schema's JSON; for Python's avro with aliases resolved as Java holds them (see above).

    ``record_defaults=False`` leaves out defaults that are records: Java validates such a default
    against the record's fields while parsing, and fails ("Schema fields not set yet") when the
    record is still being defined, as in recursive types.
    """
    defs: dict[str, Model] = schema["defs"]
    emitted: set[str] = set()

    def emit(t: Model, ns: str) -> Any:
        k = t["k"]
        if k == "prim":
            return t["name"]
        if k == "logical":
            out: dict[str, Any] = {"type": t["base"], "logicalType": t["logical"]}
            if t["logical"] == "decimal":
                out.update(precision=4, scale=2)
            return out
        if k == "array":
            return {"type": "array", "items": emit(t["items"], ns)}
        if k == "map":
            return {"type": "map", "values": emit(t["values"], ns)}
        if k == "union":
            return [emit(b, ns) for b in t["branches"]]
        d = defs[t["id"]]
        full = d["fullname"]
        dns, _, short = full.rpartition(".")
        if t["id"] in emitted:
            return short if dns == ns else full
        emitted.add(t["id"])
        out = {"type": d["kind"]}
        if d["qualified"]:
            out["name"] = full
        elif dns == ns:
            out["name"] = short
        else:
            out.update(name=short, namespace=dns)
        if d["aliases"]:
            out["aliases"] = [_java_alias(a, dns) for a in d["aliases"]] if for_python else list(d["aliases"])
        if d["kind"] == "enum":
            out["symbols"] = list(d["symbols"])
            if d["default"] is not None:
                out["default"] = d["default"]
        elif d["kind"] == "fixed":
            out["size"] = d["size"]
            if d["decimal"]:
                out.update(logicalType="decimal", precision=2, scale=1)
        else:
            fields = []
            for f in d["fields"]:
                fj: dict[str, Any] = {"name": f["name"], "type": emit(f["type"], dns)}
                keep = record_defaults or not _record_valued(f["type"], defs)
                if f["default"] and keep and (v := default_for(f["type"], defs)) is not _NO_DEFAULT:
                    fj["default"] = v
                if f["aliases"]:
                    fj["aliases"] = list(f["aliases"])
                fields.append(fj)
            out["fields"] = fields
        return out

    return json.dumps(emit(schema["root"], ""))


# --- the comparison --------------------------------------------------------------------------


def ours(reader: Model, writer: Model) -> set[str] | None:
    """The rule IDs ``can_read`` reports, or None when compatible."""
    r = AvroVersion.load([("reader.avsc", to_json(reader, for_python=False))], "reader.avsc")
    w = AvroVersion.load([("writer.avsc", to_json(writer, for_python=False))], "writer.avsc")
    found = can_read(r, w)
    return {i.rule.id for i in found} if found else None


def reference(reader: Model, writer: Model) -> set[str] | None:
    """The incompatibility types Python ``avro`` reports, or None when compatible."""
    r = avro.schema.parse(to_json(reader, for_python=True))
    w = avro.schema.parse(to_json(writer, for_python=True))
    result = ReaderWriterCompatibilityChecker().get_compatibility(r, w)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    assert result.compatibility is SchemaCompatibilityType.incompatible
    return {t.name.upper() for t in result.incompatibilities}


def assert_agrees(reader: Model, writer: Model, *, events: bool = True) -> None:
    expected = reference(reader, writer)
    got = ours(reader, writer)
    for t in sorted(expected or ()) if events else ():
        event(f"reference: {t}")
    assert got == expected, (
        f"\nreader: {to_json(reader, for_python=False)}\nwriter: {to_json(writer, for_python=False)}"
    )


# SCHEMABUS_COMPAT_EXAMPLES raises the count for a deeper local search; the floor below stays 1000,
# so a value under it fails the test instead of quietly testing less (.ci/run clears it anyway).
DIFFERENTIAL_FLOOR = 1000
SETTINGS = settings(
    max_examples=int(os.environ.get("SCHEMABUS_COMPAT_EXAMPLES", str(DIFFERENTIAL_FLOOR))),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def is_recursive(schema: Model) -> bool:
    """Whether some record reaches itself through its fields."""
    defs: dict[str, Model] = schema["defs"]

    def refs(t: Model) -> set[str]:
        if t["k"] == "ref":
            return {t["id"]}
        inner = [t["items"]] if t["k"] == "array" else [t["values"]] if t["k"] == "map" else t.get("branches", [])
        return set().union(*(refs(i) for i in inner))

    uses = {i: set().union(*(refs(f["type"]) for f in d.get("fields", []))) for i, d in defs.items()}

    def reaches(start: str) -> bool:
        seen: set[str] = set()
        todo = list(uses[start])
        while todo:
            i = todo.pop()
            if i == start:
                return True
            if i not in seen:
                seen.add(i)
                todo.extend(uses[i])
        return False

    return any(reaches(i) for i in defs)


@pytest.mark.min_examples(DIFFERENTIAL_FLOOR)
@SETTINGS
@given(pairs())
def test_agrees_with_reference_both_ways(pair: tuple[Model, Model]) -> None:
    a, b = pair
    if is_recursive(a) or is_recursive(b):
        event("recursive schema")
    assert_agrees(a, b)
    assert_agrees(b, a)


@settings(max_examples=100, deadline=None)
@given(schemas())
def test_a_schema_reads_itself(schema: Model) -> None:
    assert ours(schema, schema) is None
    assert reference(schema, schema) is None


@pytest.mark.parametrize(
    "rule_id",
    [
        "NAME_MISMATCH",
        "FIXED_SIZE_MISMATCH",
        "MISSING_ENUM_SYMBOLS",
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "TYPE_MISMATCH",
        "MISSING_UNION_BRANCH",
    ],
)
def test_generator_reaches_every_incompatibility_type(rule_id: str) -> None:
    """The generated pairs exercise each incompatibility type the reference has (and agree on it)."""
    found = find(
        pairs(),
        lambda p: rule_id in (reference(p[0], p[1]) or ()),
        settings=settings(database=None, max_examples=3000, phases=[Phase.generate], derandomize=True),
    )
    assert_agrees(*found, events=False)
