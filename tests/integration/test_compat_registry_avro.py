"""Differential tests: the offline Avro checker against a real registry's verdicts.

For each pair, the old schema is registered under a fresh subject, the subject's level is set to
the level under test, and the registry is asked whether the new schema is compatible; that verdict
must equal ours (``check_level`` with ``avro_rules.can_read``). The registry is Apicurio on its
Confluent API; for Avro it runs Apache Avro's Java ``SchemaCompatibility``, which ``can_read``
follows, so the differences are listed in ``KNOWN_DIFFERENCES`` / ``REGISTRY_FAILS`` with the
reason, and asserted to still differ, so the lists stay honest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from hypothesis import HealthCheck, event, given, settings

from schemabus.codegen.compat.avro_rules import AvroVersion, can_read
from schemabus.codegen.compat.levels import Version, check_level
from tests.compat.test_avro_differential import Model, pairs, to_json

pytestmark = pytest.mark.integration

Json = dict[str, Any]


def record(*fields: Json, name: str = "User", namespace: str = "com.acme", **extra: Any) -> Json:
    return {"type": "record", "name": name, "namespace": namespace, "fields": list(fields), **extra}


def field(name: str, type_: Any, **extra: Any) -> Json:
    return {"name": name, "type": type_, **extra}


def status(*symbols: str, **extra: Any) -> Json:
    return {"type": "enum", "name": "Status", "symbols": list(symbols), **extra}


def node(*extra: Json, value: str = "long") -> Json:
    return record(field("value", value), field("next", ["null", "com.acme.Node"]), *extra, name="Node")


ID = field("id", "long")


@dataclass(frozen=True)
class Case:
    id: str
    old: Any
    new: Any


CASES = [
    Case("same", record(ID), record(ID)),
    Case("add-field-with-default", record(ID), record(ID, field("name", "string", default=""))),
    Case("add-field-without-default", record(ID), record(ID, field("name", "string"))),
    Case("add-nullable-field", record(ID), record(ID, field("note", ["null", "string"], default=None))),
    Case("remove-field", record(ID, field("name", "string")), record(ID)),
    Case("remove-field-with-default", record(ID, field("name", "string", default="")), record(ID)),
    Case("int-to-long", record(field("n", "int")), record(field("n", "long"))),
    Case("long-to-int", record(field("n", "long")), record(field("n", "int"))),
    Case("int-to-double", record(field("n", "int")), record(field("n", "double"))),
    Case("float-to-long", record(field("n", "float")), record(field("n", "long"))),
    Case("string-to-bytes", record(field("s", "string")), record(field("s", "bytes"))),
    Case("string-to-int", record(field("s", "string")), record(field("s", "int"))),
    Case("int-to-date", record(field("d", "int")), record(field("d", {"type": "int", "logicalType": "date"}))),
    Case(
        "date-to-timestamp",
        record(field("d", {"type": "int", "logicalType": "date"})),
        record(field("d", {"type": "long", "logicalType": "timestamp-millis"})),
    ),
    Case("enum-add-symbol", record(field("s", status("A", "B"))), record(field("s", status("A", "B", "C")))),
    Case("enum-remove-symbol", record(field("s", status("A", "B", "C"))), record(field("s", status("A", "B")))),
    Case(
        "enum-remove-symbol-with-default",
        record(field("s", status("A", "B", "Z", default="Z"))),
        record(field("s", status("A", "Z", default="Z"))),
    ),
    Case(
        "enum-field-added-enum-default-only",
        record(ID),
        record(ID, field("s", status("A", "Z", default="Z"))),
    ),
    Case("union-add-branch", record(field("v", ["null", "string"])), record(field("v", ["null", "string", "int"]))),
    Case("union-remove-branch", record(field("v", ["null", "string", "int"])), record(field("v", ["null", "string"]))),
    Case("make-nullable", record(field("v", "string")), record(field("v", ["null", "string"], default=None))),
    Case("make-required", record(field("v", ["null", "string"], default=None)), record(field("v", "string"))),
    Case(
        "fixed-size",
        record(field("h", {"type": "fixed", "name": "Hash", "size": 16})),
        record(field("h", {"type": "fixed", "name": "Hash", "size": 32})),
    ),
    Case("rename-record", record(ID), record(ID, name="Member")),
    Case("rename-record-full-alias", record(ID), record(ID, name="Member", aliases=["com.acme.User"])),
    # Java resolves a short alias in the record's namespace (Python's avro would not).
    Case("rename-record-short-alias", record(ID), record(ID, name="Member", aliases=["User"])),
    Case("change-namespace", record(ID), record(ID, namespace="org.other")),
    Case(
        "rename-field-with-alias",
        record(field("creator", "string")),
        record(field("creator_id", "string", aliases=["creator"])),
    ),
    Case("rename-field", record(field("creator", "string")), record(field("creator_id", "string"))),
    Case(
        "nested-field-added",
        record(ID, field("address", record(field("street", "string"), name="Address"))),
        record(ID, field("address", record(field("street", "string"), field("zip", "string"), name="Address"))),
    ),
    Case(
        "array-items-promoted",
        record(field("v", {"type": "array", "items": "int"})),
        record(field("v", {"type": "array", "items": "long"})),
    ),
    Case(
        "map-to-array",
        record(field("v", {"type": "map", "values": "int"})),
        record(field("v", {"type": "array", "items": "int"})),
    ),
    Case("recursive-promoted", node(value="int"), node(value="long")),
    Case("recursive-field-added", node(), node(field("label", "string"))),
    Case(
        "union-record-field-added",
        record(field("a", ["null", record(field("street", "string"), name="Address")])),
        record(field("a", ["null", record(field("street", "string"), field("zip", "string"), name="Address")])),
    ),
    Case("error-type", record(ID), {**record(ID), "type": "error"}),
    # The reader field "a" matches writer field "a" by name and writer field "b" by alias.
    Case(
        "field-alias-ambiguous",
        record(field("a", "int"), field("b", "string")),
        record(field("a", "int", aliases=["b"])),
    ),
]

# (level, case id) -> why the registry's verdict differs from Java's SchemaCompatibility, which can_read follows.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}

# (level, case id) -> why the registry cannot answer at all (HTTP 422).
REGISTRY_FAILS: dict[tuple[str, str], str] = {
    # Java's SchemaCompatibility.lookupWriterField throws when a reader field matches writer fields both
    # by name and by alias; Apicurio answers 422 "Could not execute compatibility rule on invalid Avro
    # schema". can_read takes the field of the same name, as Python's avro does: compatible.
    ("BACKWARD", "field-alias-ambiguous"): "Java throws on a reader field matching two writer fields",
}


@pytest.fixture(scope="module")
def client(registry_url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry_url, "timeout": 10})


def _registry_verdict(client: SchemaRegistryClient, level: str, old: Any, new: Any) -> bool:
    subject = f"compat-avro-{uuid.uuid4().hex[:12]}-value"
    client.register_schema(subject, Schema(json.dumps(old), "AVRO"))
    client.set_compatibility(subject_name=subject, level=level)
    return bool(client.test_compatibility(subject, Schema(json.dumps(new), "AVRO")))


def _offline_verdict(level: str, old: Any, new: Any) -> bool:
    previous = Version("old", AvroVersion.load([("old.avsc", json.dumps(old))], "old.avsc"))
    current = Version("new", AvroVersion.load([("new.avsc", json.dumps(new))], "new.avsc"))
    return not check_level(level, current, [previous], can_read)


def _check(client: SchemaRegistryClient, level: str, case: Case) -> None:
    offline = _offline_verdict(level, case.old, case.new)
    if (level, case.id) in REGISTRY_FAILS:
        with pytest.raises(SchemaRegistryError) as failed:
            _registry_verdict(client, level, case.old, case.new)
        assert failed.value.http_status_code == 422
        return
    registry = _registry_verdict(client, level, case.old, case.new)
    reason = KNOWN_DIFFERENCES.get((level, case.id))
    if reason is None:
        assert registry == offline, f"{level} {case.id}: registry says compatible={registry}, offline {offline}"
    else:
        assert registry != offline, f"{level} {case.id}: no longer differs from the registry ({reason})"


@pytest.mark.parametrize("level", ["BACKWARD", "FORWARD"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdict_matches_registry(client: SchemaRegistryClient, level: str, case: Case) -> None:
    _check(client, level, case)


def test_tables_are_consistent() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert {case_id for _, case_id in [*KNOWN_DIFFERENCES, *REGISTRY_FAILS]} <= set(ids)


# --- generated pairs -----------------------------------------------------------------------------


def _ambiguous_field(reader: Model, writer: Model) -> bool:
    """Whether a reader field could match two writer fields (its name and an alias, or two aliases,
    or an alias equal to its own name, which Java counts twice), so Java's lookupWriterField throws."""
    writer_records = [d for d in writer["defs"].values() if d["kind"] == "record"]
    for d in reader["defs"].values():
        for f in d.get("fields", []):
            for w in writer_records:
                names = {g["name"] for g in w["fields"]}
                if (f["name"] in names) + len({a for a in f["aliases"] if a in names}) > 1:
                    return True
    return False


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=pairs())
def test_generated_pairs_match_registry(client: SchemaRegistryClient, pair: tuple[Model, Model]) -> None:
    """The generator of ``tests/compat/test_avro_differential.py`` against Java's checker in the registry.

    The schemas carry their aliases as written (Java resolves them itself) and no record-valued
    defaults (Java cannot parse those on recursive records, see ``to_json``). A reader field that
    matches two writer fields makes Java throw (HTTP 422 here); ``can_read`` follows Python there.
    """
    old, new = pair
    old_json = to_json(old, for_python=False, record_defaults=False)
    new_json = to_json(new, for_python=False, record_defaults=False)
    subject = f"compat-avro-gen-{uuid.uuid4().hex[:12]}-value"
    client.register_schema(subject, Schema(old_json, "AVRO"))
    for level, (reader, writer) in (("BACKWARD", (new, old)), ("FORWARD", (old, new))):
        client.set_compatibility(subject_name=subject, level=level)
        r = AvroVersion.load([("reader.avsc", to_json(reader, for_python=False, record_defaults=False))], "reader.avsc")
        w = AvroVersion.load([("writer.avsc", to_json(writer, for_python=False, record_defaults=False))], "writer.avsc")
        offline = not can_read(r, w)
        try:
            registry = bool(client.test_compatibility(subject, Schema(new_json, "AVRO")))
        except SchemaRegistryError as e:
            assert e.http_status_code == 422
            assert _ambiguous_field(reader, writer), f"{level}: registry failed: {e}\nold: {old_json}\nnew: {new_json}"
            event("registry: ambiguous field (Java throws)")
            continue
        event(f"{level}: {'compatible' if registry else 'incompatible'}")
        assert registry == offline, f"{level}: registry {registry}, offline {offline}\nold: {old_json}\nnew: {new_json}"
