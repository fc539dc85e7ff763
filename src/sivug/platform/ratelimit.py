"""Fixed-window rate limits shared by every API process, counted in PostgreSQL.

Each hit is one short autocommit statement outside the request's transaction, so a counter
row is locked only for that statement.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sivug.platform.errors import RateLimited

WINDOW_SECONDS = 60

_HIT = text(
    'INSERT INTO rate_limit_counters (bucket, "window", count) '
    "SELECT unnest(CAST(:buckets AS text[])), :window, 1 "
    'ON CONFLICT (bucket, "window") DO UPDATE SET count = rate_limit_counters.count + 1 '
    "RETURNING bucket, count"
)
_PRUNE = text('DELETE FROM rate_limit_counters WHERE "window" < :oldest')


async def prune_counters(session: AsyncSession) -> None:
    """Forget the windows that can no longer limit anything (run every few minutes)."""
    await session.execute(_PRUNE, {"oldest": int(time.time() // WINDOW_SECONDS) - 2})


class RateLimiter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def hit(self, limits: dict[str, int]) -> None:
        """Count one request against each bucket; raise RateLimited when one is over."""
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
        async with self._engine.begin() as conn:  # one short statement, its own transaction
            result = await conn.execute(_HIT, {"buckets": sorted(limits), "window": window})
            counts: dict[str, int] = dict(result.tuples().all())
        for bucket, limit in limits.items():
            if counts[bucket] > limit:
                raise RateLimited(
                    f"More than {limit} requests a minute for this "
                    f"{bucket.split(':', 1)[0]}; retry after {retry_after} s.",
                    retry_after=retry_after,
                )
