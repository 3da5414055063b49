"""Codegen benchmark: schemabus against datamodel-code-generator, every variant in the same run.

    .venv/bin/python bench/codegen_bench.py [--schemas 500] [--json-share 0.4] [--rounds 3]

1. The Avro catalog: ``--schemas`` synthetic Avro event schemas (10 fields each: logical types,
   unions, a nested record, an enum) and a topic for each. ``schemabus generate`` in process (load,
   render, ruff, compile check, write; a fresh output folder each round) against
   datamodel-code-generator's Avro input run on a sample of the same files one by one (models only,
   ruff-formatted). The two take turns, ``--rounds`` times, so a busy machine slows both alike; the
   ratio is the median of the rounds' ratios. Goal: schemabus >= 5x faster per schema.
2. The no-op: ``schemabus generate`` on the same catalog, nothing changed, in a new process (the
   console script, as pre-commit runs it, and ``python -m``) next to ``python -c pass``; median wall
   time of ``--rounds`` runs each after a warm-up that writes the bytecode caches (in a folder of the
   bench's own). Goal: < 0.3 s.
3. A mixed project (Avro and JSON Schema, ``--json-share``): a cold ``schemabus generate`` in a new
   process, and the JSON path against datamodel-code-generator on the same JSON directory (with its
   default formatters and without), best of ``--rounds`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from schemabus.codegen.config import Config, load_config
from schemabus.codegen.output import write_tree
from schemabus.codegen.pipeline import generate

FIELD_TYPES = [
    "string",
    "long",
    "int",
    "double",
    "boolean",
    ["null", "string"],
    {"type": "long", "logicalType": "timestamp-micros"},
    {"type": "string", "logicalType": "uuid"},
    {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 6},
    {"type": "array", "items": "string"},
    {"type": "map", "values": "long"},
]
JSON_TYPES = [
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "uuid"},
    {"type": ["string", "null"]},
    {"type": "array", "items": {"type": "string"}},
    {"type": "object", "additionalProperties": {"type": "integer"}},
    {"enum": ["a", "b", "c"]},
]


def make_project(root: Path, count: int, json_share: float) -> tuple[list[Path], list[Path]]:
    """Write ``count`` event schemas and a catalog; returns (avro files, json files)."""
    schemas = root / "schemas"
    avro_files: list[Path] = []
    json_files: list[Path] = []
    topics = []
    n_json = int(count * json_share)
    for i in range(count):
        domain, entity, action = f"d{i % 10}", f"e{i}", "happened"
        if i < n_json:
            path = schemas / domain / f"e{i}.schema.json"
            props = {f"f{j}": JSON_TYPES[(i + j) % len(JSON_TYPES)] for j in range(12)}
            props["nested"] = {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            }
            doc = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"Event{i}",
                "description": f"Synthetic event {i}.",
                "type": "object",
                "properties": props,
                "required": ["f0", "f1", "f2"],
                "additionalProperties": False,
            }
            json_files.append(path)
        else:
            path = schemas / domain / f"e{i}.avsc"
            fields = [
                {"name": f"f{j}", "type": FIELD_TYPES[(i + j) % len(FIELD_TYPES)], "doc": f"field {j}"}
                for j in range(12)
            ]
            fields.append(
                {
                    "name": "nested",
                    "type": {
                        "type": "record",
                        "name": f"Nested{i}",
                        "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}],
                    },
                }
            )
            fields.append(
                {
                    "name": "status",
                    "type": {"type": "enum", "name": f"Status{i}", "symbols": ["A", "B", "C"], "default": "A"},
                    "default": "A",
                }
            )
            doc = {"type": "record", "name": f"Event{i}", "namespace": f"bench.{domain}", "fields": fields}
            avro_files.append(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2))
        rel = path.relative_to(schemas).as_posix()
        topics.append(f'[topics."{domain}.{entity}.{action}"]\nkey = "string"\nvalue = "{rel}"\n')
    (schemas / "catalog.toml").write_text("\n".join(topics))
    (root / "pyproject.toml").write_text('[tool.schemabus]\npackage = "bench_events"\n')
    return avro_files, json_files


# The ten fields of every event of the Avro catalog: logical types (uuid, timestamp, decimal, date),
# unions (an optional field and a three-branch union), an array, an enum and a nested record;
# the names of the named types carry the event's number.
def _avro_event(i: int, domain: str) -> dict[str, object]:
    long_or_int = "long" if i % 2 else "int"
    timestamp = "timestamp-micros" if i % 3 else "timestamp-millis"
    fields: list[dict[str, object]] = [
        {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "Unique per event."},
        {"name": "occurred_at", "type": {"type": "long", "logicalType": timestamp}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 6}},
        {"name": "name", "type": "string", "doc": f"The name of thing {i}."},
        {"name": "count", "type": long_or_int, "default": 0},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "measure", "type": ["null", "long", "double"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
        {
            "name": "status",
            "type": {"type": "enum", "name": f"Status{i}", "symbols": ["NEW", "ACTIVE", "CLOSED"], "default": "NEW"},
        },
        {
            "name": "detail",
            "type": {
                "type": "record",
                "name": f"Detail{i}",
                "fields": [
                    {"name": "code", "type": "string"},
                    {"name": "level", "type": "int", "default": 0},
                    {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}], "default": None},
                ],
            },
        },
    ]
    return {
        "type": "record",
        "name": f"Event{i}",
        "namespace": f"bench.{domain}",
        "doc": f"Event {i}.",
        "fields": fields,
    }


def make_avro_catalog(root: Path, count: int) -> list[Path]:
    """Write ``count`` Avro event schemas (see :func:`_avro_event`), a catalog with a topic for each
    and a pyproject.toml; returns the schema files."""
    schemas = root / "schemas"
    files: list[Path] = []
    topics = []
    for i in range(count):
        domain = f"d{i % 10}"
        path = schemas / domain / f"e{i}.avsc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_avro_event(i, domain), indent=2))
        files.append(path)
        rel = path.relative_to(schemas).as_posix()
        topics.append(f'[topics."{domain}.e{i}.happened"]\nkey = "string"\nvalue = "{rel}"\n')
    (schemas / "catalog.toml").write_text("\n".join(topics))
    (root / "pyproject.toml").write_text('[tool.schemabus]\npackage = "bench_events"\n')
    return files


def _dcg(args: list[str]) -> None:
    from datamodel_code_generator.__main__ import main as dcg_main

    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        code = dcg_main(args)
    if code != 0:
        raise RuntimeError(f"datamodel-codegen failed: {sink.getvalue()[-2000:]}")


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def _dcg_avro(paths: list[Path], out_dir: Path) -> None:
    """datamodel-code-generator's Avro input, one file at a time (models only, ruff-formatted)."""
    for i, path in enumerate(paths):
        _dcg(
            [
                "--input",
                str(path),
                "--input-file-type",
                "avro",
                "--output",
                str(out_dir / f"m{i}.py"),
                "--output-model-type",
                "pydantic_v2.BaseModel",
                "--disable-timestamp",
                "--formatters",
                "ruff-format",
            ]
        )


