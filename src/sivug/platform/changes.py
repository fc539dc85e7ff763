"""Row changes announced by PostgreSQL, for the caches each process keeps.

Triggers (see the migration "change notifications") send ``NOTIFY sivug_changes`` with
``<table>:<id>`` (or ``<table>:*`` after a TRUNCATE) when a cached row changes; PostgreSQL
delivers a notification only when its transaction commits, to every listening process. A
``ChangeFeed`` holds one listening connection per process and calls its subscribers.

A cache may trust what it holds only while the feed is ``live``: before the first LISTEN,
and from a lost connection until the next LISTEN, changes may be missed, so subscribers are
told to forget everything whenever the feed (re)connects or drops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg

from sivug.platform.db import libpq_url
from sivug.platform.logging import get_logger

log = get_logger(__name__)

CHANNEL = "sivug_changes"
#: A quiet connection is checked this often (a dead peer is noticed within about this long).
HEARTBEAT_SECONDS = 15.0
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)

#: Called with the changed row's id, or "*" for "everything of this table may have changed".
Subscriber = Callable[[str], None]


class ChangeFeed:
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None
        self._live = False
        self._first_attempt = asyncio.Event()

    @property
    def live(self) -> bool:
        return self._live

    def subscribe(self, table: str, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(table, []).append(subscriber)

    async def start(self, *, wait_seconds: float = 2.0) -> None:
        """Start listening; waits (briefly) for the first attempt so caches work from the first
        request. If the database is not reachable yet, the feed keeps trying in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), wait_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set_live(False)

    def _set_live(self, live: bool) -> None:
        self._live = live
        self._dispatch_all("*")

    def _dispatch_all(self, ident: str) -> None:
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber(ident)

    def _dispatch(self, payload: str) -> None:
        table, _, ident = payload.partition(":")
        for subscriber in self._subscribers.get(table, []):
            subscriber(ident or "*")

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=5,
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                    application_name="sivug-change-feed",
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._set_live(True)  # forget what may have changed while not listening
                    self._first_attempt.set()
                    attempt = 0
                    log.info("changes.listening")
                    while True:
                        async for notify in conn.notifies(timeout=HEARTBEAT_SECONDS):
                            self._dispatch(notify.payload)
                        await conn.execute("SELECT 1")  # raises if the connection is gone
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost or refused: caches off until back
                if self._live:
                    log.warning("changes.disconnected", error=type(exc).__name__)
                self._set_live(False)
                self._first_attempt.set()
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1
