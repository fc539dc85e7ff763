"""Hebrew descriptions against a book with English texts only (HS 2022): the Hebrew product
noun and material words lead to the right lines."""

from __future__ import annotations

import pytest

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_hs2022())


@pytest.mark.parametrize(
    ("description", "code"),
    [
        ("חולצת טריקו כותנה", "610910"),  # cotton T-shirt
        ("מחבת אלומיניום", "761520"),  # aluminium frying pan
        ("ספל קרמיקה", "691200"),  # ceramic mug
        ("ארנק עור", "4202"),  # leather wallet
    ],
)
def test_hebrew_product_and_material(engine: Engine, description: str, code: str) -> None:
    result = engine.classify(description)
    assert result.status != "rejected_vague"
    assert result.code is not None
    assert result.code.startswith(code)


def test_a_hebrew_material_changes_the_subheading(engine: Engine) -> None:
    cotton = engine.classify("חולצת טריקו כותנה")
    polyester = engine.classify("חולצת טריקו פוליאסטר")
    assert cotton.code == "610910"
    assert polyester.code != "610910"
