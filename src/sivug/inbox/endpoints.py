"""The webhook route every vendor shares: raw body in, 2xx out once the event is stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sivug.inbox.service import receive
from sivug.inbox.vendor import WebhookVendor
from sivug.platform.dependencies import DbSession
from sivug.platform.http import read_body

#: Larger deliveries are refused before they are read in full (Mailgun caps at 25 MB).
MAX_WEBHOOK_BYTES = 30 * 1024 * 1024


def webhook_router(vendors: dict[str, WebhookVendor]) -> APIRouter:
    router = APIRouter(tags=["webhooks"], include_in_schema=False)
    for vendor in vendors.values():
        router.add_api_route(vendor.path, _endpoint_for(vendor), methods=["POST"])
    return router


def _endpoint_for(vendor: WebhookVendor) -> Callable[[Request, DbSession], Awaitable[JSONResponse]]:
    async def endpoint(request: Request, session: DbSession) -> JSONResponse:
        body = await read_body(request, max_bytes=MAX_WEBHOOK_BYTES, what="Webhook bodies")
        receipt = await receive(session, vendor, request.headers, body)
        return JSONResponse(
            {"status": "duplicate" if receipt.duplicate else "accepted"},
            status_code=vendor.ack_status,
        )

    endpoint.__name__ = f"webhook_{vendor.source.replace('.', '_')}"
    return endpoint
