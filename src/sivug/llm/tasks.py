"""Jobs of the LLM domain."""

from __future__ import annotations

import uuid

from procrastinate import JobContext

from sivug.llm.extraction import run_extraction
from sivug.llm.service import LLMUnavailable, build_llm_service
from sivug.platform.jobs import BACKOFF, registry, resources
from sivug.platform.logging import get_logger

log = get_logger(__name__)


@registry.task(name="llm.extract_book", pass_context=True, retry=BACKOFF)
async def extract_book(context: JobContext, extraction_id: str) -> None:
    """Extract a customs book page by page; a retry resumes at the first page not done."""
    res = resources(context)
    llm = build_llm_service(res.settings, usage_sessions=lambda: res.sessions)
    if llm is None:
        raise LLMUnavailable("book extraction needs an LLM provider; none is configured", tried=[])
    try:
        job = await run_extraction(res.session, llm, uuid.UUID(extraction_id))
    finally:
        await llm.close()
    log.info(
        "llm.extract_job_done",
        extraction=extraction_id,
        status=job.status,
        pages=job.pages_done,
    )
