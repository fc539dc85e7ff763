"""US Harmonized Tariff Schedule as exported by USITC (format ``usitc-hts``).

PATH is a JSON file (a list of objects) or a CSV file (UTF-8, header row), one row per line
of the schedule, in schedule order, with these fields (names matched case-insensitively and
ignoring spaces and punctuation; the CSV headings of the USITC site are accepted too)::

    htsno        "0101", "0101.21", "0101.21.00", "0101.21.00.10", or "" for a text line
                 ("HTS Number")
    indent       depth in the schedule, 0 for headings ("Indent")
    description  the line's own text ("Description")
    superior     true on lines that only group their children (optional)
    units        unit(s) of quantity, a string or a list ("Unit of Quantity")
    general      general (column 1) rate of duty ("General Rate of Duty")
    special      special rates ("Special Rate of Duty")
    other        column 2 rate ("Column 2 Rate of Duty")
    footnotes    a string or a list of {"columns": [...], "value": "..."} (optional)
    quotaQuantity, additionalDuties (optional)

How the tree is built:

- A row's parent is the closest row above it with a smaller ``indent``; headings (indent 0)
  hang from their chapter. USITC exports have no chapter rows, so chapter lines are created,
  titled from a text row "Chapter 1 Live animals" if the file has one, else "Chapter 1".
  Text rows "Section I ..." name sections. Other text rows at indent 0 group lines of the
  chapter that follows them.
- Rows with an empty ``htsno`` ("Horses:", "Other:") become grouping lines
  (``is_grouping=True``) and their children hang from them, so the path reads as printed.
  Their synthetic code sorts just before the first real code below them, which puts it in
  place among its siblings: ``<that code with its last digit lowered by one>~<depth>``, e.g.
  "Horses:" above 0101.21 gets "010120~1" (a last digit 0 becomes "/"), and a grouping nested
  directly inside it "010120~2". The "~" means it can never equal a real code. A grouping
  with no real line below it gets "<closest real code above>~e<row number>".
- The HS subheading of an 8-digit line is often not printed (0101.21.00 stands alone). When
  an 8-digit code is the only one of its 6 digits and no 6-digit row exists, the 6-digit line
  is created with that row's text, marked ``attributes["derived_from"]``. Headings missing in
  the national chapters 98 and 99 are created as "Heading 9903" the same way.
- Codes are stored without dots; ``level`` is the number of digits (a grouping line takes the
  level of the closest real line above it). Duty rates and the rest go in ``attributes``
  (``general``, ``special``, ``other``, ``units``, ``footnotes``, ``superior``,
  ``quota_quantity``, ``additional_duties``), only when non-empty.

The version is the ``version`` argument, else the year in the file name
("hts_2026_revision_1.json" gives "2026R1", "hts_2026.csv" "2026"); the book is
``US-HTS-<version>``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sivug.books.importers.errors import ImportValidationError, Locator, Problem
from sivug.books.importers.validation import build_book, grouping_code
from sivug.engine.book import Book, Section, TariffLine

FORMAT = "usitc-hts"
NATIONAL_CHAPTERS = ("98", "99")  # national use: no HS headings printed

_ALIASES = {
    "htsno": ("htsno", "htsnumber", "hts", "htscode"),
    "indent": ("indent",),
    "description": ("description",),
    "superior": ("superior",),
    "units": ("units", "unitofquantity", "unit", "unitsofquantity"),
    "general": ("general", "generalrateofduty", "generalrate"),
    "special": ("special", "specialrateofduty", "specialrate"),
    "other": ("other", "column2rateofduty", "column2", "column2rate"),
    "footnotes": ("footnotes", "footnote"),
    "quota_quantity": ("quotaquantity",),
    "additional_duties": ("additionalduties",),
}
_ATTRIBUTES = (
    "general",
    "special",
    "other",
    "units",
    "footnotes",
    "quota_quantity",
    "additional_duties",
)
_CHAPTER_TITLE = re.compile(r"^chapter\s+(\d{1,2})\b[\s:.\-–—]*(.*)$", re.IGNORECASE | re.DOTALL)
_SECTION_TITLE = re.compile(r"^section\s+([IVXL]+)\b[\s:.\-–—]*(.*)$", re.IGNORECASE | re.DOTALL)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_REVISION = re.compile(r"rev(?:ision)?[\s_.-]*(\d+)", re.IGNORECASE)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t)
    return " ".join(str(value).split())


def _footnotes(value: Any) -> str:
    if not isinstance(value, list):
        return _text(value)
    parts = []
    for note in value:
        if isinstance(note, dict):
            text = _text(note.get("value"))
            columns = _text(note.get("columns"))
            if text:
                parts.append(f"{columns}: {text}" if columns else text)
        elif text := _text(note):
            parts.append(text)
    return " | ".join(parts)


def _true(value: Any) -> bool:
    return value is True or _text(value).lower() in ("true", "1", "yes", "y", "x")


@dataclass
class _Row:
    where: Locator
    fields: dict[str, Any]


def _rows(path: Path) -> Iterator[_Row]:
    """The file's rows with canonical field names; raises on a malformed file."""
    try:
        raw = path.read_bytes()
        content = raw.decode("utf-8-sig")
    except OSError as exc:
        raise ImportValidationError([(str(path), "", f"cannot read: {exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise ImportValidationError([(path.name, "", f"not UTF-8: {exc}")]) from exc
    is_json = path.suffix.lower() == ".json" or content.lstrip()[:1] in ("[", "{")
    records: list[tuple[Locator, dict[str, Any]]] = []
    if is_json:
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise ImportValidationError(
                [(f"{path.name}:{exc.lineno}:{exc.colno}", "", f"malformed JSON: {exc.msg}")]
            ) from exc
        if not isinstance(data, list):
            raise ImportValidationError([(path.name, "", "expected a JSON list of objects")])
        for number, item in enumerate(data, start=1):
            locator = f"{path.name} item {number}"
            if not isinstance(item, dict):
                raise ImportValidationError([(locator, "", "not a JSON object")])
            records.append((locator, item))
    else:
        reader = csv.DictReader(io.StringIO(content, newline=""))
        try:
            for item in reader:
                if None in item:
                    raise ImportValidationError(
                        [(reader.line_num, "", "more values than header columns")],
                        source=path.name,
                    )
                records.append((reader.line_num, dict(item)))
        except csv.Error as exc:
            raise ImportValidationError(
                [(reader.line_num, "", f"malformed CSV: {exc}")], source=path.name
            ) from exc
    lookup = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
    for where, item in records:
        fields: dict[str, Any] = {}
        for name, value in item.items():
            canonical = lookup.get(_key(str(name)))
            if canonical is not None:
                fields[canonical] = value
        yield _Row(where, fields)


@dataclass(eq=False)
class _Node:
    where: Locator
    code: str | None  # None for a grouping line
    text: str
    parent: _Node | None
    attributes: dict[str, str] = field(default_factory=dict)
    section: str = ""
    children: list[_Node] = field(default_factory=list)
    final: str = ""


def _version(path: Path, version: str | None) -> str:
    if version:
        return version
    year = _YEAR.search(path.stem)
    if year is None:
        raise ImportValidationError([(path.name, "", "no year in the file name: pass a version")])
    revision = _REVISION.search(path.stem[year.end() :])
    return year.group(1) + (f"R{int(revision.group(1))}" if revision else "")


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.chapters: dict[str, _Node] = {}
        self.codes: dict[str, _Node] = {}
        self.sections: dict[str, Section] = {}
        self.section = ""

    def node(
        self, where: Locator, code: str | None, text: str, parent: _Node | None, **kw: Any
    ) -> _Node:
        node = _Node(where, code, text, parent, section=self.section, **kw)
        if parent is not None:
            parent.children.append(node)
            node.section = parent.section
        self.nodes.append(node)
        if code is not None:
            self.codes.setdefault(code, node)
        return node

    def chapter(self, where: Locator, number: str, title: str = "") -> _Node:
        found = self.chapters.get(number)
        if found is None:
            found = self.node(where, number, title or f"Chapter {int(number)}", None)
            self.chapters[number] = found
        elif title:
            found.text = title
        return found


def _parse(path: Path) -> tuple[_Builder, list[Problem]]:
    problems: list[Problem] = []
    parsed: list[tuple[Locator, str, int, str, dict[str, Any]]] = []
    rows = list(_rows(path))
    for row in rows:
        f = row.fields
        missing = [name for name in ("htsno", "indent", "description") if name not in f]
        if missing:
            problems.append((row.where, "", f"missing field '{missing[0]}'"))
            continue
        code = re.sub(r"[.\s]", "", _text(f["htsno"]))
        if code and not code.isdigit():
            problems.append((row.where, _text(f["htsno"]), "htsno must be digits and dots"))
            continue
        try:
            indent = int(_text(f["indent"]) or "0")
        except ValueError:
            problems.append((row.where, code, f"indent {f['indent']!r} is not a number"))
            continue
        parsed.append((row.where, code, indent, _text(f["description"]), f))
    if problems:
        return _Builder(), problems

    eights: dict[str, int] = {}
    for _, code, _, _, _ in parsed:
        if len(code) == 8:
            eights[code[:6]] = eights.get(code[:6], 0) + 1
    present = {code for _, code, _, _, _ in parsed}
    # The chapter of the next row with a code, for text rows at indent 0.
    next_chapter: list[str] = [""] * len(parsed)
    upcoming = ""
    for index in range(len(parsed) - 1, -1, -1):
        if parsed[index][1]:
            upcoming = parsed[index][1][:2]
        next_chapter[index] = upcoming

    b = _Builder()
    stack: list[tuple[int, _Node]] = []
    for index, (where, code, indent, text, f) in enumerate(parsed):
        if not code and (m := _SECTION_TITLE.match(text)):
            b.section = m.group(1).upper()
            b.sections[b.section] = Section(number=b.section, title=m.group(2) or text)
            stack.clear()
            continue
        if not code and (m := _CHAPTER_TITLE.match(text)):
            b.chapter(where, f"{int(m.group(1)):02d}", m.group(2) or text)
            stack.clear()
            continue
        if len(code) == 2:
            b.chapter(where, code, text)
            stack.clear()
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        chapter_number = code[:2] if code else next_chapter[index]
        if not chapter_number:
            problems.append((where, "", "text line with no coded line after it"))
            continue
        parent = stack[-1][1] if stack else b.chapter(where, chapter_number)
        attributes = {}
        for name in _ATTRIBUTES:
            value = _footnotes(f.get(name)) if name == "footnotes" else _text(f.get(name))
            if value:
                attributes[name] = value
        if code and _true(f.get("superior")):
            attributes["superior"] = "true"
        if code and code[:2] in NATIONAL_CHAPTERS and len(code) > 4 and code[:4] not in present:
            if code[:4] not in b.codes:
                b.node(
                    where,
                    code[:4],
                    f"Heading {code[:4]}",
                    parent,
                    attributes={"derived_from": code},
                )
            parent = b.codes[code[:4]]
        if len(code) == 8 and code[:6] not in present and eights.get(code[:6]) == 1:
            parent = b.node(where, code[:6], text, parent, attributes={"derived_from": code})
        node = b.node(where, code or None, text, parent, attributes=attributes)
        stack.append((indent, node))
    return b, problems


def _smallest_code(node: _Node) -> str | None:
    found = [c for c in (_smallest_code(child) for child in node.children) if c is not None]
    if node.code is not None:
        found.append(node.code)
    return min(found) if found else None


def _assign_codes(builder: _Builder) -> None:
    taken: set[str] = set(builder.codes)
    for node in builder.nodes:
        if node.code is not None:
            node.final = node.code
            continue
        depth, up = 1, node.parent
        while up is not None and up.code is None:
            depth, up = depth + 1, up.parent
        node.final = grouping_code(
            _smallest_code(node),
            depth=depth,
            above=up.code if up is not None and up.code is not None else "",
            taken=taken,
        )


def _real_level(node: _Node) -> int:
    up: _Node | None = node
    while up is not None and up.code is None:
        up = up.parent
    return len(up.code) if up is not None and up.code is not None else 0


def import_usitc_hts(path: Path, *, version: str | None = None) -> Book:
    """Read a USITC HTS export (JSON or CSV) into a validated 10-digit book."""
    if not path.is_file():
        raise ImportValidationError([(str(path), "", "no such file")])
    book_version = _version(path, version)
    builder, problems = _parse(path)
    if problems:
        raise ImportValidationError(problems, source=path.name)
    _assign_codes(builder)
    entries: list[tuple[Locator, TariffLine]] = []
    for node in builder.nodes:
        line = TariffLine(
            code=node.final,
            parent=node.parent.final if node.parent is not None else None,
            level=_real_level(node),
            texts={"en": node.text},
            section=node.section,
            is_grouping=node.code is None,
            attributes=node.attributes,
        )
        entries.append((node.where, line))
    return build_book(
        entries,
        id=f"US-HTS-{book_version}",
        name=f"US Harmonized Tariff Schedule {book_version}",
        country="US",
        version=book_version,
        digits=10,
        sections=builder.sections,
        source=path.name,
    )
