"""Write or diff a generated tree. Both consume the same ``{path: content}``, so --check stays honest."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Changes:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


def _owned(path: Path) -> bool:
    """Files schemabus wrote (they start with its header); py.typed markers of generated packages too."""
    if path.name == "py.typed":
        return True
    from .render.package import HEADER_MARK  # here: the renderer imports jinja2, which a no-op run never needs

    try:
        with path.open(encoding="utf-8") as f:
            return f.read(len(HEADER_MARK)) == HEADER_MARK
    except (OSError, UnicodeDecodeError):
        return False


def _existing(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def write_tree(root: Path, files: dict[str, str]) -> Changes:
    """Write files whose content changed; remove stale files that schemabus generated earlier."""
    changes = Changes()
    existing = _existing(root)
    for rel, content in files.items():
        path = root / rel
        old = existing.get(rel)
        if old is not None and old.read_text(encoding="utf-8") == content:
            changes.unchanged += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        changes.written.append(rel)
    for rel, path in sorted(existing.items()):
        if rel not in files and _owned(path):
            path.unlink()
            changes.removed.append(rel)
    # Remove directories left empty by stale modules (and their __pycache__).
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(x for x in d.iterdir() if x.name != "__pycache__"):
            for cache in d.glob("__pycache__"):
                for f in cache.iterdir():
                    f.unlink()
                cache.rmdir()
            d.rmdir()
    return changes


def diff_tree(root: Path, files: dict[str, str], display_root: str) -> str:
    """A unified diff from what is on disk to what would be generated ('' when up to date)."""
    import difflib  # here: a no-op run never diffs

    out: list[str] = []
    existing = _existing(root)
    for rel in sorted(set(files) | {r for r, p in existing.items() if _owned(p)}):
        old = existing[rel].read_text(encoding="utf-8") if rel in existing else ""
        new = files.get(rel, "")
        if old == new and (rel in existing) == (rel in files):
            continue
        name = f"{display_root}/{rel}"
        out.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=name if rel in existing else "/dev/null",
                tofile=name if rel in files else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def manifest_path(root: Path) -> Path:
    """Where the no-op cache of a generated tree lives: outside the checkout, in the user's cache."""
    base = Path(
        os.environ.get("SCHEMABUS_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "schemabus"
    )
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    return base / "generate" / f"{key}.json"


def record_manifest(root: Path, files: dict[str, str], inputs: str) -> None:
    """Remember the fingerprint of the inputs and a hash of every file written for them, so that a
    run with the same inputs can stop after hashing (see :func:`up_to_date`)."""
    manifest = {
        "inputs": inputs,
        "files": {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in sorted(files.items())},
    }
    path = manifest_path(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:
        pass  # the cache is an optimisation: an unwritable cache only makes the next run slower


def up_to_date(root: Path, inputs: str) -> bool:
    """True when the tree on disk was generated from these inputs and nobody changed it since."""
    try:
        manifest = json.loads(manifest_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("inputs") != inputs:
        return False
    listed: dict[str, str] = manifest.get("files", {})
    for rel, digest in listed.items():
        try:
            if hashlib.sha256((root / rel).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    # A generated file that the manifest does not list is stale: a full run must remove it.
    return all(rel in listed or not _owned(p) for rel, p in _existing(root).items())