def _child_env(tmp: Path) -> dict[str, str]:
    """The environment of the commands timed in new processes: a no-op cache and bytecode caches of
    the bench's own (written, as a user's Python writes them, but outside the checkout)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "SCHEMABUS_CACHE_DIR": str(tmp / "cache"), "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}


def _schemabus() -> list[str]:
    """The console script beside this interpreter (what pre-commit runs), else ``python -m``."""
    script = Path(sys.executable).with_name("schemabus")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "schemabus.codegen"]


def _generate_in_steps(config: Config) -> tuple[float, dict[str, float]]:
    """One in-process generate and write: its wall time, and the time of each step (from the
    pipeline's progress notes: the first word of each)."""
    marks: list[tuple[str, float]] = []

    def note(message: str) -> None:
        marks.append((message.split(" ")[0], time.perf_counter()))

    marks.append(("start", time.perf_counter()))
    files_out = generate(config, note)
    marks.append(("written", time.perf_counter()))
    write_tree(config.package_dir, files_out)
    marks.append(("end", time.perf_counter()))
    steps: dict[str, float] = {}
    for (step, at), (_, until) in itertools.pairwise(marks):
        steps[step] = steps.get(step, 0.0) + until - at
    return marks[-1][1] - marks[0][1], steps


def avro_catalog(tmp: Path, count: int, sample_size: int, rounds: int) -> Path:
    """Section 1; returns the project, generated."""
    root = tmp / "avro"
    files = make_avro_catalog(root, count)
    config = load_config(root / "pyproject.toml")
    sample = files[:sample_size]
    out_dir = tmp / "dcg_avro"
    out_dir.mkdir()
    env = _child_env(tmp)
    cli = [*_schemabus(), "generate", "--force", "-q", "--project", str(root)]
    # Warm-up, not counted: imports, templates, the first ruff run, the bytecode caches.
    generate(config)
    _dcg_avro(sample[:1], out_dir)
    subprocess.run(cli, check=True, env=env)

    ours: list[float] = []
    ours_cli: list[float] = []
    theirs: list[float] = []
    phases: dict[str, float] = {}
    for _ in range(rounds):
        shutil.rmtree(config.package_dir)
        seconds, steps = _generate_in_steps(config)
        ours.append(seconds / count)
        for step, spent in steps.items():
            phases[step] = phases.get(step, 0.0) + spent / rounds
        theirs.append(timed(lambda: _dcg_avro(sample, out_dir)) / len(sample))
        ours_cli.append(timed(lambda: subprocess.run(cli, check=True, env=env)) / count)

    ratio = statistics.median(t / o for o, t in zip(ours, theirs))
    ratio_cli = statistics.median(t / o for o, t in zip(ours_cli, theirs))
    print(f"Avro catalog: {count} schemas (10 fields: logical types, unions, a nested record, an enum), {count} topics")
    print(
        f"  schemabus generate, in process:    {statistics.median(ours) * 1000:6.2f} ms/schema  "
        f"(models + codecs + topics, formatted, compile-checked, written)"
    )
    print(f"  schemabus generate, new process:   {statistics.median(ours_cli) * 1000:6.2f} ms/schema  (--force)")
    print(
        f"  datamodel-codegen --input-file-type avro, one by one: {statistics.median(theirs) * 1000:6.2f} ms/schema  "
        f"(models only, ruff-formatted, {len(sample)} schemas)"
    )
    print(f"  -> schemabus {ratio:5.2f}x faster per schema in process   goal >= 5x   ({rounds} rounds, median)")
    print(f"  -> schemabus {ratio_cli:5.2f}x faster per schema, new process (start-up included)")
    # Where the time of a generate goes (mean of the rounds), from its progress notes.
    labels = {
        "start": "(call)",
        "loading": "read + load + validate",
        "rendering": "render (models, codecs, topics)",
        "formatting": "ruff format || compile check",
        "written": "write",
    }
    total = sum(phases.values())
    for step, seconds in phases.items():
        name = labels.get(step, step)
        print(f"     {name:34s} {seconds * 1000 / count:6.2f} ms/schema  {seconds / total:4.0%}")
    return root


def noop(tmp: Path, root: Path, rounds: int) -> None:
    """Section 2."""
    env = _child_env(tmp)
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "schemabus generate (console script)": [*_schemabus(), "generate", "-q", "--project", str(root)],
        "python -m schemabus.codegen generate": [
            sys.executable,
            "-m",
            "schemabus.codegen",
            "generate",
            "-q",
            "--project",
            str(root),
        ],
    }
    first = subprocess.run([*_schemabus(), "generate", "--project", str(root)], env=env, capture_output=True, text=True)
    again = subprocess.run([*_schemabus(), "generate", "--project", str(root)], env=env, capture_output=True, text=True)
    if first.returncode or again.returncode or "is up to date" not in again.stderr:
        sys.exit(f"the no-op run did something:\n{first.stderr}\n{again.stderr}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            times[name].append(timed(lambda: subprocess.run(cmd, check=True, env=env)))  # noqa: B023
    print(f"No-op schemabus generate on the Avro catalog (nothing changed), new process, median of {rounds}:")
    for name, seconds in times.items():
        med = statistics.median(seconds)
        goal = "   goal < 0.3 s" if name.startswith("schemabus") else ""
        print(f"  {name:40s} {med:6.3f} s{goal}")


def mixed(tmp: Path, count: int, json_share: float, rounds: int) -> None:
    """Section 3."""
    root = tmp / "project"
    avro_files, json_files = make_project(root, count, json_share)
    config = load_config(root / "pyproject.toml")
    print(f"Mixed project: {count} schemas: {len(avro_files)} Avro, {len(json_files)} JSON Schema, {count} topics")
    env = _child_env(tmp)
    cli = [*_schemabus(), "generate", "--project", str(root), "-q"]
    cold_cli = timed(lambda: subprocess.run(cli, check=True, env=env))
    files: dict[str, str] = {}
    cold_inproc = timed(lambda: files.update(generate(config)))
    size = sum(len(t) for t in files.values())
    print(f"  schemabus generate, cold (new process):     {cold_cli:7.2f} s  ({len(files)} files, {size / 1e6:.1f} MB)")
    print(f"  schemabus generate, cold (in process):      {cold_inproc:7.2f} s")

    # The JSON path vs datamodel-code-generator on the same JSON directory: both as the command a
    # user runs (a new process each), best of the rounds (this machine is noisy).
    json_only = tmp / "json_only"
    _, json_only_files = make_project(json_only, len(json_files), 1.0)
    dcg_input = tmp / "dcg_json_input"
    shutil.copytree(json_only / "schemas", dcg_input, ignore=shutil.ignore_patterns("catalog.toml"))
    ours_cmd = [*_schemabus(), "generate", "--force", "-q", "--project", str(json_only)]
    dcg_cmd = [sys.executable, "-W", "ignore", "-m", "datamodel_code_generator", "--input", str(dcg_input)]
    dcg_cmd += ["--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel"]
    dcg_cmd += ["--disable-timestamp", "--output", str(tmp / "dcg_json")]
    variants = {
        "default formatters (black, isort)": dcg_cmd,
        "--formatters ruff-format": [*dcg_cmd, "--formatters", "ruff-format"],
        "--no-formatters": [*dcg_cmd, "--no-formatters"],
    }
    ours_json: list[float] = []
    theirs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        ours_json.append(timed(lambda: subprocess.run(ours_cmd, check=True, capture_output=True, env=env)))
        for name, cmd in variants.items():
            theirs[name].append(timed(lambda: subprocess.run(cmd, check=True, capture_output=True)))  # noqa: B023
    n = len(json_only_files)
    print(
        f"  JSON path, {n} schemas, best of {rounds}: "
        f"schemabus generate {min(ours_json):5.2f} s (models + topics + formatting)"
    )
    for name, seconds in theirs.items():
        print(
            f"    datamodel-codegen {name:36s} {min(seconds):5.2f} s"
            f"  -> schemabus takes {min(ours_json) / min(seconds):4.2f}x its time"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemas", type=int, default=500)
    parser.add_argument("--json-share", type=float, default=0.4)
    parser.add_argument("--dcg-avro-sample", type=int, default=50, help="Avro schemas run through dcg one by one")
    parser.add_argument("--rounds", type=int, default=3, help="turns each variant takes")
    parser.add_argument("--skip-mixed", action="store_true", help="sections 1 and 2 only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="schemabus-bench-") as tmp:
        root = avro_catalog(Path(tmp), args.schemas, args.dcg_avro_sample, args.rounds)
        noop(Path(tmp), root, max(args.rounds, 5))
        if not args.skip_mixed:
            mixed(Path(tmp), args.schemas, args.json_share, args.rounds)


if __name__ == "__main__":
    main()
