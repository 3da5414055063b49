"""bench/importer_compare.py runs (the peers come with the ``bench`` extra, which scripts/setup
installs), and the README shows the table it prints today."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import ROOT


def test_the_readme_shows_the_comparison_the_bench_prints() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "importer_compare.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("\n", 1)[1]  # after the comment naming the versions
    assert table.startswith("| field | schemabus |")
    assert table in (ROOT / "README.md").read_text(), "README's table is stale: paste bench/importer_compare.py's"
