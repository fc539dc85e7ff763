"""The FastAPI application factory. Clients are created in the lifespan, never at import."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sivug.accounts.auth import DevSignIn
from sivug.accounts.cache import AccountsCache
from sivug.accounts.endpoints import router as accounts_router
from sivug.books.endpoints import router as books_router
from sivug.channels.email.endpoints import dev_outbox_router
from sivug.classification.endpoints import router as classification_router
from sivug.classification.engines import EngineCache
from sivug.classification.writer import ClassificationWriter
from sivug.inbox.endpoints import webhook_router
from sivug.inbox.vendor import WebhookVendor
from sivug.inbox.vendors import webhook_vendors as default_vendors
from sivug.llm.endpoints import router as usage_router
from sivug.llm.service import build_llm_service
from sivug.platform.changes import ChangeFeed
from sivug.platform.config import Settings, get_settings
from sivug.platform.db import create_engine, session_factory
from sivug.platform.health import router as health_router
from sivug.platform.http import RequestContextMiddleware, install_error_handlers
from sivug.platform.logging import configure_logging, get_logger
from sivug.platform.memory import tune_collector
from sivug.platform.metrics import router as metrics_router
from sivug.platform.migrations import head_revision
from sivug.platform.ratelimit import RateLimiter
from sivug.web.endpoints import router as web_router
from sivug.web.rendering import STATIC_DIR, error_page
from sivug.wrappers.clerk import ClerkWrapper

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
        app.state.engines = EngineCache()
        app.state.clerk = ClerkWrapper(settings.clerk)
        # Its own small pool: a request already holds a connection of the main pool, so
        # counting on that pool too could deadlock under load.
        limiter_engine = create_engine(database_url, pool_size=4, max_overflow=4, durable=False)
        app.state.rate_limiter = RateLimiter(limiter_engine)
        app.state.dev_sign_in = _dev_sign_in(settings)
        # Caches of API keys and book preferences, kept fresh by PostgreSQL's announcements.
        changes = ChangeFeed(database_url)
        app.state.accounts_cache = AccountsCache(changes)
        await changes.start()
        # Its own pool too: requests hold main-pool connections while they wait for their
        # batch, so a writer drawing on that pool deadlocked once 20 requests waited.
        writer_engine = create_engine(database_url, pool_size=2, max_overflow=0)
        app.state.writer_sessions = session_factory(writer_engine)
        # Read at each batch: tests replace the factories after start-up.
        app.state.classification_writer = ClassificationWriter(lambda: app.state.writer_sessions)
        # None: no provider, the engine answers. Usage is recorded through the writer's pool
        # (a request holds a main-pool connection during its LLM call).
        app.state.llm = build_llm_service(
            settings, usage_sessions=lambda: app.state.writer_sessions
        )
        log.info("app.started", env=settings.env)
        try:
            yield
        finally:
            if app.state.llm is not None:
                await app.state.llm.close()
            await app.state.classification_writer.close()
            await writer_engine.dispose()
            await changes.stop()
            await app.state.rate_limiter.close()
            await limiter_engine.dispose()
            await engine.dispose()
            log.info("app.stopped")

    app = FastAPI(
        title="Sivug",
        summary="Customs tariff (HS code) classification",
        version="1",
        lifespan=lifespan,
        # Metrics are Prometheus's (/metrics) and no OpenTelemetry is set up: FastAPI's own
        # would otherwise look for a provider at every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.webhook_vendors = vendors
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(webhook_router(vendors))
    app.include_router(classification_router)
    app.include_router(books_router)
    app.include_router(accounts_router)
    app.include_router(usage_router)
    app.include_router(dev_outbox_router(settings))  # local mode only
    # The web app (server-rendered pages + htmx); browsers get its error pages, not JSON.
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.html_error_page = error_page
    return app


def app_from_environment() -> FastAPI:
    """The app as each web worker process builds it (`sivug run` serves with one per core):
    settings from the environment, the database URL resolved by the runner."""
    settings = get_settings()
    configure_logging(settings.server.log_level, json=settings.server.log_json)
    tune_collector()
    database_url = os.environ.get("DATABASE_URL") or settings.database.url
    if not database_url:
        raise RuntimeError("DATABASE_URL is not set: start the service with `sivug run`.")
    return create_app(settings, database_url=database_url)


def _dev_sign_in(settings: Settings) -> DevSignIn | None:
    """The development sign-in exists in local mode only; staging never accepts it."""
    if not settings.is_local:
        return None
    secret = settings.server.session_secret
    return DevSignIn(secret.get_secret_value() if secret else secrets.token_urlsafe(32))
