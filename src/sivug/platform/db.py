"""PostgreSQL access: one async engine per process, one session per request or job.

Services only ``flush()``; the request's session dependency (or a job's ``session_scope``)
commits or rolls back in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on any error. Used by requests and jobs."""
    try:
        async with factory() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
    except (OperationalError, DBAPIError) as exc:
        if _is_connection_error(exc):
            raise DatabaseUnavailable("The database is unreachable; try again shortly.") from exc
        raise


def _is_connection_error(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
