"""Clerk's webhooks (delivered by Svix) as a vendor of the shared inbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from svix.webhooks import Webhook, WebhookVerificationError

from sivug.accounts.service import apply_clerk_event
from sivug.inbox.vendor import VerifiedEvent
from sivug.models import InboundEvent
from sivug.platform.errors import WebhookSignatureInvalid
from sivug.platform.logging import get_logger

if TYPE_CHECKING:
    from sivug.platform.jobs import JobResources

log = get_logger(__name__)


class ClerkWebhooks:
    """``POST /webhooks/clerk``: Svix-signed user, organization, membership and invitation
    events. Svix retries failed deliveries, so handling is idempotent on ``svix-id``."""

    source = "clerk"
    path = "/webhooks/clerk"
    ack_status = 202

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedEvent:
        svix_headers = {
            name: headers.get(name, "") for name in ("svix-id", "svix-timestamp", "svix-signature")
        }
        try:
            self._webhook.verify(body, svix_headers)
        except WebhookVerificationError:
            raise WebhookSignatureInvalid(
                "The Svix signature, timestamp or id of this delivery does not verify."
            ) from None
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            raise WebhookSignatureInvalid("The delivery is not JSON.") from None
        return VerifiedEvent(external_id=svix_headers["svix-id"], payload=payload)

    async def handle(
        self, session: AsyncSession, event: InboundEvent, resources: JobResources
    ) -> None:
        payload = event.payload or {}
        outcome = await apply_clerk_event(
            session,
            str(payload.get("type")),
            dict(payload.get("data") or {}),
            payload.get("timestamp"),
        )
        log.info("clerk.event", type=payload.get("type"), outcome=outcome, event_id=event.id)
