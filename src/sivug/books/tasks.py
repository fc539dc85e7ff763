"""Jobs of the books domain."""

from __future__ import annotations

from pathlib import Path

from procrastinate import JobContext

from sivug.books.service import import_book
from sivug.platform.jobs import registry, resources
from sivug.platform.logging import get_logger

log = get_logger(__name__)


@registry.task(name="books.import", pass_context=True)
async def import_book_job(
    context: JobContext, format_name: str, path: str, version: str | None = None
) -> None:
    """Import a book file already saved on disk (uploads land in the data directory)."""
    async with resources(context).session() as session:
        book = await import_book(session, format_name, Path(path), version=version)
    log.info("books.import_job_done", book=book.id)
