"""The JSON Schema models of this repository and of the golden cases agree with the reference
validator (see tests/json_differential.py): valid documents are read and written back unchanged,
refused ones are neither read nor published."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from schemabus.codegen.config import load_config
from schemabus.codegen.pipeline import load_project
from schemabus.runtime import JsonSerde

from ..conftest import GOLDEN, ROOT, golden_cases, import_golden
from ..json_differential import FORMATS, JsonCase, generation_schema, mutants

# Examples per file, and how many of them must be valid documents (hypothesis-jsonschema draws a
# few the reference refuses; those are not counted).
EXAMPLES = 40
VALID_FLOOR = 30


def _cases() -> list[tuple[str, str]]:
    out = []
    for name in ["repo", *golden_cases()]:
        root = ROOT if name == "repo" else GOLDEN / name
        project = load_project(load_config(root / "pyproject.toml"))
        out += [(name, file) for file in sorted(project.json)]
    return out


CASES = _cases()


def json_case(case: str, file: str) -> JsonCase:
    root = ROOT if case == "repo" else GOLDEN / case
    if case != "repo":
        import_golden(case)
    config = load_config(root / "pyproject.toml")
    schema = load_project(config).json[file]
    module = importlib.import_module(f"{config.package}.json_models")
    (serde,) = [s for s in vars(module).values() if isinstance(s, JsonSerde) and s.schema == schema.bundled]
    return JsonCase(f"{case}:{file}", schema, serde.type, serde)


def run_differential(case: JsonCase, examples: int = EXAMPLES) -> None:
    schema: Any = generation_schema(case.schema)

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        instance = data.draw(from_schema(schema, custom_formats=FORMATS), label="instance")
        if not case.reference_accepts(instance):
            return  # drawn outside the schema (a $ref cut, a pattern hypothesis reads differently)
        case.check_valid(instance)
        mutant = data.draw(mutants(instance), label="mutant")
        if not case.reference_accepts(mutant):
            case.check_refused(mutant)

    check()


@pytest.mark.parametrize(("case", "file"), CASES, ids=[f"{c}:{f}" for c, f in CASES])
def test_json_models_agree_with_the_reference_validator(case: str, file: str) -> None:
    checked = json_case(case, file)
    run_differential(checked)
    assert not checked.disagreements, "\n".join(checked.disagreements[:10])
    assert checked.valid >= VALID_FLOOR, f"only {checked.valid} of {EXAMPLES} examples were valid documents"
    if checked.schema.normalized is not True:  # `true` refuses nothing
        assert checked.refused > 0, "no mutant was refused: the mutations test nothing"
