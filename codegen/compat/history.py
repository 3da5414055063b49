"""The schemas directory as it was at each commit, read from git in three processes in all.

``git log --raw`` lists, for every commit on the first-parent line that touched the directory,
which blobs its files pointed to; replaying those changes gives each commit's tree without a
``git ls-tree`` per commit. One ``git cat-file --batch`` then reads every blob that is needed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import SchemaError, Source


class GitError(SchemaError):
    """git failed or the ref does not exist; printed like a schema error (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(Source("git"), message)


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=repo, input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def repo_root(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--show-toplevel").decode().strip())


def resolve_ref(repo: Path, ref: str) -> str:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except GitError:  # --quiet: git says nothing
        raise GitError(f'"{ref}" does not name a commit in {repo}') from None


def unborn(repo: Path) -> bool:
    """True before the first commit: HEAD names a branch that has no commit yet."""
    try:
        resolve_ref(repo, "HEAD")
    except GitError:
        git(repo, "symbolic-ref", "--quiet", "HEAD")  # raises unless HEAD is a branch (else: broken repo)
        return True
    return False


def default_base(repo: Path) -> tuple[str | None, str]:
    """The commit to compare with when no ``--against`` is given, and how it was chosen.

    The merge-base of HEAD with the main branch; in CI checkouts of a pull request the branch
    named by ``GITHUB_BASE_REF``; without any main branch (a detached, single-branch clone),
    HEAD itself, so the working tree is compared with the last commit. None before the first
    commit (a pre-commit hook on the first commit): there is no history to compare with.
    """
    if unborn(repo):
        return None, "first commit: nothing committed to compare with"
    candidates = []
    if os.environ.get("GITHUB_BASE_REF"):
        candidates.append(f"origin/{os.environ['GITHUB_BASE_REF']}")
    candidates += ["origin/HEAD", "main", "master", "origin/main", "origin/master"]
    for name in candidates:
        try:
            main = resolve_ref(repo, name)
        except GitError:
            continue
        base = git(repo, "merge-base", "HEAD", main).decode().strip()
        return base, f"merge-base of HEAD and {name}"
    return resolve_ref(repo, "HEAD"), "HEAD (no main branch found)"


@dataclass(frozen=True)
class Snapshot:
    """The schemas directory at one commit: path (relative to the directory) -> blob id."""

    commit: str
    files: dict[str, str]

    @property
    def label(self) -> str:
        return self.commit[:10]


def snapshots(repo: Path, base: str, directory: str) -> list[Snapshot]:
    """Every state of ``directory`` on the first-parent history up to ``base``, oldest first
    (one per commit that changed it)."""
    prefix = directory.rstrip("/") + "/"
    out = git(
        repo,
        "log",
        "--first-parent",
        "-m",
        "--reverse",
        "--raw",
        "--no-renames",
        "--no-abbrev",
        "--format=%x00%H",
        base,
        "--",
        directory,
    ).decode("utf-8", errors="surrogateescape")
    states: list[Snapshot] = []
    files: dict[str, str] = {}
    for chunk in out.split("\0")[1:]:
        lines = chunk.strip("\n").split("\n")
        commit = lines[0].strip()
        for line in lines[1:]:
            if not line.startswith(":"):
                continue
            meta, _, path = line.partition("\t")
            _, _, _, new_blob, status = meta[1:].split(" ")[:5]
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix) :]
            if status.startswith("D"):
                files.pop(rel, None)
            else:
                files[rel] = new_blob
        states.append(Snapshot(commit, dict(files)))
    return states


def read_blobs(repo: Path, blobs: Iterable[str]) -> dict[str, bytes]:
    """The contents of many blobs from one ``git cat-file --batch``."""
    ids = sorted(set(blobs))
    if not ids:
        return {}
    out = git(repo, "cat-file", "--batch", input=("\n".join(ids) + "\n").encode())
    contents: dict[str, bytes] = {}
    pos = 0
    for blob in ids:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        if len(header) < 3:
            raise GitError(f"cannot read blob {blob}: {out[pos:end].decode(errors='replace')}")
        size = int(header[2])
        contents[blob] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1  # the content is followed by a newline
    return contents
