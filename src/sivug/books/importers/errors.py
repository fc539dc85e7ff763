"""The one error every importer raises: the file or the book built from it is not acceptable.

An import either returns a whole, valid :class:`~sivug.engine.book.Book` or raises
:class:`ImportValidationError`; there is never a partial book.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Where a problem is: a 1-based line or row number, or a file locator such as
#: ``"cnCodes_2026.json record 12"`` or ``"CustomsItem.xml:40:3"``.
Locator = int | str

#: One problem: (where, the code concerned or "" if unknown, what is wrong).
Problem = tuple[Locator, str, str]

#: How many problems the message names; all of them stay in :attr:`problems`.
MAX_LISTED = 10


def _describe(problem: Problem) -> str:
    where, code, what = problem
    place = f"line {where}" if isinstance(where, int) else str(where)
    return f"{place}: {code}: {what}" if code else f"{place}: {what}"


class ImportValidationError(Exception):
    """A customs book could not be imported.

    ``problems`` lists every problem found, in file order; the message names the first
    :data:`MAX_LISTED` of them, e.g. ``"2 problems in cnCodes_2026.json: record 3: 0101210:
    code has 7 digits, expected 2, 4, 6 or 8; ..."``.
    """

    def __init__(self, problems: Iterable[Problem], *, source: str = "") -> None:
        self.problems: list[Problem] = list(problems) or [("", "", "unknown problem")]
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''}"
        if self.source:
            head += f" in {self.source}"
        listed = "; ".join(_describe(p) for p in self.problems[:MAX_LISTED])
        more = f"; and {count - MAX_LISTED} more" if count > MAX_LISTED else ""
        return f"{head}: {listed}{more}"
