"""The customs book as the engine sees it: a tree of tariff lines, in memory.

Importers (``sivug.books.importers``) produce a :class:`Book`; the books service stores it in
PostgreSQL and loads it back; the engine classifies against it. Nothing here touches the web
or the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

#: Digits at each named level of a code. National levels (8, 10) depend on the book.
CHAPTER, HEADING, SUBHEADING = 2, 4, 6


@dataclass(frozen=True, slots=True)
class TariffLine:
    """One line of the nomenclature.

    ``code`` holds digits only and keeps leading zeros ("0101", "010121", "0101210000").
    Lines without a code of their own (grouping lines such as US HTS "Other:" indents) get a
    synthetic code from the importer (see ``is_grouping``) so the tree stays a tree.
    ``texts`` maps a language code ("en", "he") to this line's own text (not the path).
    """

    code: str
    parent: str | None
    level: int
    texts: dict[str, str]
    notes: str = ""
    section: str = ""
    is_grouping: bool = False
    attributes: dict[str, str] = field(default_factory=dict)

    def text(self, language: str = "en") -> str:
        return (
            self.texts.get(language) or self.texts.get("en") or next(iter(self.texts.values()), "")
        )


@dataclass(frozen=True, slots=True)
class Section:
    number: str  # Roman numeral, "I" .. "XXI"
    title: str
    notes: str = ""


@dataclass(slots=True)
class Book:
    """A customs book at one version, e.g. ``HS2022`` (6 digits) or ``EU-CN-2026`` (8)."""

    id: str
    name: str
    country: str  # ISO 3166 alpha-2, or "INT" for the international HS
    version: str
    digits: int
    lines: dict[str, TariffLine]
    sections: dict[str, Section] = field(default_factory=dict)
    chapter_notes: dict[str, str] = field(default_factory=dict)  # "01" -> notes text
    languages: tuple[str, ...] = ("en",)
    _children: dict[str | None, list[str]] = field(default_factory=dict, repr=False)
    _child_lines: dict[str | None, tuple[TariffLine, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _path_texts: dict[tuple[str, str], str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._children = {}
        self._child_lines = {}
        self._path_texts = {}
        for line in self.lines.values():
            self._children.setdefault(line.parent, []).append(line.code)
        for codes in self._children.values():
            codes.sort()

    def get(self, code: str) -> TariffLine | None:
        return self.lines.get(code)

    def children(self, code: str | None) -> list[TariffLine]:
        found = self._child_lines.get(code)
        if found is None:  # resolved once: the engine asks for the same nodes all the time
            found = tuple(self.lines[c] for c in self._children.get(code, []))
            self._child_lines[code] = found
        return list(found)

    def path(self, code: str) -> list[TariffLine]:
        """From the chapter down to ``code`` (inclusive)."""
        out: list[TariffLine] = []
        current = self.lines.get(code)
        while current is not None:
            out.append(current)
            current = self.lines.get(current.parent) if current.parent else None
        out.reverse()
        return out

    def path_text(self, code: str, language: str = "en") -> str:
        key = (code, language)
        found = self._path_texts.get(key)
        if found is None:
            found = " > ".join(line.text(language) for line in self.path(code))
            self._path_texts[key] = found
        return found

    def leaves(self) -> Iterator[TariffLine]:
        for line in self.lines.values():
            if not self._children.get(line.code):
                yield line

    def __len__(self) -> int:
        return len(self.lines)
