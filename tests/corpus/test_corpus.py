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
import re
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import fastavro.utils
import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis_jsonschema import from_schema

from schemabus.codegen.cli import main
from schemabus.codegen.load.json_drafts import parse_draft
from schemabus.codegen.load.jsonschema import load_json_schema_files
from schemabus.runtime import AvroSerde, DeserializationError, JsonSerde

from ..conftest import ROOT
from ..json_differential import FORMATS, JsonCase, generation_schema, mutants
from .corpus import CorpusGroup, Kind, corpus_groups

UNSUPPORTED = tomllib.loads((Path(__file__).parent / "unsupported.toml").read_text())
RECORDS_PER_SERDE = 20
JSON_EXAMPLES = 10
# hypothesis-jsonschema takes minutes to prepare some large schemas: past this budget per group, the
# rest of its serdes count as ones it cannot draw for.
GROUP_SECONDS = 10
# What the differential checked, for the summary at the end (and its floors).
CHECKED: dict[str, int] = {"serdes": 0, "drawn": 0, "valid": 0, "refused": 0, "known": 0}


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
    return sorted((name, s) for name, s in vars(module).items() if isinstance(s, cls))


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


@pytest.mark.parametrize("index", range(len(JSON_GROUPS)), ids=[g.name for g in JSON_GROUPS])
def test_json_serdes_agree_with_the_reference_validator(
    generated: dict[Kind, tuple[Path, list[Generated]]], index: int
) -> None:
    root, results = generated["json"]
    g = results[index]
    listed = UNSUPPORTED["json"].get(g.group.name, {})
    if g.code != 0:
        assert listed.get("stage", "generate") == "generate", g.output
        return  # its generate error is checked above
    disagreements = []
    deadline = time.monotonic() + GROUP_SECONDS
    for name, serde in _serdes(root, g.package, JsonSerde):
        schema = load_json_schema_files([("bundle.json", serde.schema)], default_draft=parse_draft(serde.draft))
        case = JsonCase(f"{g.group.name} {name}", schema["bundle.json"], serde.type, serde)
        CHECKED["serdes"] += 1
        if _differential(case, deadline):
            CHECKED["drawn"] += 1
        CHECKED["valid"] += case.valid
        CHECKED["refused"] += case.refused
        CHECKED["known"] += len(case.known)
        disagreements += case.disagreements
    if listed.get("stage") == "differential":
        assert any(listed["error"] in d for d in disagreements), f"listed as disagreeing, but: {disagreements[:3]}"
    else:
        assert not disagreements, "\n".join(disagreements[:10])


class _TooSlow(BaseException):
    pass


def _differential(case: JsonCase, deadline: float) -> bool:
    """Run the differential until ``deadline``; False when hypothesis-jsonschema cannot draw from
    this schema (in time)."""
    seconds = int(deadline - time.monotonic())
    if seconds < 1:
        return False
    try:
        schema = generation_schema(case.schema)
    except RecursionError:
        return False

    @settings(
        max_examples=JSON_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        instance = data.draw(from_schema(schema, custom_formats=FORMATS, codec="utf-8"), label="instance")
        if not case.reference_accepts(instance):
            return
        case.check_valid(instance)
        mutant = data.draw(mutants(instance), label="mutant")
        if not case.reference_accepts(mutant):
            case.check_refused(mutant)

    def too_slow(*_: Any) -> None:
        raise _TooSlow  # a BaseException: hypothesis does not take it for a failing example

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(seconds)
    try:
        check()
    except (HypothesisException, RecursionError, re.error, jsonschema.SchemaError, _TooSlow):
        return False  # beyond hypothesis-jsonschema (recursion, a regex it cannot read, too slow to draw)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return True


def test_the_json_differential_checked_enough() -> None:
    """Runs after every group (pytest keeps the file's order): the differential really ran."""
    print(f"JSON differential: {CHECKED}")
    assert CHECKED["serdes"] >= 200, CHECKED
    assert CHECKED["drawn"] >= 0.75 * CHECKED["serdes"], CHECKED
    assert CHECKED["valid"] >= 1800 and CHECKED["refused"] >= 800, CHECKED


def test_the_readme_states_the_pass_rate(generated: dict[Kind, tuple[Path, list[Generated]]]) -> None:
    text = (ROOT / "README.md").read_text()
    for kind, label in (("avro", "Avro"), ("json", "JSON Schema")):
        groups = generated[kind][1]
        files = sum(len(g.group.files) for g in groups)
        unsupported = sum(len(g.group.files) for g in groups if g.group.name in UNSUPPORTED.get(kind, {}))
        expected = f"{files - unsupported} of {files} {label} files"
        assert expected in text, f"README should say {expected!r}"
