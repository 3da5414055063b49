"""The importer's proof: every model of tests/importer/models.py is imported (``schemabus import
pydantic``, with its topic into a catalog), the files pass the loader, ``schemabus lint`` and
``schemabus generate``, and the generated package imports. Then, for hypothesis instances of each
original model, the generated model accepts the original's dump, its Avro codec writes bytes that
fastavro reads back equal to that dump, and reads them back to the same generated model."""

from __future__ import annotations

import enum
import importlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemabus.codegen.cli import main
from schemabus.codegen.config import load_config
from schemabus.codegen.ir import Project
from schemabus.codegen.pipeline import load_project

from ..codegen.avro_strategies import merged
from .models import MODELS
from .strategies import model_input

PACKAGE = "imported_events"


@dataclass
class Imported:
    root: Path
    project: Project
    lint_output: str


def import_into(root: Path, fmt: str = "avro") -> str:
    """Import every model into a new project at ``root`` (its catalog filled by --catalog); the
    command's output."""
    (root / "schemas").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[tool.schemabus]\nschemas = "schemas"\noutput = "generated"\npackage = "{PACKAGE}_{fmt}"\n'
    )
    (root / "schemas" / "catalog.toml").write_text("[defaults]\npartitions = 1\n")
    args = [f"{m.__module__}:{m.__qualname__}" for m, _ in MODELS]
    for _, topic in MODELS:
        args += ["--topic", topic]
    run = CliRunner().invoke(
        main,
        ["import", "pydantic", *args, "--format", fmt, "--out", str(root / "schemas"), "--namespace", "com.example"]
        + ["--catalog", str(root / "schemas" / "catalog.toml")],
    )
    assert run.exit_code == 0, run.output
    return run.output


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    root = tmp_path_factory.mktemp("imported")
    import_into(root)
    generate = CliRunner().invoke(main, ["generate", "-q", "--project", str(root)])
    assert generate.exit_code == 0, generate.output
    lint = CliRunner().invoke(main, ["lint", "--project", str(root)])
    assert lint.exit_code == 0, lint.output
    return Imported(root, load_project(load_config(root / "pyproject.toml")), lint.output)


def test_the_set_is_at_least_30_event_models() -> None:
    assert len(MODELS) >= 30
    assert len({m for m, _ in MODELS}) == len(MODELS)


def test_every_model_has_a_file_and_a_topic_and_lint_finds_nothing(imported: Imported) -> None:
    assert {t.name for t in imported.project.topics} == {topic for _, topic in MODELS}
    assert set(imported.project.avro) == {topic.replace(".", "/") + ".avsc" for _, topic in MODELS}
    assert "no findings" in imported.lint_output


_IMPORT_EVERY_MODULE = (
    "import importlib, pkgutil, {package} as p\n"
    "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.'):\n"
    "    importlib.import_module(m.name)"
)


def test_the_generated_package_imports_in_a_fresh_interpreter(imported: Imported) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _IMPORT_EVERY_MODULE.format(package=f"{PACKAGE}_avro")],
        cwd=imported.root / "generated",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fmt", ["avro", "json"])
def test_the_generated_packages_pass_mypy_strict(imported: Imported, imported_json: Imported, fmt: str) -> None:
    root = (imported if fmt == "avro" else imported_json).root / "generated"
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull]
        + ["-p", f"{PACKAGE}_{fmt}"],
        cwd=root,
        env={**os.environ, "MYPYPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def datum(value: Any) -> Any:
    """An original model's ``model_dump(by_alias=True)`` as Avro data: enums by value, tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: datum(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [datum(v) for v in value]
    return value


def _generated(imported: Imported, topic: str) -> tuple[Any, dict[str, Any]]:
    """The generated serde of a topic's file and the parsed schema fastavro reads with."""
    root = str(imported.root / "generated")
    if root not in sys.path:
        sys.path.insert(0, root)
    codecs = merged(f"{PACKAGE}_avro", "avro_codecs")
    canonical = imported.project.avro[topic.replace(".", "/") + ".avsc"].canonical
    serde = next(s for s in vars(codecs).values() if getattr(s, "schema", None) == canonical)
    return serde, fastavro.parse_schema(json.loads(canonical))


@pytest.mark.parametrize(("model", "topic"), MODELS, ids=[m.__name__ for m, _ in MODELS])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_instances_of_the_original_round_trip_through_the_generated_codec(
    imported: Imported, model: type[BaseModel], topic: str, data: st.DataObject
) -> None:
    serde, schema = _generated(imported, topic)
    original = model.model_validate(data.draw(model_input(model)))
    dumped = datum(original.model_dump(by_alias=True))

    generated = serde.type.model_validate(dumped)  # accepts what the original accepted
    written = serde.encode(generated)
    assert fastavro.schemaless_reader(io.BytesIO(written), schema) == dumped
    python_writer = bytearray()
    serde.write(generated, python_writer)  # the generated Python writer, used where the compiled codec is not
    assert bytes(python_writer) == written
    assert serde.decode(written) == generated


# --- JSON Schema ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported_json(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    root = tmp_path_factory.mktemp("imported_json")
    import_into(root, "json")
    generate = CliRunner().invoke(main, ["generate", "-q", "--project", str(root)])
    assert generate.exit_code == 0, generate.output
    lint = CliRunner().invoke(main, ["lint", "--project", str(root)])
    assert lint.exit_code == 0, lint.output
    root_path = str(root / "generated")
    if root_path not in sys.path:
        sys.path.insert(0, root_path)
    return Imported(root, load_project(load_config(root / "pyproject.toml")), lint.output)


@pytest.mark.parametrize(("model", "topic"), MODELS, ids=[m.__name__ for m, _ in MODELS])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_instances_of_the_original_round_trip_through_the_generated_json_serde(
    imported_json: Imported, model: type[BaseModel], topic: str, data: st.DataObject
) -> None:
    package = importlib.import_module(f"{PACKAGE}_json")
    serde = getattr(package, topic.replace(".", "_").upper()).value
    original = model.model_validate(data.draw(model_input(model, utf8=True)))
    dumped = original.model_dump(mode="json", by_alias=True)

    generated = serde.type.model_validate(dumped)  # accepts what the original writes
    written = serde.encode(generated)  # and the schema accepts it: encode validates
    assert json.loads(written) == dumped
    assert model.model_validate_json(written) == original
