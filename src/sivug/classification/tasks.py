"""Jobs of the classification domain."""

from __future__ import annotations

import uuid

from procrastinate import JobContext

from sivug.classification.engines import worker_engines
from sivug.classification.list_service import advance_list, pending_items
from sivug.platform.jobs import BACKOFF, registry, resources
from sivug.platform.logging import get_logger

log = get_logger(__name__)


@registry.task(name="lists.process", pass_context=True, retry=BACKOFF)
async def process_list(context: JobContext, list_id: str) -> None:
    """Classify an uploaded list in batches, committing progress after each, so a crashed
    worker's successor resumes where it stopped."""
    res = resources(context)
    engines = worker_engines(res)
    key = uuid.UUID(list_id)
    async with res.session() as session:
        items = await pending_items(session, key)
    finished = items is None
    while items is not None and not finished:
        async with res.session() as session:
            finished = await advance_list(session, engines, key, items)
    log.info("lists.done", list_id=list_id)
