from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sivug.models import RateLimitCounter
from sivug.platform.errors import RateLimited
from sivug.platform.jobs import registry
from sivug.platform.ratelimit import FLUSH_SECONDS, WINDOW_SECONDS, RateLimiter, prune_counters


async def test_pruning_drops_past_windows_and_keeps_the_current_one(session: AsyncSession) -> None:
    now = int(time.time() // WINDOW_SECONDS)
    session.add_all(
        [
            RateLimitCounter(bucket="key:old", window=now - 10, count=5),
            RateLimitCounter(bucket="key:new", window=now, count=3),
        ]
    )
    await session.flush()
    await prune_counters(session)
    left = (await session.execute(select(RateLimitCounter.bucket))).scalars().all()
    assert list(left) == ["key:new"]


def test_pruning_runs_periodically() -> None:
    periodic = {task.periodic_id for task in registry.periodic_registry.periodic_tasks.values()}
    assert "ratelimit.prune" in periodic


async def _shared_count(engine: AsyncEngine, bucket: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(RateLimitCounter.count).where(
                RateLimitCounter.bucket == bucket,
                RateLimitCounter.window == int(time.time() // WINDOW_SECONDS),
            )
        )
        return found.scalar_one_or_none() or 0


async def test_far_from_the_limit_hits_reach_the_shared_counter_in_the_background(
    committed_db: AsyncEngine,
) -> None:
    limiter = RateLimiter(committed_db)
    for _ in range(10):
        await limiter.hit({"key:far": 1000})
    # The first hit read the shared total; the other nine are counted in memory so far.
    assert await _shared_count(committed_db, "key:far") == 1
    started = time.monotonic()
    await asyncio.wait_for(limiter.settled(), 5)
    assert time.monotonic() - started <= FLUSH_SECONDS * 4
    assert await _shared_count(committed_db, "key:far") == 10
    await limiter.close()


async def test_near_the_limit_every_process_counts_on_the_shared_row(
    committed_db: AsyncEngine,
) -> None:
    """Two processes (two limiters) share one limit of 10: together they admit 10."""
    first, second = RateLimiter(committed_db), RateLimiter(committed_db)
    admitted: list[bool] = []
    retry_after: set[int] = set()
    for turn in range(30):
        try:
            await (first if turn % 2 else second).hit({"key:near": 10})
            admitted.append(True)
        except RateLimited as exc:
            admitted.append(False)
            retry_after.add(exc.retry_after)
    assert admitted == [True] * 10 + [False] * 20
    assert all(1 <= seconds <= WINDOW_SECONDS for seconds in retry_after)
    await first.close()
    await second.close()


async def test_one_process_enforces_the_limit_exactly(committed_db: AsyncEngine) -> None:
    limiter = RateLimiter(committed_db)
    results = []
    for _ in range(8):
        try:
            await limiter.hit({"key:exact": 5, "org:exact": 100})
            results.append(True)
        except RateLimited:
            results.append(False)
    assert results == [True] * 5 + [False] * 3
    await limiter.close()


class CountingLimiter(RateLimiter):
    """Counts the statements on the shared rows."""

    statements = 0

    async def _add(self, window: int, increments: dict[str, int]) -> dict[str, int]:
        self.statements += 1
        return await super()._add(window, increments)


async def test_concurrent_requests_far_from_the_limit_share_one_statement(
    committed_db: AsyncEngine,
) -> None:
    limiter = CountingLimiter(committed_db)
    await asyncio.gather(*(limiter.hit({"key:herd": 10_000}) for _ in range(50)))
    assert limiter.statements == 1  # the first read the total; the rest counted in memory
    await asyncio.wait_for(limiter.settled(), 5)
    assert limiter.statements == 2  # one background flush for the other 49
    assert await _shared_count(committed_db, "key:herd") == 50
    await limiter.close()
