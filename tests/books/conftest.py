"""Fixtures for the book importer tests: hand-written files in ``fixtures/``, no database."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def fixtures_dir() -> Path:
    return Path(__file__).parent / "fixtures"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the project; tests that need it skip when it is absent."""
    path = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not available")
    return path
