"""``validate_book`` and ``build_book``, the checks every importer shares."""

from __future__ import annotations

import pytest

from sivug.books.importers.errors import MAX_LISTED, ImportValidationError
from sivug.books.importers.validation import allowed_lengths, build_book, validate_book
from sivug.engine.book import Book, TariffLine


def _line(code: str, parent: str | None, text: str = "x", **kw: object) -> TariffLine:
    grouping = bool(kw.get("is_grouping"))
    level = int(str(kw.get("level", len(code))))
    return TariffLine(code, parent, level, {"en": text}, is_grouping=grouping)


def _book(*lines: TariffLine, digits: int = 8) -> Book:
    return Book("T", "Test", "XX", "1", digits, {line.code: line for line in lines})


GOOD = (
    _line("01", None),
    _line("0101", "01"),
    _line("010121", "0101"),
    _line("01012100", "010121"),
)


def test_a_good_book_passes() -> None:
    validate_book(_book(*GOOD))
    assert allowed_lengths(10) == (2, 4, 6, 8, 10)
    assert allowed_lengths(6) == (2, 4, 6)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (_line("01012190", "010199"), "parent 010199 does not exist"),
        (_line("0101219", "010121"), "code has 7 digits, expected 2, 4, 6 or 8"),
        (_line("0101210000", "01012100"), "code has 10 digits, expected 2, 4, 6 or 8"),
        (_line("01013000", "0101"), "first 6 digits 010130 are not an HS subheading in the book"),
        (_line("01022100", "010121"), "does not start with its parent's code 010121"),
        (_line("01012190", "010121", "  "), "empty text"),
        (_line("0102", None), "no parent (only chapters may be top-level)"),
        (_line("01012190", "0101", level=6), "level 6 does not match its 8 digits"),
        (_line("0101~1", "0101", is_grouping=True, text="Other:"), ""),
        (_line("0101A100", "0101"), "code must be digits only"),
        (_line("010122", "0101", is_grouping=True), "grouping line needs a synthetic code"),
    ],
)
def test_each_rule_names_the_line(bad: TariffLine, problem: str) -> None:
    book = _book(*GOOD, bad)
    if not problem:
        validate_book(book)
        return
    with pytest.raises(ImportValidationError) as caught:
        validate_book(book, locators={bad.code: 42})
    where, code, what = caught.value.problems[0]
    assert (where, code) == (42, bad.code)
    assert what.startswith(problem)
    assert f"line 42: {bad.code}: {problem}" in str(caught.value)


def test_national_chapters_need_no_hs_subheading() -> None:
    validate_book(_book(*GOOD, _line("99", None), _line("9903", "99"), _line("99038815", "9903")))


def test_grouping_lines_may_sit_between_real_lines() -> None:
    validate_book(
        _book(
            *GOOD,
            _line("010121~1", "0101", is_grouping=True, level=4),
            _line("010129", "010121~1"),
        )
    )


def test_build_book_reports_duplicates_and_the_first_ten_problems() -> None:
    entries: list[tuple[int | str, TariffLine]] = [(n + 1, line) for n, line in enumerate(GOOD)]
    entries.append((5, _line("0101", "01")))
    entries += [(n + 6, _line(f"01{n:02d}0000", "0101")) for n in range(12)]

    with pytest.raises(ImportValidationError) as caught:
        build_book(entries, id="T-1", name="T", country="XX", version="1", digits=8)

    problems = caught.value.problems
    assert problems[0] == (5, "0101", "duplicate code, first at line 2")
    assert len(problems) == 13
    message = str(caught.value)
    assert message.startswith("13 problems in T-1: line 5: 0101: duplicate code, first at line 2")
    assert message.count("line ") == MAX_LISTED + 1  # "first at line 2" is inside the first
    assert message.endswith("; and 3 more")


def test_build_book_returns_the_book() -> None:
    book = build_book(
        [(n, line) for n, line in enumerate(GOOD)],
        id="T-1",
        name="T",
        country="XX",
        version="1",
        digits=8,
    )
    assert book.path_text("01012100") == "x > x > x > x"
