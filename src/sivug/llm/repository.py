"""All SQL of the LLM domain: usage records, the response cache, limits, extraction jobs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import ExtractionJob, LLMCacheEntry, LLMOrganizationLimit, LLMUsage


async def add_usage(session: AsyncSession, row: LLMUsage) -> None:
    session.add(row)
    await session.flush()


async def spend_between(
    session: AsyncSession, organization_id: str, start: datetime, end: datetime
) -> Decimal:
    result = await session.execute(
        select(func.coalesce(func.sum(LLMUsage.cost), 0)).where(
            LLMUsage.organization_id == organization_id,
            LLMUsage.created_at >= start,
            LLMUsage.created_at < end,
        )
    )
    return Decimal(result.scalar_one())


async def calls_since(session: AsyncSession, organization_id: str, since: datetime) -> int:
    """Provider calls (cache hits excluded) since ``since``."""
    result = await session.execute(
        select(func.count()).where(
            LLMUsage.organization_id == organization_id,
            LLMUsage.created_at >= since,
            LLMUsage.cache_hit.is_(False),
        )
    )
    return int(result.scalar_one())


async def get_limits(session: AsyncSession, organization_id: str) -> LLMOrganizationLimit | None:
    return await session.get(LLMOrganizationLimit, organization_id)


@dataclass(frozen=True, slots=True)
class UsageGroup:
    provider: str
    model: str
    task: str
    calls: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: Decimal
    avg_response_time_ms: int


async def usage_groups(
    session: AsyncSession, organization_id: str, start: datetime, end: datetime
) -> list[UsageGroup]:
    hits = func.sum(case((LLMUsage.cache_hit.is_(True), 1), else_=0))
    result = await session.execute(
        select(
            LLMUsage.provider,
            LLMUsage.model,
            LLMUsage.task,
            func.count(),
            hits,
            func.sum(LLMUsage.input_tokens),
            func.sum(LLMUsage.output_tokens),
            func.sum(LLMUsage.total_tokens),
            func.sum(LLMUsage.cost),
            func.avg(LLMUsage.response_time_ms),
        )
        .where(
            LLMUsage.organization_id == organization_id,
            LLMUsage.created_at >= start,
            LLMUsage.created_at < end,
        )
        .group_by(LLMUsage.provider, LLMUsage.model, LLMUsage.task)
        .order_by(LLMUsage.provider, LLMUsage.model, LLMUsage.task)
    )
    groups: list[UsageGroup] = []
    for row in result.all():
        values: list[Any] = list(row)
        p, m, t, n, h, i, o, tt, c, avg = values
        groups.append(
            UsageGroup(
                provider=str(p),
                model=str(m),
                task=str(t),
                calls=int(n),
                cache_hits=int(h or 0),
                input_tokens=int(i or 0),
                output_tokens=int(o or 0),
                total_tokens=int(tt or 0),
                cost=Decimal(c or 0),
                avg_response_time_ms=round(float(avg or 0)),
            )
        )
    return groups


async def cache_get(session: AsyncSession, key: str, now: datetime) -> LLMCacheEntry | None:
    result = await session.execute(
        select(LLMCacheEntry).where(LLMCacheEntry.key == key, LLMCacheEntry.expires_at > now)
    )
    return result.scalar_one_or_none()


async def cache_hit(session: AsyncSession, key: str) -> None:
    await session.execute(
        update(LLMCacheEntry).where(LLMCacheEntry.key == key).values(hits=LLMCacheEntry.hits + 1)
    )


async def cache_put(
    session: AsyncSession,
    *,
    key: str,
    task: str,
    provider: str,
    model: str,
    book_version: str,
    response: dict[str, Any],
    input_tokens: int,
    output_tokens: int,
    now: datetime,
    ttl: timedelta,
) -> None:
    values = {
        "key": key,
        "task": task,
        "provider": provider,
        "model": model,
        "book_version": book_version,
        "response": response,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "hits": 0,
        "created_at": now,
        "expires_at": now + ttl,
    }
    statement = insert(LLMCacheEntry).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[LLMCacheEntry.key],
        set_={k: statement.excluded[k] for k in values if k != "key"},
    )
    await session.execute(statement)


async def purge_expired_cache(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(LLMCacheEntry).where(LLMCacheEntry.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


async def get_extraction(
    session: AsyncSession, job_id: uuid.UUID, *, for_update: bool = False
) -> ExtractionJob | None:
    statement = select(ExtractionJob).where(ExtractionJob.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    result = await session.execute(statement)
    return result.scalar_one_or_none()


async def add_extraction(session: AsyncSession, job: ExtractionJob) -> ExtractionJob:
    session.add(job)
    await session.flush()
    return job
