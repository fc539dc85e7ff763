"""HTTP routes of the LLM domain: the usage and cost report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sivug.accounts.dependencies import Reader
from sivug.llm.schemas import UsageReport
from sivug.llm.service import usage_report
from sivug.platform.dependencies import DbSession

router = APIRouter(prefix="/api/v1", tags=["usage"])


@router.get("/usage", response_model=UsageReport)
async def get_usage(
    principal: Reader,
    db: DbSession,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
) -> UsageReport:
    """Your organization's LLM calls, tokens and cost in one month."""
    return await usage_report(db, principal.organization_id, month)
