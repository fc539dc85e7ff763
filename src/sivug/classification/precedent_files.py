"""Reading public precedents (official references and rulings) from the files they come in.

Public precedents are loaded at run time with `sivug precedents import FORMAT PATH`; none of
that data ships in the package.

Formats:
- ``uk-references``: HMRC's parcel-description references, either the JSON object
  ``{"description": "10-digit code", ...}`` (``search_references.json``) or the CSV with
  ``Goods Description,Commodity Code`` columns (``extra_references.csv``).
- ``uk-atar``: UK Advance Tariff Rulings as ``{"drafts": [{"ruling": {"ref",
  "commodity_code", "description", "justification"}}]}`` or a plain list of rulings.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sivug.platform.errors import BadRequest

FORMATS = ("uk-references", "uk-atar")


class PrecedentFileInvalid(BadRequest):
    pass


@dataclass(frozen=True)
class PrecedentRecord:
    description: str
    code: str
    source: str  # "reference" or "ruling"
    reference: str | None = None
    justification: str | None = None


def _code(raw: object, where: str) -> str:
    code = "".join(ch for ch in str(raw) if ch.isdigit())
    if len(code) < 6 or len(code) > 10:
        raise PrecedentFileInvalid(f"{where}: {raw!r} is not a 6 to 10 digit commodity code")
    return code


@dataclass
class PrecedentFile:
    records: list[PrecedentRecord]
    skipped: list[str]  # one message per unusable row, naming its line


def read_precedents(format_name: str, path: Path) -> PrecedentFile:
    """Read a file of precedents; rows without a usable code are skipped and named."""
    if format_name not in FORMATS:
        raise PrecedentFileInvalid(
            f"Unknown precedent format {format_name!r}; expected one of: {', '.join(FORMATS)}."
        )
    if not path.is_file():
        raise PrecedentFileInvalid(f"{path} is not a file.")
    raw = path.read_bytes().decode("utf-8-sig")
    if format_name == "uk-atar":
        return _atar(raw, path.name)
    if path.suffix.lower() == ".csv":
        return _references_csv(raw, path.name)
    return _references_json(raw, path.name)


def _load_json(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PrecedentFileInvalid(f"{name} line {exc.lineno}: not valid JSON ({exc.msg})") from exc


def _references_json(raw: str, name: str) -> PrecedentFile:
    data = _load_json(raw, name)
    if not isinstance(data, dict):
        raise PrecedentFileInvalid(f"{name}: expected an object of description -> code")
    out = PrecedentFile([], [])
    for description, code in data.items():
        if str(description).strip():
            _add(out, str(description), code, f"{name} {description!r}", source="reference")
    return out


def _add(
    out: PrecedentFile,
    description: str,
    raw_code: object,
    where: str,
    *,
    source: str,
    reference: str | None = None,
    justification: str | None = None,
) -> None:
    try:
        code = _code(raw_code, where)
    except PrecedentFileInvalid as exc:
        out.skipped.append(exc.detail)
        return
    out.records.append(
        PrecedentRecord(
            description=description.strip(),
            code=code,
            source=source,
            reference=reference,
            justification=justification,
        )
    )


def _references_csv(raw: str, name: str) -> PrecedentFile:
    reader = csv.DictReader(io.StringIO(raw))
    fields = {f.strip().lower(): f for f in reader.fieldnames or []}
    desc_field, code_field = fields.get("goods description"), fields.get("commodity code")
    if desc_field is None or code_field is None:
        raise PrecedentFileInvalid(
            f"{name}: expected the columns 'Goods Description' and 'Commodity Code'"
        )
    out = PrecedentFile([], [])
    for row in reader:
        description = (row.get(desc_field) or "").strip()
        if description:
            where = f"{name} line {reader.line_num}"
            _add(out, description, row.get(code_field), where, source="reference")
    return out


def _atar(raw: str, name: str) -> PrecedentFile:
    data = _load_json(raw, name)
    items = data.get("drafts", []) if isinstance(data, dict) else data
    out = PrecedentFile([], [])
    for number, item in enumerate(items, start=1):
        ruling = item.get("ruling", item) if isinstance(item, dict) else None
        if not isinstance(ruling, dict) or not str(ruling.get("description") or "").strip():
            out.skipped.append(f"{name} ruling {number}: no description")
            continue
        _add(
            out,
            str(ruling["description"]),
            ruling.get("commodity_code"),
            f"{name} ruling {number}",
            source="ruling",
            reference=str(ruling.get("ref") or "") or None,
            justification=ruling.get("justification"),
        )
    return out
