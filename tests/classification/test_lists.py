from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook, load_workbook

from sivug.classification.lists import ListFileInvalid, parse_items, render_results


def test_jsonl_items_with_attributes_and_a_malformed_line() -> None:
    data = (
        b'{"id": "a1", "description": "leather wallet", "attributes": {"material": "leather"}}\n'
        b"{broken\n"
        b'{"id": "a3"}\n'
    )
    items = parse_items(data, "list.jsonl")
    assert [(i.id, i.description, i.attributes, i.error) for i in items] == [
        ("a1", "leather wallet", {"material": "leather"}, None),
        ("2", "", {}, "line 2: Expecting property name enclosed in double quotes"),
        ("a3", "", {}, "line 3: no description"),
    ]


def test_csv_extra_columns_become_attributes_and_lines_are_numbered() -> None:
    data = b"id,description,material\n1,wallet,leather\n2,,\n3,mug,ceramic\n"
    items = parse_items(data, "list.csv")
    assert items[0].attributes == {"material": "leather"}
    assert items[1].error == "line 3: no description"
    assert items[2].line == 4


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        ("id,description\n1,חולצת טריקו כותנה\n".encode("utf-16"), "utf16.csv"),
        ("id,description\n1,חולצת טריקו כותנה\n".encode("cp1255"), "hebrew-1255.csv"),
        ("id,description\n1,חולצת טריקו כותנה\n".encode("utf-8-sig"), "bom.csv"),
    ],
)
def test_hebrew_csv_in_every_common_encoding(encoded: bytes, name: str) -> None:
    (item,) = parse_items(encoded, name)
    assert item.description == "חולצת טריקו כותנה"


def test_a_file_without_a_description_column_is_refused_naming_the_line() -> None:
    with pytest.raises(ListFileInvalid, match="line 1: no 'description' column"):
        parse_items(b"id,name\n1,wallet\n", "list.csv")
    with pytest.raises(ListFileInvalid, match=r"\.csv, \.xlsx or \.jsonl"):
        parse_items(b"whatever", "list.pdf")


def test_xlsx_round_trip() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["ID", "Description", "Material"])
    sheet.append(["x1", "steel bolts", "steel"])
    sheet.append([None, None, None])
    sheet.append(["x3", "wool scarf", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    items = parse_items(buffer.getvalue(), "list.xlsx")
    assert [(i.line, i.id, i.attributes) for i in items] == [
        (2, "x1", {"material": "steel"}),
        (4, "x3", {}),
    ]
    rows = [
        {
            "id": "x1",
            "status": "classified",
            "code": "731815",
            "level": 6,
            "confidence": 0.9,
            "alternatives": [{"code": "731815", "confidence": 0.9}],
            "questions": [],
            "message": "",
            "engine": "sivug-offline/0.1.0",
            "error": None,
        }
    ]
    out = load_workbook(io.BytesIO(render_results(".xlsx", rows))).worksheets[0]
    values = list(out.iter_rows(values_only=True))
    assert values[0][:3] == ("id", "status", "code")
    assert values[1][2] == "731815"
    assert json.loads(str(values[1][5])) == [{"code": "731815", "confidence": 0.9}]
