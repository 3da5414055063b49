"""Start-up benchmark: the ``schemabus`` command as a user runs it, a new process each time, on this
repository, next to ``python -c pass`` (the floor no command can go below).

    .venv/bin/python bench/cli_bench.py [--runs 10]

Each command runs once to warm up, then ``--runs`` times, the commands taking turns so that a busy
machine slows them all alike. The warm-up writes the bytecode caches, as a user's Python does (so
``PYTHONDONTWRITEBYTECODE`` is cleared for the commands), and the first ``generate`` records the
no-op manifest (in a cache directory of its own). Prints the median wall time of each command, its
ratio to the floor, and the median CPU time (user + system), which a loaded machine disturbs less.
The no-op commands find nothing to do: ``generate`` stops after hashing its inputs (the manifest
says nothing changed) and ``check`` compares the working tree with its base (no incompatibility when
the schemas are unchanged). The repository's generated package must be up to date: ``generate
--check`` runs first and stops the bench otherwise, which changes no file of the checkout.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (label, arguments of the schemabus command, goal in seconds or None)
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("schemabus --help", ["--help"], 0.15),
    ("schemabus generate (no-op)", ["generate", "-q"], 0.35),
    ("schemabus check (no-op)", ["check"], 0.35),
    ("schemabus lint", ["lint"], None),
    ("schemabus generate --check", ["generate", "--check", "-q"], None),
]


def schemabus() -> list[str]:
    """The console script beside this interpreter (what a user runs), else ``python -m``."""
    script = Path(sys.executable).with_name("schemabus")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "schemabus.codegen"]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; a failed command stops the bench."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command (after one warm-up)")
    args = parser.parse_args()
    base = schemabus()
    cache = tempfile.mkdtemp(prefix="schemabus-cli-bench-")
    try:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["SCHEMABUS_CACHE_DIR"] = cache
        stale = subprocess.run([*base, "generate", "--check", "-q"], cwd=ROOT, env=env, capture_output=True)
        if stale.returncode != 0:
            sys.exit("the generated package is out of date: run `schemabus generate` first")
        variants = [("python -c pass (floor)", [sys.executable, "-c", "pass"], None)]
        variants += [(label, [*base, *argv], goal) for label, argv, goal in COMMANDS]
        for _, cmd, _ in variants:
            run(cmd, env)  # warm-up: bytecode caches, the page cache, the generate manifest
        walls: dict[str, list[float]] = {label: [] for label, _, _ in variants}
        cpus: dict[str, list[float]] = {label: [] for label, _, _ in variants}
        for _ in range(args.runs):
            for label, cmd, _ in variants:
                wall, cpu = run(cmd, env)
                walls[label].append(wall)
                cpus[label].append(cpu)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    floor = statistics.median(walls[variants[0][0]])
    print(f"median of {args.runs} runs each (a new process per run), in {ROOT.name}/")
    print(f"  {'':30s} {'wall':>8s} {'x floor':>8s} {'cpu':>8s}")
    for label, _, goal in variants:
        wall = statistics.median(walls[label])
        cpu = statistics.median(cpus[label])
        target = f"   goal < {goal:.2f} s" if goal is not None else ""
        print(f"  {label:30s} {wall:6.3f} s {wall / floor:7.1f}x {cpu:6.3f} s{target}")


if __name__ == "__main__":
    main()
