"""`schemabus asyncapi` against a real registry: after `schemabus register`, every payload, key and
referenced schema of the document is the schema the registry holds for its subject."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from schemabus.codegen.asyncapi import document
from schemabus.codegen.config import load_config
from schemabus.codegen.pipeline import load_project
from schemabus.codegen.registry_sync import client, register
from tests.codegen.test_asyncapi import _qualified, assert_valid

pytestmark = pytest.mark.integration


def _project(root: Path, domain: str) -> Path:
    customer = {"type": "record", "name": f"com.{domain}.Customer", "fields": [{"name": "id", "type": "long"}]}
    placed = {
        "type": "record",
        "name": "Placed",
        "namespace": f"com.{domain}.order",
        "fields": [{"name": "id", "type": "string"}, {"name": "customer", "type": f"com.{domain}.Customer"}],
    }
    key = {"type": "record", "name": f"com.{domain}.OrderKey", "fields": [{"name": "id", "type": "string"}]}
    # draft-07: the registry (Apicurio) cannot check the compatibility of 2019-09 and 2020-12 schemas
    shipped = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "Shipped", "type": "object"}
    files = {
        "schemas/customer.avsc": json.dumps(customer),
        "schemas/placed.avsc": json.dumps(placed),
        "schemas/key.avsc": json.dumps(key),
        "schemas/shipped.schema.json": json.dumps(shipped),
        "schemas/catalog.toml": f'[topics."{domain}.order.placed"]\nkey = "key.avsc"\nvalue = "placed.avsc"\n\n'
        f'[topics."{domain}.order.shipped"]\nkey = "string"\nvalue = "shipped.schema.json"\n',
        "pyproject.toml": '[tool.schemabus]\npackage = "shop_events"\n',
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def test_every_schema_of_the_document_is_the_registered_one(tmp_path: Path, registry_url: str) -> None:
    domain = f"aa{uuid.uuid4().hex[:10]}"
    config = load_config(_project(tmp_path, domain) / "pyproject.toml")
    project = load_project(config)
    registry = client(registry_url)
    result = register(project, registry, dry_run=False)
    assert result.refused == [], result.lines
    doc = document(project, config)
    assert_valid(doc)

    def registered(subject: str) -> Any:
        return json.loads(registry.client.get_latest_version(subject).schema.schema_str)

    placed = doc["channels"][f"{domain}.order.placed"]["messages"]["Placed"]
    assert _qualified(placed["payload"]["schema"]) == _qualified(registered(f"{domain}.order.placed-value"))
    key = placed["bindings"]["kafka"]["key"]["x-schema"]
    assert _qualified(key) == _qualified(registered(f"{domain}.order.placed-key"))
    (reference,) = placed["payload"]["x-schemaReferences"]
    component = doc["components"]["schemas"][reference["subject"]]["schema"]
    assert _qualified(component) == _qualified(registered(f"com.{domain}.Customer"))
    shipped = doc["channels"][f"{domain}.order.shipped"]["messages"]["Shipped"]
    assert shipped["payload"]["schema"] == registered(f"{domain}.order.shipped-value")
