"""Fixture pairs for each Avro compatibility rule: the exact rule IDs, locations and messages, and
the compatibility levels over three versions of a subject."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemabus.codegen.compat.avro_rules import AvroVersion, can_read, resolve_alias
from schemabus.codegen.compat.findings import RULES
from schemabus.codegen.compat.levels import Version, check_level

Json = dict[str, Any]


def record(*fields: Json, name: str = "User", namespace: str = "com.acme", **extra: Any) -> Json:
    return {"type": "record", "name": name, "namespace": namespace, "fields": list(fields), **extra}


def field(name: str, type_: Any, **extra: Any) -> Json:
    return {"name": name, "type": type_, **extra}


def version(schema: Any, file: str) -> AvroVersion:
    return AvroVersion.load([(file, json.dumps(schema))], file)


def check(reader: Any, writer: Any) -> list[tuple[str, str]]:
    """(rule ID, location) of every incompatibility of reader.avsc reading writer.avsc."""
    found = can_read(version(reader, "reader.avsc"), version(writer, "writer.avsc"))
    return [(i.rule.id, str(i.source)) for i in found]


def messages(reader: Any, writer: Any) -> list[str]:
    return [i.message for i in can_read(version(reader, "reader.avsc"), version(writer, "writer.avsc"))]


def test_every_reference_incompatibility_type_is_a_rule() -> None:
    avro = {r.id for r in RULES.values() if r.format == "AVRO"}
    assert avro == {
        "NAME_MISMATCH",
        "FIXED_SIZE_MISMATCH",
        "MISSING_ENUM_SYMBOLS",
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "TYPE_MISMATCH",
        "MISSING_UNION_BRANCH",
    }
    assert all(r.purpose.endswith(".") for r in RULES.values() if r.format == "AVRO")


# --- TYPE_MISMATCH: primitives and promotions ----------------------------------------------------

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
READS = {  # reader -> writers it reads, besides itself (the Avro specification's promotions)
    "long": {"int"},
    "float": {"int", "long"},
    "double": {"int", "long", "float"},
    "string": {"bytes"},
    "bytes": {"string"},
}


@pytest.mark.parametrize("reader", PRIMITIVES)
@pytest.mark.parametrize("writer", PRIMITIVES)
def test_primitive_promotions(reader: str, writer: str) -> None:
    got = check(record(field("v", reader)), record(field("v", writer)))
    if reader == writer or writer in READS.get(reader, set()):
        assert got == []
    else:
        assert got == [("TYPE_MISMATCH", "reader.avsc#/fields/0/type")]


def test_type_mismatch_message_names_both_types() -> None:
    assert messages(record(field("v", "int")), record(field("v", "string"))) == [
        "the reader's int cannot read the writer's string"
    ]


def test_a_demotion_is_a_mismatch_at_the_reader_node() -> None:
    assert check(record(field("amount", "int")), record(field("amount", "long"))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type")
    ]


def test_logical_types_are_ignored() -> None:
    date = {"type": "int", "logicalType": "date"}
    ts = {"type": "long", "logicalType": "timestamp-millis"}
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}
    uuid = {"type": "string", "logicalType": "uuid"}
    assert check(record(field("v", date)), record(field("v", "int"))) == []
    assert check(record(field("v", "int")), record(field("v", date))) == []
    assert check(record(field("v", ts)), record(field("v", date))) == []  # long reads int
    assert check(record(field("v", decimal)), record(field("v", "string"))) == []  # bytes reads string
    assert check(record(field("v", uuid)), record(field("v", "bytes"))) == []
    assert check(record(field("v", uuid)), record(field("v", ts))) == [("TYPE_MISMATCH", "reader.avsc#/fields/0/type")]


def test_decimal_on_fixed_is_a_fixed() -> None:
    money = {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal", "precision": 10, "scale": 2}
    plain = {"type": "fixed", "name": "Money", "size": 8}
    assert check(record(field("v", money)), record(field("v", plain))) == []
    assert check(record(field("v", money)), record(field("v", "bytes"))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type")
    ]


def test_arrays_and_maps_compare_items_and_values() -> None:
    def array(t: Any) -> Json:
        return {"type": "array", "items": t}

    def map_(t: Any) -> Json:
        return {"type": "map", "values": t}

    assert check(record(field("v", array("long"))), record(field("v", array("int")))) == []
    assert check(record(field("v", array("int"))), record(field("v", array("long")))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type/items")
    ]
    assert check(record(field("v", map_(array("int")))), record(field("v", map_(array("string"))))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type/values/items")
    ]
    assert check(record(field("v", array("int"))), record(field("v", map_("int")))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type")
    ]


def test_kinds_of_named_types_do_not_mix() -> None:
    enum = {"type": "enum", "name": "X", "symbols": ["A"]}
    fixed = {"type": "fixed", "name": "X", "size": 1}
    assert check(record(field("v", enum)), record(field("v", fixed))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type")
    ]
    assert messages(record(field("v", enum)), record(field("v", fixed))) == [
        'the reader\'s enum "com.acme.X" cannot read the writer\'s fixed "com.acme.X"'
    ]


def test_root_types_other_than_records() -> None:
    assert check({"type": "array", "items": "long"}, {"type": "array", "items": "int"}) == []
    assert check("string", "int") == [("TYPE_MISMATCH", "reader.avsc")]
    assert check(["null", "string"], "string") == []


# --- READER_FIELD_MISSING_DEFAULT_VALUE ----------------------------------------------------------


def test_added_field_without_default() -> None:
    old = record(field("id", "long"))
    new = record(field("id", "long"), field("creator_id", "string"))
    assert check(new, old) == [("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/1")]
    assert messages(new, old) == [
        'field "creator_id" has no default, so the reader cannot read data written without it'
    ]


def test_added_field_with_default_and_removed_field() -> None:
    old = record(field("id", "long"), field("legacy", "string"))
    new = record(field("id", "long"), field("creator_id", ["null", "string"], default=None))
    assert check(new, old) == []  # a default fills creator_id; the writer's legacy is skipped
    assert check(old, new) == [("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/1")]


def test_field_renamed_with_an_alias() -> None:
    old = record(field("creator", "string"))
    assert check(record(field("creator_id", "string", aliases=["creator"])), old) == []
    assert check(record(field("creator_id", "string")), old) == [
        ("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/0")
    ]
    # Aliases are the reader's: the writer's aliases do not help a reader using the new name.
    assert check(old, record(field("creator_id", "string", aliases=["creator"]))) == [
        ("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/0")
    ]


def test_a_field_of_the_same_name_wins_over_an_alias() -> None:
    # Java's SchemaCompatibility throws on this ambiguity; Python's avro (and can_read) use the field
    # of the same name.
    reader = record(field("a", "int", aliases=["b"]))
    writer = record(field("a", "int"), field("b", "string"))
    assert check(reader, writer) == []


def test_missing_field_in_a_nested_record_points_into_it() -> None:
    def outer(*inner_fields: Json) -> Json:
        return record(field("id", "long"), field("address", record(*inner_fields, name="Address")))

    old = outer(field("street", "string"))
    new = outer(field("street", "string"), field("zip", "string"))
    assert check(new, old) == [("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/1/type/fields/1")]


def test_enum_default_does_not_stand_for_a_field_default() -> None:
    # The reference compares the enum with the writer's whole record here: a TYPE_MISMATCH.
    status = {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "UNKNOWN"], "default": "UNKNOWN"}
    old = record(field("id", "long"))
    assert check(record(field("id", "long"), field("status", status)), old) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/1")
    ]
    assert messages(record(field("id", "long"), field("status", status)), old) == [
        'field "status" has no default and the writer has no such field; '
        'the default of its enum "com.acme.Status" does not count as one'
    ]
    assert check(record(field("id", "long"), field("status", status, default="UNKNOWN")), old) == []


# --- MISSING_ENUM_SYMBOLS ------------------------------------------------------------------------


def status(*symbols: str, **extra: Any) -> Json:
    return {"type": "enum", "name": "Status", "symbols": list(symbols), **extra}


def test_writer_enum_with_symbols_the_reader_lacks() -> None:
    reader = record(field("s", status("A", "B")))
    writer = record(field("s", status("A", "B", "C", "D")))
    assert check(reader, writer) == [("MISSING_ENUM_SYMBOLS", "writer.avsc#/fields/0/type/symbols")]
    assert messages(reader, writer) == [
        'the writer\'s enum "com.acme.Status" has symbols "C", "D" that the reader\'s enum "com.acme.Status" '
        "lacks, and the reader's enum has no default to read them as"
    ]


def test_enum_symbols_added_or_covered_by_a_default() -> None:
    assert check(record(field("s", status("A", "B", "C"))), record(field("s", status("A", "B")))) == []
    assert check(record(field("s", status("B", "A"))), record(field("s", status("A", "B")))) == []  # order is free
    with_default = record(field("s", status("A", "UNKNOWN", default="UNKNOWN")))
    assert check(with_default, record(field("s", status("A", "B", "C")))) == []


def test_enum_defined_in_another_file_is_reported_there() -> None:
    user = json.dumps(record(field("s", "com.acme.Status")))

    def load(file_prefix: str, *symbols: str) -> AvroVersion:
        enum = json.dumps({**status(*symbols), "namespace": "com.acme"})
        return AvroVersion.load(
            [(f"{file_prefix}/user.avsc", user), (f"{file_prefix}/status.avsc", enum)], f"{file_prefix}/user.avsc"
        )

    found = can_read(load("v2", "A"), load("v1", "A", "B"))
    assert [(i.rule.id, str(i.source)) for i in found] == [("MISSING_ENUM_SYMBOLS", "v1/status.avsc#/symbols")]


# --- FIXED_SIZE_MISMATCH and NAME_MISMATCH -------------------------------------------------------


def fixed(name: str, size: int, **extra: Any) -> Json:
    return {"type": "fixed", "name": name, "size": size, **extra}


def test_fixed_size_and_name() -> None:
    assert check(record(field("h", fixed("Hash", 16))), record(field("h", fixed("Hash", 16)))) == []
    assert check(record(field("h", fixed("Hash", 16))), record(field("h", fixed("Hash", 32)))) == [
        ("FIXED_SIZE_MISMATCH", "reader.avsc#/fields/0/type/size")
    ]
    assert messages(record(field("h", fixed("Hash", 16))), record(field("h", fixed("Hash", 32)))) == [
        'fixed "com.acme.Hash" holds 16 bytes but the writer\'s fixed "com.acme.Hash" holds 32'
    ]
    assert check(record(field("h", fixed("Digest", 16))), record(field("h", fixed("Hash", 32)))) == [
        ("NAME_MISMATCH", "reader.avsc#/fields/0/type/name"),
        ("FIXED_SIZE_MISMATCH", "reader.avsc#/fields/0/type/size"),
    ]


def test_records_match_by_unqualified_name() -> None:
    old = record(field("id", "long"), namespace="com.acme.v1")
    assert check(record(field("id", "long"), namespace="com.acme.v2"), old) == []
    assert check(record(field("id", "long"), name="Member"), old) == [("NAME_MISMATCH", "reader.avsc#/name")]
    assert messages(record(field("id", "long"), name="Member"), old) == [
        'record "com.acme.Member" cannot read the writer\'s record "com.acme.v1.User": the names differ and '
        'an alias "com.acme.v1.User" would let it read the writer\'s data'
    ]


def test_reader_aliases_rename_named_types() -> None:
    old = record(field("id", "long"), namespace="com.acme")
    # A full name, or a short name resolved in the reader's namespace (Java's semantics; Python's avro
    # compares the alias as written, so it rejects the short form).
    assert check(record(field("id", "long"), name="Member", aliases=["com.acme.User"]), old) == []
    assert check(record(field("id", "long"), name="Member", aliases=["User"]), old) == []
    # A short alias does not reach into another namespace.
    assert check(record(field("id", "long"), name="Member", namespace="org.other", aliases=["User"]), old) == [
        ("NAME_MISMATCH", "reader.avsc#/name")
    ]
    assert messages(record(field("id", "long"), name="Member", namespace="org.other", aliases=["User"]), old) == [
        'record "org.other.Member" cannot read the writer\'s record "com.acme.User": the names differ and '
        'none of its aliases is "com.acme.User"'
    ]
    # The writer's aliases are not used.
    assert check(record(field("id", "long"), name="Member"), {**old, "aliases": ["com.acme.Member"]}) == [
        ("NAME_MISMATCH", "reader.avsc#/name")
    ]


@pytest.mark.parametrize(
    ("alias", "namespace", "full"),
    [
        ("Old", "com.acme", "com.acme.Old"),
        ("org.x.Old", "com.acme", "org.x.Old"),
        ("Old", "", "Old"),
        (".Old", "", "Old"),
        (".Old", "com.acme", ".Old"),
    ],
)
def test_alias_resolution(alias: str, namespace: str, full: str) -> None:
    assert resolve_alias(alias, namespace) == full


def test_enum_name_and_symbols_are_both_reported() -> None:
    reader = record(field("s", {"type": "enum", "name": "State", "symbols": ["A"]}))
    writer = record(field("s", status("A", "B")))
    assert check(reader, writer) == [
        ("NAME_MISMATCH", "reader.avsc#/fields/0/type/name"),
        ("MISSING_ENUM_SYMBOLS", "writer.avsc#/fields/0/type/symbols"),
    ]


def test_error_types_are_records() -> None:
    # Java treats "error" as a record; Python's avro raises "Unknown schema type: error".
    error = {"type": "error", "name": "User", "namespace": "com.acme", "fields": [field("id", "long")]}
    assert check(error, record(field("id", "long"))) == []
    assert check(record(field("id", "long"), field("x", "int")), error) == [
        ("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/1")
    ]


# --- MISSING_UNION_BRANCH ------------------------------------------------------------------------


def test_writer_union_branch_the_reader_union_lacks() -> None:
    reader = record(field("v", ["null", "string"]))
    writer = record(field("v", ["null", "string", "boolean"]))
    assert check(reader, writer) == [("MISSING_UNION_BRANCH", "writer.avsc#/fields/0/type/2")]
    assert messages(reader, writer) == ["the reader's union has no branch that can read the writer's boolean"]
    assert check(writer, reader) == []  # a reader union may have more branches


def test_union_branches_use_promotions() -> None:
    assert check(record(field("v", ["null", "long"])), record(field("v", ["null", "int"]))) == []
    assert check(record(field("v", ["null", "double"])), record(field("v", "int"))) == []


def test_reader_union_without_a_branch_for_a_plain_writer_type() -> None:
    reader = record(field("v", ["null", "string"]))
    assert check(reader, record(field("v", "int"))) == [("MISSING_UNION_BRANCH", "writer.avsc#/fields/0/type")]


def test_writer_union_read_by_a_plain_reader_type() -> None:
    # Each writer branch is checked against the reader type: the null branch cannot be read.
    assert check(record(field("v", "string")), record(field("v", ["null", "string"]))) == [
        ("TYPE_MISMATCH", "reader.avsc#/fields/0/type")
    ]
    assert messages(record(field("v", "string")), record(field("v", ["null", "string"]))) == [
        "the reader's string cannot read the writer's null"
    ]
    assert check(record(field("v", "long")), record(field("v", ["int", "long"]))) == []


def test_union_of_records_says_why_the_matching_branch_fails() -> None:
    def address(*fields: Json) -> Json:
        return record(field("v", ["null", record(*fields, name="Address")]))

    reader = address(field("street", "string"), field("zip", "string"))
    writer = address(field("street", "string"))
    assert check(reader, writer) == [("MISSING_UNION_BRANCH", "writer.avsc#/fields/0/type/1")]
    assert messages(reader, writer) == [
        "the reader's union has no branch that can read the writer's record \"com.acme.Address\" (the closest "
        'branch cannot: field "zip" has no default, so the reader cannot read data written without it)'
    ]


# --- recursion -----------------------------------------------------------------------------------


def node(*extra: Json, value: str = "long") -> Json:
    return record(field("value", value), field("next", ["null", "com.acme.Node"]), *extra, name="Node")


def test_recursive_records() -> None:
    assert check(node(value="long"), node(value="int")) == []
    assert check(node(value="int"), node(value="long")) == [("TYPE_MISMATCH", "reader.avsc#/fields/0/type")]
    # Found once though the pair is met again through "next".
    assert check(node(field("label", "string")), node()) == [
        ("READER_FIELD_MISSING_DEFAULT_VALUE", "reader.avsc#/fields/2")
    ]


def test_mutually_recursive_records() -> None:
    def tree(leaf_type: str) -> Json:
        branch = record(field("children", {"type": "array", "items": "com.acme.Tree"}), name="Branch")
        return record(field("leaf", leaf_type), field("branch", ["null", branch]), name="Tree")

    assert check(tree("double"), tree("float")) == []
    assert check(tree("float"), tree("double")) == [("TYPE_MISMATCH", "reader.avsc#/fields/0/type")]


# --- levels --------------------------------------------------------------------------------------

V1 = record(field("id", "int"))
V2 = record(field("id", "int"), field("name", "string", default=""))
V3 = record(field("id", "long"), field("name", "string"))


def _versions() -> tuple[Version[AvroVersion], list[Version[AvroVersion]]]:
    v1, v2, v3 = (Version(f"v{i}", version(s, f"v{i}.avsc")) for i, s in enumerate((V1, V2, V3), 1))
    return v3, [v1, v2]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("NONE", []),
        # v3 reads v2 (long reads int, v2 writes name).
        ("BACKWARD", []),
        # v3 cannot read v1: v1 has no name and v3's name has no default.
        ("BACKWARD_TRANSITIVE", [("READER_FIELD_MISSING_DEFAULT_VALUE", "v3.avsc#/fields/1", "v3", "v1")]),
        # v2 cannot read v3's long id.
        ("FORWARD", [("TYPE_MISMATCH", "v2.avsc#/fields/0/type", "v2", "v3")]),
        (
            "FORWARD_TRANSITIVE",
            [
                ("TYPE_MISMATCH", "v2.avsc#/fields/0/type", "v2", "v3"),
                ("TYPE_MISMATCH", "v1.avsc#/fields/0/type", "v1", "v3"),
            ],
        ),
        ("FULL", [("TYPE_MISMATCH", "v2.avsc#/fields/0/type", "v2", "v3")]),
        (
            "FULL_TRANSITIVE",
            [
                ("TYPE_MISMATCH", "v2.avsc#/fields/0/type", "v2", "v3"),
                ("READER_FIELD_MISSING_DEFAULT_VALUE", "v3.avsc#/fields/1", "v3", "v1"),
                ("TYPE_MISMATCH", "v1.avsc#/fields/0/type", "v1", "v3"),
            ],
        ),
    ],
)
def test_levels_over_three_versions(level: str, expected: list[tuple[str, str, str, str]]) -> None:
    new, previous = _versions()
    findings = check_level(level, new, previous, can_read)
    assert [
        (f.rule_id, str(f.incompatibility.source), f.reader_version, f.writer_version) for f in findings
    ] == expected
    assert all(f.level == level for f in findings)


def test_finding_text() -> None:
    new, previous = _versions()
    (finding,) = check_level("BACKWARD_TRANSITIVE", new, previous, can_read)
    assert str(finding) == (
        'v3.avsc#/fields/1: field "name" has no default, so the reader cannot read data written without it '
        "(READER_FIELD_MISSING_DEFAULT_VALUE)"
    )
