"""The pre-commit hooks this repository ships name real commands (checked through click), and the
README's stanza offers every one of them. tests/release/test_precommit.py runs them through pre-commit."""

from __future__ import annotations

import shlex

import yaml
from click.testing import CliRunner

from schemabus.codegen.cli import main

from .conftest import ROOT
from .release.readme import precommit_stanza


def test_hooks_run_real_commands() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    local = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert {h["id"] for h in hooks} == {h["id"] for h in local}
    for hook in [*hooks, *local]:
        program, *args = shlex.split(hook["entry"])
        assert program.endswith("schemabus")
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, (hook["id"], result.output)
        assert hook["pass_filenames"] is False


def test_readme_stanza_lists_every_hook() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    stanza = yaml.safe_load(precommit_stanza())
    (repo,) = stanza["repos"]
    assert [h["id"] for h in repo["hooks"]] == [h["id"] for h in hooks]
    assert repo["rev"] == "<full commit SHA>"
