"""REST API v1: classifications, history and export, interactive sessions, lists."""

from __future__ import annotations

import base64
import csv
import io
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from sivug.accounts.dependencies import WRITER_ROLES, Reader, Writer, principal_of
from sivug.classification import list_service, service
from sivug.classification.dependencies import Engines, Llm
from sivug.classification.lists import render_results
from sivug.classification.repository import HistoryFilter, history
from sivug.classification.schemas import (
    ClassificationOut,
    ClassifyRequest,
    ConfirmRequest,
    HistoryPage,
    ListAccepted,
    ListOut,
    SessionAnswers,
    SessionOut,
    SessionStart,
)
from sivug.models import Classification
from sivug.platform.db import session_scope
from sivug.platform.dependencies import AppSettings, DbSession
from sivug.platform.errors import BadRequest, Conflict
from sivug.platform.http import documented_body, json_body

router = APIRouter(prefix="/api/v1", tags=["classification"])

EXPORT_PAGE = 5_000  # rows per database read of the CSV export


@router.post(
    "/classifications",
    status_code=201,
    response_model=ClassificationOut,
    openapi_extra=documented_body(ClassifyRequest),
)
async def classify(request: Request) -> Response:
    """Classify one product description in a customs book."""
    # The API's busiest route takes no dependencies: FastAPI's resolution of them (and the
    # body's validation) cost more CPU than everything else here but the engine. It does
    # what the dependencies do, in their order: authenticate (401/403, rate limit 429), then
    # the body (422), in a session committed before the response.
    state = request.app.state
    async with session_scope(state.sessions) as session:
        principal = await principal_of(request, session)
        principal.require(*WRITER_ROLES)
        body = await json_body(request, ClassifyRequest)
        row = await service.classify(
            session,
            state.engines,
            organization_id=principal.organization_id,
            user_id=principal.user_id,
            channel="api" if principal.via == "api_key" else "web",
            description=body.description,
            attributes=body.attributes,
            book_id=body.book,
            llm=state.llm,
            accounts_cache=state.accounts_cache,
            writer=state.classification_writer,
        )
    # Serialised once, by the model itself (no second validation).
    return Response(
        ClassificationOut.of(row).model_dump_json(), status_code=201, media_type="application/json"
    )


def _cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        when, _, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(when), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this API returned") from None


def _filters(
    status: Literal["classified", "needs_info", "rejected_vague"] | None,
    book: str | None,
    channel: str | None,
    q: str | None,
    code: str | None,
    since: datetime | None,
    until: datetime | None,
) -> HistoryFilter:
    return HistoryFilter(
        status=status,
        book_id=book,
        channel=channel,
        text=q,
        code_prefix="".join(ch for ch in code if ch.isdigit()) if code else None,
        since=since,
        until=until,
    )


