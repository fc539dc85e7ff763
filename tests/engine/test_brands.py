"""A bare brand names a maker, not goods: rejected with a message saying what to add."""

from __future__ import annotations

import pytest

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_hs2022())


@pytest.mark.parametrize("description", ["Nike", "SAMSUNG", "Louis Vuitton", "Gucci original"])
def test_a_bare_brand_is_rejected(engine: Engine, description: str) -> None:
    result = engine.classify(description)
    assert result.status == "rejected_vague"
    assert "brand" in result.message
    assert "say what the product is" in result.message


@pytest.mark.parametrize(
    ("description", "chapter"),
    [("Nike Air Max running shoes", "64"), ("Samsung Galaxy S24 mobile phone", "85")],
)
def test_a_brand_with_the_product_is_classified(
    engine: Engine, description: str, chapter: str
) -> None:
    result = engine.classify(description)
    assert result.status != "rejected_vague"
    assert result.code is not None
    assert result.code.startswith(chapter)


def test_a_brand_with_a_category_is_not_rejected(engine: Engine) -> None:
    result = engine.classify("Nike", {"category": "Shoes > Men > Running shoes"})
    assert result.status != "rejected_vague"


def test_brand_names_that_are_goods_are_not_treated_as_brands(engine: Engine) -> None:
    assert engine.classify("apple").status == "classified"  # the fruit
