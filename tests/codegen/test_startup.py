"""What the ``schemabus`` command imports before it does anything (issue #10, 7: start-up).

Structural, not timed: help texts and a no-op ``generate`` must not import the libraries that make
start-up slow (each is checked in ``sys.modules`` of a new process). bench/cli_bench.py times them.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from schemabus.codegen import cli

from ..conftest import GOLDEN

# Libraries that only some commands need, and that each take a large share of a command's start-up.
HEAVY = ("pydantic", "confluent_kafka", "jinja2", "jsonschema", "fastavro", "httpx", "ruff", "rich")

_PROBE = """
import json, sys
from schemabus.codegen.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or m.startswith({watched}))
print("\\n" + json.dumps(loaded))
"""


# schemabus's own modules that help texts do not need either.
WATCHED = (
    "schemabus.codegen.render",
    "schemabus.runtime.devstack",
    "schemabus.runtime.serde",
    "schemabus.runtime.config",
)
# ... nor a no-op generate (the lint rules, which lint --help loads, import the IR), which reads the
# versions of its dependencies without importlib.metadata, and starts no process.
NOOP_WATCHED = (
    *WATCHED,
    "schemabus.codegen.ir",
    "schemabus.codegen.load.avro",
    "schemabus.codegen.load.jsonschema",
    "importlib.metadata",
    "subprocess",
    "tempfile",
)


def loaded_modules(*args: str, env: dict[str, str] | None = None, watched: tuple[str, ...] = WATCHED) -> list[str]:
    """The modules of HEAVY and the ``watched`` ones that ``schemabus ARGS`` imported, in a new process."""
    code = _PROBE.format(heavy=set(HEAVY), watched=watched)
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["check", "--help"],
        ["generate", "--help"],
        ["register", "--help"],
        ["lint", "--help"],
        ["dlq", "--help"],
        ["dlq", "replay", "--help"],
        ["lag", "--help"],
        ["--version"],
    ],
    ids=" ".join,
)
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    assert loaded_modules(*args) == []


def test_noop_generate_imports_no_renderer(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(GOLDEN / "avro_features", root, ignore=shutil.ignore_patterns("generated"))
    env = {**os.environ, "SCHEMABUS_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run(
        [sys.executable, "-m", "schemabus.codegen", "generate", "-q", "--project", str(root)], env=env, check=True
    )
    assert loaded_modules("generate", "--project", str(root), env=env, watched=NOOP_WATCHED) == []


def test_help_lists_lazy_commands_as_they_are() -> None:
    """The help of a command loaded on demand is declared in cli.py; it must be the command's own."""
    runner = CliRunner()
    listed = runner.invoke(cli.main, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name, (_, _, help_text) in cli._LAZY_COMMANDS.items():
        command = cli.main.get_command(click_context(), name)
        assert command is not None and command.help is not None
        assert command.help.split("\n\n")[0].split() == help_text.split(), name
    # Every command is now loaded: the listing is the same as with stand-ins.
    assert runner.invoke(cli.main, ["--help"]).output == listed.output
    assert sorted(cli.main.commands) == cli.main.list_commands(click_context())


def click_context() -> click.Context:
    return click.Context(cli.main)


def test_runtime_names_load_on_first_use() -> None:
    """``schemabus.runtime`` binds its public names on first use; each comes from its own module."""
    heavy = sorted(HEAVY)
    code = (
        "import sys, schemabus.runtime as rt\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})\n"
        "names = [getattr(rt, n) for n in rt.__all__]\n"
        "print(heavy, len(names), sorted(set(rt.__all__) ^ set(rt._LAZY)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import schemabus.runtime as rt

    assert done.stdout.split() == ["[]", str(len(rt.__all__)), "[]"], done.stdout
    for name in rt.__all__:
        assert getattr(rt, name) is getattr(importlib.import_module(f"schemabus.runtime.{rt._LAZY[name]}"), name)


def test_dev_help_imports_no_heavy_library() -> None:
    """The dev stack runs java and talks HTTP: its help imports none of HEAVY."""
    assert [m for m in loaded_modules("dev", "--help") if not m.startswith("schemabus.")] == []


def test_the_runtime_commands_read_the_runtime_bootstrap_variable() -> None:
    from schemabus.runtime import cli_options, config

    assert cli_options.ENV_BOOTSTRAP == config.ENV_BOOTSTRAP


def test_cli_bench_runs() -> None:
    """bench/cli_bench.py still runs (one timed run of each command; the times are not checked)."""
    bench = Path(__file__).resolve().parents[2] / "bench" / "cli_bench.py"
    done = subprocess.run([sys.executable, str(bench), "--runs", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for label in ("python -c pass (floor)", "schemabus --help", "schemabus check (no-op)", "schemabus lint"):
        assert label in done.stdout, done.stdout
