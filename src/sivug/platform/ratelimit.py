"""Fixed one-minute windows shared by every API process, counted in PostgreSQL.

A statement per request on the same two counter rows (the key's and the organization's) would
serialise every request of a busy client on those rows' locks. So a process counts in memory
while a bucket is far from its limit and adds its hits to the shared rows in the background
(one statement for all buckets, at most FLUSH_SECONDS later). A hit is counted in PostgreSQL
before the request goes on when the bucket's known total has reached half its limit, or when
this process has not read the shared total for FLUSH_SECONDS: so the limit is enforced on
the shared count, and all a process may not see is what the others admitted in their last
FLUSH_SECONDS or so. With one process the count is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sivug.platform.errors import RateLimited
from sivug.platform.logging import get_logger

log = get_logger(__name__)

WINDOW_SECONDS = 60
#: How long hits counted in memory may wait before they reach the shared counters.
FLUSH_SECONDS = 0.5

_ADD = text(
    'INSERT INTO rate_limit_counters (bucket, "window", count) '
    "SELECT b, :window, n FROM unnest(CAST(:buckets AS text[]), CAST(:counts AS int[])) "
    "AS t(b, n) "
    'ON CONFLICT (bucket, "window") DO UPDATE SET count = rate_limit_counters.count + '
    "EXCLUDED.count "
    "RETURNING bucket, count"
)
_PRUNE = text('DELETE FROM rate_limit_counters WHERE "window" < :oldest')


async def prune_counters(session: AsyncSession) -> None:
    """Forget the windows that can no longer limit anything (run every few minutes)."""
    await session.execute(_PRUNE, {"oldest": int(time.time() // WINDOW_SECONDS) - 2})


class RateLimiter:
    """``hit`` counts one request against each bucket and raises RateLimited over a limit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._window = 0
        #: Shared totals of this window as PostgreSQL last returned them.
        self._known: dict[str, int] = {}
        #: Hits of this window counted here and not yet added to the shared rows.
        self._pending: dict[str, int] = {}
        #: When each bucket's shared total was last read (time.monotonic()).
        self._read_at: dict[str, float] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def hit(self, limits: dict[str, int]) -> None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            # Hits of a past window cannot limit anything any more.
            self._window, self._known, self._pending = window, {}, {}
        read_now = time.monotonic()
        stale = [b for b in limits if self._read_at.get(b, 0.0) < read_now - FLUSH_SECONDS]
        near = any(
            self._known.get(bucket, 0) + self._pending.get(bucket, 0) + 1 > limit // 2
            for bucket, limit in limits.items()
        )
        if not near and not stale:
            for bucket in limits:
                self._pending[bucket] = self._pending.get(bucket, 0) + 1
            self._schedule_flush()
            return
        if not near:
            # Only this request refreshes the stale totals; requests arriving meanwhile count
            # in memory instead of all waiting on the same rows.
            for bucket in stale:
                self._read_at[bucket] = read_now
        increments = {bucket: self._pending.pop(bucket, 0) + 1 for bucket in limits}
        try:
            counts = await self._add(window, increments)
        except BaseException:
            for bucket, count in increments.items():  # keep what was counted here
                if count > 1 and window == self._window:
                    self._pending[bucket] = self._pending.get(bucket, 0) + count - 1
            raise
        for bucket, limit in sorted(limits.items()):
            if counts[bucket] > limit:
                retry_after = max(1, int((window + 1) * WINDOW_SECONDS - time.time()))
                raise RateLimited(
                    f"More than {limit} requests a minute for this "
                    f"{bucket.split(':', 1)[0]}; retry after {retry_after} s.",
                    retry_after=retry_after,
                )

    async def flush(self) -> None:
        """Add the hits counted here to the shared counters now."""
        window, pending = self._window, self._pending
        self._pending = {}
        if not pending:
            return
        try:
            await self._add(window, pending)
        except BaseException:
            if window == self._window:  # counted again with the next flush
                for bucket, count in pending.items():
                    self._pending[bucket] = self._pending.get(bucket, 0) + count
            raise

    async def settled(self) -> None:
        """Wait until the background flush scheduled now (if any) has run."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        try:
            await self.flush()
        except Exception as exc:  # shutting down: the counters are best effort
            log.warning("ratelimit.flush_failed", error=type(exc).__name__)

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await self.flush()
        except Exception as exc:  # the next flush carries on; requests are never failed
            log.warning("ratelimit.flush_failed", error=type(exc).__name__)

    async def _add(self, window: int, increments: dict[str, int]) -> dict[str, int]:
        buckets = sorted(increments)  # a fixed lock order: no deadlock between processes
        async with self._engine.begin() as conn:  # one short statement, its own transaction
            result = await conn.execute(
                _ADD,
                {"buckets": buckets, "counts": [increments[b] for b in buckets], "window": window},
            )
            counts: dict[str, int] = {}
            for bucket, count in result.all():
                counts[str(bucket)] = cast(int, count)
        read_at = time.monotonic()
        if window == self._window:
            for bucket, count in counts.items():
                self._known[bucket] = max(self._known.get(bucket, 0), count)
                self._read_at[bucket] = read_at
        if len(self._read_at) > 100_000:  # buckets of keys long unused
            self._read_at = {b: t for b, t in self._read_at.items() if t > read_at - 60}
        return counts
