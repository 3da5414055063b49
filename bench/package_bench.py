"""Generated package benchmark: what importing the package of a 500-topic Avro catalog costs, and
what the first record costs after it. Each measure runs in a fresh process; the variants run in
interleaved rounds and the table prints medians and ratios from the same run.

    .venv/bin/python bench/package_bench.py [--rounds 3] [--old-python OTHER_CHECKOUT/.venv/bin/python]
                                            [--json-share 0.5]

The catalog is bench/codegen_bench.py's (500 Avro topics ``d{0..9}.e{i}.happened``, 50 per domain);
with --json-share, that share of the topics has JSON Schema values instead (and no first record is
measured: Event0 is then a JSON model).
With --old-python, the same catalog is also generated and measured with another checkout's schemabus
(e.g. main's, for the package layout before this one): its column is "before".

Measured, with bytecode cached and without (no ``__pycache__``, nothing written):
  import pkg     ``import bench_events`` alone
  one domain     the names a service of domain d0 uses: ``from bench_events import D0_E0_HAPPENED, Event0``
  every module   every module of the package (pkgutil.walk_packages): all models, codecs and topics
and per measure the process's max RSS. The runtime and pydantic are imported before the clock starts
(a service imports them anyway); their RSS is in the totals. Times are wall-clock and CPU time of
the importing process (CPU time is the steadier one on a busy machine). First record, after "one domain": the
first validation of a model (``Event0.model_validate``), its first encode and first decode, and the
same calls a second time (the steady cost the first is compared with).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_bench import FIELD_TYPES, make_project

PACKAGE = "bench_events"
TOPICS = 500

GOALS = {  # (seconds, RSS MB) goals of issue 15, with bytecode cached
    "import pkg": (None, None),
    "one domain": (0.1, None),
    "every module": (0.5, 100.0),
}

# The runtime's modules the generated code uses are imported before the clock starts: a service
# pays for them whatever the package's layout (schemabus.runtime imports its own modules lazily).
_PRELUDE = """
import json, resource, sys, time
import pydantic
from schemabus.runtime import avro, AvroSerde, Event, Handler, JsonSerde, Publisher, StringSerde, Topic
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start, cpu = time.perf_counter(), time.process_time()
"""

SCENARIOS = {
    "import pkg": "import bench_events",
    "one domain": "from bench_events import D0_E0_HAPPENED, Event0",
    "every module": (
        "import importlib, pkgutil, bench_events\n"
        "for m in pkgutil.walk_packages(bench_events.__path__, 'bench_events.'):\n"
        "    importlib.import_module(m.name)"
    ),
}

_MEASURE = """
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"seconds": elapsed, "cpu": cpu, "rss": rss, "base_rss": base}
"""

# Event0's fields are FIELD_TYPES in order (codegen_bench.make_project), then a nested record.
_FIRST_RECORD = """
import datetime, decimal, uuid
values = {VALUES}
values["nested"] = {"a": "x"}
for round in ("first", "second"):
    t = time.perf_counter(); event = Event0.model_validate(values); t1 = time.perf_counter()
    payload = D0_E0_HAPPENED.value.encode(event); t2 = time.perf_counter()
    back = D0_E0_HAPPENED.value.decode(payload); t3 = time.perf_counter()
    assert back == event
    out[round] = {"validate": t1 - t, "encode": t2 - t1, "decode": t3 - t2}
