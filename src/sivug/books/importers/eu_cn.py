"""EU Combined Nomenclature from the JSON files of xterr/php-cncodes (format ``eu-cn-json``).

PATH is a directory holding, for one year YYYY (a file path inside it works too)::

    cnSections_YYYY.json     [{"code": "I", "name": ...}, ...]            (optional)
    cnChapters_YYYY.json     [{"code": "01", "name": ..., "section": "I"}, ...]
    cnHeadings_YYYY.json     [{"code": "0101", "name": ..., "chapter": "01"}, ...]
    cnSubheadings_YYYY.json  [{"code": "010129", "name": ..., "heading": "0101"|null}, ...]
    cnCodes_YYYY.json        [{"code": "01012910", "name": ..., "subheading": "010129"|null,
                               "heading": ..., "chapter": ..., "section": ...,
                               "supplementaryUnit": "PST"|null}, ...]

``name`` is each line's own text ("Other" is common); the path text comes from the parents.
The year comes from ``version``, else the file names, else the records' ``version`` field.

What the 2026 files hold, and what the importer does about it:

- ``cnSubheadings`` lists only the HS subheadings that the CN divides further (1,835 of
  5,612). An 8-digit code ending in "00" with ``subheading: null`` *is* its HS subheading,
  undivided (3,777 such codes, exactly one per missing subheading). The importer creates the
  6-digit line from that code's text, marked ``attributes["derived_from"] = <8-digit code>``.
- ``cnHeadings`` lacks the headings that HS does not divide (e.g. 0205, 0409: 271 of 1,228).
  Their text is the text of the "XXXX00" subheading or of the single "XXXX0000" code, so the
  heading line is created from it, marked the same way.
- The CN's dash levels between 8-digit codes are not in the files, so every 8-digit code
  hangs directly from its 6-digit subheading.
- Anything missing that cannot be derived this way (a subdivided subheading, or a heading with
  several subheadings, absent from the files) is left missing, and validation names it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sivug.books.importers.errors import ImportValidationError, Locator
from sivug.books.importers.validation import build_book
from sivug.engine.book import Book, Section, TariffLine

FORMAT = "eu-cn-json"
_KINDS = ("Sections", "Chapters", "Headings", "Subheadings", "Codes")
_YEAR = re.compile(r"^cn(?:Sections|Chapters|Headings|Subheadings|Codes)_(\d{4})\.json$")


def _find_year(directory: Path, version: str | None) -> str | None:
    """The YYYY of the ``cn*_YYYY.json`` files to read (``version`` if such files exist)."""
    years = sorted(
        {m.group(1) for p in directory.iterdir() if (m := _YEAR.match(p.name)) is not None}
    )
    if version in years:
        return version
    if len(years) > 1:
        raise ImportValidationError(
            [(str(directory), "", f"files for several years ({', '.join(years)}): pass a version")]
        )
    return years[0] if years else None


def _file(directory: Path, kind: str, year: str | None) -> Path | None:
    for name in ((f"cn{kind}_{year}.json",) if year else ()) + (f"cn{kind}.json",):
        if (directory / name).is_file():
            return directory / name
    return None


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportValidationError([(path.name, "", f"not UTF-8: {exc}")]) from exc
    except json.JSONDecodeError as exc:
        raise ImportValidationError(
            [(f"{path.name}:{exc.lineno}:{exc.colno}", "", f"malformed JSON: {exc.msg}")]
        ) from exc
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ImportValidationError([(path.name, "", "expected a JSON list of objects")])
    return data


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


class _Reader:
    """Reads one kind of record, collecting problems with ``file record N`` locators."""

    def __init__(self) -> None:
        self.problems: list[tuple[Locator, str, str]] = []

    def read(
        self, path: Path, digits: int | None
    ) -> Iterator[tuple[str, dict[str, Any], str, str]]:
        """Yield ``(locator, record, code, text)`` for the well-formed records."""
        for number, record in enumerate(_records(path), start=1):
            where = f"{path.name} record {number}"
            code = _text(record.get("code"))
            text = _text(record.get("name"))
            if not code:
                self.problems.append((where, "", "missing field 'code'"))
                continue
            if digits is not None and not (code.isdigit() and len(code) == digits):
                self.problems.append((where, code, f"code must be {digits} digits"))
                continue
            if not text:
                self.problems.append((where, code, "missing field 'name'"))
                continue
            yield where, record, code, text


def import_eu_cn(path: Path, *, version: str | None = None) -> Book:
    """Read the CN files in ``path`` into a validated 8-digit book ``EU-CN-<year>``."""
    directory = path if path.is_dir() else path.parent
    if not directory.is_dir():
        raise ImportValidationError([(str(path), "", "no such directory")])
    file_year = _find_year(directory, version)
    year = version or file_year
    files = {kind: _file(directory, kind, file_year) for kind in _KINDS}
    missing = [f"cn{k}_{file_year or 'YYYY'}.json" for k in _KINDS[1:] if files[k] is None]
    if missing:
        raise ImportValidationError([(str(directory), "", f"missing {', '.join(missing)}")])

    reader = _Reader()
    sections: dict[str, Section] = {}
    if (sections_file := files["Sections"]) is not None:
        for _, _, number, title in reader.read(sections_file, None):
            sections[number] = Section(number=number, title=title)

    def read(kind: str, digits: int) -> list[tuple[str, dict[str, Any], str, str]]:
        found = files[kind]
        assert found is not None
        return list(reader.read(found, digits))

    chapters, headings = read("Chapters", 2), read("Headings", 4)
    subheadings, codes = read("Subheadings", 6), read("Codes", 8)
    if reader.problems:
        raise ImportValidationError(reader.problems, source=str(directory))
    if year is None:
        year = str(codes[0][1].get("version") or "") if codes else ""
        if not year:
            raise ImportValidationError([(str(directory), "", "no year: pass a version")])

    # Headings and subheadings the files leave out, derived from the line that carries their
    # text (see the module docstring). ``derived[code] = (locator, text, source code)``.
    known = {code for rows in (headings, subheadings) for _, _, code, _ in rows}
    per_subheading: dict[str, list[str]] = {}
    for _, _, code, _ in codes:
        per_subheading.setdefault(code[:6], []).append(code)
    derived: dict[str, tuple[str, str, str]] = {}
    for where, _, code, text in [*subheadings, *codes]:
        heading = code[:4]
        if heading not in known and heading not in derived and code[4:] == "0" * (len(code) - 4):
            derived[heading] = (where, text, code)
        subheading = code[:6]
        if (
            len(code) == 8
            and subheading not in known
            and code.endswith("00")
            and per_subheading[subheading] == [code]
        ):
            derived[subheading] = (where, text, code)

    entries: list[tuple[Locator, TariffLine]] = []

    def add(where: Locator, code: str, parent: str | None, text: str, **kw: Any) -> None:
        line = TariffLine(code=code, parent=parent, level=len(code), texts={"en": text}, **kw)
        entries.append((where, line))

    section_of = {code: _text(r.get("section")) for _, r, code, _ in chapters}
    for where, _, code, text in chapters:
        add(where, code, None, text, section=section_of[code])
    for where, _, code, text in headings:
        add(where, code, code[:2], text, section=section_of.get(code[:2], ""))
    for heading, (where, text, source) in derived.items():
        if len(heading) == 4:
            add(
                where,
                heading,
                heading[:2],
                text,
                section=section_of.get(heading[:2], ""),
                attributes={"derived_from": source},
            )
    for where, _, code, text in subheadings:
        add(where, code, code[:4], text, section=section_of.get(code[:2], ""))
    for subheading, (where, text, source) in derived.items():
        if len(subheading) == 6:
            add(
                where,
                subheading,
                subheading[:4],
                text,
                section=section_of.get(subheading[:2], ""),
                attributes={"derived_from": source},
            )
    for where, record, code, text in codes:
        attributes = {}
        if unit := _text(record.get("supplementaryUnit")):
            attributes["supplementary_unit"] = unit
        add(
            where, code, code[:6], text, section=section_of.get(code[:2], ""), attributes=attributes
        )
    entries.sort(key=lambda entry: entry[1].code)
    return build_book(
        entries,
        id=f"EU-CN-{year}",
        name=f"EU Combined Nomenclature {year}",
        country="EU",
        version=year,
        digits=8,
        sections=sections,
        source=str(directory),
    )
