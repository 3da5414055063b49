"""The real-world corpus from outside, as a user meets it (tests/corpus/sources.toml; README, "Corpus").

Every group of files is generated as a user would (``schemabus generate --output PKG FILES``): it
generates, or fails with the one line tests/corpus/unsupported.toml expects (never a traceback).
Every generated package imports in a fresh interpreter with warnings as errors and passes
``mypy --strict``. Every Avro serde reads fastavro's random data (``fastavro.utils.generate_many``)
and writes it back byte for byte; every JSON serde agrees with the reference validator (the
differential of tests/json_differential.py). The README states the pass rate this computes.
"""

from __future__ import annotations

import importlib
import io
import json
import random
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import fastavro.utils
import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main
from schemabus.runtime import AvroSerde, DeserializationError

from ..conftest import ROOT
from .corpus import CorpusGroup, Kind, corpus_groups

UNSUPPORTED = tomllib.loads((Path(__file__).parent / "unsupported.toml").read_text())
RECORDS_PER_SERDE = 20
# What the JSON differential counts (tests/corpus/json_worker.py), for the floors at the end.
CHECKED = ("serdes", "drawn", "valid", "refused", "known")


@dataclass
class Generated:
    group: CorpusGroup
    package: str
    code: int
    output: str

    @property
    def error(self) -> str:
        """The expected failure of this group (its generate error, or a later stage's), if listed."""
        entry = UNSUPPORTED.get(self.group.kind, {}).get(self.group.name)
        return entry["error"] if entry else ""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[Kind, tuple[Path, list[Generated]]]:
    out: dict[Kind, tuple[Path, list[Generated]]] = {}
    for kind in ("avro", "json"):
        root = tmp_path_factory.mktemp(f"corpus_{kind}")
        results = []
        for i, group in enumerate(corpus_groups(kind)):
            package = f"corpus_{kind}_{i:03d}"
            run = CliRunner().invoke(main, ["generate", "-q", "--output", str(root / package), *map(str, group.paths)])
            if run.exception is not None and not isinstance(run.exception, SystemExit):
                raise AssertionError(f"{group.name}: generate raised {run.exception!r}") from run.exception
            results.append(Generated(group, package, run.exit_code, run.output))
        out[kind] = (root, results)
    return out


def _generated(generated: dict[Kind, tuple[Path, list[Generated]]], kind: Kind) -> Iterator[Generated]:
    return (g for g in generated[kind][1] if g.code == 0)


@pytest.mark.parametrize("kind", ["avro", "json"])
def test_every_group_generates_or_fails_with_its_listed_error(
    generated: dict[Kind, tuple[Path, list[Generated]]], kind: Kind
) -> None:
    wrong = []
    for g in generated[kind][1]:
        listed = UNSUPPORTED.get(kind, {}).get(g.group.name, {})
        if listed.get("stage", "generate") == "generate" and listed:
            lines = g.output.strip().splitlines()
            if g.code != 2 or not any(listed["error"] in line for line in lines) or "Traceback" in g.output:
                wrong.append(f"{g.group.name}: expected exit 2 with {listed['error']!r}, got {g.code}: {g.output}")
        elif g.code != 0:
            wrong.append(f"{g.group.name}: exit {g.code}: {g.output}")
    assert not wrong, "\n".join(wrong)


