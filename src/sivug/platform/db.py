"""PostgreSQL access: one async engine per process, one session per request or job.

Services only ``flush()``; the request's session dependency (or a job's ``session_scope``)
commits or rolls back in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from sivug.platform.errors import DatabaseUnavailable


def sqlalchemy_url(url: str) -> str:
    """``postgresql://...`` as given by operators -> the psycopg 3 dialect SQLAlchemy needs."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def libpq_url(url: str) -> str:
    """The plain libpq form (for psycopg and procrastinate)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def json_dumps(value: Any) -> bytes:
    """JSON for the database, by orjson (several times faster than ``json.dumps``); keys that
    are not strings are written as strings, as ``json.dumps`` does."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, durable: bool = True
) -> AsyncEngine:
    """``durable=False`` turns off synchronous commit for this pool's sessions: for data that
    may be lost in a crash without harm (rate-limit counters), it saves a disk flush a write."""
    connect_args: dict[str, object] = {"connect_timeout": 5}
    if not durable:
        connect_args["options"] = "-c synchronous_commit=off"
    # No pre-ping (a round trip per checkout): a connection broken by a database restart
    # fails its request with a 503 and is discarded; connections are also renewed hourly.
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=3600,
        hide_parameters=True,  # bound values (descriptions, tokens) never reach an error text
        connect_args=connect_args,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on any error. Used by requests and jobs.

    A session that was never used (most API requests: keys, preferences and engines come from
    the process's caches) is neither committed nor closed: both would begin and end an empty
    transaction through SQLAlchemy's greenlet bridge, about 0.2 ms of a web process's CPU."""
    try:
        session = factory()
        try:
            yield session
            if _has_work(session):
                await session.commit()
        except BaseException:
            if _has_work(session):
                await session.rollback()
            raise
        finally:
            if _has_work(session) or session.identity_map:
                await session.close()
    except (OperationalError, DBAPIError) as exc:
        if _is_connection_error(exc):
            raise DatabaseUnavailable("The database is unreachable; try again shortly.") from exc
        raise


def _has_work(session: AsyncSession) -> bool:
    """A transaction is open, or objects wait to be written."""
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


def _is_connection_error(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
