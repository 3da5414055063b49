"""Compatibility-check benchmark: ``schemabus check`` at a transitive level on a git repository
with many subjects and versions (default 500 subjects x 10 committed versions).

    .venv/bin/python bench/check_bench.py [--subjects 500] [--versions 10]

Each commit adds a field with a default to every schema (compatible); the working tree then adds
one more, so every subject is compared with all its committed versions. Prints the time of the
check (in process, and as the command a user runs) and the share spent reading git.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from schemabus.codegen.compat.subjects import check_project
from schemabus.codegen.config import load_config


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def write_version(root: Path, subjects: int, version: int) -> None:
    for i in range(subjects):
        fields = [{"name": "id", "type": "string"}, {"name": "at", "type": "long"}]
        fields += [{"name": f"f{v}", "type": ["null", "string"], "default": None} for v in range(version)]
        schema = {"type": "record", "name": f"Event{i}", "namespace": f"bench.d{i % 10}", "fields": fields}
        (root / "schemas" / f"d{i % 10}" / f"e{i}.avsc").write_text(json.dumps(schema, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--versions", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="schemabus-check-bench-") as tmp:
        root = Path(tmp)
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.email", "bench@example.com")
        git(root, "config", "user.name", "bench")
        (root / "pyproject.toml").write_text('[tool.schemabus]\npackage = "bench_events"\n')
        for d in range(10):
            (root / "schemas" / f"d{d}").mkdir(parents=True)
        catalog = "".join(
            f'[topics."d{i % 10}.e{i}.happened"]\nkey = "string"\nvalue = "d{i % 10}/e{i}.avsc"\n'
            'compatibility = "FULL_TRANSITIVE"\n'
            for i in range(args.subjects)
        )
        (root / "schemas" / "catalog.toml").write_text(catalog)
        for v in range(args.versions):
            write_version(root, args.subjects, v)
            git(root, "add", "-A")
            git(root, "commit", "-q", "-m", f"version {v}")
        write_version(root, args.subjects, args.versions)  # the working tree: one more field each

        config = load_config(root / "pyproject.toml")
        started = time.perf_counter()
        report = check_project(config, None)
        in_process = time.perf_counter() - started
        assert not report.findings, [str(f) for f in report.findings[:3]]
        cli = [sys.executable, "-m", "schemabus.codegen", "check", "--project", str(root)]
        started = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True)
        command = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        print(
            f"{args.subjects} subjects x {args.versions} committed versions, FULL_TRANSITIVE "
            f"({report.versions_read} versions compared, both directions)"
        )
        print(
            f"schemabus check (in process):  {in_process:6.2f} s, of which git {report.git_seconds:5.2f} s "
            f"({report.git_seconds / in_process:5.1%})"
        )
        print(f"schemabus check (command):     {command:6.2f} s   goal < 5 s")


if __name__ == "__main__":
    main()
