from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import RateLimitCounter
from sivug.platform.jobs import registry
from sivug.platform.ratelimit import WINDOW_SECONDS, prune_counters


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
