"""Small projects on disk for the lint tests: pyproject.toml, schema files and a catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner, Result

from schemabus.codegen.config import load_config
from schemabus.codegen.lint.cli import lint
from schemabus.codegen.lint.engine import lint_project


def project(tmp_path: Path, files: dict[str, Any], catalog: str | None = None, lint_toml: str = "") -> Path:
    """Write a project: ``files`` maps paths under schemas/ to JSON values (or raw text)."""
    root = tmp_path / "proj"
    (root / "schemas").mkdir(parents=True)
    pyproject = '[tool.schemabus]\nschemas = "schemas"\npackage = "events"\n'
    if lint_toml:
        pyproject += f"\n[tool.schemabus.lint]\n{lint_toml}"
    (root / "pyproject.toml").write_text(pyproject)
    for rel, content in files.items():
        path = root / "schemas" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    if catalog is not None:
        (root / "schemas" / "catalog.toml").write_text(catalog)
    return root


def findings(root: Path) -> list[tuple[str, str, str]]:
    """``(rule ID, file#/pointer, message)`` of every finding, in report order."""
    report = lint_project(load_config(root / "pyproject.toml"))
    return [(f.rule.id, str(f.source), f.message) for f in report.findings]


def run(*args: str | Path) -> Result:
    """``schemabus lint ARGS`` through a click group, as codegen/cli.py registers the command."""
    group = click.Group("schemabus")
    group.add_command(lint)
    return CliRunner().invoke(group, ["lint", *map(str, args)])


def record(name: str, *fields: dict[str, Any], namespace: str | None = "acme.agent", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "record", "name": name}
    if namespace is not None:
        out["namespace"] = namespace
    doc = extra.pop("doc", f"The {name} record.")
    if doc is not None:
        out["doc"] = doc
    out["fields"] = list(fields)
    out.update(extra)
    return out


def field(name: str, type: Any = "string", **extra: Any) -> dict[str, Any]:
    """A documented field; ``doc=None`` leaves the doc out."""
    doc = extra.pop("doc", f"The {name}.")
    return {"name": name, "type": type, **({"doc": doc} if doc is not None else {}), **extra}


def json_schema(title: str | None = "Thing", defs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """An object schema with a title and a description (``None`` leaves either out); ``defs`` is ``$defs``."""
    out: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}
    if defs is not None:
        out["$defs"] = defs
    if title is not None:
        out["title"] = title
    out["description"] = extra.pop("description", "A thing.")
    if out["description"] is None:
        del out["description"]
    out.update(extra)
    return out
