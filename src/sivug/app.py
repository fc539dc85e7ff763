"""The FastAPI application factory. Clients are created in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sivug.inbox.endpoints import webhook_router
from sivug.inbox.vendor import WebhookVendor
from sivug.inbox.vendors import webhook_vendors as default_vendors
from sivug.platform.config import Settings
from sivug.platform.db import create_engine, session_factory
from sivug.platform.health import router as health_router
from sivug.platform.http import RequestContextMiddleware, install_error_handlers
from sivug.platform.logging import get_logger
from sivug.platform.migrations import head_revision

log = get_logger(__name__)


def create_app(
    settings: Settings,
    *,
    database_url: str,
    webhook_vendors: dict[str, WebhookVendor] | None = None,
) -> FastAPI:
    """Build the app. ``database_url`` is resolved by the caller (DATABASE_URL or embedded)."""
    vendors = webhook_vendors if webhook_vendors is not None else default_vendors(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            database_url,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
        )
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.migration_head = head_revision()
        log.info("app.started", env=settings.env)
        try:
            yield
        finally:
            await engine.dispose()
            log.info("app.stopped")

    app = FastAPI(
        title="Sivug",
        summary="Customs tariff (HS code) classification",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.webhook_vendors = vendors
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    app.include_router(health_router)
    app.include_router(webhook_router(vendors))
    return app