def test_every_generated_package_imports_in_a_fresh_interpreter(
    generated: dict[Kind, tuple[Path, list[Generated]]],
) -> None:
    for kind in ("avro", "json"):
        root, _ = generated[kind]
        packages = [g.package for g in _generated(generated, kind)]
        code = (
            "import importlib, sys\n"
            "failed = []\n"
            f"for name in {packages!r}:\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except BaseException as e:\n"
            "        failed.append(f'{name}: {type(e).__name__}: {e}')\n"
            "print('\\n'.join(failed))\n"
            "sys.exit(1 if failed else 0)\n"
        )
        done = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=root, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_generated_package_passes_mypy_strict(generated: dict[Kind, tuple[Path, list[Generated]]]) -> None:
    for kind in ("avro", "json"):
        root, _ = generated[kind]
        packages = [arg for g in _generated(generated, kind) for arg in ("-p", g.package)]
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *packages],
            cwd=root,
            env={"MYPYPATH": str(root), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


def _serdes(root: Path, package: str, cls: type) -> list[tuple[str, Any]]:
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(package)
    finally:
        sys.path.remove(str(root))
    # The package's top level is lazy: its public names are in __all__, imported on first use.
    return sorted((name, s) for name in module.__all__ if isinstance(s := getattr(module, name), cls))


def test_avro_serdes_round_trip_fastavro_random_data(generated: dict[Kind, tuple[Path, list[Generated]]]) -> None:
    root, _ = generated["avro"]
    failures, checked, records = [], 0, 0
    for g in _generated(generated, "avro"):
        listed = UNSUPPORTED["avro"].get(g.group.name, {})
        for name, serde in _serdes(root, g.package, AvroSerde):
            checked += 1
            problem = ""
            try:
                schema = fastavro.parse_schema(json.loads(serde.schema))
            except Exception as e:  # fastavro raises its own types
                schema, problem = None, f"fastavro cannot read the serde's schema: {type(e).__name__}: {e}"
            for record in _random_records(schema) if schema is not None else []:
                records += 1
                written = io.BytesIO()
                fastavro.schemaless_writer(written, schema, record)
                data = written.getvalue()
                try:
                    again = serde.encode(serde.decode(data))
                except (DeserializationError, ValueError, TypeError) as e:
                    problem = f"{type(e).__name__}: {e}"
                    break
                if again != data:
                    problem = f"written back as {again.hex()} instead of {data.hex()}"
                    break
            if problem and listed.get("stage") != "roundtrip":
                failures.append(f"{g.group.name} {name}: {problem[:300]}")
            elif not problem and listed.get("stage") == "roundtrip":
                failures.append(f"{g.group.name} {name}: listed as unsupported, but round-trips")
    assert not failures, "\n".join(failures)
    assert checked >= 150 and records >= checked * RECORDS_PER_SERDE // 2, (checked, records)


def _random_records(schema: Any) -> list[Any]:
    """``generate_many``'s records, with what fastavro draws outside the logical types made valid:
    decimals within their precision (it draws raw bytes of any length), UUIDs in their RFC 4122 text
    (it draws 32 hex digits without hyphens)."""
    random.seed(json.dumps(schema, sort_keys=True, default=str))  # the same records on every run
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 3000))
    try:
        drawn = list(fastavro.utils.generate_many(schema, RECORDS_PER_SERDE))
    except RecursionError:  # a recursive type drawn too deep: draw one at a time, keep what ends
        drawn = []
        for _ in range(RECORDS_PER_SERDE * 3):
            try:
                drawn += list(fastavro.utils.generate_many(schema, 1))
            except RecursionError:
                continue
            if len(drawn) == RECORDS_PER_SERDE:
                break
    finally:
        sys.setrecursionlimit(limit)
    named = schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
    return [_fit(schema, r, named) for r in drawn]


def _fit(schema: Any, value: Any, named: dict[str, Any]) -> Any:
    if isinstance(schema, str):
        return _fit(named[schema], value, named) if schema in named else value
    if isinstance(schema, list):  # the branch the value was drawn for
        for branch in schema:
            resolved = named.get(branch, branch) if isinstance(branch, str) else branch
            if not isinstance(resolved, dict):
                continue
            if isinstance(value, Decimal | bytes) and resolved.get("logicalType") == "decimal":
                return _fit(resolved, value, named)
            if isinstance(value, str) and resolved.get("logicalType") == "uuid" and len(value) == 32:
                return _fit(resolved, value, named)
            if (
                isinstance(value, dict)
                and resolved.get("type") == "record"
                and {f["name"] for f in resolved["fields"]} == set(value)
            ):
                return _fit(resolved, value, named)
        return value
    if isinstance(schema, dict):
        kind = schema.get("type")
        if schema.get("logicalType") == "decimal" and isinstance(value, Decimal | bytes):
            precision, scale = schema["precision"], schema.get("scale", 0)
            unscaled = (
                int.from_bytes(value, "big", signed=True) if isinstance(value, bytes) else int(value.scaleb(scale))
            )
            digits = abs(unscaled) % 10**precision
            return (Decimal(digits) * (-1 if unscaled < 0 else 1)).scaleb(-scale)
        if schema.get("logicalType") == "uuid" and isinstance(value, str):
            return str(uuid.UUID(value))
        if kind == "record" and isinstance(value, dict):
            return {f["name"]: _fit(f["type"], value.get(f["name"]), named) for f in schema["fields"]}
        if kind == "array" and isinstance(value, list):
            return [_fit(schema["items"], v, named) for v in value]
        if kind == "map" and isinstance(value, dict):
            return {k: _fit(schema["values"], v, named) for k, v in value.items()}
        if isinstance(kind, dict | list) or (isinstance(kind, str) and kind in named):
            return _fit(kind, value, named)
    return value


