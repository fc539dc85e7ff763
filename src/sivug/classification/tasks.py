"""Jobs of the classification domain."""

from __future__ import annotations

import uuid

from procrastinate import JobContext

from sivug.classification.engines import EngineCache
from sivug.classification.list_service import advance_list, pending_items
from sivug.platform.jobs import BACKOFF, JobResources, registry, resources
from sivug.platform.logging import get_logger

log = get_logger(__name__)


def engine_cache(res: JobResources) -> EngineCache:
    """One engine cache per worker process, built on first use."""
    cache = res.extras.get("engines")
    if not isinstance(cache, EngineCache):
        cache = EngineCache()
        res.extras["engines"] = cache
    return cache


@registry.task(name="lists.process", pass_context=True, retry=BACKOFF)
async def process_list(context: JobContext, list_id: str) -> None:
    """Classify an uploaded list in batches, committing progress after each, so a crashed
    worker's successor resumes where it stopped."""
    res = resources(context)
    engines = engine_cache(res)
    key = uuid.UUID(list_id)
    async with res.session() as session:
        items = await pending_items(session, key)
    finished = items is None
    while items is not None and not finished:
        async with res.session() as session:
            finished = await advance_list(session, engines, key, items)
    log.info("lists.done", list_id=list_id)