@router.get("/classifications")
async def list_classifications(
    principal: Reader,
    session: DbSession,
    status: Literal["classified", "needs_info", "rejected_vague"] | None = None,
    book: str | None = None,
    channel: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the description")] = None,
    code: Annotated[str | None, Query(max_length=16, description="Code prefix")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> HistoryPage:
    """Your organization's classifications, newest first, with cursor pagination."""
    rows = await history(
        session,
        principal.organization_id,
        _filters(status, book, channel, q, code, since, until),
        limit=limit + 1,
        after=_parse_cursor(cursor) if cursor else None,
    )
    page = rows[:limit]
    next_cursor = _cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return HistoryPage(items=[ClassificationOut.of(r) for r in page], next_cursor=next_cursor)


@router.get("/classifications/export.csv", response_class=StreamingResponse)
async def export_classifications(
    request: Request,
    principal: Reader,
    status: Literal["classified", "needs_info", "rejected_vague"] | None = None,
    book: str | None = None,
    channel: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=16)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    """The same history as CSV (UTF-8 with BOM, opens in Excel), every matching row.

    Streamed newest first, a page of rows at a time, each page read in a short transaction
    of its own: memory stays flat, and no database connection waits on a slow download.
    Rows classified after the download began are not in it."""
    sessions = request.app.state.sessions
    organization_id = principal.organization_id
    filters = _filters(status, book, channel, q, code, since, until)

    async def page(after: tuple[datetime, uuid.UUID] | None) -> list[Classification]:
        async with session_scope(sessions) as session:
            return await history(session, organization_id, filters, limit=EXPORT_PAGE, after=after)

    # The first page is read before the response starts, so that a database error is
    # still an error response rather than a cut-off file.
    first = await page(None)

    async def chunks() -> AsyncIterator[bytes]:
        yield _csv_lines([EXPORT_COLUMNS]).encode("utf-8-sig")
        rows = first
        while rows:
            yield _csv_lines(_export_row(row) for row in rows).encode()
            if len(rows) < EXPORT_PAGE:
                return
            rows = await page((rows[-1].created_at, rows[-1].id))

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sivug-classifications.csv"'},
    )


EXPORT_COLUMNS = [
    "id",
    "created_at",
    "channel",
    "book",
    "description",
    "status",
    "code",
    "level",
    "confidence",
    "official_description",
    "engine",
    "confirmed_code",
]


def _export_row(row: Classification) -> list[object]:
    result = row.result
    return [
        row.id,
        row.created_at.isoformat(),
        row.channel,
        row.book_id,
        row.input,
        row.status,
        row.code or "",
        row.level_reached or "",
        row.confidence,
        result.get("description", ""),
        row.engine,
        result.get("confirmed_code", ""),
    ]


def _csv_lines(rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@router.get("/classifications/{classification_id}")
async def get_classification(
    classification_id: uuid.UUID, principal: Reader, session: DbSession
) -> ClassificationOut:
    row = await service.get_classification(session, principal.organization_id, classification_id)
    return ClassificationOut.of(row)


@router.post("/classifications/{classification_id}/confirm")
async def confirm_classification(
    classification_id: uuid.UUID,
    body: ConfirmRequest,
    principal: Writer,
    session: DbSession,
    engines: Engines,
) -> ClassificationOut:
    """Confirm (or correct) a code: it becomes your organization's precedent."""
    row = await service.confirm(
        session,
        engines,
        organization_id=principal.organization_id,
        user_id=principal.user_id,
        classification_id=classification_id,
        code=body.code,
    )
    return ClassificationOut.of(row)


@router.post("/sessions", status_code=201)
async def start_session(
    body: SessionStart, principal: Writer, session: DbSession, engines: Engines, llm: Llm
) -> SessionOut:
    """Start an interactive classification: answer its questions until it is classified."""
    row = await service.start_session(
        session,
        engines,
        organization_id=principal.organization_id,
        user_id=principal.user_id,
        channel="api" if principal.via == "api_key" else "web",
        description=body.description,
        attributes=body.attributes,
        book_id=body.book,
        llm=llm,
    )
    return SessionOut.of(row)


@router.post("/sessions/{session_id}/answers")
async def answer_session(
    session_id: uuid.UUID,
    body: SessionAnswers,
    principal: Writer,
    session: DbSession,
    engines: Engines,
    llm: Llm,
) -> SessionOut:
    row = await service.answer_session(
        session,
        engines,
        organization_id=principal.organization_id,
        session_id=session_id,
        answers=body.answers,
        user_id=principal.user_id,
        llm=llm,
    )
    return SessionOut.of(row)


@router.get("/sessions/{session_id}")
async def get_session(session_id: uuid.UUID, principal: Reader, session: DbSession) -> SessionOut:
    row = await service.get_session(session, principal.organization_id, session_id)
    return SessionOut.of(row)


@router.post("/lists", status_code=202)
async def upload_list(
    principal: Writer,
    session: DbSession,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="A .csv, .xlsx or .jsonl list")],
    book: Annotated[str | None, Form()] = None,
) -> ListAccepted:
    """Queue a list for classification; poll GET /lists/{id} for progress."""
    limit = settings.server.max_upload_bytes
    data = await file.read(limit + 1)
    row = await list_service.accept_list(
        session,
        organization_id=principal.organization_id,
        user_id=principal.user_id,
        channel="api" if principal.via == "api_key" else "web",
        filename=file.filename or "list.csv",
        data=data,
        max_bytes=limit,
        book_id=book,
    )
    return ListAccepted(id=row.id, status=row.status, total=row.total)


@router.get("/lists/{list_id}")
async def get_list(list_id: uuid.UUID, principal: Reader, session: DbSession) -> ListOut:
    return ListOut.of(await list_service.get_list(session, principal.organization_id, list_id))


_MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/lists/{list_id}/results", response_class=Response)
async def list_results(
    list_id: uuid.UUID,
    principal: Reader,
    session: DbSession,
    format: Literal["csv", "xlsx", "jsonl"] | None = None,
) -> Response:
    """The results, in the uploaded file's format unless `format` says otherwise."""
    row = await list_service.get_list(session, principal.organization_id, list_id)
    if row.status != "done":
        raise Conflict(f"List {list_id} is {row.status} ({row.done}/{row.total}); try again later.")
    suffix = f".{format}" if format else "." + row.filename.rsplit(".", 1)[-1].lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", row.filename.rsplit(".", 1)[0])[:80] or "list"
    return Response(
        content=render_results(suffix, row.results),
        media_type=_MEDIA[suffix],
        headers={"Content-Disposition": f'attachment; filename="{stem}-results{suffix}"'},
    )
