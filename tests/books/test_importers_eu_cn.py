"""EU Combined Nomenclature importer (``eu-cn-json``)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sivug.books.importers import ImportValidationError, importer_for
from sivug.books.importers.eu_cn import import_eu_cn


def _copy(fixtures_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "cn"
    shutil.copytree(fixtures_dir / "eu_cn", target)
    return target


def _edit(directory: Path, kind: str, change: Any) -> None:
    path = directory / f"cn{kind}_2026.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    change(records)
    path.write_text(json.dumps(records), encoding="utf-8")


def test_fixture_builds_the_tree(fixtures_dir: Path) -> None:
    book = import_eu_cn(fixtures_dir / "eu_cn")

    assert (book.id, book.country, book.version, book.digits) == ("EU-CN-2026", "EU", "2026", 8)
    assert book.sections["XI"].title == "TEXTILES AND TEXTILE ARTICLES"
    assert [line.code for line in book.path("01012910")] == ["01", "0101", "010129", "01012910"]
    assert book.path_text("01012910") == (
        "LIVE ANIMALS > Live horses, asses, mules and hinnies > Other > For slaughter"
    )
    assert book.lines["01012910"].attributes == {"supplementary_unit": "PST"}
    assert book.lines["01012910"].section == "I"
    assert [c.code for c in book.children("6109")] == ["610910", "610990"]


def test_missing_subheadings_and_headings_are_derived(fixtures_dir: Path) -> None:
    book = import_eu_cn(fixtures_dir / "eu_cn")

    # 6109 10 00 has no 6-digit line in the files: it is its HS subheading, undivided.
    assert book.lines["610910"].text() == "Of cotton"
    assert book.lines["610910"].attributes == {"derived_from": "61091000"}
    assert book.lines["61091000"].parent == "610910"
    # Heading 0205 is absent; its one subheading 0205 00 carries its text.
    assert book.lines["0205"].text().startswith("Meat of horses")
    assert book.lines["0205"].attributes == {"derived_from": "020500"}
    assert [line.code for line in book.path("02050080")] == ["02", "0205", "020500", "02050080"]
    # Heading 0409 has a single code 0409 00 00 and nothing else.
    assert [line.code for line in book.path("04090000")] == ["04", "0409", "040900", "04090000"]
    assert book.path_text("04090000").endswith("> Natural honey > Natural honey > Natural honey")


def test_registry_and_version_argument(fixtures_dir: Path) -> None:
    book = importer_for("eu-cn-json")(fixtures_dir / "eu_cn", version="2026")
    assert book.id == "EU-CN-2026"
    with pytest.raises(ValueError, match="eu-cn-json"):
        importer_for("eu-cn-xml")


def test_code_whose_subheading_is_missing_is_named(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)
    # 6109 90 is subdivided, so its 6-digit line cannot be derived from one code.
    _edit(directory, "Subheadings", lambda rows: rows.pop())

    with pytest.raises(ImportValidationError) as caught:
        import_eu_cn(directory)

    problems = caught.value.problems
    assert [(where, code) for where, code, _ in problems] == [
        ("cnCodes_2026.json record 8", "61099020"),
        ("cnCodes_2026.json record 9", "61099090"),
    ]
    assert problems[0][2] == "parent 610990 does not exist"
    assert "cnCodes_2026.json record 8: 61099020: parent 610990 does not exist" in str(caught.value)


def test_wrong_length_and_missing_field_are_named(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)

    def damage(rows: list[dict[str, Any]]) -> None:
        rows[1]["code"] = "0101291"
        del rows[4]["name"]

    _edit(directory, "Codes", damage)

    with pytest.raises(ImportValidationError) as caught:
        import_eu_cn(directory)

    assert caught.value.problems == [
        ("cnCodes_2026.json record 2", "0101291", "code must be 8 digits"),
        ("cnCodes_2026.json record 5", "02050080", "missing field 'name'"),
    ]


def test_malformed_json_names_the_line(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)
    path = directory / "cnHeadings_2026.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"chapter": "61"', '"chapter" "61"'))

    with pytest.raises(ImportValidationError, match=r"cnHeadings_2026\.json:3:\d+: malformed JSON"):
        import_eu_cn(directory)


def test_missing_file_is_reported(fixtures_dir: Path, tmp_path: Path) -> None:
    directory = _copy(fixtures_dir, tmp_path)
    (directory / "cnCodes_2026.json").unlink()

    with pytest.raises(ImportValidationError, match="missing cnCodes"):
        import_eu_cn(directory, version="2026")


def test_real_eu_cn_2026(shared_data: Path) -> None:
    book = import_eu_cn(shared_data / "eu-cn-2026")

    levels = Counter(line.level for line in book.lines.values())
    assert levels == {2: 97, 4: 1228, 6: 5612, 8: 9791}
    assert len(book) == 16728
    derived = Counter(len(x.code) for x in book.lines.values() if "derived_from" in x.attributes)
    assert derived == {4: 271, 6: 3777}
    assert len(book.sections) == 21
    assert not any(line.is_grouping for line in book.lines.values())
    assert book.path_text("61091000") == (
        "ARTICLES OF APPAREL AND CLOTHING ACCESSORIES, KNITTED OR CROCHETED"
        " > T-shirts, singlets and other vests, knitted or crocheted > Of cotton > Of cotton"
    )
    assert [line.code for line in book.path("02050020")] == ["02", "0205", "020500", "02050020"]
    assert book.path_text("85171300").startswith("ELECTRICAL MACHINERY")
    assert book.lines["22042109"].attributes.get("supplementary_unit") == "L"
    # Chapter 98 (complete industrial plant) has no codes in the files.
    assert {leaf.code for leaf in book.leaves() if len(leaf.code) != 8} == {"98"}
