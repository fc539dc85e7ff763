"""Lists uploaded for classification: accepted whole or refused whole, then classified in a
job that records its progress and resumes where it stopped."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.classification import repository
from sivug.classification.engines import EngineCache
from sivug.classification.lists import (
    SUFFIXES,
    ListFileInvalid,
    ListItem,
    output_row,
    parse_items,
)
from sivug.classification.service import clean_input, resolve_book_id
from sivug.models import ClassificationList
from sivug.platform.errors import AppError, NotFound, PayloadTooLarge
from sivug.platform.jobs import defer

#: Items classified between two progress commits.
PROGRESS_EVERY = 50
MAX_ITEMS = 10_000


class ListNotFound(NotFound):
    pass


async def accept_list(
    session: AsyncSession,
    *,
    organization_id: str,
    user_id: str | None,
    channel: str,
    filename: str,
    data: bytes,
    max_bytes: int,
    book_id: str | None = None,
) -> ClassificationList:
    """Check the file now (type, size, encoding, columns) and queue it; a refused file stores
    nothing. Rows that cannot be read are reported by line number in the results."""
    from sivug.classification.tasks import process_list

    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{filename}: {len(data)} bytes; the limit is {max_bytes} bytes")
    if not filename.lower().endswith(SUFFIXES):
        raise ListFileInvalid(f"{filename}: expected a .csv, .xlsx or .jsonl file")
    items = parse_items(data, filename)
    if not items:
        raise ListFileInvalid(f"{filename}: no items found")
    if len(items) > MAX_ITEMS:
        raise ListFileInvalid(f"{filename}: {len(items)} items; at most {MAX_ITEMS} per list")
    book = await resolve_book_id(
        session, requested=book_id, user_id=user_id, organization_id=organization_id
    )
    row = ClassificationList(
        organization_id=organization_id,
        user_id=user_id,
        filename=filename[:255],
        book_id=book,
        channel=channel,
        status="queued",
        total=len(items),
        done=0,
        input=data,
        results=[],
    )
    session.add(row)
    await session.flush()
    await defer(session, process_list, list_id=str(row.id))
    return row


async def get_list(
    session: AsyncSession, organization_id: str, list_id: uuid.UUID
) -> ClassificationList:
    row = await repository.get_list(session, organization_id, list_id)
    if row is None:
        raise ListNotFound(f"No list {list_id}.")
    return row


async def pending_items(session: AsyncSession, list_id: uuid.UUID) -> list[ListItem] | None:
    """The list's items, parsed once per job run; None when there is nothing left to do."""
    row = await repository.get_list_by_id(session, list_id)
    if row is None or row.status in ("done", "failed"):
        return None
    return parse_items(row.input, row.filename)


async def advance_list(
    session: AsyncSession, engines: EngineCache, list_id: uuid.UUID, items: list[ListItem]
) -> bool:
    """Classify the next batch of a list. Returns True when the list is finished."""
    from sivug.classification.service import classify

    row = await repository.get_list_by_id(session, list_id)
    if row is None or row.status in ("done", "failed"):
        return True
    row.status = "running"
    results = list(row.results)
    batch = items[len(results) : len(results) + PROGRESS_EVERY]
    for item in batch:
        if item.error:
            results.append(output_row(item.id, None, item.error))
            continue
        try:
            clean_input(item.description, item.attributes)
        except Exception as exc:
            results.append(output_row(item.id, None, f"line {item.line}: {exc}"))
            continue
        try:
            classified = await classify(
                session,
                engines,
                organization_id=row.organization_id,
                user_id=row.user_id,
                channel="list",
                description=item.description,
                attributes=item.attributes,
                book_id=item.book or row.book_id,
            )
        except AppError as exc:  # e.g. a row naming a book that does not exist
            if exc.status_code >= 500:
                raise
            results.append(output_row(item.id, None, f"line {item.line}: {exc.detail}"))
            continue
        results.append(output_row(item.id, classified.result, None))
    row.results = results
    row.done = len(results)
    if row.done >= len(items):
        row.status = "done"
    await session.flush()
    return row.status == "done"
