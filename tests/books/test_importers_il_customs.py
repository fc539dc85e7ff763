"""Israeli customs book importer (``il-customs-xml``), on a hand-written ITA-shaped export."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from sivug.books.importers import ImportValidationError, importer_for
from sivug.books.importers.il_customs import import_il_customs

TODAY = date(2026, 1, 15)


def _copy(fixtures_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "il"
    shutil.copytree(fixtures_dir / "il_customs", target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_fixture_builds_a_bilingual_tree(fixtures_dir: Path) -> None:
    book = import_il_customs(fixtures_dir / "il_customs", version="2026-01", today=TODAY)

    assert (book.id, book.country, book.digits) == ("IL-CUSTOMS-2026-01", "IL", 10)
    assert book.languages == ("he", "en")
    # Codes padded with zeros are cut to their level; separators and check digit dropped.
    assert [line.code for line in book.path("0101290000")] == ["01", "0101", "010129", "0101290000"]
    assert book.path_text("0101210000", "he") == (
        "בעלי חיים חיים > סוסים, חמורים, פרדות ופרדים, חיים > סוסים: גזעיים להרבעה > גזעיים להרבעה"
    )
    assert book.path_text("0101210000") == (
        "Live animals > Live horses, asses, mules and hinnies"
        " > Horses: pure-bred breeding animals > Pure-bred breeding animals"
    )


def test_current_texts_and_items_in_force(fixtures_dir: Path) -> None:
    book = import_il_customs(fixtures_dir / "il_customs", today=TODAY)

    # The 2022 text replaced the 2012 one; the 2099 one is not in force yet.
    assert book.lines["0101"].texts["en"] == "Live horses, asses, mules and hinnies"
    # 0101 30 ended in 2021: it is left out with the line below it.
    assert "010130" not in book.lines
    assert "0101300000" not in book.lines
    # Earlier, the old texts and the ended subheading are back.
    old = import_il_customs(fixtures_dir / "il_customs", today=date(2020, 6, 1))
    assert old.lines["0101"].texts["en"] == "Live horses, asses and mules"
    assert old.lines["010130"].texts["he"] == "חמורים"


def test_grouping_item_and_chapter_notes(fixtures_dir: Path) -> None:
    book = import_il_customs(fixtures_dir / "il_customs", today=TODAY)

    grouping = book.lines[book.lines["6109100010"].parent or ""]
    assert grouping.is_grouping
    assert grouping.parent == "610910"
    assert grouping.texts == {"he": "לגברים או לנערים:", "en": "Men's or boys':"}
    assert [c.code for c in book.children("610910")] == [grouping.code, "6109100090"]
    assert book.chapter_notes["01"].startswith("This Chapter covers all live animals except fish")
    assert "למעט דגים" in book.chapter_notes["01"]
    assert "old wording" not in book.chapter_notes["01"]
    assert book.lines["61"].notes == book.chapter_notes["61"]
    assert "made up knitted or crocheted articles" in book.chapter_notes["61"]


def test_zip_archive(fixtures_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "customs_book_20260101.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in (fixtures_dir / "il_customs").iterdir():
            zf.write(file, f"export/{file.name.lower()}")

    book = importer_for("il-customs-xml")(archive, version=None)

    assert book.id == "IL-CUSTOMS-20260101"
    assert "6109100090" in book.lines


def test_bad_parent_and_wrong_length_are_named(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)
    items = directory / "CustomsItem.xml"
    _replace(items, "<ID>1105</ID><Parent_ID>1102", "<ID>1105</ID><Parent_ID>9999")
    _replace(items, "<FullClassification>6109100010</", "<FullClassification>610910001</")

    with pytest.raises(ImportValidationError) as caught:
        import_il_customs(directory, today=TODAY)

    assert caught.value.problems == [
        ("CustomsItem.xml record 14", "6109100090", "parent ID 9999 not found"),
    ]
    _replace(items, "<Parent_ID>9999", "<Parent_ID>1102")

    with pytest.raises(ImportValidationError) as caught:
        import_il_customs(directory, today=TODAY)

    assert caught.value.problems == [
        ("CustomsItem.xml record 13", "610910001", "code has 9 digits, expected 2, 4, 6, 8 or 10"),
    ]


def test_ten_digit_code_without_subheading(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)
    _replace(
        directory / "CustomsItem.xml",
        "<ID>1006</ID><Parent_ID>1005</Parent_ID><FullClassification>01.01.290000/5",
        "<ID>1006</ID><Parent_ID>1002</Parent_ID><FullClassification>01.01.400000/5",
    )

    with pytest.raises(ImportValidationError) as caught:
        import_il_customs(directory, today=TODAY)

    assert caught.value.problems == [
        (
            "CustomsItem.xml record 6",
            "0101400000",
            "first 6 digits 010140 are not an HS subheading in the book",
        )
    ]


def test_malformed_xml_and_missing_file(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)
    _replace(directory / "CustomsItemDetailsHistory.xml", "</EnglishDescription>", "</English>")

    with pytest.raises(ImportValidationError, match=r"CustomsItemDetailsHistory\.xml:3:\d+"):
        import_il_customs(directory, today=TODAY)

    (directory / "CustomsItemDetailsHistory.xml").unlink()
    with pytest.raises(ImportValidationError, match=r"missing CustomsItemDetailsHistory\.xml"):
        import_il_customs(directory, today=TODAY)


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r><CustomsItem><ID>&b;</ID>'
        "</CustomsItem></r>"
    )
    (tmp_path / "CustomsItem.xml").write_text(bomb, encoding="utf-8")
    (tmp_path / "CustomsItemDetailsHistory.xml").write_text("<r/>", encoding="utf-8")

    with pytest.raises(ImportValidationError, match="refused XML"):
        import_il_customs(tmp_path, today=TODAY)
