"""What a webhook vendor plugs into the shared inbox: how to verify, and how to handle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import InboundEvent

if TYPE_CHECKING:
    from sivug.platform.jobs import JobResources


@dataclass(frozen=True)
class VerifiedEvent:
    """A delivery whose signature checked out: its vendor-assigned id and parsed JSON, if any."""

    external_id: str
    payload: dict[str, Any] | None


class WebhookVendor(Protocol):
    #: Inbox source name, e.g. "clerk", "mailgun.inbound".
    source: str
    #: The route the vendor posts to, e.g. "/webhooks/clerk".
    path: str
    #: Status that acknowledges a delivery (Mailgun wants 200; most accept 202).
    ack_status: int

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedEvent:
        """Check the signature over the raw body; raise WebhookSignatureInvalid if it fails."""
        ...

    async def handle(
        self, session: AsyncSession, event: InboundEvent, resources: JobResources
    ) -> None:
        """Act on a stored event. Runs in a job, inside a savepoint; raise to retry later."""
        ...
