"""All SQL for the inbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import InboundEvent
from sivug.models.base import utcnow


async def insert_if_absent(
    session: AsyncSession,
    *,
    source: str,
    external_id: str,
    headers: Mapping[str, str],
    body: bytes,
    payload: dict[str, Any] | None,
) -> tuple[int, bool]:
    """Store a delivery once. Returns (event id, True if this call stored it)."""
    stmt = (
        insert(InboundEvent)
        .values(
            source=source,
            external_id=external_id,
            headers=dict(headers),
            body=body,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(InboundEvent.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    if new_id is not None:
        return new_id, True
    existing = await session.execute(
        select(InboundEvent.id).where(
            InboundEvent.source == source, InboundEvent.external_id == external_id
        )
    )
    return existing.scalar_one(), False


async def lock(session: AsyncSession, event_id: int) -> InboundEvent | None:
    """The event, locked for this transaction so two jobs never handle it at once."""
    result = await session.execute(
        select(InboundEvent).where(InboundEvent.id == event_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def unhandled_older_than(session: AsyncSession, age: timedelta, limit: int) -> list[int]:
    cutoff: datetime = utcnow() - age
    result = await session.execute(
        select(InboundEvent.id)
        .where(InboundEvent.handled_at.is_(None), InboundEvent.received_at < cutoff)
        .order_by(InboundEvent.received_at)
        .limit(limit)
    )
    return list(result.scalars())


async def event_ids_with_live_jobs(session: AsyncSession, event_ids: list[int]) -> set[int]:
    """Of ``event_ids``, those that still have a queued, running or retrying job."""
    if not event_ids:
        return set()
    result = await session.execute(
        text(
            "SELECT (args->>'event_id')::bigint FROM procrastinate_jobs "
            "WHERE task_name = 'inbox.process' AND status IN ('todo', 'doing') "
            "AND (args->>'event_id')::bigint = ANY(:ids)"
        ),
        {"ids": event_ids},
    )
    return {row[0] for row in result}
