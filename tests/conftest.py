"""Shared test support: the repository root, the golden cases, and the --update-golden option."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time: a red build then means a change broke something, not that
# this run happened to draw a rarer case (local runs keep exploring new examples).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "pyproject.toml").is_file())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Re-record tests/golden/*/generated from the current generator instead of comparing.",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def import_golden(case: str) -> None:
    """Make a golden case's generated package importable (each has a distinct package name)."""
    path = str(GOLDEN / case / "generated")
    if path not in sys.path:
        sys.path.insert(0, path)
