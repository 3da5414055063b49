"""The README's quickstart, run as written in the development virtualenv: its files are the code
blocks starting with `# file:`. tests/release/ runs it again in a clean virtualenv holding only the
released wheel, with the README's shell commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from schemabus.codegen.cli import main

from .release.readme import quickstart_commands, readme_files


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    files = readme_files()
    assert {"pyproject.toml", "schemas/catalog.toml", "quickstart.py"} <= set(files)
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    assert quickstart_commands()[1].splitlines() == [
        "schemabus generate",
        "schemabus lint",
        "PYTHONPATH=generated python quickstart.py",
    ]
    result = CliRunner().invoke(main, ["generate", "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    # The default rules pass: a project following the Quickstart can adopt the pre-commit hooks as is.
    lint = CliRunner().invoke(main, ["lint", "--project", str(tmp_path)])
    assert lint.exit_code == 0, lint.output
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "generated")}
    run = subprocess.run([sys.executable, "quickstart.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "billing order" in run.stdout and "stored at shop.order.placed[" in run.stdout
    check = CliRunner().invoke(main, ["generate", "--check", "--project", str(tmp_path)])
    assert check.exit_code == 0, check.output
