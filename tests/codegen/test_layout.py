"""The generated package's layout (codegen/render/layout.py): a subpackage per domain with what only its
topics use, Avro types and JSON Schema models alike; the top level with what several domains share and
what no topic uses; a domain that imports from the top level only, so importing one domain loads no other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from schemabus.codegen.cli import main
from schemabus.codegen.render.layout import place

REFS = {
    "A": ["Inner"],
    "Inner": [],
    "B": ["Shared"],
    "C": ["Shared"],
    "Shared": ["Deep"],
    "Deep": [],
    "Unused": ["OnlyD1"],
    "OnlyD1": [],
    "D1Root": ["OnlyD1"],
}


def _place(roots: dict[str, list[str]]) -> dict[str, str]:
    return place(roots, lambda name: REFS[name], REFS)


def test_a_definition_one_domain_reaches_lives_in_that_domain() -> None:
    homes = _place({"d1": ["A"], "d2": ["B", "C"]})
    assert homes == {"A": "d1", "Inner": "d1", "B": "d2", "C": "d2", "Shared": "d2", "Deep": "d2"}


def test_what_several_domains_reach_lives_at_the_top_level_with_all_it_uses() -> None:
    homes = _place({"d1": ["A", "B"], "d2": ["C"]})
    assert homes == {"A": "d1", "Inner": "d1", "B": "d1", "C": "d2"}  # Shared and Deep: the top level


def test_what_no_topic_uses_lives_at_the_top_level_and_so_does_what_it_uses() -> None:
    # OnlyD1 is reached by d1's topics alone, but Unused (top level) uses it: the top level imports
    # from no domain, so OnlyD1 lives there too.
    homes = _place({"d1": ["D1Root"]})
    assert homes == {"D1Root": "d1"}


def test_without_topics_everything_lives_at_the_top_level() -> None:
    assert _place({}) == {}


AVRO_TOPIC = {
    "type": "record",
    "name": "Placed",
    "namespace": "com.acme.orders",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "line", "type": {"type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}},
        {"name": "note", "type": {"type": "record", "name": "Note", "fields": [{"name": "text", "type": "string"}]}},
    ],
}
AVRO_UNUSED = {  # no topic's: it lives at the top level, and takes Note (used by orders alone) with it
    "type": "record",
    "name": "Archive",
    "namespace": "com.acme.common",
    "fields": [{"name": "note", "type": "com.acme.orders.Note"}],
}
JSON_ORDERS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Shipped",
    "type": "object",
    "properties": {"parcel": {"$ref": "#/$defs/Parcel"}, "to": {"$ref": "../common/address.schema.json"}},
    "required": ["parcel"],
    "$defs": {"Parcel": {"type": "object", "properties": {"kg": {"type": "number"}}, "required": ["kg"]}},
}
JSON_BILLING = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Billed",
    "type": "object",
    "properties": {"to": {"$ref": "../common/address.schema.json"}, "cents": {"type": "integer"}},
    "required": ["to", "cents"],
}
JSON_ADDRESS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Address",
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
CATALOG = """
[defaults]
partitions = 1

[topics."orders.order.placed"]
value = "orders/placed.avsc"

[topics."orders.order.shipped"]
value = "orders/shipped.schema.json"

[topics."billing.invoice.billed"]
value = "billing/billed.schema.json"
"""


def _project(root: Path) -> Path:
    schemas = root / "schemas"
    for rel, doc in {
        "orders/placed.avsc": AVRO_TOPIC,
        "common/archive.avsc": AVRO_UNUSED,
        "orders/shipped.schema.json": JSON_ORDERS,
        "billing/billed.schema.json": JSON_BILLING,
        "common/address.schema.json": JSON_ADDRESS,
    }.items():
        (schemas / rel).parent.mkdir(parents=True, exist_ok=True)
        (schemas / rel).write_text(json.dumps(doc))
    (schemas / "catalog.toml").write_text(CATALOG)
    (root / "pyproject.toml").write_text('[tool.schemabus]\nschemas = "schemas"\noutput = "gen"\npackage = "shop"\n')
    result = CliRunner().invoke(main, ["generate", "-q", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return root / "gen" / "shop"


def _definitions(module: Path) -> set[str]:
    return {
        line.split("(")[0].removeprefix("class ") for line in module.read_text().splitlines() if line[:6] == "class "
    }


def test_each_domain_gets_its_own_avro_types_and_json_models(tmp_path: Path) -> None:
    package = _project(tmp_path)
    assert _definitions(package / "orders" / "avro_models.py") == {"Placed", "Line"}
    assert _definitions(package / "avro_models.py") == {"Archive", "Note"}
    assert _definitions(package / "orders" / "json_models.py") == {"Shipped", "Parcel"}
    assert _definitions(package / "billing" / "json_models.py") == {"Billed"}
    assert _definitions(package / "json_models.py") == {"Address"}
    for domain in ("orders", "billing"):
        for module in (package / domain).glob("*.py"):
            for line in module.read_text().splitlines():
                assert not line.startswith("from ..orders") and not line.startswith("from ..billing"), (module, line)


def test_importing_one_domain_loads_no_other_and_every_model_builds(tmp_path: Path) -> None:
    _project(tmp_path)
    code = (
        "import sys\n"
        "from shop import BILLING_INVOICE_BILLED, Billed\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('shop.'))\n"
        "value = Billed.model_validate({'to': {'city': 'Oslo'}, 'cents': 5})\n"
        "assert BILLING_INVOICE_BILLED.value.type is Billed\n"
        "assert Billed.model_validate_json(BILLING_INVOICE_BILLED.value.encode(value)) == value\n"
        "from shop import Archive, Placed, Shipped\n"
        "Archive(note={'text': 'kept'}); Placed(id='1', line={'sku': 's'}, note={'text': 'n'})\n"
        "Shipped.model_validate({'parcel': {'kg': 1.5}, 'to': {'city': 'Rome'}})\n"
        "print(' '.join(loaded))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "gen", capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [
        "shop.billing",
        "shop.billing.json_models",
        "shop.billing.topics",
        "shop.json_models",
    ]
