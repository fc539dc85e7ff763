"""The one path every webhook takes: verify -> store once -> enqueue -> acknowledge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.inbox import repository
from sivug.inbox.vendor import WebhookVendor
from sivug.platform.jobs import defer
from sivug.platform.logging import get_logger

log = get_logger(__name__)

#: Headers never stored with an event.
_UNSTORED_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})


@dataclass(frozen=True)
class Receipt:
    event_id: int
    duplicate: bool


async def receive(
    session: AsyncSession, vendor: WebhookVendor, headers: Mapping[str, str], body: bytes
) -> Receipt:
    """Verify a delivery, store it idempotently and enqueue its job in the same transaction.

    A duplicate delivery (same source and external id) is acknowledged and not enqueued again.
    """
    from sivug.inbox.tasks import process_event  # the task module imports this one

    verified = vendor.verify(headers, body)
    stored_headers = {
        k.lower(): v for k, v in headers.items() if k.lower() not in _UNSTORED_HEADERS
    }
    event_id, created = await repository.insert_if_absent(
        session,
        source=vendor.source,
        external_id=verified.external_id,
        headers=stored_headers,
        body=body,
        payload=verified.payload,
    )
    if created:
        await defer(session, process_event, event_id=event_id)
        log.info("inbox.received", source=vendor.source, event_id=event_id)
    else:
        log.info("inbox.duplicate", source=vendor.source, event_id=event_id)
    return Receipt(event_id=event_id, duplicate=not created)
