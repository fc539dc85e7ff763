"""What `sivug run` does: database up, schema migrated, built-in data loaded, then the web app
and a worker beside it. Ctrl-C stops everything it started, the embedded database included."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from sivug.accounts.service import DEMO_ORGANIZATION_ID, create_api_key, seed_demo
from sivug.books.service import ensure_builtin_books
from sivug.platform import migrations
from sivug.platform.config import Settings
from sivug.platform.db import create_engine, session_factory, session_scope
from sivug.platform.embedded_pg import EmbeddedPostgres
from sivug.platform.logging import get_logger

log = get_logger(__name__)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The database URL: ``DATABASE_URL`` if set, else an embedded server started for the
    duration of the block."""
    if settings.database.url:
        yield settings.database.url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    log.info("database.embedded_started", pgdata=str(embedded.pgdata))
    try:
        yield url
    finally:
        embedded.stop()
        log.info("database.embedded_stopped")


async def bootstrap(settings: Settings, url: str) -> str | None:
    """Idempotent first-start work: the built-in book, and in local mode the demo account.
    Returns the demo organization's API key when it was created now (shown once)."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    demo_key = None
    try:
        async with session_scope(session_factory(engine)) as session:
            if await ensure_builtin_books(session):
                log.info("bootstrap.books_loaded")
            if settings.is_local and await seed_demo(session):
                _, demo_key = await create_api_key(
                    session, organization_id=DEMO_ORGANIZATION_ID, name="Demo key", created_by=None
                )
                log.info("bootstrap.demo_seeded")
    finally:
        await engine.dispose()
    return demo_key


def prepare(settings: Settings, url: str) -> str | None:
    migrations.upgrade(url)
    return asyncio.run(bootstrap(settings, url))


def announce_demo_key(key: str) -> None:
    """Shown once, on the console only (never logged)."""
    sys.stdout.write(
        "\nLocal mode: a demo organization 'Demo Imports Ltd' was created.\n"
        f"Its API key (shown once, store it now): {key}\n"
        "Try: curl -H 'Authorization: Bearer <key>' -H 'Content-Type: application/json' "
        '-d \'{"description": "cotton t-shirt"}\' http://127.0.0.1:8000/api/v1/classifications\n\n'
    )
    sys.stdout.flush()


def _start_worker(url: str) -> subprocess.Popen[bytes]:
    """The job worker, at a lower CPU priority: requests come first on a small machine."""
    env = dict(os.environ, DATABASE_URL=url)
    return subprocess.Popen(
        [sys.executable, "-m", "sivug", "worker"], env=env, preexec_fn=lambda: os.nice(5)
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(settings: Settings, *, with_worker: bool = True) -> None:
    # Import the web app while PostgreSQL starts and the migrations run (both mostly wait on
    # other processes): it saves about a second of every start.
    threading.Thread(target=importlib.import_module, args=("sivug.app",), daemon=True).start()
    with database(settings) as url:
        demo_key = prepare(settings, url)
        if demo_key:
            announce_demo_key(demo_key)
        os.environ["DATABASE_URL"] = url  # the web workers and the job worker inherit it
        worker = _start_worker(url) if with_worker else None
        try:
            log.info(
                "sivug.serving",
                url=f"http://{settings.server.host}:{settings.server.port}",
                web_workers=settings.server.web_workers,
            )
            uvicorn.run(
                "sivug.app:app_from_environment",
                factory=True,
                workers=settings.server.web_workers,
                host=settings.server.host,
                port=settings.server.port,
                log_config=None,
                access_log=False,
                ws="none",  # the app speaks no WebSocket: no handler (nor its import) needed
            )
        finally:
            if worker is not None:
                _stop(worker)
