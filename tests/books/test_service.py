"""Storing imported books: atomic versions, lookups, the import job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.helpers import drain_jobs

from sivug.books import repository
from sivug.books.service import (
    BookImportFailed,
    UnknownBookFormat,
    ensure_builtin_books,
    import_book,
    lookup,
)
from sivug.books.tasks import import_book_job
from sivug.models import CustomsBook, TariffLineRow
from sivug.platform.config import Settings
from sivug.platform.jobs import defer


async def _line_count(session: AsyncSession, book_id: str) -> int:
    result = await session.execute(
        select(func.count()).select_from(TariffLineRow).where(TariffLineRow.book_id == book_id)
    )
    return result.scalar_one()


async def test_builtin_hs2022_is_loaded_once(session: AsyncSession) -> None:
    assert await ensure_builtin_books(session) is True
    assert await ensure_builtin_books(session) is False
    assert await _line_count(session, "HS2022") == 6936  # HS 2022 without Comtrade's chapter 99
    book = await repository.load_book(session, "HS2022")
    assert book is not None
    view = lookup(book, "6109.10")
    assert view.path_text().startswith("Apparel and clothing accessories; knitted or crocheted")
    assert [line.code for line in view.path] == ["61", "6109", "610910"]


async def test_import_stores_a_new_version_with_lookup_by_code(
    session: AsyncSession, fixtures_dir: Path
) -> None:
    book = await import_book(session, "eu-cn-json", fixtures_dir / "eu_cn")
    stored = await session.get(CustomsBook, book.id)
    assert stored is not None
    assert (stored.family, stored.digits, stored.line_count) == ("EU-CN", 8, len(book))
    assert await _line_count(session, book.id) == len(book)
    reloaded = await repository.load_book(session, book.id)
    assert reloaded is not None
    assert reloaded.lines == book.lines


async def test_a_bad_file_leaves_the_previous_version_untouched(
    session: AsyncSession, fixtures_dir: Path, tmp_path: Path
) -> None:
    good = await import_book(session, "eu-cn-json", fixtures_dir / "eu_cn")
    before = await _line_count(session, good.id)

    broken = tmp_path / "eu_cn"
    broken.mkdir()
    for source in (fixtures_dir / "eu_cn").iterdir():
        (broken / source.name).write_bytes(source.read_bytes())
    codes = json.loads((broken / "cnCodes_2026.json").read_text())
    codes[0]["code"] = "0101"  # wrong length for an 8-digit line
    (broken / "cnCodes_2026.json").write_text(json.dumps(codes))

    with pytest.raises(BookImportFailed) as failed:
        await import_book(session, "eu-cn-json", broken)
    assert "cnCodes_2026.json" in failed.value.detail  # names the bad line's place
    assert await _line_count(session, good.id) == before


async def test_unknown_format_is_a_clear_error(session: AsyncSession, tmp_path: Path) -> None:
    with pytest.raises(UnknownBookFormat, match="eu-cn-json, usitc-hts, il-customs-xml"):
        await import_book(session, "pdf", tmp_path)


async def test_import_runs_as_a_job(
    committed_db: AsyncEngine, database_url: str, settings: Settings, fixtures_dir: Path
) -> None:
    async with AsyncSession(committed_db) as session, session.begin():
        await defer(
            session,
            import_book_job,
            format_name="il-customs-xml",
            path=str(fixtures_dir / "il_customs"),
            version="2026",
        )
    await drain_jobs(database_url, settings)
    async with AsyncSession(committed_db) as session:
        book = await repository.load_book(session, "IL-CUSTOMS-2026")
    assert book is not None
    assert "he" in book.languages
