"""(f) Customs book extraction: pages of a tariff PDF (pdfplumber) or text -> structured lines
(code, description, level, duty, notes) -> a book validated by the tree rules of the books
importers, for books published only as PDF (the Israeli one is).

The work is page by page, one transaction per page, so a job that stops (crash, provider
outage) resumes at the first page not yet done. Nothing is stored as a book until every page
is read and the whole tree validates.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pdfplumber
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.books import repository as books_repository
from sivug.books.importers.errors import ImportValidationError
from sivug.books.importers.validation import allowed_lengths, build_book
from sivug.engine.book import Book, TariffLine
from sivug.llm import prompts, repository
from sivug.llm.prompts import digits
from sivug.llm.schemas import ExtractedPage
from sivug.llm.service import LLMCall, LLMService
from sivug.models import ExtractionJob
from sivug.platform.errors import NotFound, ValidationFailed
from sivug.platform.logging import get_logger

log = get_logger(__name__)

PAGE_CHARS = 6000
SOURCE = "llm-extraction"

SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class ExtractionNotFound(NotFound):
    pass


# ---------------------------------------------------------------- pages


def pages_from_pdf(path: Path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def pages_from_text(text: str, max_chars: int = PAGE_CHARS) -> list[str]:
    """Form feeds separate pages when present; otherwise whole lines up to ``max_chars``."""
    if "\f" in text:
        return [page for page in text.split("\f") if page.strip()]
    pages: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines():
        if size + len(line) > max_chars and current:
            pages.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current and any(line.strip() for line in current):
        pages.append("\n".join(current))
    return pages


def read_pages(path: Path) -> list[str]:
    if path.suffix.lower() == ".pdf":
        return pages_from_pdf(path)
    return pages_from_text(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- one page


def page_problem(page: ExtractedPage, book_digits: int) -> str | None:
    lengths = allowed_lengths(book_digits)
    for line in page.lines:
        code = digits(line.code)
        if len(code) not in lengths:
            return f"code {line.code!r} has {len(code)} digits; expected one of {lengths}"
        if not line.description.strip():
            return f"code {line.code!r} has no description"
    return None


async def extract_page(
    session: AsyncSession,
    llm: LLMService,
    *,
    page_number: int,
    text: str,
    book_digits: int,
    organization_id: str | None,
    codes_seen: list[str],
) -> LLMCall[ExtractedPage]:
    return await llm.run(
        session,
        task="extract_book",
        organization_id=organization_id,
        system=prompts.EXTRACT_SYSTEM,
        prompt=prompts.page_prompt(page_number, text, codes_seen),
        output_type=ExtractedPage,
        validate=lambda page: page_problem(page, book_digits),
    )


# ---------------------------------------------------------------- the book


def assemble_book(
    lines: list[dict[str, Any]],
    *,
    book_id: str,
    name: str,
    country: str,
    version: str,
    book_digits: int,
    chapter_notes: dict[str, str] | None = None,
) -> Book:
    """Extracted lines (in page order) -> a validated book; parents from the code prefixes.

    Raises :class:`ImportValidationError` naming the bad lines by page.
    """
    lengths = allowed_lengths(book_digits)
    seen: set[str] = set()
    entries: list[tuple[str, TariffLine]] = []
    for item in lines:
        code = digits(str(item.get("code", "")))
        parent = next(
            (code[:n] for n in sorted(lengths, reverse=True) if n < len(code) and code[:n] in seen),
            None,
        )
        attributes = {"duty": str(item["duty"])} if item.get("duty") else {}
        entries.append(
            (
                f"page {item.get('page', '?')}",
                TariffLine(
                    code=code,
                    parent=parent,
                    level=len(code),
                    texts={"en": str(item.get("description", "")).strip()},
                    notes=str(item.get("notes") or ""),
                    attributes=attributes,
                ),
            )
        )
        seen.add(code)
    return build_book(
        entries,
        id=book_id,
        name=name,
        country=country,
        version=version,
        digits=book_digits,
        chapter_notes=chapter_notes,
        source=SOURCE,
    )


def _dedupe(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A line repeated across a page break (continued headers) is kept once."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in lines:
        code = digits(str(line.get("code", "")))
        if code in seen:
            continue
        seen.add(code)
        out.append(line)
    return out


# ---------------------------------------------------------------- the job


async def create_extraction(
    session: AsyncSession,
    *,
    source_path: Path,
    book_id: str,
    name: str,
    country: str,
    version: str,
    book_digits: int,
    organization_id: str | None = None,
) -> ExtractionJob:
    """Record an extraction to run (the caller enqueues ``llm.extract_book`` with its id)."""
    if not source_path.exists():
        raise ValidationFailed(f"{source_path} does not exist")
    if book_digits not in (6, 8, 10, 12):
        raise ValidationFailed("digits: a book has 6, 8, 10 or 12 digits")
    return await repository.add_extraction(
        session,
        ExtractionJob(
            organization_id=organization_id,
            book_id=book_id,
            book_name=name,
            country=country,
            version=version,
            digits=book_digits,
            source_path=str(source_path),
            status="queued",
            lines=[],
            problems=[],
        ),
    )


async def run_extraction(
    session_scope: SessionScope,
    llm: LLMService,
    extraction_id: uuid.UUID,
) -> ExtractionJob:
    """Extract every page not yet done (resuming), then validate and store the book."""
    async with session_scope() as session:
        job = await repository.get_extraction(session, extraction_id, for_update=True)
        if job is None:
            raise ExtractionNotFound(f"No extraction {extraction_id}.")
        if job.status == "done":
            return job
        pages = read_pages(Path(job.source_path))
        job.pages_total = len(pages)
        job.status = "running"
        job.error = None
    async for page_number in _pending_pages(session_scope, extraction_id, len(pages)):
        async with session_scope() as session:
            job = await _locked(session, extraction_id)
            codes = [str(line["code"]) for line in job.lines]
            call = await extract_page(
                session,
                llm,
                page_number=page_number,
                text=pages[page_number - 1],
                book_digits=job.digits,
                organization_id=job.organization_id,
                codes_seen=codes,
            )
            found = [{**line.model_dump(), "page": page_number} for line in call.output.lines]
            job.lines = [*job.lines, *found]
            job.pages_done = page_number
            if call.output.chapter_notes:
                job.chapter_notes = {**job.chapter_notes, **call.output.chapter_notes}
            log.info(
                "llm.extract_page",
                extraction=str(extraction_id),
                page=page_number,
                pages=job.pages_total,
                lines=len(found),
            )
    async with session_scope() as session:
        job = await _locked(session, extraction_id)
        try:
            book = assemble_book(
                _dedupe(list(job.lines)),
                book_id=job.book_id,
                name=job.book_name,
                country=job.country,
                version=job.version,
                book_digits=job.digits,
                chapter_notes={
                    digits(str(k)).zfill(2): str(v) for k, v in job.chapter_notes.items()
                },
            )
        except ImportValidationError as exc:
            job.status = "failed"
            job.error = str(exc)[:4000]
            job.problems = [list(p) for p in exc.problems[:200]]
            log.warning("llm.extract_invalid", extraction=str(extraction_id))
            return job
        await books_repository.replace_book(session, book, family=job.country, source=SOURCE)
        job.status = "done"
        log.info("llm.extract_done", extraction=str(extraction_id), lines=len(book))
        return job


async def _locked(session: AsyncSession, extraction_id: uuid.UUID) -> ExtractionJob:
    job = await repository.get_extraction(session, extraction_id, for_update=True)
    if job is None:
        raise ExtractionNotFound(f"No extraction {extraction_id}.")
    return job


async def _pending_pages(
    session_scope: SessionScope, extraction_id: uuid.UUID, total: int
) -> AsyncIterator[int]:
    """Page numbers (1-based) still to do, read afresh before each page."""
    while True:
        async with session_scope() as session:
            job = await _locked(session, extraction_id)
            done = job.pages_done
        if done >= total:
            return
        yield done + 1
