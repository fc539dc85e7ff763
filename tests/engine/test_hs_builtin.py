from __future__ import annotations

from sivug.books.importers.hs_builtin import load_hs2022


def test_hs2022_book_has_the_whole_nomenclature() -> None:
    book = load_hs2022()
    assert book.id == "HS2022"
    assert book.digits == 6
    # Chapters 01-97 without 77 (reserved); Comtrade's statistical "99" is not nomenclature.
    assert sum(1 for line in book.lines.values() if line.level == 2) == 96
    assert sum(1 for line in book.lines.values() if line.level == 4) == 1228
    assert sum(1 for line in book.lines.values() if line.level == 6) == 5612
    assert book.get("99") is None
    assert book.get("999999") is None


def test_codes_keep_leading_zeros_and_parents() -> None:
    book = load_hs2022()
    line = book.get("010121")
    assert line is not None
    assert line.parent == "0101"
    assert [p.code for p in book.path("010121")] == ["01", "0101", "010121"]
    assert "Horses" in book.path_text("010121")