def _json_groups() -> list[CorpusGroup]:
    return corpus_groups("json")


JSON_GROUPS = _json_groups()


# The differential of every group takes minutes: two workers share the groups (this machine has two
# cores), and the tests that wait for them have a budget of their own (the suite's is 300 s a test).
JSON_WORKERS = 2
JSON_TIMEOUT = 1200


@pytest.fixture(scope="module")
def json_results(
    generated: dict[Kind, tuple[Path, list[Generated]]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The differential of every JSON group that generated, run by tests/corpus/json_worker.py."""
    root, results = generated["json"]
    groups = [[g.group.name, g.package] for g in results if g.code == 0]
    work = tmp_path_factory.mktemp("json_workers")
    workers = []
    for n in range(JSON_WORKERS):
        (work / f"in{n}.json").write_text(json.dumps(groups[n::JSON_WORKERS]))
        with (work / f"in{n}.json").open() as stdin, (work / f"out{n}.json").open("w") as stdout:
            command = [sys.executable, "-m", "tests.corpus.json_worker", str(root)]
            workers.append(
                subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, text=True)
            )
    out: dict[str, Any] = {}
    for n, worker in enumerate(workers):
        _, errors = worker.communicate(timeout=JSON_TIMEOUT)
        assert worker.returncode == 0, errors[-5000:]
        out |= json.loads((work / f"out{n}.json").read_text())
    return out


@pytest.mark.timeout(JSON_TIMEOUT)
@pytest.mark.parametrize("index", range(len(JSON_GROUPS)), ids=[g.name for g in JSON_GROUPS])
def test_json_serdes_agree_with_the_reference_validator(
    generated: dict[Kind, tuple[Path, list[Generated]]], json_results: dict[str, Any], index: int
) -> None:
    g = generated["json"][1][index]
    listed = UNSUPPORTED["json"].get(g.group.name, {})
    if g.code != 0:
        assert listed.get("stage", "generate") == "generate", g.output
        return  # its generate error is checked above
    disagreements = json_results[g.group.name]["disagreements"]
    if listed.get("stage") == "differential":
        assert any(listed["error"] in d for d in disagreements), f"listed as disagreeing, but: {disagreements[:3]}"
    else:
        assert not disagreements, "\n".join(disagreements[:10])


@pytest.mark.timeout(JSON_TIMEOUT)
def test_the_json_differential_checked_enough(json_results: dict[str, Any]) -> None:
    """The differential really ran: enough serdes drawn for, enough valid documents and mutants."""
    checked = {key: sum(r["counts"][key] for r in json_results.values()) for key in CHECKED}
    print(f"JSON differential: {checked}")
    assert checked["serdes"] >= 200, checked
    assert checked["drawn"] >= 0.75 * checked["serdes"], checked
    assert checked["valid"] >= 1800 and checked["refused"] >= 800, checked


def test_the_readme_states_the_pass_rate(generated: dict[Kind, tuple[Path, list[Generated]]]) -> None:
    text = (ROOT / "README.md").read_text()
    for kind, label in (("avro", "Avro"), ("json", "JSON Schema")):
        groups = generated[kind][1]
        files = sum(len(g.group.files) for g in groups)
        unsupported = sum(len(g.group.files) for g in groups if g.group.name in UNSUPPORTED.get(kind, {}))
        expected = f"{files - unsupported} of {files} {label} files"
        assert expected in text, f"README should say {expected!r}"
