"""Checks that a book is a well-formed tariff tree, shared by every importer.

The rules (each broken rule is one problem naming the line):

- a line is stored under its own code, and has a non-empty text in at least one language;
- a real code is digits only, its length is one the book allows (2, 4, 6, then every even
  length from 8 up to ``book.digits``: 8 for the EU CN, 8 and 10 for the US HTS and Israel),
  and its ``level`` equals its number of digits;
- a grouping line (``is_grouping``) has a synthetic code that is not all digits, so it can
  never collide with a real code;
- only chapters (2 digits) are top-level; every other line's parent exists;
- a real code starts with the code of its nearest real ancestor (grouping lines are skipped
  on the way up), and that ancestor is the closest real line above it: "0101210010" may not
  hang from "0101" when "01012100" exists;
- the chapter and heading of every code (its first 2 and 4 digits) are lines of the book, and
  so is the HS subheading (first 6 digits) of every national code, in books that have
  6-digit lines at all (except in chapters 77, 98 and 99, which the HS leaves to national
  use);
- no code appears twice (checked by :func:`build_book`, since a ``dict`` cannot hold both).

:func:`build_book` is what importers call: it assembles the book from the lines in file order
and raises :class:`ImportValidationError` naming the first bad lines by their file locator.
The same :func:`validate_book` serves books from other sources (e.g. extracted by an LLM).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sivug.books.importers.errors import ImportValidationError, Locator, Problem
from sivug.engine.book import CHAPTER, HEADING, SUBHEADING, Book, Section, TariffLine

#: Chapters the HS leaves to national use: their codes have no HS subheading.
NATIONAL_CHAPTERS = frozenset({"77", "98", "99"})


def allowed_lengths(digits: int) -> tuple[int, ...]:
    """Code lengths a book of ``digits`` digits may use, e.g. ``(2, 4, 6, 8, 10)`` for 10."""
    return (CHAPTER, HEADING, SUBHEADING, *range(SUBHEADING + 2, digits + 1, 2))


def _lengths_text(lengths: tuple[int, ...]) -> str:
    names = [str(n) for n in lengths]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _nearest_real_ancestor(book: Book, line: TariffLine) -> tuple[TariffLine | None, bool]:
    """The closest ancestor that is not a grouping line; the flag is True on a loop."""
    seen = {line.code}
    parent_code = line.parent
    while parent_code is not None:
        if parent_code in seen:
            return None, True
        seen.add(parent_code)
        parent = book.lines.get(parent_code)
        if parent is None:
            return None, False
        if not parent.is_grouping:
            return parent, False
        parent_code = parent.parent
    return None, False


def _line_problems(book: Book, key: str, line: TariffLine, has_subheadings: bool) -> list[str]:
    out: list[str] = []
    lengths = allowed_lengths(book.digits)
    code = line.code
    if key != code:
        out.append(f"stored under {key!r} but its code is {code!r}")
    if not any(text.strip() for text in line.texts.values()):
        out.append("empty text")
    real_code_ok = False
    if line.is_grouping:
        if not code or code.isdigit():
            out.append("grouping line needs a synthetic code that is not all digits")
    elif not code.isdigit():
        out.append("code must be digits only")
    elif len(code) not in lengths:
        out.append(f"code has {len(code)} digits, expected {_lengths_text(lengths)}")
    else:
        real_code_ok = True
        if line.level != len(code):
            out.append(f"level {line.level} does not match its {len(code)} digits")

    if line.parent is None:
        if line.is_grouping or len(code) != CHAPTER:
            out.append("no parent (only chapters may be top-level)")
        return out
    if line.parent == code:
        out.append("is its own parent")
        return out
    if line.parent not in book.lines:
        out.append(f"parent {line.parent} does not exist")
        return out
    ancestor, loop = _nearest_real_ancestor(book, line)
    if loop:
        out.append("parent chain loops")
        return out
    if ancestor is None:
        out.append("no chapter, heading or other real line above it")
        return out
    if not real_code_ok:
        return out
    if len(code) == CHAPTER:
        out.append("a chapter must be top-level")
        return out
    if not (code.startswith(ancestor.code) and len(code) > len(ancestor.code)):
        out.append(f"does not start with its parent's code {ancestor.code}")
        return out
    for size, what in (
        (CHAPTER, "a chapter"),
        (HEADING, "a heading"),
        (SUBHEADING, "an HS subheading"),
    ):
        if size >= len(code) or (
            size == SUBHEADING and (not has_subheadings or code[:2] in NATIONAL_CHAPTERS)
        ):
            continue
        above = book.lines.get(code[:size])
        if above is None or above.is_grouping:
            out.append(f"first {size} digits {code[:size]} are not {what} in the book")
            return out
    closest = next(
        (
            code[:n]
            for n in sorted(lengths, reverse=True)
            if n < len(code) and code[:n] in book.lines and not book.lines[code[:n]].is_grouping
        ),
        None,
    )
    if closest is not None and closest != ancestor.code:
        out.append(f"hangs from {ancestor.code} but {closest} is the closest line above it")
    return out


def book_problems(book: Book, *, locators: Mapping[str, Locator] | None = None) -> list[Problem]:
    """Every problem in ``book``, in the order of ``book.lines`` (file order for importers)."""
    has_subheadings = any(
        len(line.code) == SUBHEADING and not line.is_grouping for line in book.lines.values()
    )
    problems: list[Problem] = []
    for key, line in book.lines.items():
        where: Locator = (locators or {}).get(key, book.id)
        for what in _line_problems(book, key, line, has_subheadings):
            problems.append((where, line.code, what))
    return problems


def validate_book(
    book: Book, *, locators: Mapping[str, Locator] | None = None, source: str = ""
) -> None:
    """Raise :class:`ImportValidationError` unless ``book`` is a well-formed tariff tree.

    ``locators`` maps a code to where it came from (a line number or a file locator); lines
    without one are named by the book id.
    """
    problems = book_problems(book, locators=locators)
    if problems:
        raise ImportValidationError(problems, source=source or book.id)


def grouping_code(first: str | None, *, depth: int, above: str, taken: set[str]) -> str:
    """A synthetic code for a grouping line, unique within ``taken`` (and added to it).

    ``first`` is the smallest real code below the grouping line, ``depth`` counts the grouping
    lines from the closest real line above (1 for the outermost), ``above`` is that line's
    code. The code sorts just before ``first``, hence in place among its siblings:
    "Horses:" above 010121 gets "010120~1" (a last digit 0 becomes "/", which sorts before
    "0"). With no real line below, it is ``above + "~e<n>"``. The "~" means it is never a
    real code.
    """
    if first:
        lowered = "/" if first[-1] == "0" else str(int(first[-1]) - 1)
        candidate = f"{first[:-1]}{lowered}~{depth}"
    else:
        candidate = f"{above}~e{len(taken)}"
    while candidate in taken:
        candidate += "~"
    taken.add(candidate)
    return candidate


def build_book(
    entries: Iterable[tuple[Locator, TariffLine]],
    *,
    id: str,
    name: str,
    country: str,
    version: str,
    digits: int,
    sections: Mapping[str, Section] | None = None,
    chapter_notes: Mapping[str, str] | None = None,
    languages: tuple[str, ...] = ("en",),
    source: str = "",
) -> Book:
    """Assemble a book from ``(locator, line)`` pairs in file order, and validate it.

    Raises :class:`ImportValidationError` listing duplicate codes and every problem of
    :func:`validate_book`, in file order.
    """
    lines: dict[str, TariffLine] = {}
    locators: dict[str, Locator] = {}
    order: dict[str, int] = {}
    ranked: list[tuple[int, Problem]] = []
    for index, (where, line) in enumerate(entries):
        if line.code in lines:
            first = locators[line.code]
            first_text = f"line {first}" if isinstance(first, int) else str(first)
            ranked.append((index, (where, line.code, f"duplicate code, first at {first_text}")))
            continue
        lines[line.code] = line
        locators[line.code] = where
        order[line.code] = index
    book = Book(
        id=id,
        name=name,
        country=country,
        version=version,
        digits=digits,
        lines=lines,
        sections=dict(sections or {}),
        chapter_notes=dict(chapter_notes or {}),
        languages=languages,
    )
    for problem in book_problems(book, locators=locators):
        ranked.append((order.get(problem[1], -1), problem))
    if ranked:
        ranked.sort(key=lambda item: item[0])
        raise ImportValidationError([p for _, p in ranked], source=source or id)
    return book
