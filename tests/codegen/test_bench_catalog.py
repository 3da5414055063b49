"""The synthetic catalogs of bench/codegen_bench.py are what it says they are, and generate."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from schemabus.codegen.config import load_config
from schemabus.codegen.pipeline import generate

BENCH = Path(__file__).resolve().parents[2] / "bench" / "codegen_bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("codegen_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kinds(t: object) -> set[str]:
    """The kinds of Avro type in ``t``: primitive names, "union", complex types, logical types."""
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {"union"}.union(*(_kinds(b) for b in t))
    assert isinstance(t, dict)
    out = {t["type"]} if isinstance(t["type"], str) else _kinds(t["type"])
    if "logicalType" in t:
        out.add(t["logicalType"])
    for key in ("items", "values"):
        if key in t:
            out |= _kinds(t[key])
    for f in t.get("fields", []):
        out |= _kinds(f["type"])
    return out


def test_the_avro_catalog_has_ten_fields_of_every_kind_and_generates(tmp_path: Path) -> None:
    files = _bench().make_avro_catalog(tmp_path, 3)
    assert len(files) == 3
    for path in files:
        schema = json.loads(path.read_text())
        assert len(schema["fields"]) == 10
        kinds = set().union(*(_kinds(f["type"]) for f in schema["fields"]))
        assert {"union", "record", "enum", "array", "uuid", "decimal", "date"} <= kinds, kinds
        assert kinds & {"timestamp-micros", "timestamp-millis"}
    generated = generate(load_config(tmp_path / "pyproject.toml"))
    # Event2 is the d2 domain's own type: its model, codec and topic are in that domain's subpackage.
    assert "class Event2(" in generated["d2/avro_models.py"] and "event2_serde" in generated["d2/avro_codecs.py"]
    assert generated["d0/topics.py"].count("d0.e0.happened") >= 1


def test_the_mixed_project_keeps_its_signature(tmp_path: Path) -> None:
    avro, json_files = _bench().make_project(tmp_path, count=10, json_share=0.4)
    assert (len(avro), len(json_files)) == (6, 4)
    assert (tmp_path / "schemas" / "catalog.toml").is_file() and (tmp_path / "pyproject.toml").is_file()
