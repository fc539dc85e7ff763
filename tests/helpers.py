"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sivug.inbox.vendor import WebhookVendor
from sivug.models import Base
from sivug.platform.config import Settings
from sivug.platform.jobs import JobResources, open_job_app

AppFactory = Callable[..., FastAPI]


async def open_client(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it over ASGI; optionally use the test's sessions."""
    async with app.router.lifespan_context(app):
        if sessions is not None:
            app.state.sessions = sessions
            app.state.writer_sessions = sessions
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def empty_tables(engine: AsyncEngine) -> None:
    """Empty every table (the app's and the job queue's): after tests that commit."""
    tables = [t.name for t in Base.metadata.sorted_tables] + [
        "procrastinate_jobs",
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_workers",
    ]
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


async def drain_jobs(
    database_url: str,
    settings: Settings,
    webhook_vendors: Mapping[str, WebhookVendor] | None = None,
) -> None:
    """Run a real worker until no job is due, then return (what `sivug worker` does, once)."""
    resources = JobResources.create(settings, database_url, webhook_vendors or {})
    try:
        async with open_job_app(database_url) as app:
            await app.run_worker_async(
                wait=False,
                install_signal_handlers=False,
                listen_notify=False,
                additional_context={"resources": resources},
            )
    finally:
        await resources.close()
