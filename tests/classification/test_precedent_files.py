from __future__ import annotations

import json
from pathlib import Path

import pytest

from sivug.classification.precedent_files import PrecedentFileInvalid, read_precedents


def test_references_csv_skips_unusable_rows_by_line(tmp_path: Path) -> None:
    path = tmp_path / "refs.csv"
    path.write_text(
        "Goods Description,Commodity Code\nabalone,0307810000\nmug,plump m\nbolts,73181500\n"
    )
    loaded = read_precedents("uk-references", path)
    assert [(r.description, r.code) for r in loaded.records] == [
        ("abalone", "0307810000"),
        ("bolts", "73181500"),
    ]
    assert loaded.skipped == ["refs.csv line 3: 'plump m' is not a 6 to 10 digit commodity code"]


def test_rulings_keep_reference_and_justification(tmp_path: Path) -> None:
    path = tmp_path / "atar.json"
    ruling = {
        "ref": "600014923",
        "commodity_code": "3924100090",
        "description": "A plastic mug",
        "justification": "GIR 1 and 6",
    }
    path.write_text(json.dumps({"drafts": [{"ruling": ruling}]}))
    (record,) = read_precedents("uk-atar", path).records
    assert (record.source, record.reference, record.code) == ("ruling", "600014923", "3924100090")


def test_unknown_format_and_broken_json_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "refs.json"
    path.write_text('{"abalone": ')
    with pytest.raises(PrecedentFileInvalid, match=r"refs\.json line 1: not valid JSON"):
        read_precedents("uk-references", path)
    with pytest.raises(PrecedentFileInvalid, match="uk-references, uk-atar"):
        read_precedents("pdf", path)
