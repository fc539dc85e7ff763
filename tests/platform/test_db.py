"""The unit of work: what ``session_scope`` commits and rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sivug.models import AuditEntry
from sivug.platform.db import session_scope


def _entry(entity_id: str) -> AuditEntry:
    return AuditEntry(actor="system", action="test", entity_type="x", entity_id=entity_id)


async def _stored(session: AsyncSession, entity_id: str) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_id == entity_id)
    return int((await session.execute(query)).scalar_one())


async def test_an_object_only_added_is_committed(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    async with session_scope(sessions) as unit:
        unit.add(_entry("added"))  # never flushed: the commit writes it
    assert await _stored(session, "added") == 1


async def _fail_after_adding(
    sessions: async_sessionmaker[AsyncSession], entity_id: str, *, flush: bool
) -> None:
    async with session_scope(sessions) as unit:
        unit.add(_entry(entity_id))
        if flush:
            await unit.flush()
        raise RuntimeError("the request failed")


async def test_an_error_rolls_back_what_was_written(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    with pytest.raises(RuntimeError):
        await _fail_after_adding(sessions, "flushed", flush=True)
    with pytest.raises(RuntimeError):
        await _fail_after_adding(sessions, "pending", flush=False)
    assert await _stored(session, "flushed") == 0
    assert await _stored(session, "pending") == 0


async def test_a_unit_that_did_nothing_leaves_no_transaction_open(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(sessions) as unit:
        pass
    assert not unit.in_transaction()
    async with session_scope(sessions) as unit:
        await unit.execute(select(1))
    assert not unit.in_transaction()
