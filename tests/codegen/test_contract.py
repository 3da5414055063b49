"""The contract between generated code and the runtime (runtime/contract.py): every runtime name a
generated module uses is exported for it, and a package generated for another contract refuses to
import with one clear line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import schemabus.runtime as runtime
from schemabus.runtime import avro, json_schema
from schemabus.runtime.contract import CONTRACT

from ..conftest import GOLDEN, ROOT

GENERATED = sorted([*(ROOT / "generated").rglob("*.py"), *GOLDEN.glob("*/generated/**/*.py")])
EXPORTS = {"_avro": set(avro.__all__), "_js": set(json_schema.__all__)}


@pytest.mark.parametrize("module", GENERATED, ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_code_uses_only_what_the_runtime_exports_for_it(module: Path) -> None:
    text = module.read_text()
    used = {(alias, name) for alias, name in re.findall(r"\b(_avro|_js)\.([A-Za-z_][A-Za-z0-9_]*)", text)}
    assert not {f"{a}.{n}" for a, n in used if n not in EXPORTS[a]}
    for line in re.findall(r"^from schemabus\.runtime import (.+)$", text, re.M):
        names = {n.split(" as ")[0].strip() for n in line.split(",")}
        assert names <= set(runtime.__all__) | {"avro", "json_schema"}, line


def test_a_package_for_another_contract_says_so_on_import(tmp_path: Path) -> None:
    package = tmp_path / "golden_avro_features"
    source = GOLDEN / "avro_features" / "generated" / "golden_avro_features"
    for file in source.rglob("*.py"):
        text = file.read_text().replace(f"_require_contract({CONTRACT}, __name__)", "_require_contract(99, __name__)")
        (package / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        (package / file.relative_to(source)).write_text(text)
    # The package's top level imports its modules on first use: the first model used checks the contract.
    run = subprocess.run(
        [sys.executable, "-c", "from golden_avro_features import OrderPlaced"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert re.match(
        r"schemabus\.runtime\.contract\.ContractError: golden_avro_features\.[a-z_.]*avro_models was generated", last
    ), last
    assert "runtime contract 99, and the installed schemabus" in last and f"speaks contract {CONTRACT}" in last
