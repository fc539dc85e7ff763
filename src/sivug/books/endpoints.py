"""REST API v1: customs books, line lookup with path, text search."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from sivug.accounts.dependencies import Reader
from sivug.books.schemas import BookOut, LineOut, PathItem, SearchHit, SearchOut
from sivug.books.service import list_books, lookup
from sivug.classification.dependencies import Engines
from sivug.platform.dependencies import DbSession

router = APIRouter(prefix="/api/v1/books", tags=["books"])


@router.get("")
async def books(principal: Reader, session: DbSession) -> list[BookOut]:
    """The customs books you can classify in."""
    return [BookOut.of(row) for row in await list_books(session)]


@router.get("/{book_id}/lines/{code}")
async def line(
    book_id: str,
    code: str,
    principal: Reader,
    session: DbSession,
    engines: Engines,
    language: Literal["en", "he"] = "en",
) -> LineOut:
    """A line of the book with its path from the chapter down and its children."""
    book = await engines.books.get(session, book_id)
    view = lookup(book, code)
    children = [PathItem(code=c.code, text=c.text(language)) for c in book.children(view.line.code)]
    return LineOut.of(view, children, language)


@router.get("/{book_id}/search")
async def search(
    book_id: str,
    principal: Reader,
    session: DbSession,
    engines: Engines,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchOut:
    """Lines of the book matching the words of `q` (English or Hebrew)."""
    engine = await engines.get(session, book_id)
    hits = [
        SearchHit(code=h.code, level=h.level, text=h.text, path_text=h.path_text, score=h.score)
        for h in engine.search(q, limit=limit)
    ]
    return SearchOut(book=book_id, query=q, hits=hits)
