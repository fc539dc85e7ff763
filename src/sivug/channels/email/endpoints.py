"""The development outbox (local mode only): the mail Sivug sent, each HTML body viewable."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from sivug.channels.email import repository
from sivug.platform.config import Settings
from sivug.platform.dependencies import DbSession
from sivug.platform.errors import NotFound


class OutboxMessageNotFound(NotFound):
    pass


def dev_outbox_router(settings: Settings) -> APIRouter:
    """``GET /dev/outbox`` and ``GET /dev/outbox/{id}``; no routes outside local mode."""
    router = APIRouter(prefix="/dev/outbox", tags=["development"], include_in_schema=False)
    if not settings.is_local:
        return router

    @router.get("", response_class=HTMLResponse)
    async def outbox(session: DbSession) -> HTMLResponse:
        rows = []
        for m in await repository.recent_messages(session):
            rows.append(
                "<tr>"
                f"<td>{m.id}</td><td>{m.created_at:%Y-%m-%d %H:%M:%S}</td>"
                f"<td>{escape(m.recipient)}</td>"
                f'<td><a href="/dev/outbox/{m.id}">{escape(m.subject)}</a></td>'
                f"<td>{escape(m.kind)}</td><td>{escape(m.status)}</td>"
                f"<td>{m.sent_at or ''}</td><td>{m.opened_at or ''}</td>"
                f'<td><a href="/dev/outbox/{m.id}/text">text</a>'
                f"{' +csv' if m.attachment_name else ''}</td>"
                "</tr>"
            )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Sivug outbox</title>"
            "<style>body{font-family:sans-serif}td,th{padding:4px 8px;border-bottom:1px solid"
            " #ddd;text-align:left}</style></head><body><h1>Outbox (development)</h1>"
            "<table><tr><th>#</th><th>created</th><th>to</th><th>subject</th><th>kind</th>"
            "<th>status</th><th>sent</th><th>opened</th><th></th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )
        return HTMLResponse(page)

    @router.get("/{message_id}", response_class=HTMLResponse)
    async def outbox_html(message_id: int, session: DbSession) -> HTMLResponse:
        message = await repository.get_message(session, message_id)
        if message is None:
            raise OutboxMessageNotFound(f"No message {message_id} in the outbox.")
        return HTMLResponse(message.html)

    @router.get("/{message_id}/text", response_class=PlainTextResponse)
    async def outbox_text(message_id: int, session: DbSession) -> PlainTextResponse:
        message = await repository.get_message(session, message_id)
        if message is None:
            raise OutboxMessageNotFound(f"No message {message_id} in the outbox.")
        return PlainTextResponse(message.text)

    return router
