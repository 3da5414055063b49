"""JSON Schema models round-trip through their schema: instances generated from the schema become
models, serialize to JSON the schema (checked by a real validator) accepts, and read back equal."""

from __future__ import annotations

import importlib
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from schemabus.codegen.config import load_config
from schemabus.codegen.load.jsonschema import ref_target
from schemabus.codegen.pipeline import load_project
from schemabus.codegen.render.json_models import module_path, root_class

from ..conftest import GOLDEN, ROOT, golden_cases, import_golden

# Formats where pydantic is stricter than the JSON Schema validator: generate the common subset.
FORMATS = {
    "email": st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8})?@[a-z]{1,8}\.(com|org|io)", fullmatch=True),
    "uri": st.from_regex(r"https://[a-z]{1,10}\.(com|org)(/[a-z0-9]{1,8}){0,2}", fullmatch=True),
    "uuid": st.uuids().map(str),
}


def inline(file: str, node: Any, docs: dict[str, Any]) -> Any:
    """The schema with every $ref replaced by its target (the repository's schemas are not recursive)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target, fragment = ref_target(file, node["$ref"])
            resolved: Any = docs[target]
            for part in [p for p in fragment.split("/") if p]:
                resolved = resolved[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            inner = inline(target, resolved, docs)
            return {"allOf": [inner, inline(file, rest, docs)]} if rest else inner
        return {k: inline(file, v, docs) for k, v in node.items() if k not in ("$defs", "$id", "$schema")}
    if isinstance(node, list):
        return [inline(file, v, docs) for v in node]
    return node


def _cases() -> list[tuple[str, str]]:
    out = []
    for name in ["repo", *golden_cases()]:
        root = ROOT if name == "repo" else GOLDEN / name
        project = load_project(load_config(root / "pyproject.toml"))
        out += [(name, file) for file in sorted(project.json)]
    return out


CASES = _cases()


@pytest.mark.parametrize(("case", "file"), CASES, ids=[f"{c}:{f}" for c, f in CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_json_models_round_trip_through_their_schema(case: str, file: str, data: st.DataObject) -> None:
    root = ROOT if case == "repo" else GOLDEN / case
    if case != "repo":
        import_golden(case)
    config = load_config(root / "pyproject.toml")
    project = load_project(config)
    schema = project.json[file]
    docs = {f: s.document for f, s in project.json.items()}
    rel = module_path(file)
    module = importlib.import_module(f"{config.package}.json_models.{rel[:-3].replace('/', '.')}")
    model_cls = getattr(module, root_class((config.package_dir / "json_models" / rel).read_text(), schema))
    plain_schema = inline(file, schema.document, docs)
    validator = jsonschema.Draft202012Validator(
        plain_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    instance = data.draw(from_schema(plain_schema, custom_formats=FORMATS))
    model = model_cls.model_validate(instance)
    written = json.loads(model.model_dump_json(by_alias=True, exclude_none=True))
    errors = sorted(validator.iter_errors(written), key=str)
    assert not errors, f"{written} does not satisfy {file}: {errors[0].message}"
    assert model_cls.model_validate(written) == model
