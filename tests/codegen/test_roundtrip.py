"""Every Avro record schema of the repository and of the golden cases: hypothesis-generated models
encode to exactly fastavro's bytes (with the compiled encoder and with the generated Python writer),
decode back equal, and read back equal with Apache Avro's reader."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemabus.codegen.config import load_config
from schemabus.codegen.ir import NamedRef, Project, Record
from schemabus.codegen.pipeline import load_project

from ..conftest import GOLDEN, ROOT, golden_cases, import_golden
from .avro_strategies import Models, merged


@dataclass
class Case:
    project: Project
    package: str
    models: Models


_CASES: dict[str, Case] = {}


def _case(name: str) -> Case:
    if name not in _CASES:
        root = ROOT if name == "repo" else GOLDEN / name
        if name != "repo":
            import_golden(name)
        config = load_config(root / "pyproject.toml")
        project = load_project(config)
        _CASES[name] = Case(project, config.package, Models(project.named, merged(config.package, "avro_models")))
    return _CASES[name]


def _record_schemas() -> list[tuple[str, str]]:
    """(case, file) of every .avsc whose top-level type is a record (enums are covered where used)."""
    out = []
    for name in ["repo", *golden_cases()]:
        root = ROOT if name == "repo" else GOLDEN / name
        project = load_project(load_config(root / "pyproject.toml"))
        for file, schema in sorted(project.avro.items()):
            if isinstance(schema.root, NamedRef) and isinstance(project.named[schema.root.fullname], Record):
                out.append((name, file))
    return out


RECORD_SCHEMAS = _record_schemas()


def test_every_schema_is_covered() -> None:
    assert len(RECORD_SCHEMAS) >= 15  # the repository's 13 Avro files and the golden cases'


@pytest.mark.parametrize(("case", "file"), RECORD_SCHEMAS, ids=[f"{c}:{f}" for c, f in RECORD_SCHEMAS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_codec_matches_fastavro_and_apache_avro(case: str, file: str, data: st.DataObject) -> None:
    c = _case(case)
    schema = c.project.avro[file]
    root = schema.root
    assert isinstance(root, NamedRef) and isinstance(c.project.named[root.fullname], Record)
    codecs = merged(c.package, "avro_codecs")
    serde = next(s for s in vars(codecs).values() if getattr(s, "schema", None) == schema.canonical)

    value = data.draw(c.models.strategy(root))
    ours = serde.encode(value)

    expected = io.BytesIO()
    fastavro.schemaless_writer(
        expected, fastavro.parse_schema(json.loads(schema.canonical)), c.models.datum(root, value)
    )
    assert ours == expected.getvalue()
    written = bytearray()
    serde.write(value, written)  # the Python writer, which serde.encode uses without the compiled encoder
    assert bytes(written) == ours

    assert serde.decode(ours) == value

    reader = avro.io.DatumReader(_apache_schema(schema.canonical))
    apache_value: Any = reader.read(avro.io.BinaryDecoder(io.BytesIO(ours)))
    assert c.models.plain(root, apache_value, value) == c.models.plain(root, value, value)


_APACHE: dict[str, Any] = {}


def _apache_schema(text: str) -> Any:
    if text not in _APACHE:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the avro package warns on local-timestamp, which it ignores
            _APACHE[text] = avro.schema.parse(text)
    return _APACHE[text]
