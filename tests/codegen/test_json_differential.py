"""The JSON Schema models of this repository and of the golden cases agree with the reference
validator (see tests/json_differential.py): valid documents are read and written back unchanged,
refused ones are neither read nor published."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from schemabus.codegen.cli import main
from schemabus.codegen.config import load_config
from schemabus.codegen.pipeline import load_project
from schemabus.runtime import DeserializationError, JsonSerde

from ..conftest import GOLDEN, ROOT, golden_cases, import_golden, json_models_modules
from ..json_differential import FORMATS, JsonCase, canonical, generation_schema, mutants, reference_validator

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
    (serde,) = [
        s
        for module in json_models_modules(config.package)
        for s in vars(module).values()
        if isinstance(s, JsonSerde) and s.schema == schema.bundled
    ]
    return JsonCase(f"{case}:{file}", schema, serde.type, serde)


def run_differential(case: JsonCase, examples: int = EXAMPLES) -> None:
    schema: Any = generation_schema(case.schema)

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        instance = data.draw(from_schema(schema, custom_formats=FORMATS, codec="utf-8"), label="instance")
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


# The disagreements the README lists, each a limit of a typed model: pinned here so that a change
# in them is noticed (and the README updated).
KNOWN = [
    ({"type": "string", "format": "date-time"}, "2020-01-01T00:00:00.1234567Z", "changed"),  # microseconds
    ({"type": "string", "format": "date-time"}, "2020-01-01T00:00:00+00:00", "spelled"),  # written with Z
    ({"type": "string", "format": "uuid"}, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "spelled"),  # lower case
    ({"type": "number"}, 2**53 + 1, "changed"),  # a float
    # jsonschema-rs reads the ACE prefix case-sensitively (RFC 5890: it is not)
    ({"type": "string", "format": "hostname"}, "XN--NXASMQ6B.example", "refused"),
]


@pytest.mark.parametrize(("schema", "value", "how"), KNOWN, ids=[str(k[1]) for k in KNOWN])
def test_known_disagreements(tmp_path: Path, schema: dict[str, Any], value: Any, how: str) -> None:
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "K", "type": "object"}
    doc |= {"properties": {"v": schema}, "required": ["v"]}
    (tmp_path / "k.json").write_text(json.dumps(doc))
    package = f"known_{KNOWN.index((schema, value, how))}"
    result = CliRunner().invoke(main, ["generate", "-q", "--output", str(tmp_path / package), str(tmp_path / "k.json")])
    assert result.exit_code == 0, result.output
    sys.path.insert(0, str(tmp_path))
    try:
        serde = importlib.import_module(package).k_serde
    finally:
        sys.path.remove(str(tmp_path))
    reference = reference_validator(json.loads(serde.schema), doc["$schema"])
    document = {"v": value}
    assert reference.is_valid(document)
    try:
        read = serde.deserialize(b"\0\0\0\0\1" + json.dumps(document).encode(), 1, None)
    except DeserializationError:
        assert how == "refused"
        return
    written = json.loads(serde.encode(read))
    assert how != "refused", f"now read as {written}: update KNOWN and the README"
    assert written != document
    assert (canonical(written) == canonical(document)) == (how == "spelled")
