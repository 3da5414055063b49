"""Writing a generated tree: stale generated files and the folders they leave go, files schemabus did
not write stay, and the no-op cache never stands in the way (unreadable or unwritable: just slower)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemabus.codegen.output import diff_tree, manifest_path, record_manifest, up_to_date, write_tree
from schemabus.codegen.render.package import HEADER_MARK

GENERATED = f"{HEADER_MARK}\nx = 1\n"


def test_stale_generated_modules_go_with_their_folders_and_caches_but_foreign_files_stay(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    write_tree(root, {"__init__.py": GENERATED, "old/__init__.py": GENERATED, "old/mod.py": GENERATED})
    cache = root / "old" / "__pycache__"
    cache.mkdir()
    (cache / "mod.cpython-311.pyc").write_bytes(b"\0")
    (root / "mine.py").write_text("# written by hand\n")
    (root / "latin1.py").write_bytes("# caf\xe9\n".encode("latin-1"))  # not UTF-8: not ours either

    changes = write_tree(root, {"__init__.py": GENERATED})
    assert sorted(changes.removed) == ["old/__init__.py", "old/mod.py"] and changes.unchanged == 1
    assert not (root / "old").exists()  # the folder, its __pycache__ included
    assert (root / "mine.py").exists() and (root / "latin1.py").exists()
    assert diff_tree(root, {"__init__.py": GENERATED}, "pkg") == ""  # foreign files are not a difference


def test_the_no_op_cache_is_an_optimisation_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pkg"
    files = {"__init__.py": GENERATED}
    write_tree(root, files)
    monkeypatch.setenv("SCHEMABUS_CACHE_DIR", str(tmp_path / "cache"))
    record_manifest(root, files, "inputs-1")
    assert up_to_date(root, "inputs-1") and not up_to_date(root, "inputs-2")
    (root / "__init__.py").unlink()  # a listed file that cannot be read any more
    assert not up_to_date(root, "inputs-1")

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("SCHEMABUS_CACHE_DIR", str(blocked))
    record_manifest(root, files, "inputs-1")  # cannot be written: no error
    assert not manifest_path(root).exists() and not up_to_date(root, "inputs-1")
