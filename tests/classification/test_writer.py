"""The API's batching writer: rows that arrive together share a transaction, a request is
answered only after its row is committed, and one bad row does not fail the others."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tests.helpers import AppFactory, open_client

from sivug.accounts.service import create_api_key
from sivug.books.service import ensure_builtin_books
from sivug.classification.writer import ClassificationWriter
from sivug.models import Classification, Organization
from sivug.platform.config import Settings
from sivug.platform.db import session_factory, session_scope

ORG = "org_writer"


@pytest.fixture
async def stored(committed_db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    sessions = session_factory(committed_db)
    async with session_scope(sessions) as session:
        await ensure_builtin_books(session)
        session.add(Organization(id=ORG, name="Writer Ltd"))
    return sessions


def a_row(text: str, organization_id: str = ORG) -> Classification:
    return Classification(
        organization_id=organization_id,
        user_id=None,
        book_id="HS2022",
        channel="api",
        input=text,
        attributes={},
        status="classified",
        code="610910",
        level_reached=6,
        confidence=0.9,
        confidence_by_level={},
        alternatives=[],
        result={"status": "classified"},
        engine="test",
    )


class CountingSessions:
    """The session factory, counting the transactions the writer opens."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.opened = 0

    def __call__(self) -> async_sessionmaker[AsyncSession]:
        self.opened += 1
        return self.sessions


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(func.count()).where(Classification.organization_id == ORG)
        )
        return int(found.scalar_one())


async def test_rows_arriving_together_share_one_transaction(
    committed_db: AsyncEngine, stored: async_sessionmaker[AsyncSession]
) -> None:
    counting = CountingSessions(stored)
    writer = ClassificationWriter(counting)
    rows = [a_row(f"item {i}") for i in range(30)]
    await asyncio.gather(*(writer.write(row) for row in rows))
    assert counting.opened == 1
    assert await count_rows(committed_db) == 30
    assert len({row.id for row in rows}) == 30


async def test_a_write_returns_only_once_its_row_is_committed(
    committed_db: AsyncEngine, stored: async_sessionmaker[AsyncSession]
) -> None:
    writer = ClassificationWriter(lambda: stored)
    row = a_row("cotton t-shirt")
    await writer.write(row)
    async with committed_db.connect() as conn:  # another connection sees it at once
        found = await conn.execute(select(Classification.input).where(Classification.id == row.id))
        assert found.scalar_one() == "cotton t-shirt"


async def test_one_bad_row_fails_alone(
    committed_db: AsyncEngine, stored: async_sessionmaker[AsyncSession]
) -> None:
    writer = ClassificationWriter(lambda: stored)
    good = [a_row(f"good {i}") for i in range(5)]
    bad = a_row("no such organization", organization_id=f"org_{uuid.uuid4().hex}")
    results = await asyncio.gather(
        *(writer.write(row) for row in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )
    assert [isinstance(r, Exception) for r in results] == [False, False, True, False, False, False]
    assert await count_rows(committed_db) == 5


async def test_requests_holding_every_pooled_connection_still_get_their_rows_written(
    make_app: AppFactory, settings: Settings, stored: async_sessionmaker[AsyncSession]
) -> None:
    """Each request below reads its API key from the database (a cold cache) and keeps that
    connection until its row is committed; with one connection in the request pool, a writer
    drawing on the same pool would wait for it forever (it used to, until the pool's 30 s
    timeout answered 500)."""
    async with session_scope(stored) as session:
        _, key = await create_api_key(session, organization_id=ORG, name="k", created_by=None)
    small = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"pool_size": 1, "max_overflow": 0})
        }
    )
    async for client in open_client(make_app(settings=small)):
        responses = await asyncio.wait_for(
            asyncio.gather(
                *(
                    client.post(
                        "/api/v1/classifications",
                        json={"description": f"cotton t-shirt {i}"},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for i in range(6)
                )
            ),
            timeout=20,
        )
        assert [r.status_code for r in responses] == [201] * 6
    async with stored() as session:
        count = await session.scalar(select(func.count()).select_from(Classification))
    assert count == 6
