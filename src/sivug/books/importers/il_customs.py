"""Israeli customs book from the Israel Tax Authority XML export (format ``il-customs-xml``).

No real export is available here; this reads the documented shape below, liberally. PATH is
a directory (searched recursively) or a ``.zip`` archive holding, by file name (any case):

``CustomsItem.xml`` (required): the tree, one record per item::

    <CustomsItems>                       (any root; a .NET <NewDataSet> works too)
      <CustomsItem>                      (record tag: CustomsItem, Item, Row or Record)
        <ID>1002</ID>
        <ParentID>1001</ParentID>        (empty or absent for chapters)
        <FullClassification>0101000000</FullClassification>
        <Level>2</Level>                 (optional)
      </CustomsItem>

``CustomsItemDetailsHistory.xml`` (required): texts, several rows per item over time::

    <CustomsItemDetailsHistory>
        <CustomsItemID>1002</CustomsItemID>
        <HebrewDescription>סוסים, חמורים, פרדות ופרדים, חיים</HebrewDescription>
        <EnglishDescription>Live horses, asses, mules and hinnies</EnglishDescription>
        <StartDate>2022-01-01</StartDate>
        <EndDate/>                        (empty: still in force)
    </CustomsItemDetailsHistory>

``RuleDetailsHistory.xml`` (optional): chapter notes and other rules::

    <RuleDetailsHistory>
        <RuleID>7</RuleID>               (optional; rows of one rule are versions of it)
        <CustomsItemID>1001</CustomsItemID>   (or <Chapter>01</Chapter>)
        <HebrewDescription>...</HebrewDescription>
        <EnglishDescription>...</EnglishDescription>
        <StartDate>...</StartDate><EndDate/>
    </RuleDetailsHistory>

Liberal reading:

- Tag and attribute names match case-insensitively, ignoring namespaces, "_" and "-"; a field
  may be a child element or an attribute of the record. Accepted names per field:
  id (``ID``, ``CustomsItemID``, ``ItemID``); parent (``ParentID``, ``ParentCustomsItemID``,
  ``ParentItemID``, ``FatherID``); code (``FullClassification``, ``CustomsItemCode``,
  ``Classification``, ``Code``, ``ItemCode``); level (``Level``, ``CustomsItemLevel``,
  ``HierarchyLevel``, ``HierarchicLevel``); item reference (``CustomsItemID``, ``ItemID``,
  ``CustomsItem``); Hebrew text (``HebrewDescription``, ``DescriptionHe``,
  ``GoodsDescription``, ``HebrewName``, ``Description``; for rules also ``RuleDescription``,
  ``RuleText``, ``Text``); English text (``EnglishDescription``, ``DescriptionEn``,
  ``EnglishGoodsDescription``, ``EnglishName``; for rules also ``EnglishRuleDescription``,
  ``EnglishText``); dates (``StartDate``, ``FromDate``, ``ValidFrom``, ``BeginDate`` and
  ``EndDate``, ``ToDate``, ``ValidTo``, ``UntilDate``) as ``YYYY-MM-DD`` (a time part is
  ignored), ``YYYYMMDD`` or ``DD/MM/YYYY``. A details row may instead carry one
  ``Description`` with a ``Language`` field ("he"/"en"/"Hebrew"/"English").
- Codes: separators (``.``, ``-``, spaces) are removed, and a trailing check digit written
  ``/N`` is dropped ("01.01.210000/4" gives "0101210000"). When a level is given, a code
  padded with zeros is cut to it ("0100000000" at chapter level gives "01"). ``Level`` is
  either the number of digits (2, 4, 6, 8, 10) or, when no value in the file exceeds 5, the
  depth (1 chapter, 2 heading, 3 subheading, 4 eight digits, 5 ten digits).
- Items without a code become grouping lines (``is_grouping``), with a synthetic code (see
  :func:`~sivug.books.importers.validation.grouping_code`). If the file has no parent ids at
  all, each item hangs from the longest code that prefixes its own.
- Texts: for each item and language, the current row is the one with the latest start date
  not after today whose end date is empty or not before today. An item whose rows are all
  ended or not yet started is not in force: it is left out with everything below it. An item
  with ``IsActive`` false or an ``EndDate`` before today on its CustomsItem record, likewise.
- Rules (current rows only, in file order) linked to a chapter go to
  ``book.chapter_notes[chapter]`` and to the chapter line's ``notes``; rules linked to other
  items go to that line's ``notes``. Notes hold the English text, then the Hebrew text,
  separated by a blank line.

Texts go to ``texts={"he": ..., "en": ...}``; the book is ``IL-CUSTOMS-<version>`` with
``languages=("he", "en")``. The version is the ``version`` argument, else a date or year in
the PATH name ("customs_20260101.zip" gives "20260101"), else today's date (``YYYYMMDD``).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from sivug.books.importers.errors import ImportValidationError, Locator, Problem
from sivug.books.importers.validation import allowed_lengths, build_book, grouping_code
from sivug.engine.book import Book, TariffLine

FORMAT = "il-customs-xml"
ITEMS, DETAILS, RULES = "customsitem.xml", "customsitemdetailshistory.xml", "ruledetailshistory.xml"

_F = {
    "id": ("id", "customsitemid", "itemid"),
    "parent": (
        "parentid",
        "parentcustomsitemid",
        "parentitemid",
        "fatherid",
        "fathercustomsitemid",
        "parent",
    ),
    "code": (
        "fullclassification",
        "customsitemcode",
        "classification",
        "code",
        "itemcode",
        "customsitemfullclassification",
    ),
    "level": ("level", "customsitemlevel", "hierarchylevel", "hierarchiclevel", "itemlevel"),
    "item": ("customsitemid", "itemid", "customsitem"),
    "he": (
        "hebrewdescription",
        "descriptionhe",
        "hebdescription",
        "goodsdescription",
        "hebrewgoodsdescription",
        "hebrewname",
    ),
    "en": (
        "englishdescription",
        "descriptionen",
        "engdescription",
        "englishgoodsdescription",
        "goodsdescriptionenglish",
        "englishname",
    ),
    "he_rule": (
        "hebrewruledescription",
        "ruledescription",
        "ruletext",
        "hebrewruletext",
        "hebrewtext",
        "text",
    ),
    "en_rule": ("englishruledescription", "englishruletext", "englishtext"),
    "description": ("description", "name"),
    "language": ("language", "languagecode", "lang"),
    "start": ("startdate", "fromdate", "validfrom", "begindate", "effectivedate"),
    "end": ("enddate", "todate", "validto", "untildate", "expirydate"),
    "active": ("isactive", "active"),
    "rule": ("ruleid", "rulenumber"),
    "chapter": ("chapter", "chaptercode", "chapterno", "chapternumber"),
}
_RECORD_TAGS = {
    ITEMS: ("customsitem", "item", "row", "record"),
    DETAILS: (
        "customsitemdetailshistory",
        "customsitemdetails",
        "detailshistory",
        "details",
        "row",
        "record",
    ),
    RULES: ("ruledetailshistory", "ruledetails", "rule", "row", "record"),
}
_LANGUAGES = {
    "he": "he",
    "heb": "he",
    "hebrew": "he",
    "עברית": "he",
    "iw": "he",
    "en": "en",
    "eng": "en",
    "english": "en",
    "אנגלית": "en",
}


def _norm(name: str) -> str:
    return re.sub(r"[_\-\s]", "", name.rsplit("}", 1)[-1]).lower()


def _clean(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


@dataclass
class _Record:
    where: str
    values: dict[str, str]

    def get(self, field_name: str) -> str:
        for alias in _F[field_name]:
            if value := self.values.get(alias, ""):
                return value
        return ""

    def has(self, field_name: str) -> bool:
        return any(alias in self.values for alias in _F[field_name])


def _parse_xml(content: bytes) -> Element:
    """Parse with defusedxml: no entity expansion, no external entities or DTD fetching."""
    root: Element = SafeET.fromstring(content, forbid_dtd=False)
    return root


def _records(name: str, content: bytes, kind: str) -> list[_Record]:
    try:
        root = _parse_xml(content)
    except ParseError as exc:
        line, column = exc.position
        raise ImportValidationError(
            [(f"{name}:{line}:{column}", "", f"malformed XML: {exc}")]
        ) from exc
    except DefusedXmlException as exc:
        raise ImportValidationError([(name, "", f"refused XML: {exc}")]) from exc
    wanted = _RECORD_TAGS[kind]
    elements = next(
        (found for tag in wanted if (found := [e for e in root.iter() if _norm(e.tag) == tag])),
        list(root),
    )
    out = []
    for number, element in enumerate(elements, start=1):
        values = {_norm(k): _clean(v) for k, v in element.attrib.items()}
        for child in element:
            if len(child) == 0:
                values.setdefault(_norm(child.tag), _clean(child.text))
        out.append(_Record(f"{name} record {number}", values))
    return out


def _files(path: Path) -> dict[str, tuple[str, bytes]]:
    """The three files by lower-case name: ``{name: (display name, content)}``."""
    found: dict[str, tuple[str, bytes]] = {}
    wanted = (ITEMS, DETAILS, RULES)
    try:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.name.lower() in wanted:
                    found.setdefault(file.name.lower(), (file.name, file.read_bytes()))
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if not info.is_dir() and base.lower() in wanted:
                        found.setdefault(base.lower(), (base, archive.read(info)))
        else:
            raise ImportValidationError([(str(path), "", "not a directory or a .zip archive")])
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportValidationError([(str(path), "", f"cannot read: {exc}")]) from exc
    missing = [
        n for n in ("CustomsItem.xml", "CustomsItemDetailsHistory.xml") if n.lower() not in found
    ]
    if missing:
        raise ImportValidationError([(str(path), "", f"missing {', '.join(missing)}")])
    return found


def _date(text: str) -> date:
    text = text.strip()
    if m := re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", text):
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := re.match(r"^(\d{4})(\d{2})(\d{2})$", text):
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := re.match(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text):
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    raise ValueError(text)


@dataclass
class _Validity:
    """Picks the current row per key: the latest start not after today, not ended."""

    today: date
    problems: list[Problem]
    best: dict[Any, tuple[date, int, _Record, Any]] = field(default_factory=dict)
    seen: set[Any] = field(default_factory=set)

    def offer(self, key: Any, record: _Record, payload: Any) -> None:
        self.seen.add(key)
        span = _span(record, self.problems)
        if span is not None and span[0] <= self.today <= span[1]:
            current = self.best.get(key)
            if current is None or span[0] >= current[0]:
                self.best[key] = (span[0], len(self.seen), record, payload)


def _span(record: _Record, problems: list[Problem]) -> tuple[date, date] | None:
    """(start, end) of a record, open ends as date.min / date.max; None on a bad date."""
    try:
        start = _date(record.get("start")) if record.get("start") else date.min
        end = _date(record.get("end")) if record.get("end") else date.max
    except ValueError as exc:
        problems.append((record.where, "", f"bad date {exc}"))
        return None
    return start, end


def _is_active(value: str) -> bool:
    return value.strip().lower() not in ("false", "0", "no", "n")


def _version(path: Path, version: str | None, today: date) -> str:
    if version:
        return version
    if m := re.search(r"(?<!\d)((?:19|20)\d\d(?:[01]\d[0-3]\d)?)(?!\d)", path.stem):
        return m.group(1)
    return today.strftime("%Y%m%d")


def _code(raw: str) -> str:
    raw = re.sub(r"/\d$", "", raw.strip())
    return re.sub(r"[.\-\s]", "", raw)


@dataclass(eq=False)
class _Item:
    where: str
    id: str
    parent_id: str
    code: str  # "" for a grouping line
    parent: _Item | None = None
    children: list[_Item] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    final: str = ""


def import_il_customs(path: Path, *, version: str | None = None, today: date | None = None) -> Book:
    """Read an Israel Tax Authority export into a validated 10-digit book, Hebrew and English.

    ``today`` (default: the current date) decides which text rows are current.
    """
    today = today or date.today()
    files = _files(path)
    problems: list[Problem] = []

    item_name, item_content = files[ITEMS]
    records = _records(item_name, item_content, ITEMS)
    levels = [r.get("level") for r in records if r.get("level")]
    bad_levels = [lv for lv in levels if not lv.isdigit()]
    depth_levels = not bad_levels and all(int(lv) <= 5 for lv in levels)
    lengths = allowed_lengths(10)
    items: dict[str, _Item] = {}
    dropped: set[str] = set()
    for record in records:
        item_id = record.get("id")
        raw_code = record.get("code")
        code = _code(raw_code)
        if not item_id:
            problems.append((record.where, code, "missing field 'ID'"))
            continue
        if item_id in items or item_id in dropped:
            problems.append((record.where, code, f"duplicate item ID {item_id}"))
            continue
        if code and not code.isdigit():
            problems.append((record.where, raw_code, "code must be digits and separators"))
            continue
        if level_text := record.get("level"):
            if not level_text.isdigit():
                problems.append((record.where, code, f"level {level_text!r} is not a number"))
                continue
            level = int(level_text)
            digits = lengths[level - 1] if depth_levels and 1 <= level <= 5 else level
            if code and len(code) > digits and set(code[digits:]) == {"0"}:
                code = code[:digits]
        span = _span(record, problems)
        if span is None:
            continue
        if not _is_active(record.get("active")) or not span[0] <= today <= span[1]:
            dropped.add(item_id)  # not in force today
            continue
        items[item_id] = _Item(record.where, item_id, record.get("parent"), code)

    # Texts: the current details row per (item, language).
    details_name, details_content = files[DETAILS]
    validity = _Validity(today, problems)
    for record in _records(details_name, details_content, DETAILS):
        item_id = record.get("item")
        if not item_id:
            problems.append((record.where, "", "missing field 'CustomsItemID'"))
            continue
        language = _LANGUAGES.get(record.get("language").lower(), "")
        for lang in ("he", "en"):
            text = record.get(lang)
            if not text and (language == lang or (not language and lang == "he")):
                text = record.get("description")
            if text:
                validity.offer((item_id, lang), record, text)
    for (item_id, lang), (_, _, _, text) in validity.best.items():
        if (item := items.get(item_id)) is not None:
            item.texts[lang] = text
    with_rows = {item_id for item_id, _ in validity.seen}
    for item_id in list(items):
        if item_id in with_rows and not items[item_id].texts:
            dropped.add(item_id)  # every text row has ended or not yet started
            del items[item_id]

    # The tree.
    has_parent_ids = any(item.parent_id for item in items.values())
    by_code = {item.code: item for item in items.values() if item.code}
    for item in items.values():
        if has_parent_ids:
            if not item.parent_id:
                continue
            parent = items.get(item.parent_id)
            if parent is None:
                if item.parent_id not in dropped:
                    problems.append(
                        (item.where, item.code, f"parent ID {item.parent_id} not found")
                    )
                continue
        else:
            parent = next(
                (
                    by_code[item.code[:n]]
                    for n in reversed(lengths)
                    if n < len(item.code) and item.code[:n] in by_code
                ),
                None,
            )
            if parent is None:
                continue
        item.parent = parent
        parent.children.append(item)

    # Leave out everything below a dropped item (its root still names a parent).
    def attached(item: _Item) -> bool:
        while item.parent is not None:
            item = item.parent
        return not (has_parent_ids and item.parent_id)

    kept = [item for item in items.values() if attached(item)]

    # Rules.
    if RULES in files:
        rules_name, rules_content = files[RULES]
        rule_validity = _Validity(today, problems)
        for number, record in enumerate(_records(rules_name, rules_content, RULES)):
            key = record.get("rule") or f"#{number}"
            target = record.get("item") or record.get("chapter")
            if not target:
                problems.append((record.where, "", "rule linked to no item or chapter"))
                continue
            texts = {
                "en": record.get("en_rule") or record.get("en"),
                "he": record.get("he_rule") or record.get("he") or record.get("description"),
            }
            rule_validity.offer((target, key), record, texts)
        chapters = {item.code: item for item in kept if len(item.code) == 2}
        current = sorted(rule_validity.best.items(), key=lambda kv: kv[1][1])
        for (target, _), (_, _, record, texts) in current:
            if record.get("item"):
                owner = items.get(target)
            else:
                owner = chapters.get(_code(target).zfill(2)[:2])
            if owner is None:
                if target not in dropped:
                    problems.append((record.where, target, "rule linked to an unknown item"))
                continue
            for lang, text in texts.items():
                if text:
                    owner.notes.setdefault(lang, []).append(text)

    if problems:
        raise ImportValidationError(problems, source=str(path))

    taken = {item.code for item in kept if item.code}
    for item in kept:
        if item.code:
            item.final = item.code
    for item in kept:
        if not item.code:
            depth, up = 1, item.parent
            while up is not None and not up.code:
                depth, up = depth + 1, up.parent
            item.final = grouping_code(
                _smallest(item), depth=depth, above=up.code if up else "", taken=taken
            )

    def notes(item: _Item) -> str:
        return "\n\n".join(
            "\n".join(item.notes[lang]) for lang in ("en", "he") if item.notes.get(lang)
        )

    entries: list[tuple[Locator, TariffLine]] = []
    chapter_notes: dict[str, str] = {}
    for item in kept:
        real = item
        while not real.code and real.parent is not None:
            real = real.parent
        line = TariffLine(
            code=item.final,
            parent=item.parent.final if item.parent is not None else None,
            level=len(real.code),
            texts=dict(item.texts),
            notes=notes(item),
            is_grouping=not item.code,
        )
        if len(item.code) == 2 and line.notes:
            chapter_notes[item.code] = line.notes
        entries.append((item.where, line))
    book_version = _version(path, version, today)
    return build_book(
        entries,
        id=f"IL-CUSTOMS-{book_version}",
        name=f"Israel Customs Tariff {book_version}",
        country="IL",
        version=book_version,
        digits=10,
        chapter_notes=chapter_notes,
        languages=("he", "en"),
        source=str(path),
    )


def _smallest(item: _Item) -> str | None:
    found = [c for c in (_smallest(child) for child in item.children) if c]
    if item.code:
        found.append(item.code)
    return min(found) if found else None
