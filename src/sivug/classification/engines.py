"""One classification engine per customs book, per process, with the stored precedents."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.books.service import BookCache
from sivug.classification import repository
from sivug.engine import Engine, Precedent
from sivug.models import Precedent as PrecedentRow
from sivug.platform.jobs import JobResources
from sivug.platform.logging import get_logger
from sivug.platform.memory import settle_long_lived

log = get_logger(__name__)

#: How often a process looks for precedents stored by other processes.
PRECEDENT_REFRESH_SECONDS = 10.0


def as_engine_precedent(row: PrecedentRow) -> Precedent:
    return Precedent(
        description=row.description,
        code=row.code,
        source=row.source,
        organization_id=row.organization_id,
        reference=row.reference,
    )


def worker_engines(res: JobResources) -> EngineCache:
    """The worker process's engine cache (every domain's jobs share it), built on first use."""
    cache = res.extras.get("engines")
    if not isinstance(cache, EngineCache):
        cache = EngineCache()
        res.extras["engines"] = cache
    return cache


class EngineCache:
    """Engines are built on first use (off the event loop) and kept for the process's life."""

    def __init__(self, books: BookCache | None = None) -> None:
        self.books = books or BookCache()
        self._engines: dict[str, Engine] = {}
        self._lock = asyncio.Lock()
        self._last_precedent_id = 0
        self._precedents: list[Precedent] = []
        self._checked_at = 0.0

    async def get(self, session: AsyncSession, book_id: str) -> Engine:
        await self._refresh_precedents(session)
        engine = self._engines.get(book_id)
        if engine is not None:
            return engine
        async with self._lock:
            engine = self._engines.get(book_id)
            if engine is None:
                book = await self.books.get(session, book_id)
                started = time.perf_counter()
                engine = await asyncio.to_thread(Engine, book)
                engine.add_precedents(list(self._precedents))
                self._engines[book_id] = engine
                settle_long_lived()  # full collections no longer walk the new index
                log.info(
                    "engine.built",
                    book=book_id,
                    seconds=round(time.perf_counter() - started, 2),
                    precedents=len(self._precedents),
                )
        return engine

    async def _refresh_precedents(self, session: AsyncSession) -> None:
        now = time.monotonic()
        if now - self._checked_at < PRECEDENT_REFRESH_SECONDS:
            return
        self._checked_at = now
        rows = await repository.precedents_after(session, self._last_precedent_id)
        if not rows:
            return
        new = [as_engine_precedent(row) for row in rows]
        self._last_precedent_id = rows[-1].id
        self._precedents.extend(new)
        for engine in self._engines.values():
            engine.add_precedents(new)

    def precedents_changed(self) -> None:
        """This process stored precedents: look for them at the next use, which reads only
        what is committed by then (a confirmation rolled back is never picked up)."""
        self._checked_at = 0.0
