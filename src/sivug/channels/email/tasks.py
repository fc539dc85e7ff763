"""Jobs of the email channel: send one stored message exactly once; prune webhook tokens.

``email.send`` moves a sent-log row ``pending -> sending -> sent``. The crash windows:

1. Dies before ``sending`` is committed: nothing left Sivug; the retry sends.
2. Dies after ``sending`` is committed, before Mailgun got the request: the retry finds
   ``sending``, asks Mailgun's events API for the message's Message-Id, finds nothing, sends.
3. Dies after Mailgun accepted, before ``sent`` is committed: the retry finds ``sending``, the
   events API shows the message ``accepted``, so it is marked ``sent`` without a second copy.
4. A timeout or a 500 (Mailgun may have accepted): treated as 3 — left ``sending``, retried,
   reconciled against the events API.

The events API is only asked once ``MAILGUN_RECONCILE_AFTER_SECONDS`` have passed since the
interrupted attempt (events take a moment to appear); until then the job retries later. A
failure Mailgun cannot have accepted (connection refused, 429, 502/503/504) puts the row back
to ``pending``. A 4xx marks it ``rejected`` (no retry). A suppressed address is never sent to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from procrastinate import JobContext

from sivug.channels.email import repository
from sivug.models import EmailMessage
from sivug.platform.jobs import BACKOFF, JobResources, registry, resources
from sivug.platform.logging import get_logger
from sivug.wrappers.mailgun import (
    Attachment,
    InMemoryMailgun,
    MailgunClient,
    MailgunRequestError,
    MailgunTransientError,
    MailgunWrapper,
    OutgoingEmail,
    mailgun_client,
    strip_brackets,
)

log = get_logger(__name__)

_ACCEPTED_EVENTS = frozenset({"accepted", "delivered", "opened", "clicked", "failed"})


class SendInFlight(Exception):
    """A previous attempt may still reach Mailgun's events: try again later."""


def mailgun_for(res: JobResources) -> MailgunClient:
    """One Mailgun client per worker process (and so one request limiter)."""
    client = res.extras.get("mailgun")
    if client is None:
        client = mailgun_client(res.settings)
        res.extras["mailgun"] = client
    assert isinstance(client, MailgunWrapper | InMemoryMailgun)
    return client


def outgoing(message: EmailMessage) -> OutgoingEmail:
    headers = {"Message-Id": message.message_id, "Auto-Submitted": "auto-replied"}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    attachments = []
    if message.attachment is not None and message.attachment_name:
        attachments.append(Attachment(message.attachment_name, message.attachment, "text/csv"))
    return OutgoingEmail(
        to=[message.recipient],
        subject=message.subject,
        text=message.text,
        html=message.html,
        headers=headers,
        tags=[message.kind],
        variables={"email_message_id": str(message.id)},
        attachments=attachments,
    )


async def _already_accepted(client: MailgunClient, message: EmailMessage) -> str | None:
    """Mailgun's id for the message if its events show it was accepted, else None."""
    for event in await client.events(message_id=message.message_id):
        if event.get("event") in _ACCEPTED_EVENTS:
            headers = (event.get("message") or {}).get("headers") or {}
            return str(headers.get("message-id") or strip_brackets(message.message_id))
    return None


@registry.task(name="email.send", pass_context=True, retry=BACKOFF)
async def send_message(context: JobContext, email_message_id: int) -> None:
    res = resources(context)
    client = mailgun_for(res)
    now = datetime.now(UTC)
    async with res.session() as session:
        message = await repository.lock_message(session, email_message_id)
        if message is None or message.status not in ("pending", "sending"):
            return
        if await repository.is_suppressed(session, message.recipient):
            message.status = "suppressed"
            log.info("email.send_suppressed", email_message_id=message.id)
            return
        if message.status == "sending":
            started = message.send_started_at or now
            wait = timedelta(seconds=res.settings.mailgun.reconcile_after_seconds)
            if now - started < wait:
                raise SendInFlight(f"email {message.id}: an earlier attempt is in flight")
            accepted = await _already_accepted(client, message)
            if accepted is not None:
                message.status = "sent"
                message.provider_id = accepted
                message.sent_at = message.sent_at or started
                log.info("email.send_reconciled", email_message_id=message.id)
                return
        message.status = "sending"
        message.send_started_at = now
        message.attempts += 1
        email = outgoing(message)
    # Committed: the row says a send is in flight before the request leaves.
    try:
        result = await client.send(email)
    except MailgunRequestError as exc:
        async with res.session() as session:
            message = await repository.lock_message(session, email_message_id)
            if message is not None:
                message.status = "rejected"
                message.last_error = exc.detail[:2000]
        log.error("email.send_rejected", email_message_id=email_message_id, error=exc.detail)
        return
    except MailgunTransientError as exc:
        if not exc.ambiguous:
            async with res.session() as session:
                await repository.reset_to_pending(session, email_message_id, exc.detail[:2000])
        log.warning(
            "email.send_failed",
            email_message_id=email_message_id,
            ambiguous=exc.ambiguous,
            error=exc.detail,
        )
        raise
    async with res.session() as session:
        message = await repository.lock_message(session, email_message_id)
        if message is not None:
            message.status = "sent" if message.status == "sending" else message.status
            message.provider_id = result.id
            message.sent_at = datetime.now(UTC)
            message.last_error = None
    log.info("email.sent", email_message_id=email_message_id, message_id=result.id)


@registry.periodic(cron="41 * * * *", periodic_id="email.prune_tokens")
@registry.task(name="email.prune_tokens", pass_context=True, queueing_lock="email.prune_tokens")
async def prune_tokens(context: JobContext, timestamp: int) -> None:
    """Hourly: forget webhook tokens older than a day (stale timestamps are refused anyway)."""
    res = resources(context)
    async with res.session() as session:
        removed = await repository.prune_tokens(session, datetime.now(UTC) - timedelta(days=1))
    log.info("email.tokens_pruned", removed=removed)
