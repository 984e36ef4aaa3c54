"""Shared fixtures: where Bitcoin's public test vectors live.

The vectors sit in ../shared/vectors relative to the project root and are never
copied into the project.
"""

from pathlib import Path

import pytest
from paths import VECTORS


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS}")
    return VECTORS
