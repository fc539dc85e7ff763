"""Engine tests need no database: one HS 2022 engine shared by the whole module."""

from __future__ import annotations

from pathlib import Path

import pytest

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import Engine

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def hs_engine() -> Engine:
    return Engine(load_hs2022())
