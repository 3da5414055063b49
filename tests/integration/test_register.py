"""`schemabus register` and `schemabus check --against-registry` on a real registry."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main

pytestmark = pytest.mark.integration

COMMON = {"type": "enum", "name": "Tier", "namespace": "shop.common", "symbols": ["FREE", "PRO"], "default": "FREE"}


def _order(*extra: dict[str, Any]) -> str:
    fields = [{"name": "order_id", "type": "string"}, {"name": "tier", "type": "shop.common.Tier"}, *extra]
    return json.dumps({"type": "record", "name": "OrderPlaced", "namespace": "shop.order", "fields": fields})


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    domain = "t" + uuid.uuid4().hex[:12]  # fresh subjects in a registry shared by the session
    schemas = tmp_path / "schemas"
    (schemas / "common").mkdir(parents=True)
    (schemas / "common" / "tier.avsc").write_text(json.dumps(COMMON))
    (schemas / "order.avsc").write_text(_order())
    (schemas / "customer.schema.json").write_text(
        json.dumps({"title": "Customer", "type": "object", "properties": {"id": {"type": "string"}}})
    )
    (schemas / "catalog.toml").write_text(
        f'[topics."{domain}.order.placed"]\nkey = "string"\nvalue = "order.avsc"\ncompatibility = "BACKWARD"\n'
        f'[topics."{domain}.customer.seen"]\nvalue = "customer.schema.json"\ncompatibility = "FULL"\n'
    )
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev"\n')
    return tmp_path, domain


def _run(registry_url: str, root: Path, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--project", str(root), "--registry-url", registry_url])


def test_register_then_check_against_the_registry(registry_url: str, project: tuple[Path, str]) -> None:
    root, domain = project
    dry = _run(registry_url, root, "register", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"{domain}.order.placed-value: would register a new version (order.avsc)" in dry.output
    assert _run(registry_url, root, "register", "--dry-run").output == dry.output  # nothing was written

    done = _run(registry_url, root, "register")
    assert done.exit_code == 0, done.output
    # The referenced type, under its full name (a registry shared with earlier runs has it already).
    assert "shop.common.Tier: registered" in done.output or "shop.common.Tier: already registered" in done.output
    assert f"{domain}.order.placed-value: compatibility unset -> BACKWARD" in done.output
    assert f"{domain}.customer.seen-value: registered" in done.output
    again = _run(registry_url, root, "register")
    assert f"{domain}.order.placed-value: already registered" in again.output

    from confluent_kafka.schema_registry import SchemaRegistryClient

    registered = SchemaRegistryClient({"url": registry_url, "timeout": 10}).get_version(
        f"{domain}.order.placed-value", "latest"
    )
    assert [r.subject for r in registered.schema.references] == ["shop.common.Tier"]
    assert "shop.common.Tier" in registered.schema.schema_str and '"symbols"' not in registered.schema.schema_str

    assert _run(registry_url, root, "check", "--against-registry").exit_code == 0

    # A field without a default: new readers cannot read the registered version's data.
    (root / "schemas" / "order.avsc").write_text(_order({"name": "coupon", "type": "string"}))
    check = _run(registry_url, root, "check", "--against-registry")
    assert check.exit_code == 1
    assert "schemas/order.avsc#/fields/2: " in check.output and "(READER_FIELD_MISSING_DEFAULT_VALUE)" in check.output
    refused = _run(registry_url, root, "register")
    assert refused.exit_code == 1
    assert f"{domain}.order.placed-value: refused as incompatible by the registry" in refused.output

    # With a default it is compatible, and becomes version 2.
    (root / "schemas" / "order.avsc").write_text(_order({"name": "coupon", "type": "string", "default": ""}))
    assert _run(registry_url, root, "check", "--against-registry").exit_code == 0
    evolved = _run(registry_url, root, "register")
    assert evolved.exit_code == 0, evolved.output
    assert f"{domain}.order.placed-value: registered" in evolved.output and "version 2)" in evolved.output


def test_unreachable_registry_is_a_precise_error(project: tuple[Path, str]) -> None:
    root, _ = project
    result = _run("http://127.0.0.1:9", root, "register", "--timeout", "1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: schema registry http://127.0.0.1:9 is unavailable: could not ")
    assert "Traceback" not in result.output
    # More in test_cli_failures.py: every command, a closed port and servers stopped mid-run.
