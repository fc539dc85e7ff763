"""US HTS importer (``usitc-hts``), on hand-written USITC-shaped exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sivug.books.importers import ImportValidationError, importer_for
from sivug.books.importers.usitc_hts import import_usitc_hts


def _rows(fixtures_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        (fixtures_dir / "hts_2026_basic.json").read_text(encoding="utf-8")
    )
    return rows


def _write(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "hts_2026.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_json_export_builds_the_tree(fixtures_dir: Path) -> None:
    book = import_usitc_hts(fixtures_dir / "hts_2026_basic.json")

    assert (book.id, book.country, book.version, book.digits) == ("US-HTS-2026", "US", "2026", 10)
    # No chapter rows in USITC exports: chapters are created.
    assert book.lines["01"].text() == "Chapter 1"
    assert book.lines["0101"].parent == "01"
    # "Horses:" has no htsno: a grouping line whose children hang from it.
    horses = book.lines["01012100"]
    grouping = book.lines[book.lines["010121"].parent or ""]
    assert grouping.is_grouping
    assert grouping.text() == "Horses:"
    assert grouping.parent == "0101"
    assert grouping.level == 4
    assert book.path_text("0101210020") == (
        "Chapter 1 > Live horses, asses, mules and hinnies: > Horses: > Purebred breeding animals"
        " > Purebred breeding animals > Females"
    )
    assert horses.attributes == {"general": "Free", "other": "Free"}
    # A printed 6-digit line keeps its own text; an unprinted one is derived.
    assert book.lines["010190"].text() == "Other:"
    assert not book.lines["010190"].attributes
    assert book.lines["010130"].attributes == {"derived_from": "01013000"}
    assert book.lines["01013000"].attributes == {
        "general": "6.8%",
        "special": "Free (A+,AU,BH,CA,CL,CO,D,E,IL,JO,KR,MA,MX,OM,P,PA,PE,S,SG)",
        "other": "15%",
        "units": "No.",
    }


def test_grouping_codes_sort_in_place_and_never_collide(fixtures_dir: Path) -> None:
    book = import_usitc_hts(fixtures_dir / "hts_2026_basic.json")

    children = book.children("61091000")
    assert [c.text() for c in children] == ["Men's or boys':", "Women's or girls':"]
    women = children[1]
    assert [c.text() for c in book.children(women.code)] == [
        "Tank tops and singlets:",
        "Other (339)",
    ]
    assert book.path_text("6109100040").endswith(
        "> Of cotton > Women's or girls': > Tank tops and singlets: > Other (352)"
    )
    groupings = [line for line in book.lines.values() if line.is_grouping]
    assert len(groupings) == 4
    assert all("~" in g.code and g.code.startswith(g.code[:4]) for g in groupings)
    ordered = sorted(book.lines)
    assert ordered.index(women.code) < ordered.index("6109100037")
    assert ordered.index(women.code) > ordered.index("6109100012")
    assert book.lines["61091000"].attributes["footnotes"] == "general: See 9903.88.15."
    assert book.lines["6109100004"].attributes == {"units": "doz., kg"}


def test_csv_export_with_usitc_headings(fixtures_dir: Path) -> None:
    book = importer_for("usitc-hts")(fixtures_dir / "hts_2026_chapter61.csv", version=None)

    assert book.id == "US-HTS-2026"
    assert book.lines["61"].text() == (
        "Articles of apparel and clothing accessories, knitted or crocheted"
    )
    assert book.sections["XI"].title == "Textiles and textile articles"
    assert book.lines["6109"].section == "XI"
    assert book.lines["61099010"].attributes == {
        "general": "32%",
        "other": "90%",
        "units": "doz., kg",
    }
    assert book.path_text("6109100012").endswith(
        "> Of cotton > Men's or boys': > Other T-shirts (338)"
    )


def test_version_from_argument_or_revision_in_file_name(tmp_path: Path, fixtures_dir: Path) -> None:
    path = tmp_path / "hts_2026_revision_3_json.json"
    path.write_bytes((fixtures_dir / "hts_2026_basic.json").read_bytes())
    assert import_usitc_hts(path).id == "US-HTS-2026R3"
    assert import_usitc_hts(path, version="2026.1").id == "US-HTS-2026.1"
    nameless = tmp_path / "export.json"
    nameless.write_bytes(path.read_bytes())
    with pytest.raises(ImportValidationError, match="pass a version"):
        import_usitc_hts(nameless)


def test_bad_lines_are_named_in_file_order(fixtures_dir: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures_dir)
    rows[3]["htsno"] = "0101.21.00.1"  # 9 digits
    rows[10]["htsno"] = "0102.90.30"  # under 0101.90
    # Two 8-digit codes straight under the heading, with no 0101.40 line.
    rows.insert(12, dict(rows[11], htsno="0101.40.10", indent="1"))
    rows.insert(13, dict(rows[11], htsno="0101.40.20", indent="1"))

    with pytest.raises(ImportValidationError) as caught:
        import_usitc_hts(_write(tmp_path, rows))

    assert caught.value.problems == [
        ("hts_2026.json item 4", "010121001", "code has 9 digits, expected 2, 4, 6, 8 or 10"),
        # its HS subheading, derived from it, is misplaced too
        ("hts_2026.json item 11", "010290", "does not start with its parent's code 010190"),
        ("hts_2026.json item 11", "01029030", "first 4 digits 0102 are not a heading in the book"),
        (
            "hts_2026.json item 13",
            "01014010",
            "first 6 digits 010140 are not an HS subheading in the book",
        ),
        (
            "hts_2026.json item 14",
            "01014020",
            "first 6 digits 010140 are not an HS subheading in the book",
        ),
    ]
    assert str(caught.value).startswith(
        "5 problems in hts_2026.json: hts_2026.json item 4: 010121001: code has 9 digits"
    )


def test_indent_that_skips_a_level_is_caught(fixtures_dir: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures_dir)
    rows[4]["indent"] = "2"  # 0101.21.00.20 moves up under "Horses:"

    with pytest.raises(ImportValidationError) as caught:
        import_usitc_hts(_write(tmp_path, rows))

    assert caught.value.problems == [
        (
            "hts_2026.json item 5",
            "0101210020",
            "hangs from 0101 but 01012100 is the closest line above it",
        )
    ]


def test_malformed_files(tmp_path: Path) -> None:
    broken = tmp_path / "hts_2026.json"
    broken.write_text('[{"htsno": "0101", "indent": 0,\n "description": }]', encoding="utf-8")
    with pytest.raises(ImportValidationError, match=r"hts_2026\.json:2:\d+: malformed JSON"):
        import_usitc_hts(broken)

    csv_path = tmp_path / "hts_2026.csv"
    csv_path.write_text(
        "htsno,indent,description\n0101,0,Live horses\n0101.21.00,x,Purebred\n", encoding="utf-8"
    )
    with pytest.raises(ImportValidationError, match="line 3: 01012100: indent 'x' is not a number"):
        import_usitc_hts(csv_path)

    csv_path.write_text("htsno,description\n0101,Live horses\n", encoding="utf-8")
    with pytest.raises(ImportValidationError, match="line 2: missing field 'indent'"):
        import_usitc_hts(csv_path)
