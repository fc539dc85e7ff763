"""Classifications of the API stored in batches: one transaction for all rows waiting.

At 50 concurrent clients, a transaction per classification (BEGIN, INSERT, COMMIT: three
round trips and a WAL flush each) costs the web process more than the classification. The
writer keeps one batch in flight: the first row is written at once, and rows that arrive
while a batch is being written go together in the next one. A request is answered only when
its row is committed, so nothing is acknowledged that could be lost; one bad row does not
fail the others (a failed batch is retried row by row).

The batch runs in its own session, from its own small connection pool (the app's
``writer_sessions``): the requests waiting for it may hold every connection of the main pool.
Nor may a waiting request hold locks the INSERT needs: the classify endpoint writes nothing
but an API key's last-used time before, and that without waiting on any lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sivug.classification import repository
from sivug.models import Classification
from sivug.platform.db import session_scope
from sivug.platform.logging import get_logger

log = get_logger(__name__)

MAX_BATCH = 200

_Waiting = tuple[Classification, asyncio.Future[None]]


class ClassificationWriter:
    def __init__(self, sessions: Callable[[], async_sessionmaker[AsyncSession]]) -> None:
        """``sessions`` is read at each batch (tests put their own session factory on the
        app after start-up)."""
        self._sessions = sessions
        self._waiting: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, row: Classification) -> None:
        """Store ``row`` (id and times are filled in); returns once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        # A request cancelled meanwhile (client gone) still has its row stored.
        await asyncio.shield(done)

    async def close(self) -> None:
        """Wait for what is being written (at shutdown)."""
        if self._drainer is not None:
            with contextlib.suppress(Exception):
                await self._drainer

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._store([row for row, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], error=exc)
                else:
                    log.warning("classification.batch_failed", rows=len(batch))
                    await self._one_by_one(batch)
                continue
            for _, done in batch:
                _settle(done)

    async def _one_by_one(self, batch: list[_Waiting]) -> None:
        for row, done in batch:
            try:
                await self._store([row])
            except Exception as exc:
                _settle(done, error=exc)
            else:
                _settle(done)

    async def _store(self, rows: list[Classification]) -> None:
        async with session_scope(self._sessions()) as session:
            await repository.insert_classifications(session, rows)


def _settle(done: asyncio.Future[None], *, error: BaseException | None = None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
