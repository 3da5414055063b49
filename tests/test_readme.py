"""The README's quickstart, run as written: its files are the code blocks starting with `# file:`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from schemabus.codegen.cli import main

from .conftest import ROOT


def readme_files() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    files = {}
    for block in re.findall(r"```\w*\n(.*?)```", text, flags=re.S):
        first, _, rest = block.partition("\n")
        m = re.fullmatch(r"(?:#|//) file: (\S+)", first.strip())
        if m:
            files[m.group(1)] = rest
    return files


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    files = readme_files()
    assert {"pyproject.toml", "schemas/catalog.toml", "quickstart.py"} <= set(files)
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    result = CliRunner().invoke(main, ["generate", "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "generated")}
    run = subprocess.run([sys.executable, "quickstart.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "billing order" in run.stdout and "stored at shop.order.placed[" in run.stdout
    check = CliRunner().invoke(main, ["generate", "--check", "--project", str(tmp_path)])
    assert check.exit_code == 0, check.output
