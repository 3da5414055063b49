"""The distribution: codegen/ and runtime/ ship as schemabus.codegen and schemabus.runtime, with
their templates, py.typed and the compiled codec (and its stub), from a normal wheel as well as
from the editable install."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from .conftest import ROOT


def _packages() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]  # type: ignore[no-any-return]


def test_every_source_package_is_listed() -> None:
    found = set()
    for top, name in (("codegen", "schemabus.codegen"), ("runtime", "schemabus.runtime")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]))
    assert found == set(_packages())


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("schemabus-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "schemabus/codegen/templates/avro_models.py.jinja",
        "schemabus/codegen/py.typed",
        "schemabus/runtime/py.typed",
        "schemabus/runtime/devstack/cli.py",
    ):
        assert required in names
    assert not any(n.startswith(("codegen/", "runtime/", "tests/")) for n in names)
    assert "schemabus/runtime/_speedups.pyi" in names
    assert any(n.startswith("schemabus/runtime/_speedups.") and n.endswith(".so") for n in names), names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import schemabus.codegen, schemabus.runtime.testing;"
        "assert schemabus.codegen.__file__.startswith(sys.argv[1]), schemabus.codegen.__file__;"
        "from schemabus.codegen.cli import main; main(['generate', '--output', sys.argv[2], sys.argv[3]])"
    )
    schema = ROOT / "schemas" / "common" / "error_info.avsc"
    done = subprocess.run(
        [sys.executable, "-c", code, str(target), str(tmp_path / "pkg"), str(schema)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pkg" / "avro_codecs.py").is_file()
