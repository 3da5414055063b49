"""Golden trees: each tests/golden/<case>/ is a small project (pyproject.toml + schemas/) whose
expected output is committed in tests/golden/<case>/generated/. Compared whole, with a readable diff.

Re-record after an intended change:  scripts/test tests/codegen/test_golden.py --update-golden
A case whose files were rewritten then fails ("golden files rewritten: review the diff"): look at
`git diff tests/golden`, and run again without the option to see it pass.
"""

from __future__ import annotations

import pytest

from schemabus.codegen.config import load_config
from schemabus.codegen.output import diff_tree, write_tree
from schemabus.codegen.pipeline import generate

from ..conftest import GOLDEN, golden_cases


@pytest.mark.parametrize("case", golden_cases())
def test_golden_tree(case: str, update_golden: bool) -> None:
    config = load_config(GOLDEN / case / "pyproject.toml")
    files = generate(config)
    diff = diff_tree(config.package_dir, files, f"tests/golden/{case}/generated/{config.package}")
    if diff and update_golden:
        write_tree(config.package_dir, files)
        pytest.fail(f"golden files rewritten: review the diff (git diff tests/golden/{case}):\n{diff}", pytrace=False)
    assert not diff, f"generated code differs from the golden tree (re-record with --update-golden):\n{diff}"


def test_there_are_golden_cases() -> None:
    assert {"avro_features", "json_features", "unsafe_names"} <= set(golden_cases())
