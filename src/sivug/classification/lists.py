"""Reading and writing lists of items to classify: CSV, XLSX and JSONL.

In: ``id``, ``description``, optional ``attributes`` (a JSON object, or in CSV/XLSX any other
column, e.g. ``material``), optional ``book``. Out: ``id, status, code, level, confidence,
alternatives, questions, message, engine`` (+ ``error`` for rows that could not be read).
A malformed row is reported by its line number; the other rows still run.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sivug.platform.errors import BadRequest

SUFFIXES = (".csv", ".xlsx", ".jsonl")
OUTPUT_FIELDS = (
    "id",
    "status",
    "code",
    "level",
    "confidence",
    "alternatives",
    "questions",
    "message",
    "engine",
    "error",
)
_KNOWN = {"id", "description", "attributes", "book"}


class ListFileInvalid(BadRequest):
    pass


@dataclass
class ListItem:
    line: int  # 1-based line (row) number in the file, header included
    id: str
    description: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    book: str | None = None
    error: str | None = None


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1255 (Hebrew) text.

    A file that is UTF-8 up to a broken byte is reported as broken (with the line), not
    silently read as Windows-1255.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ListFileInvalid(
                f"{name} line {_line_of(data, exc.start)}: broken UTF-16"
            ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if any(byte >= 0x80 for byte in data[: exc.start]):
            raise ListFileInvalid(
                f"{name} line {_line_of(data, exc.start)}: byte {exc.start} is not valid UTF-8"
            ) from exc
    try:
        return data.decode("cp1255")
    except UnicodeDecodeError as exc:
        raise ListFileInvalid(
            f"{name} line {_line_of(data, exc.start)}: not UTF-8, UTF-16 or Windows-1255 text"
        ) from exc


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def read_items(path: Path) -> list[ListItem]:
    return parse_items(path.read_bytes(), path.name)


def parse_items(data: bytes, name: str) -> list[ListItem]:
    suffix = Path(name).suffix.lower()
    if suffix == ".jsonl":
        return _jsonl(decode_text(data, name))
    if suffix == ".csv":
        return _rows(_csv_rows(decode_text(data, name), name))
    if suffix == ".xlsx":
        return _rows(_xlsx_rows(data, name))
    raise ListFileInvalid(f"{name}: expected a .csv, .xlsx or .jsonl file")


def _item(line: int, values: dict[str, Any]) -> ListItem:
    item_id = str(values.get("id") or line)
    description = values.get("description")
    if not isinstance(description, str) or not description.strip():
        return ListItem(line=line, id=item_id, error=f"line {line}: no description")
    attributes: dict[str, str] = {}
    raw = values.get("attributes")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return ListItem(line=line, id=item_id, error=f"line {line}: attributes is not JSON")
    if isinstance(raw, dict):
        attributes.update({str(k): str(v) for k, v in raw.items() if v not in (None, "")})
    elif raw not in (None, ""):
        return ListItem(line=line, id=item_id, error=f"line {line}: attributes must be an object")
    for key, value in values.items():
        if key not in _KNOWN and value not in (None, ""):
            attributes[key] = str(value)
    book = values.get("book")
    return ListItem(
        line=line,
        id=item_id,
        description=description.strip(),
        attributes=attributes,
        book=str(book).strip() if book else None,
    )


def _jsonl(text: str) -> list[ListItem]:
    items = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as exc:
            items.append(ListItem(line=line, id=str(line), error=f"line {line}: {exc.msg}"))
            continue
        if not isinstance(values, dict):
            items.append(ListItem(line=line, id=str(line), error=f"line {line}: not an object"))
            continue
        items.append(_item(line, values))
    return items


def _csv_rows(text: str, name: str) -> Iterable[tuple[int, dict[str, Any]]]:
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [(h or "").strip().lower() for h in reader.fieldnames or []]
    if "description" not in headers:
        raise ListFileInvalid(f"{name} line 1: no 'description' column (found: {headers})")
    reader.fieldnames = headers
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if k}


def _xlsx_rows(data: bytes, name: str) -> Iterable[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ListFileInvalid(f"{name}: not a readable .xlsx workbook") from exc
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h or "").strip().lower() for h in next(rows, ())]
    if "description" not in header:
        raise ListFileInvalid(f"{name} row 1: no 'description' column (found: {header})")
    for number, values in enumerate(rows, start=2):
        if all(v in (None, "") for v in values):
            continue
        yield number, {h: v for h, v in zip(header, values, strict=False) if h}


def _rows(rows: Iterable[tuple[int, dict[str, Any]]]) -> list[ListItem]:
    return [
        _item(line, {k: (str(v) if v is not None else None) for k, v in values.items()})
        for line, values in rows
    ]


def output_row(item_id: str, result: dict[str, Any] | None, error: str | None) -> dict[str, Any]:
    if result is None:
        return {"id": item_id, "status": "error", "error": error}
    return {
        "id": item_id,
        "status": result["status"],
        "code": result["code"],
        "level": result["level"],
        "confidence": result["confidence"],
        "alternatives": [
            {"code": a["code"], "confidence": a["confidence"]} for a in result["alternatives"]
        ],
        "questions": result["questions"],
        "message": result["message"],
        "engine": result["engine"],
        "error": error,
    }


def write_results(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_bytes(render_results(path.suffix.lower(), rows))


def render_results(suffix: str, rows: list[dict[str, Any]]) -> bytes:
    if suffix == ".jsonl":
        lines = [
            json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False)
            for r in rows
        ]
        return ("\n".join(lines) + "\n").encode()
    flat = [
        {
            k: json.dumps(r.get(k), ensure_ascii=False)
            if isinstance(r.get(k), list | dict)
            else r.get(k)
            for k in OUTPUT_FIELDS
        }
        for r in rows
    ]
    if suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=OUTPUT_FIELDS)
        writer.writeheader()
        writer.writerows(flat)
        return buffer.getvalue().encode("utf-8-sig")
    if suffix == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(list(OUTPUT_FIELDS))
        for r in flat:
            sheet.append([r.get(k) for k in OUTPUT_FIELDS])
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    raise ListFileInvalid(f"cannot write {suffix} files; use .csv, .xlsx or .jsonl")
