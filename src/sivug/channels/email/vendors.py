"""Mailgun's two webhooks as vendors of the shared inbox: the inbound route and delivery events.

Both are signed the same way: lowercase hex HMAC-SHA256, keyed with the webhook signing key,
over ``timestamp + token``. A timestamp more than five minutes away from now is refused, and so
is a token seen before with a different body (a replay: the signature does not cover the
body). The same token with the same body is Mailgun delivering again: accepted, and the inbox
acknowledges it as a duplicate. This process remembers tokens for the tolerance window; the
handlers also record every token in ``email_webhook_tokens``, so a replay that reaches another
process is stored but never acted on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.channels.email.parsing import mime_headers, parse_form, signature_fields
from sivug.inbox.vendor import VerifiedEvent
from sivug.models import InboundEvent
from sivug.platform.config import Settings
from sivug.platform.errors import WebhookSignatureInvalid

if TYPE_CHECKING:
    from sivug.platform.jobs import JobResources

#: Used in local mode when MAILGUN_WEBHOOK_SIGNING_KEY is unset, so the dev flow works.
DEVELOPMENT_SIGNING_KEY = "sivug-local-development-mailgun-signing-key"
TOLERANCE_SECONDS = 300.0
INBOUND_SOURCE = "mailgun.inbound"
EVENTS_SOURCE = "mailgun.events"


def sign(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class SignatureChecker:
    """The signature, the timestamp window, and the tokens already used (per process)."""

    def __init__(
        self,
        key: str,
        *,
        tolerance: float = TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
        remember: int = 100_000,
    ) -> None:
        self._key = key
        self._tolerance = tolerance
        self._clock = clock
        self._remember = remember
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def check(self, timestamp: str, token: str, signature: str, body: bytes) -> None:
        if not timestamp or not token or not signature:
            raise WebhookSignatureInvalid("The Mailgun signature fields are missing.")
        expected = sign(self._key, timestamp, token)
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise WebhookSignatureInvalid("The Mailgun signature does not match.")
        try:
            sent_at = float(timestamp)
        except ValueError as exc:
            raise WebhookSignatureInvalid("The Mailgun timestamp is not a number.") from exc
        now = self._clock()
        if abs(now - sent_at) > self._tolerance:
            raise WebhookSignatureInvalid("The Mailgun timestamp is too old (or in the future).")
        self._forget_older_than(now - self._tolerance)
        digest = body_digest(body)
        seen = self._seen.get(token)
        if seen is not None and seen[1] != digest:
            raise WebhookSignatureInvalid("The Mailgun token was already used.")
        self._seen[token] = (now, digest)
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    def _forget_older_than(self, cutoff: float) -> None:
        while self._seen:
            token, (seen_at, _) = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                break
            del self._seen[token]


class MailgunInboundVendor:
    """``POST /webhooks/mailgun/inbound``: an email forwarded by a Mailgun route."""

    source = INBOUND_SOURCE
    path = "/webhooks/mailgun/inbound"
    ack_status = 200

    def __init__(self, checker: SignatureChecker) -> None:
        self.checker = checker

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedEvent:
        content_type = _header(headers, "content-type")
        form = parse_form(body, content_type)
        timestamp, token, signature = signature_fields(form)
        self.checker.check(timestamp, token, signature, body)
        message_id = mime_headers(form).get("message-id", "").strip()
        external_id = message_id[:255] if message_id else f"token:{token}"[:255]
        return VerifiedEvent(external_id=external_id, payload=None)

    async def handle(
        self, session: AsyncSession, event: InboundEvent, resources: JobResources
    ) -> None:
        from sivug.channels.email.service import handle_inbound

        await handle_inbound(session, event, resources)


class MailgunEventsVendor:
    """``POST /webhooks/mailgun/events``: delivery events, JSON with the signature inside."""

    source = EVENTS_SOURCE
    path = "/webhooks/mailgun/events"
    ack_status = 200

    def __init__(self, checker: SignatureChecker) -> None:
        self.checker = checker

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedEvent:
        try:
            payload: Any = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WebhookSignatureInvalid("The Mailgun event is not JSON.") from exc
        if not isinstance(payload, dict):
            raise WebhookSignatureInvalid("The Mailgun event is not a JSON object.")
        signature = payload.get("signature")
        data = payload.get("event-data")
        if not isinstance(signature, dict) or not isinstance(data, dict):
            raise WebhookSignatureInvalid("The Mailgun event has no signature or event-data.")
        self.checker.check(
            str(signature.get("timestamp", "")),
            str(signature.get("token", "")),
            str(signature.get("signature", "")),
            body,
        )
        event_id = str(data.get("id") or signature.get("token"))
        return VerifiedEvent(external_id=event_id[:255], payload=payload)

    async def handle(
        self, session: AsyncSession, event: InboundEvent, resources: JobResources
    ) -> None:
        from sivug.channels.email.service import handle_delivery_event

        await handle_delivery_event(session, event, resources)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def signing_key(settings: Settings) -> str | None:
    key = settings.mailgun.webhook_signing_key
    if key is not None and key.get_secret_value().strip():
        return key.get_secret_value()
    return DEVELOPMENT_SIGNING_KEY if settings.is_local else None


def mailgun_vendors(settings: Settings) -> list[MailgunInboundVendor | MailgunEventsVendor]:
    """The two vendors, sharing one replay memory; none without a signing key (staging)."""
    key = signing_key(settings)
    if key is None:
        return []
    checker = SignatureChecker(key)
    return [MailgunInboundVendor(checker), MailgunEventsVendor(checker)]
