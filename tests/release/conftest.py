"""The release stage: schemabus built and installed as a user installs it (see install.py)."""

from __future__ import annotations

import pytest

from .install import Release
from .install import release as _release


@pytest.fixture(scope="session")
def release(request: pytest.FixtureRequest) -> Release:
    return _release(request)
