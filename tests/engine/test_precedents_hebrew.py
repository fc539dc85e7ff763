"""Precedents as evidence, organisation scoping, and books with Hebrew texts."""

from __future__ import annotations

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import Book, Engine, Precedent, TariffLine


def test_precedent_changes_the_result_for_a_similar_description() -> None:
    engine = Engine(load_hs2022())
    description = "zorblax deluxe grooming widget"
    before = engine.classify(description)
    assert before.code is None or not before.code.startswith("8510")
    engine.add_precedents([Precedent("Zorblax grooming widget", "851020", "reference")])
    after = engine.classify(description)
    assert (after.code or "").startswith("8510")
    assert after.rationale["precedent"]["code"] == "851020"


def test_organisation_precedents_apply_only_to_that_organisation() -> None:
    engine = Engine(load_hs2022())
    engine.add_precedents(
        [Precedent("quibble flux capacitor", "903180", "org", organization_id="org-a")]
    )
    mine = engine.classify("quibble flux capacitor", organization_id="org-a")
    theirs = engine.classify("quibble flux capacitor", organization_id="org-b")
    anonymous = engine.classify("quibble flux capacitor")
    assert (mine.code or "").startswith("9031")
    assert not (theirs.code or "").startswith("9031")
    assert not (anonymous.code or "").startswith("9031")


def _hebrew_book() -> Book:
    def line(code: str, parent: str | None, en: str, he: str) -> TariffLine:
        return TariffLine(code, parent, len(code), {"en": en, "he": he})

    lines = [
        line("61", None, "Knitted apparel", "הלבשה סרוגה"),
        line("6109", "61", "T-shirts, singlets, knitted", "חולצות טי וגופיות, סרוגות"),
        line("6109100000", "6109", "Of cotton", "מכותנה"),
        line("6109900000", "6109", "Of other textile materials", "מחומרי טקסטיל אחרים"),
        line("94", None, "Furniture; lamps", "רהיטים; מנורות"),
        line("9401", "94", "Seats", "מושבים"),
        line("9401000000", "9401", "Seats, chairs", "כיסאות ומושבים"),
        line("9405", "94", "Lamps", "מנורות"),
        line("9405000000", "9405", "Lamps and lighting fittings", "מנורות וגופי תאורה"),
    ]
    return Book(
        id="IL-TEST",
        name="Tiny Israeli book",
        country="IL",
        version="test",
        digits=10,
        lines={x.code: x for x in lines},
        languages=("he", "en"),
    )


def test_hebrew_input_matches_hebrew_texts() -> None:
    engine = Engine(_hebrew_book())
    result = engine.classify("מנורות שולחן לסלון")
    assert result.status != "rejected_vague"
    assert (result.code or "").startswith("9405")
    cotton = engine.classify("חולצת טי מכותנה")
    assert cotton.code == "6109100000"


def test_hebrew_input_on_an_english_book_does_not_crash() -> None:
    engine = Engine(load_hs2022())
    result = engine.classify("חולצה כחולה מידה L")
    assert result.status in ("classified", "needs_info", "rejected_vague")
    assert result.to_dict()["book"] == "HS2022"
