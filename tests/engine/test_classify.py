"""Behaviour a user of the engine would notice, on the built-in HS 2022 book."""

from __future__ import annotations

import json

import pytest

from sivug.engine import Engine


@pytest.mark.parametrize(
    ("description", "prefix"),
    [
        ("Men's cotton knitted polo shirt", "6105"),
        ("Women's leather handbag", "420221"),
        ("Stainless steel kitchen knife", "8211"),
        ("Wireless bluetooth earbuds with charging case", "851830"),
        ("Mobile phone charger 20W USB-C", "8504"),
        ("Ceramic coffee mug 350ml", "69"),
        ("Wooden dining table", "9403"),
        ("LED ceiling light", "9405"),
        ("Roasted coffee beans 1kg", "0901"),
        ("Plush teddy bear toy for kids", "9503"),
        ("Lipstick matte long lasting", "330410"),
        ("Car brake pads front set", "87083"),
        ("Dog food dry kibble 10kg", "230910"),
        ("Yoga mat non slip 6mm", "9506"),
        ("Electric kettle 1.7L", "851679"),
    ],
)
def test_clear_products_land_in_the_right_place(
    hs_engine: Engine, description: str, prefix: str
) -> None:
    result = hs_engine.classify(description)
    best = result.code or ""
    assert result.status != "rejected_vague"
    context = (description, result.code, [a.code for a in result.alternatives])
    assert best.startswith(prefix[: len(best)]), context
    assert len(best) >= min(len(prefix), 4), context
    assert any(a.code.startswith(prefix) for a in result.alternatives)


def test_noisy_title_finds_the_product_noun(hs_engine: Engine) -> None:
    title = "ZENVY 2024 New Premium Women's Cotton T-Shirt Free Shipping Navy Blue XL 2 Pcs"
    result = hs_engine.classify(title)
    assert result.code == "610910"
    assert "tshirt" in result.rationale["decisive_words"]


def test_charger_for_a_phone_is_a_charger_not_a_phone(hs_engine: Engine) -> None:
    result = hs_engine.classify("Fast charger for iPhone 15 and Samsung phones")
    assert (result.code or "").startswith("8504")


def test_category_attribute_is_evidence(hs_engine: Engine) -> None:
    result = hs_engine.classify(
        "AURORA Classic 2024", {"category": "Home & Kitchen > Bedding > Duvet Covers"}
    )
    assert (result.code or "").startswith("6302")


@pytest.mark.parametrize(
    "description", ["gift", "sample", "spare parts", "goods", "personal effects", "ORD-88812-XK"]
)
def test_vague_descriptions_are_rejected_with_a_message(
    hs_engine: Engine, description: str
) -> None:
    result = hs_engine.classify(description)
    assert result.status == "rejected_vague"
    assert result.code is None
    assert "give" in result.message or "say what" in result.message


def test_gift_message_says_what_is_missing(hs_engine: Engine) -> None:
    message = hs_engine.classify("gift").message
    assert "'gift'" in message
    assert "product" in message
    assert "material" in message


@pytest.mark.parametrize(
    "description",
    ["abalone", "cotton t-shirt", "100ml bottle", "cotton", "steel screws", "plastic toys"],
)
def test_legit_short_descriptions_are_not_rejected(hs_engine: Engine, description: str) -> None:
    assert hs_engine.classify(description).status != "rejected_vague"


def test_weak_subheading_evidence_stops_at_the_heading(hs_engine: Engine) -> None:
    result = hs_engine.classify("t-shirt")
    assert result.code == "6109"
    assert result.level == 4
    assert result.status == "needs_info"
    assert result.confidence_by_level["subheading"] < result.confidence_by_level["heading"]


def test_questions_ask_for_the_material_and_answers_decide(hs_engine: Engine) -> None:
    first = hs_engine.classify("t-shirt")
    question = first.questions[0]
    assert question.id.startswith("material")
    labels = " ".join(o.label for o in question.options)
    assert "cotton" in labels
    by_text = hs_engine.classify("t-shirt", answers={question.id: "cotton"})
    assert by_text.status == "classified"
    assert by_text.code == "610910"
    by_code = hs_engine.classify("t-shirt", answers={question.id: "610990"})
    assert by_code.code == "610990"


def test_answers_make_an_interactive_session_converge(hs_engine: Engine) -> None:
    answers: dict[str, str] = {}
    result = hs_engine.classify("shirt")
    for _ in range(5):
        if result.status != "needs_info":
            break
        question = result.questions[0]
        answers[question.id] = question.options[0].value
        result = hs_engine.classify("shirt", answers=answers)
    assert result.status == "classified"
    assert len(result.code or "") == 6


def test_set_gets_gri_3b(hs_engine: Engine) -> None:
    result = hs_engine.classify("Gift set of a cotton t-shirt and a baseball cap")
    rules = [r["rule"] for r in result.rationale["rules"]]
    assert "GRI 3(b)" in rules


def test_rationale_lists_path_and_rules(hs_engine: Engine) -> None:
    result = hs_engine.classify("women's cotton knitted dress")
    assert result.code is not None
    assert result.rationale["path"][0]["code"] == result.code[:2]
    rules = [r["rule"] for r in result.rationale["rules"]]
    assert "GRI 1" in rules
    if result.level >= 6:
        assert "GRI 6" in rules


def test_result_is_json_serialisable(hs_engine: Engine) -> None:
    data = hs_engine.classify("leather wallet").to_dict()
    text = json.dumps(data)
    assert data["engine"].startswith("sivug-offline/")
    assert data["book"] == "HS2022"
    assert "alternatives" in json.loads(text)


def test_lookup_and_search(hs_engine: Engine) -> None:
    line = hs_engine.lookup("610910")
    assert line is not None
    assert line.path[0] == ("61", hs_engine.book.lines["61"].text())
    assert "T-shirts" in line.path_text
    hits = hs_engine.search("electric kettle", limit=5)
    assert hits
    assert hits[0].code.startswith("8516")
    assert hs_engine.search("0101", limit=3)[0].code == "0101"
