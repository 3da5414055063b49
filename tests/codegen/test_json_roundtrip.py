"""JSON Schema models round-trip through their schema: instances generated from the schema become
models, serialize to JSON the schema (checked by a real validator) accepts, and read back equal."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from hypothesis import given, settings
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


def with_defaults(schema: Any, instance: Any, validator: Any) -> Any:
    """``instance`` with the defaults its (inlined) schema declares for absent properties filled in,
    as a model fills them: what the model should write back, value for value."""
    if not isinstance(schema, dict):
        return instance
    for part in schema.get("allOf", []):
        instance = with_defaults(part, instance, validator)
    for keyword in ("oneOf", "anyOf"):
        for branch in schema.get(keyword, []):
            if validator.evolve(schema=branch).is_valid(instance):
                instance = with_defaults(branch, instance, validator)
                break
    if isinstance(instance, dict):
        filled = dict(instance)
        for name, sub in schema.get("properties", {}).items():
            if name not in filled and isinstance(sub, dict) and "default" in sub:
                filled[name] = sub["default"]
            if name in filled:
                filled[name] = with_defaults(sub, filled[name], validator)
        return filled
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [with_defaults(schema["items"], item, validator) for item in instance]
    return instance


def differences(expected: Any, written: Any, path: str = "$") -> list[str]:
    """Where ``written`` says something else than ``expected``. Only the spelling of one value may
    differ: a date, time or date-time written in another ISO 8601 form (``Z`` for ``+00:00``), a URI
    normalized as RFC 3986 allows (pydantic's ``AnyUrl`` writes ``https://a.com`` as ``https://a.com/``),
    an integral number as a float; and a property that is null may be left out (``exclude_none``)."""
    if isinstance(expected, dict) and isinstance(written, dict):
        out = []
        for key in sorted(set(expected) | set(written)):
            if key not in written:
                if expected[key] is not None:
                    out.append(f"{path}.{key}: {expected[key]!r} was dropped")
            elif key not in expected:
                out.append(f"{path}.{key}: {written[key]!r} was added")
            else:
                out += differences(expected[key], written[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and isinstance(written, list) and len(expected) == len(written):
        return [d for i, (a, b) in enumerate(zip(expected, written)) for d in differences(a, b, f"{path}[{i}]")]
    if type(expected) is type(written) and expected == written:
        return []
    numbers = (int, float)
    plain = (
        isinstance(expected, numbers) and isinstance(written, numbers) and bool not in (type(expected), type(written))
    )
    if plain and expected == written:
        return []
    if (
        isinstance(expected, str)
        and isinstance(written, str)
        and (_same_moment(expected, written) or _same_uri(expected, written))
    ):
        return []
    return [f"{path}: {expected!r} became {written!r}"]


def _same_uri(a: str, b: str) -> bool:
    """Equal after RFC 3986 syntax-based normalization: case of scheme and host, an empty path as "/"."""
    if "://" not in a or "://" not in b:
        return False
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme.lower(), x.netloc.lower(), x.path or "/", x.query, x.fragment) == (
        y.scheme.lower(),
        y.netloc.lower(),
        y.path or "/",
        y.query,
        y.fragment,
    )


def _same_moment(a: str, b: str) -> bool:
    for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat, dt.time.fromisoformat):
        try:
            if parse(a) == parse(b):
                return True
        except ValueError:
            continue
    return False


def _cases() -> list[tuple[str, str]]:
    out = []
    for name in ["repo", *golden_cases()]:
        root = ROOT if name == "repo" else GOLDEN / name
        project = load_project(load_config(root / "pyproject.toml"))
        out += [(name, file) for file in sorted(project.json)]
    return out


CASES = _cases()


@pytest.mark.parametrize(("case", "file"), CASES, ids=[f"{c}:{f}" for c, f in CASES])
@settings(max_examples=25, deadline=None)
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
    # Nothing the schema allows is lost or changed on the way: the model writes back the generated
    # instance (with the schema's defaults where it had none), value for value.
    changed = differences(with_defaults(plain_schema, instance, validator), written)
    assert not changed, f"{file}: the model does not write back what it read: {changed}\n  read {instance!r}"
