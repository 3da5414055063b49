"""The three pre-commit hooks as another repository uses them: through ``pre-commit try-repo`` and
through the README's stanza, on the Quickstart project in a scratch git repository.

pre-commit (from PyPI, in the development virtualenv) installs the hooks' repository at a commit
into a virtualenv of its own, as it does for any user. That repository is this working tree
committed into a scratch git repository (see ``hooks_repo``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT
from .install import Release, explain, ok, run, user_env
from .readme import precommit_stanza, quickstart_commands, readme_files
from .test_install import bash, write_files

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
IDENTITY = {
    "GIT_AUTHOR_NAME": "dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def _git(repo: Path, *args: str, env: dict[str, str]) -> str:
    return ok(run(["git", *args], cwd=repo, env=env)).stdout


@pytest.fixture(scope="module")
def env(release: Release) -> dict[str, str]:
    """A user without schemabus installed: git, and pre-commit with a store of its own."""
    home = release.scratch("pre-commit-home")
    (home / "gitconfig").write_text("")
    extra = {**IDENTITY, "PRE_COMMIT_HOME": str(home / "store"), "GIT_CONFIG_GLOBAL": str(home / "gitconfig")}
    return user_env(None, home, extra)


@pytest.fixture(scope="module")
def hooks_repo(release: Release, env: dict[str, str]) -> tuple[Path, str]:
    """This working tree as a git repository at one commit (path, commit SHA): what the ``repo:``
    and ``rev:`` of the README's stanza name.

    Its files are those ``git add -A`` would commit here: tracked and untracked, not ignored. In a
    clean checkout (CI) it holds exactly HEAD's tree; with uncommitted changes, those are tested too.
    """
    repo = release.scratch("hooks-repo")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_symlink() or source.is_file():  # a tracked file deleted from the tree is not copied
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name, follow_symlinks=False)
    _git(repo, "init", "-q", "-b", "main", env=env)
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-q", "-m", "schemabus under test", env=env)
    clean = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, check=True, capture_output=True).stdout == b""
    if clean:
        head_tree = subprocess.run(["git", "rev-parse", "HEAD^{tree}"], cwd=ROOT, check=True, capture_output=True)
        assert _git(repo, "rev-parse", "HEAD^{tree}", env=env) == head_tree.stdout.decode()
    return repo, _git(repo, "rev-parse", "HEAD", env=env).strip()


def quickstart_repo(release: Release, name: str, env: dict[str, str]) -> Path:
    """The Quickstart project, generated (with the released wheel), in a new git repository with no commit."""
    project = write_files(release.scratch(name), readme_files())
    generate = quickstart_commands()[1].splitlines()[0]
    assert generate == "schemabus generate"
    bash(release.wheel_venv, generate, project)
    _git(project, "init", "-q", "-b", "main", env=env)
    return project


def hook_results(output: str) -> dict[str, str]:
    """hook id -> Passed/Failed/Skipped, from pre-commit's report."""
    found = {}
    for hook in HOOKS:
        m = re.search(rf"^{re.escape(hook['name'])}\.+(?:\(no files to check\))?(Passed|Failed|Skipped)$", output, re.M)
        assert m, f"{hook['id']} did not run:\n{output}"
        found[hook["id"]] = m.group(1)
    return found


@dataclass
class TryRepo:
    process: subprocess.Popen[str]

    def result(self) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=240)
        return self.process.returncode, out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture(scope="module")
def try_repo(release: Release, env: dict[str, str], hooks_repo: tuple[Path, str]) -> Iterator[TryRepo]:
    """``pre-commit try-repo <hooks repo> --ref <sha> --all-files`` on the committed Quickstart,
    running in the background (it installs a hook environment of its own, as the stanza does)."""
    repo, sha = hooks_repo
    project = quickstart_repo(release, "try-repo", env)
    _git(project, "add", "-A", env=env)
    _git(project, "commit", "-q", "-m", "Quickstart", env=env)
    running = TryRepo(
        subprocess.Popen(
            [*PRE_COMMIT, "try-repo", str(repo), "--ref", sha, "--all-files"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    )
    yield running
    running.stop()


def test_readme_stanza_from_the_first_commit(
    release: Release, env: dict[str, str], hooks_repo: tuple[Path, str], try_repo: TryRepo
) -> None:
    # try_repo runs meanwhile (see the next test): both spend most of their time installing.
    repo, sha = hooks_repo
    project = quickstart_repo(release, "stanza", env)
    stanza = precommit_stanza()
    # The stanza as written, with its two placeholders filled in.
    stanza, n = re.subn(r"(?m)^(\s+- repo: )<schemabus repository URL>$", rf"\g<1>{repo}", stanza)
    stanza, m = re.subn(r"(?m)^(\s+rev: )<full commit SHA>(\s+#.*)?$", rf"\g<1>{sha}\g<2>", stanza)
    assert (n, m) == (1, 1), stanza
    (project / ".pre-commit-config.yaml").write_text(stanza)
    ok(run([*PRE_COMMIT, "install"], cwd=project, env=env))

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        _git(project, "add", "-A", env=env)
        return run(["git", "commit", "-q", "-m", message], cwd=project, env=env)

    # The first commit: nothing to compare with yet, the lint's default rules pass, generated/ is current.
    first = ok(commit("Quickstart"))
    assert hook_results(first.stdout + first.stderr) == {h["id"]: "Passed" for h in HOOKS}

    # A field without a default breaks readers of committed data, and generated/ is now stale.
    schema = project / "schemas" / "shop" / "order" / "placed.avsc"
    v1 = json.loads(schema.read_text())
    field = {"name": "channel", "type": "string", "doc": "Where the order was placed."}
    schema.write_text(json.dumps({**v1, "fields": [*v1["fields"], field]}, indent=2))
    refused = commit("channel")
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, explain(refused)
    assert hook_results(out) == {
        "schemabus-check": "Failed",
        "schemabus-lint": "Passed",
        "schemabus-generate-check": "Failed",
    }
    assert "schemas/shop/order/placed.avsc#/fields/4: " in out and "(READER_FIELD_MISSING_DEFAULT_VALUE)" in out

    # With a default and the package regenerated, the change is committed.
    schema.write_text(json.dumps({**v1, "fields": [*v1["fields"], {**field, "default": "web"}]}, indent=2))
    bash(release.wheel_venv, "schemabus generate", project)
    done = ok(commit("channel, with a default"))
    assert hook_results(done.stdout + done.stderr) == {h["id"]: "Passed" for h in HOOKS}
    assert _git(project, "log", "--format=%s", env=env).splitlines() == ["channel, with a default", "Quickstart"]


def test_try_repo_runs_the_three_hooks(try_repo: TryRepo) -> None:
    code, out = try_repo.result()
    assert code == 0, out
    assert hook_results(out) == {h["id"]: "Passed" for h in HOOKS}