"""


def _sample(t: Any) -> str:
    """A Python expression of a value of Avro type ``t`` (one of FIELD_TYPES)."""
    if isinstance(t, list):
        return "None"
    if isinstance(t, dict):
        kind = t.get("logicalType") or t["type"]
        return {
            "timestamp-micros": "datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)",
            "uuid": "uuid.UUID(int=7)",
            "decimal": "decimal.Decimal('1.5')",
            "array": "['a', 'b']",
            "map": "{'k': 1}",
        }[kind]
    return {"string": "'s'", "long": "1", "int": "2", "double": "1.5", "boolean": "True"}[t]


def _first_record_code() -> str:
    values = "{" + ", ".join(f"'f{j}': {_sample(FIELD_TYPES[j % len(FIELD_TYPES)])}" for j in range(12)) + "}"
    return _FIRST_RECORD.replace("{VALUES}", values)


def _child(scenario: str, first_record: bool) -> str:
    code = _PRELUDE + SCENARIOS[scenario] + _MEASURE
    if first_record:
        code += _first_record_code()
    return code + "print(json.dumps(out))\n"


class Layout:
    """One generated package (a checkout's schemabus) and how to run Python against it."""

    def __init__(self, label: str, python: str, root: Path) -> None:
        self.label = label
        self.python = python
        self.root = root
        self.generated = root / "generated"

    def generate(self) -> None:
        cmd = [self.python, "-m", "schemabus.codegen", "generate", "--force", "--quiet", "--project", str(self.root)]
        env = {**os.environ, "SCHEMABUS_CACHE_DIR": str(self.root / ".cache")}
        subprocess.run(cmd, cwd=self.root, check=True, env=env)

    def describe(self) -> str:
        files = [p for p in (self.generated / PACKAGE).rglob("*.py")]
        lines = sum(len(p.read_text().splitlines()) for p in files)
        size = sum(p.stat().st_size for p in files)
        biggest = max(len(p.read_text().splitlines()) for p in files)
        return f"{len(files)} files, {lines:,} lines ({size / 1e6:.1f} MB), the biggest {biggest:,} lines"

    def drop_bytecode(self) -> None:
        for cache in (self.generated / PACKAGE).rglob("__pycache__"):
            shutil.rmtree(cache)

    def cache_bytecode(self) -> None:
        self.drop_bytecode()
        self.run(_child("every module", False), cached=True, write=True)

    def run(self, code: str, *, cached: bool, write: bool = False) -> dict[str, Any]:
        if not cached:
            self.drop_bytecode()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        env["PYTHONPATH"] = str(self.generated)
        if not write:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run([self.python, "-c", code], env=env, capture_output=True, text=True, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.label}: the measuring process failed:\n{proc.stderr}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-python", help="the interpreter of another checkout's venv: its layout is 'before'")
    parser.add_argument("--json-share", type=float, default=0.0, help="the share of JSON Schema topics (0 to 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="schemabus-package-bench-") as tmp:
        layouts = [Layout("after", sys.executable, Path(tmp) / "after")]
        if args.old_python:
            layouts.insert(0, Layout("before", args.old_python, Path(tmp) / "before"))
        for layout in layouts:
            layout.root.mkdir()
            make_project(layout.root, TOPICS, args.json_share)
            layout.generate()
            print(f"{layout.label}: {layout.describe()}")
        results: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
        for _ in range(args.rounds):
            for cached in (False, True):
                for layout in layouts:
                    if cached:
                        layout.cache_bytecode()
                    for scenario in SCENARIOS:
                        code = _child(scenario, first_record=scenario == "one domain" and not args.json_share)
                        results.setdefault((layout.label, scenario, cached), []).append(layout.run(code, cached=cached))
        report(results, [layout.label for layout in layouts])


def _median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(value)
    return statistics.median(values)


def report(results: dict[tuple[str, str, bool], list[dict[str, Any]]], labels: list[str]) -> None:
    rounds = len(next(iter(results.values())))
    print(f"\nmedians of {rounds} rounds: wall ms / CPU ms / max RSS MB (the runtime's included)")
    for cached in (True, False):
        print(f"\n{'bytecode cached' if cached else 'no bytecode cache'}")
        header = f"  {'':14}" + "".join(f"{label:>26}" for label in labels)
        header += f"{'after/before':>26}" if len(labels) == 2 else ""
        print(header + "    goal (cached)")
        for scenario in SCENARIOS:
            runs = [results[(label, scenario, cached)] for label in labels]
            cols = [[_median(r, key) for key in ("seconds", "cpu", "rss")] for r in runs]
            row = f"  {scenario:14}" + "".join(f"{w * 1000:>10.0f} {c * 1000:>7.0f} {m:>7.0f}" for w, c, m in cols)
            if len(labels) == 2:
                row += "".join(f"{after / before:>8.2f}x" for before, after in zip(cols[0], cols[1]))
            goal_s, goal_mb = GOALS[scenario]
            goal = (f"< {goal_s * 1000:.0f} ms " if goal_s else "") + (f"< {goal_mb:.0f} MB" if goal_mb else "")
            print(row + f"    {goal}")
        base = [_median(results[(label, "import pkg", cached)], "base_rss") for label in labels]
        print(f"  {'(runtime only)':14}" + "".join(f"{'':>18} {b:>7.0f}" for b in base))
    if "first" not in results[(labels[0], "one domain", True)][0]:
        return
    print("\nfirst record after 'one domain' (bytecode cached): first call / second call")
    for label in labels:
        runs = results[(label, "one domain", True)]
        parts = []
        for step in ("validate", "encode", "decode"):
            first, second = _median(runs, "first", step), _median(runs, "second", step)
            parts.append(f"{step} {first * 1000:.2f} ms / {second * 1000:.3f} ms")
        print(f"  {label:8} " + ", ".join(parts))


if __name__ == "__main__":
    main()
