"""Codegen benchmark: 500 synthetic schemas (mixed Avro / JSON Schema), schemabus vs
datamodel-code-generator alone, every variant in the same run. Prints times and ratios.

    .venv/bin/python bench/codegen_bench.py [--schemas 500] [--json-share 0.4]

Measured: a cold ``schemabus generate`` (load, render, datamodel-code-generator for JSON, one ruff
run, write); a no-op re-run (a new process, as a user or pre-commit runs it); the Avro path alone
per schema against datamodel-code-generator's Avro input run per schema; the JSON path against
datamodel-code-generator on the same JSON directory (with its default formatters and without).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from schemabus.codegen.config import load_config
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemas", type=int, default=500)
    parser.add_argument("--json-share", type=float, default=0.4)
    parser.add_argument("--dcg-avro-sample", type=int, default=50, help="Avro schemas run through dcg one by one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each JSON command; the best counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="schemabus-bench-") as tmp:
        root = Path(tmp) / "project"
        avro_files, json_files = make_project(root, args.schemas, args.json_share)
        config = load_config(root / "pyproject.toml")
        print(f"{args.schemas} schemas: {len(avro_files)} Avro, {len(json_files)} JSON Schema, {args.schemas} topics")

        # 1. schemabus, cold and no-op (CLI in a new process, as a user or pre-commit runs it).
        cli = [sys.executable, "-m", "schemabus.codegen", "generate", "--project", str(root), "-q"]
        cold_cli = timed(lambda: subprocess.run(cli, check=True))
        noop_cli = timed(lambda: subprocess.run(cli, check=True))
        files: dict[str, str] = {}
        cold_inproc = timed(lambda: files.update(generate(config)))
        write_tree(config.package_dir, files)
        size = sum(len(t) for t in files.values())
        print(
            f"schemabus generate, cold (new process):     {cold_cli:7.2f} s  ({len(files)} files, {size / 1e6:.1f} MB)"
        )
        print(f"schemabus generate, cold (in process):      {cold_inproc:7.2f} s")
        print(f"schemabus generate, no-op re-run (process): {noop_cli:7.2f} s   goal < 1 s")

        # 2. The Avro path alone, per schema, vs datamodel-code-generator's Avro input per schema.
        avro_only = Path(tmp) / "avro_only"
        avro_only_files, _ = make_project(avro_only, args.schemas, 0.0)
        avro_config = load_config(avro_only / "pyproject.toml")
        ours_avro = timed(lambda: generate(avro_config)) / len(avro_only_files)
        sample = avro_only_files[: args.dcg_avro_sample]
        out_dir = Path(tmp) / "dcg_avro"
        out_dir.mkdir()

        def dcg_avro() -> None:
            for i, path in enumerate(sample):
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

        dcg_avro_per = timed(dcg_avro) / len(sample)
        print(
            f"Avro path per schema: schemabus {ours_avro * 1000:6.2f} ms (models + codecs + topics, formatted), "
            f"datamodel-code-generator --input-file-type avro {dcg_avro_per * 1000:6.2f} ms "
            f"(models only, ruff-formatted, {len(sample)} schemas) -> {dcg_avro_per / ours_avro:5.1f}x   goal >= 5x"
        )

        # 3. The JSON path vs datamodel-code-generator on the same JSON directory: both as the
        #    command a user runs (a new process each), best of --repeat runs (this machine is noisy).
        json_only = Path(tmp) / "json_only"
        _, json_only_files = make_project(json_only, len(json_files), 1.0)
        dcg_input = Path(tmp) / "dcg_json_input"
        shutil.copytree(json_only / "schemas", dcg_input, ignore=shutil.ignore_patterns("catalog.toml"))
        ours_cmd = [sys.executable, "-m", "schemabus.codegen", "generate", "--force", "-q", "--project", str(json_only)]
        dcg_cmd = [sys.executable, "-W", "ignore", "-m", "datamodel_code_generator", "--input", str(dcg_input)]
        dcg_cmd += ["--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel"]
        dcg_cmd += ["--disable-timestamp", "--output", str(Path(tmp) / "dcg_json")]

        def best(cmd: list[str]) -> float:
            return min(timed(lambda: subprocess.run(cmd, check=True, capture_output=True)) for _ in range(args.repeat))

        ours_json = best(ours_cmd)
        variants = {
            "default formatters (black, isort)": best(dcg_cmd),
            "--formatters ruff-format": best([*dcg_cmd, "--formatters", "ruff-format"]),
            "--no-formatters": best([*dcg_cmd, "--no-formatters"]),
        }
        n = len(json_only_files)
        print(
            f"JSON path, {n} schemas, best of {args.repeat}: "
            f"schemabus generate {ours_json:5.2f} s (models + topics + formatting)"
        )
        for name, seconds in variants.items():
            print(
                f"  datamodel-codegen {name:36s} {seconds:5.2f} s"
                f"  -> schemabus takes {ours_json / seconds:4.2f}x its time"
            )


if __name__ == "__main__":
    main()
