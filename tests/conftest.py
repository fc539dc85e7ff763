"""Shared fixtures: a real PostgreSQL database built by the Alembic migrations.

``DATABASE_URL`` (when set) names the server; a fresh database is created on it for the run
and dropped afterwards. Without it, an embedded PostgreSQL is started in a temporary folder.
Each test gets a transaction that is rolled back at the end (``session``, ``client``); tests
that need other processes to see their data (workers) use ``committed_db`` instead, which
empties every table afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from tests.helpers import AppFactory, empty_tables, open_client

from sivug.accounts.service import DEMO_ORGANIZATION_ID, seed_demo
from sivug.app import create_app
from sivug.books.service import BookCache, ensure_builtin_books
from sivug.classification.engines import EngineCache
from sivug.inbox.vendor import WebhookVendor
from sivug.models import Organization
from sivug.platform import migrations
from sivug.platform.config import Settings
from sivug.platform.db import create_engine, libpq_url
from sivug.platform.embedded_pg import EmbeddedPostgres

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"sivug_test_{uuid.uuid4().hex[:10]}"
    server = os.environ.get("DATABASE_URL")
    if server is None:
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded"))
        url = embedded.start(name)
        migrations.upgrade(url)
        yield url
        embedded.stop()
        return
    admin = libpq_url(server)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(server, name)
    migrations.upgrade(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, SIVUG_ENV="local", SIVUG_DATA_DIR=tmp_path)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
def sessions(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions joined to the test's transaction: their commits become savepoints."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


@pytest.fixture
def make_app(settings: Settings, database_url: str) -> AppFactory:
    def build(
        *, webhook_vendors: dict[str, WebhookVendor] | None = None, **overrides: Any
    ) -> FastAPI:
        return create_app(
            overrides.pop("settings", settings),
            database_url=overrides.pop("database_url", database_url),
            webhook_vendors=webhook_vendors if webhook_vendors is not None else {},
        )

    return build


@pytest.fixture
async def client(
    make_app: AppFactory, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with no webhook vendors, its requests inside the test's transaction."""
    async for c in open_client(make_app(), sessions):
        yield c


@pytest.fixture
async def committed_db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """For tests whose data must be visible to other connections: tables emptied afterwards."""
    yield engine
    await empty_tables(engine)


@pytest.fixture(scope="session")
def book_cache() -> BookCache:
    """Books are immutable once stored: one cache for the whole run."""
    return BookCache()


@pytest.fixture
def engines(book_cache: BookCache) -> EngineCache:
    """A fresh engine cache per test, so precedents never leak between tests."""
    return EngineCache(book_cache)


@pytest.fixture
async def org(session: AsyncSession) -> str:
    """The demo organization and user, with HS 2022 stored (inside the test's transaction)."""
    await ensure_builtin_books(session)
    await seed_demo(session)
    session.add(Organization(id="org_other", name="Other Trading Co"))
    await session.flush()
    return DEMO_ORGANIZATION_ID
