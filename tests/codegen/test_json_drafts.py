"""JSON Schema as users write it: every draft keyword by keyword, boolean schemas, $ref by $id,
roots without titles, in loading, codegen (models and serdes) and compatibility.

tests/golden/json_drafts holds a project of every draft (its generated code is compared whole,
and tests/codegen/test_json_differential.py checks its models against the reference validator);
the tests here pin each behaviour on its own.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main
from schemabus.codegen.compat.json_rules import JsonVersion, can_read
from schemabus.codegen.load.json_drafts import Draft, normalize
from schemabus.codegen.load.jsonschema import index_documents

from ..conftest import GOLDEN, import_golden

D4 = "http://json-schema.org/draft-04/schema#"
D6 = "http://json-schema.org/draft-06/schema#"
D7 = "http://json-schema.org/draft-07/schema#"
D2019 = "https://json-schema.org/draft/2019-09/schema"
D2020 = "https://json-schema.org/draft/2020-12/schema"


def _generate(tmp_path: Path, files: dict[str, Any], package: str) -> tuple[int, str]:
    paths = []
    for name, doc in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        paths.append(str(path))
    result = CliRunner().invoke(main, ["generate", "-q", "--output", str(tmp_path / package), *paths])
    return result.exit_code, result.output


def _import(tmp_path: Path, package: str) -> Any:
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(tmp_path))


# --- the issue's example: a draft-07 file without $schema -------------------------------------

GEO = {
    "title": "CartUpdated",
    "type": "object",
    "properties": {
        "geo": {
            "type": "array",
            "items": [
                {"type": "number", "minimum": -90, "maximum": 90},
                {"type": "number", "minimum": -180, "maximum": 180},
            ],
            "additionalItems": False,
        }
    },
    "required": ["geo"],
}


def test_a_file_without_schema_is_draft_07_and_its_tuple_is_enforced(tmp_path: Path) -> None:
    code, output = _generate(tmp_path, {"cart.json": GEO}, "cart_pkg")
    assert code == 0, output  # was: "#/items: [...] is not of type 'object', 'boolean'"
    pkg = _import(tmp_path, "cart_pkg")
    assert pkg.CartUpdated(geo=(10.5, 20)).geo == (10.5, 20)
    assert pkg.CartUpdated(geo=[]).geo == ()  # prefix items are optional without minItems
    for bad in ([100, 100], [1, 2, 3]):  # out of range; beyond the tuple with additionalItems false
        with pytest.raises(pydantic.ValidationError):
            pkg.CartUpdated(geo=bad)
    serde = pkg.cart_updated_serde
    assert serde.draft == "draft-07"
    assert serde.deserialize(b"\0\0\0\0\1" + b'{"geo": [1, 2]}', 1, None).geo == (1, 2)
    with pytest.raises(ValueError, match="does not satisfy"):
        serde.deserialize(b"\0\0\0\0\1" + b'{"geo": [1, 2, 3]}', 1, None)


def test_the_project_default_draft_is_configurable(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "cart.json").write_text(json.dumps(GEO))
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "p"\njson_schema_draft = "2020-12"\n')
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert 'schemas/cart.json#/properties/geo/items: [{"maximum": 90' in result.output
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "p"\njson_schema_draft = "draft-08"\n')
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(tmp_path)])
    assert (
        "unknown JSON Schema draft 'draft-08' (known: draft-04, draft-06, draft-07, 2019-09, 2020-12)" in result.output
    )


def test_an_unknown_schema_uri_is_named(tmp_path: Path) -> None:
    code, output = _generate(tmp_path, {"x.json": {"$schema": "http://json-schema.org/draft-08/schema#"}}, "x_pkg")
    assert code == 2
    assert 'x.json#/$schema: unknown $schema "http://json-schema.org/draft-08/schema#"' in output


# --- keyword by keyword -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "written", "normalized", "moved"),
    [
        (Draft.DRAFT4, {"id": "http://x/a.json"}, {"$id": "http://x/a.json"}, {"/$id": "/id"}),
        (Draft.DRAFT7, {"$id": "#here"}, {"$anchor": "here"}, {"/$anchor": "/$id"}),
        (
            Draft.DRAFT4,
            {"maximum": 5, "exclusiveMaximum": True, "minimum": 1, "exclusiveMinimum": False},
            {"exclusiveMaximum": 5, "minimum": 1},
            {"/exclusiveMaximum": "/maximum"},
        ),
        (Draft.DRAFT2020_12, {"exclusiveMaximum": 5}, {"exclusiveMaximum": 5}, {}),
        (
            Draft.DRAFT7,
            {"items": [{"type": "string"}], "additionalItems": {"type": "integer"}},
            {"prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
            {"/prefixItems/0": "/items/0", "/items": "/additionalItems", "/prefixItems": "/items"},
        ),
        (Draft.DRAFT2019_09, {"items": [True]}, {"prefixItems": [True]}, {"/prefixItems/0": "/items/0"}),
        (Draft.DRAFT2020_12, {"prefixItems": [True], "items": False}, {"prefixItems": [True], "items": False}, {}),
        (Draft.DRAFT7, {"items": {"type": "string"}, "additionalItems": False}, {"items": {"type": "string"}}, {}),
        (Draft.DRAFT7, {"prefixItems": [True]}, {}, {}),  # not a draft-07 keyword: ignored
        (
            Draft.DRAFT7,
            {"dependencies": {"a": ["b"], "c": {"required": ["d"]}}},
            {"dependentRequired": {"a": ["b"]}, "dependentSchemas": {"c": {"required": ["d"]}}},
            {"/dependentRequired/a": "/dependencies/a", "/dependentSchemas/c": "/dependencies/c"},
        ),
        (Draft.DRAFT2020_12, {"dependencies": {"a": ["b"]}}, {}, {}),  # not a 2020-12 keyword
        (Draft.DRAFT2019_09, {"dependentRequired": {"a": ["b"]}}, {"dependentRequired": {"a": ["b"]}}, {}),
        (
            Draft.DRAFT7,
            {"$ref": "#/definitions/a", "maxLength": 3, "description": "d"},
            {"$ref": "#/definitions/a", "description": "d"},
            {},
        ),
        (Draft.DRAFT2019_09, {"$ref": "#/$defs/a", "maxLength": 3}, {"$ref": "#/$defs/a", "maxLength": 3}, {}),
        (Draft.DRAFT6, {"if": {"type": "string"}, "contains": True}, {"contains": True}, {}),
    ],
)
def test_each_draft_is_read_in_the_2020_12_dialect(
    draft: Draft, written: dict[str, Any], normalized: dict[str, Any], moved: dict[str, str]
) -> None:
    out, moves = normalize(written, draft)
    assert out == normalized
    for new, old in moved.items():
        assert moves.original(new) == old
        assert moves.original(new + "/type") == old + "/type"


def test_boolean_schemas_as_root_and_subschema(tmp_path: Path) -> None:
    files = {
        "anything.json": "true",
        "nothing.json": "false",
        "open.json": {"$schema": D6, "title": "Open", "type": "object", "properties": {"x": True, "y": False}},
    }
    code, output = _generate(tmp_path, files, "bool_pkg")
    assert code == 0, output
    pkg = _import(tmp_path, "bool_pkg")
    frame = b"\0\0\0\0\1"
    assert pkg.anything_serde.deserialize(frame + b'[1, {"a": null}]', 1, None).root == [1, {"a": None}]
    with pytest.raises(ValueError, match="does not satisfy"):
        pkg.nothing_serde.deserialize(frame + b"1", 1, None)
    assert pkg.open_serde.deserialize(frame + b'{"x": [1]}', 1, None).x == [1]
    with pytest.raises(ValueError, match="does not satisfy"):
        pkg.open_serde.deserialize(frame + b'{"y": 1}', 1, None)
    code, output = _generate(tmp_path / "d4", {"b.json": {"$schema": D4, "properties": {"x": True}}}, "d4_pkg")
    assert code == 2 and "b.json#/properties/x: draft-04 has no boolean schemas" in output


def test_ref_by_absolute_id_across_files_and_by_definitions(tmp_path: Path) -> None:
    files = {
        "order.json": {
            "$schema": D7,
            "$id": "https://example.com/order.json",
            "title": "Order",
            "type": "object",
            "properties": {
                "line": {"$ref": "https://example.com/common/line.json"},
                "note": {"$ref": "#/definitions/note"},
                "back": {"$ref": "common/line.json#/properties/sku"},
            },
            "definitions": {"note": {"type": "string", "maxLength": 3}},
        },
        "elsewhere/line.json": {
            "$schema": D7,
            "$id": "https://example.com/common/line.json",
            "title": "Line",
            "type": "object",
            "properties": {"sku": {"type": "string"}},
            "required": ["sku"],
        },
    }
    code, output = _generate(tmp_path, files, "ref_pkg")
    assert code == 0, output
    pkg = _import(tmp_path, "ref_pkg")
    order = pkg.order_serde.deserialize(b"\0\0\0\0\1" + b'{"line": {"sku": "a"}, "note": "abc", "back": "x"}', 1, None)
    assert order.line.sku == "a" and order.note == "abc"
    with pytest.raises(pydantic.ValidationError):
        pkg.Order(note="abcd")
    code, output = _generate(tmp_path / "remote", {"r.json": {"$ref": "https://example.com/nowhere.json"}}, "r_pkg")
    assert code == 2
    assert "r.json#/$ref: remote $ref 'https://example.com/nowhere.json': no schema file has the $id" in output


def test_the_root_model_is_found_without_a_title(tmp_path: Path) -> None:
    # datamodel-code-generator named classes by title, and schemabus looked the root up by it.
    files = {
        "person.json": {
            "$schema": D2020,
            "$defs": {
                "base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
                "named": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "allOf": [{"$ref": "#/$defs/base"}, {"$ref": "#/$defs/named"}],
        },
        "alias.json": {"$schema": D2020, "$ref": "person.json"},
    }
    code, output = _generate(tmp_path, files, "root_pkg")
    assert code == 0, output
    pkg = _import(tmp_path, "root_pkg")
    assert pkg.person_serde.type is pkg.Person and issubclass(pkg.Person, pkg.json_models.Base)
    assert pkg.alias_serde.type is pkg.Person  # a root that is a $ref is the class it names


def test_names_that_python_normalizes_alike_stay_apart() -> None:
    import_golden("json_drafts")
    names = importlib.import_module("golden_json_drafts").Names
    document = {"a": "1", "ａ": "2", "A": "Ａ", "Ａ": 3, "ä": True, "ö": False, "": "e"}
    value = names.model_validate_json(json.dumps(document))
    assert json.loads(value.model_dump_json(by_alias=True, exclude_unset=True)) == document
    assert len(names.model_fields) == 11


# --- compatibility in each draft ---------------------------------------------------------------


def _incompatible(writer: dict[str, Any], reader: dict[str, Any]) -> list[str]:
    found = can_read(JsonVersion("v2.json", reader), JsonVersion("v1.json", writer))
    return [f"{i.rule.id} {i.source}" for i in found]


def test_draft_04_exclusive_flags_are_bounds() -> None:
    inclusive = {"$schema": D4, "type": "number", "maximum": 5}
    exclusive = {"$schema": D4, "type": "number", "maximum": 5, "exclusiveMaximum": True}
    assert _incompatible(inclusive, exclusive) == ["EXCLUSIVE_MAXIMUM_ADDED v2.json#/maximum"]
    # As Confluent's diff does, keywords are compared, not ranges: "maximum" is added.
    assert _incompatible(exclusive, inclusive) == ["MAXIMUM_ADDED v2.json#/maximum"]


def test_ref_siblings_count_from_2019_09_only() -> None:
    def doc(draft: str, length: int) -> dict[str, Any]:
        return {"$schema": draft, "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": length}

    assert _incompatible(doc(D7, 9), doc(D7, 5)) == []  # draft-07 ignores keywords beside $ref
    assert _incompatible(doc(D2019, 9), doc(D2019, 5)) == ["MAX_LENGTH_DECREASED v2.json#/maxLength"]


def test_draft_07_dependencies_and_tuples_point_at_what_is_written() -> None:
    old = {"type": "object", "properties": {"a": True}}
    new = {**old, "dependencies": {"a": ["b"]}}
    assert _incompatible(old, new) == ["DEPENDENCY_ARRAY_ADDED v2.json#/dependencies/a"]
    old_tuple = {"type": "array", "items": [{"type": "string"}]}
    new_tuple = {"type": "array", "items": [{"type": "string"}], "additionalItems": False}
    assert _incompatible(old_tuple, new_tuple) == ["ADDITIONAL_ITEMS_REMOVED v2.json#/additionalItems"]
    # The same keyword in 2020-12 is not a keyword at all.
    assert (
        _incompatible(
            {"$schema": D2020, **old_tuple | {"items": True}},
            {"$schema": D2020, "type": "array", "additionalItems": False},
        )
        == []
    )


def test_boolean_root_schemas_compare() -> None:
    assert [i.rule.id for i in can_read(JsonVersion("v2.json", False), JsonVersion("v1.json", True))] == [
        "TYPE_CHANGED"
    ]
    assert can_read(JsonVersion("v2.json", True), JsonVersion("v1.json", False)) == []


def test_compat_follows_refs_by_id_across_files() -> None:
    line = {"$id": "https://example.com/line.json", "type": "object", "properties": {"n": {"type": "integer"}}}
    order = {"type": "object", "properties": {"line": {"$ref": "https://example.com/line.json"}}}
    narrowed = {**line, "properties": {"n": {"type": "integer", "maximum": 3}}}
    reader = JsonVersion("order.json", order, index_documents({"order.json": order, "line.json": narrowed}))
    writer = JsonVersion("order.json", order, index_documents({"order.json": order, "line.json": line}))
    assert [f"{i.rule.id} {i.source}" for i in can_read(reader, writer)] == [
        "MAXIMUM_ADDED line.json#/properties/n/maximum"
    ]


def test_the_golden_project_of_every_draft_generates_and_type_checks() -> None:
    # Compared whole by test_golden; here: importable in a fresh interpreter, no warnings.
    root = GOLDEN / "json_drafts" / "generated"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import golden_json_drafts"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_lint_reads_every_draft_and_boolean_schemas() -> None:
    result = CliRunner().invoke(main, ["lint", "--project", str(GOLDEN / "json_drafts")])
    assert result.exit_code == 1, result.output  # findings (docs, titles), not a crash
    assert "anything.schema.json: schema has no" not in result.output  # `true` has nothing to describe
    assert "schemas/modern/person.schema.json: schema has no description (RECORD_DOC)" in result.output
