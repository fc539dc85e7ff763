"""All SQL for customs books and their lines."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.engine.book import Book, Section, TariffLine
from sivug.models import CustomsBook, TariffLineRow
from sivug.models.base import utcnow


async def list_books(session: AsyncSession) -> list[CustomsBook]:
    result = await session.execute(select(CustomsBook).order_by(CustomsBook.id))
    return list(result.scalars())


async def get_book(session: AsyncSession, book_id: str) -> CustomsBook | None:
    return await session.get(CustomsBook, book_id)


async def replace_book(session: AsyncSession, book: Book, *, family: str, source: str) -> None:
    """Store ``book`` under its id, replacing any lines stored before (same transaction)."""
    existing = await session.get(CustomsBook, book.id)
    sections = {number: asdict(section) for number, section in book.sections.items()}
    if existing is None:
        session.add(
            CustomsBook(
                id=book.id,
                family=family,
                name=book.name,
                country=book.country,
                version=book.version,
                digits=book.digits,
                languages=list(book.languages),
                sections=sections,
                source=source,
                line_count=len(book),
                imported_at=utcnow(),
            )
        )
    else:
        existing.name, existing.country, existing.version = book.name, book.country, book.version
        existing.digits, existing.languages, existing.sections = (
            book.digits,
            list(book.languages),
            sections,
        )
        existing.source, existing.line_count, existing.imported_at = source, len(book), utcnow()
        await session.execute(delete(TariffLineRow).where(TariffLineRow.book_id == book.id))
    await session.flush()
    rows = [
        {
            "book_id": book.id,
            "code": line.code,
            "parent_code": line.parent,
            "level": line.level,
            "texts": line.texts,
            "notes": line.notes or book.chapter_notes.get(line.code, ""),
            "section": line.section,
            "is_grouping": line.is_grouping,
            "attributes": line.attributes,
        }
        for line in book.lines.values()
    ]
    for start in range(0, len(rows), 5000):
        await session.execute(insert(TariffLineRow), rows[start : start + 5000])


async def load_book(session: AsyncSession, book_id: str) -> Book | None:
    """Rebuild the engine's in-memory :class:`Book` from the stored lines."""
    meta = await session.get(CustomsBook, book_id)
    if meta is None:
        return None
    result = await session.execute(
        select(
            TariffLineRow.code,
            TariffLineRow.parent_code,
            TariffLineRow.level,
            TariffLineRow.texts,
            TariffLineRow.notes,
            TariffLineRow.section,
            TariffLineRow.is_grouping,
            TariffLineRow.attributes,
        ).where(TariffLineRow.book_id == book_id)
    )
    lines: dict[str, TariffLine] = {}
    chapter_notes: dict[str, str] = {}
    for row in result:
        lines[row.code] = TariffLine(
            code=row.code,
            parent=row.parent_code,
            level=row.level,
            texts=row.texts,
            notes=row.notes,
            section=row.section,
            is_grouping=row.is_grouping,
            attributes=row.attributes,
        )
        if row.level == 2 and row.notes:
            chapter_notes[row.code] = row.notes
    return Book(
        id=meta.id,
        name=meta.name,
        country=meta.country,
        version=meta.version,
        digits=meta.digits,
        lines=lines,
        sections={k: Section(**v) for k, v in meta.sections.items()},
        chapter_notes=chapter_notes,
        languages=tuple(meta.languages),
    )
