"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sivug.platform.db import ping
from sivug.platform.migrations import current_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse:
    """The database is reachable and its schema is at the latest migration."""
    engine = request.app.state.engine
    expected = request.app.state.migration_head
    try:
        await ping(engine)
        current = await current_revision(engine)
    except Exception as exc:
        return JSONResponse(
            {"error": "NotReady", "detail": f"database unreachable ({type(exc).__name__})"},
            status_code=503,
        )
    if current != expected:
        return JSONResponse(
            {
                "error": "NotReady",
                "detail": f"database schema at {current}, expected {expected}: run `sivug migrate`",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "migration": current})
