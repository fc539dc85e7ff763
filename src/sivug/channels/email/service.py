"""The email channel's rules: who is writing, what they ask, the one reply, delivery events.

``handle_inbound`` runs inside the inbox job's transaction (a savepoint): it classifies the
items, renders the reply, stores it as a ``pending`` row of the sent log (unique per inbound
email) and enqueues ``email.send`` in that same transaction. Either all of it commits with the
event marked handled, or none of it does and the inbox retries. Sending is the send job's
business (``tasks.py``), which moves the row ``pending -> sending -> sent`` around the call.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.channels.email import rendering, repository
from sivug.channels.email.parsing import (
    Extraction,
    Item,
    ParsedEmail,
    extract,
    is_automatic,
    parse_answers,
    parse_form,
    parse_inbound,
    signature_fields,
)
from sivug.channels.email.vendors import body_digest
from sivug.classification import service as classification
from sivug.classification.engines import EngineCache, worker_engines
from sivug.models import (
    EmailDeliveryEvent,
    EmailMessage,
    InboundEmail,
    InboundEvent,
    Organization,
    User,
)
from sivug.platform.config import Settings
from sivug.platform.errors import AppError
from sivug.platform.logging import get_logger

if TYPE_CHECKING:
    from sivug.platform.jobs import JobResources

log = get_logger(__name__)

#: Items shown in the email's table; all of them go in a CSV attachment beyond this.
TABLE_LIMIT = 20
#: Replies to unknown senders, per window of one day.
UNKNOWN_PER_ADDRESS = 1
UNKNOWN_PER_DOMAIN = 5
SIGNUP_URL = "https://sivug.app/signup"
DEFAULT_BRAND = {"name": "Sivug", "color": "#0b5cad", "logo_url": None}


@dataclass(frozen=True)
class Identity:
    organization: Organization
    user: User | None


async def identify(session: AsyncSession, address: str) -> Identity | None:
    """A user with this address, else an organization that allows the address's domain."""
    found = await repository.user_by_email(session, address)
    if found is not None:
        user, organization_id = found
        organization = await repository.get_organization(session, organization_id)
        if organization is not None:
            return Identity(organization, user)
    organization = await repository.organization_for_domain(session, address.rpartition("@")[2])
    return Identity(organization, None) if organization is not None else None


def _from_address(settings: Settings) -> str:
    value = settings.mailgun.from_email
    return value.get_secret_value().lower() if value is not None else ""


def _mail_domain(settings: Settings) -> str:
    value = settings.mailgun.domain
    return value.get_secret_value() if value is not None else "sivug.local"


def new_message_id(settings: Settings) -> str:
    return f"<sivug.{uuid.uuid4().hex}@{_mail_domain(settings)}>"


def reply_subject(subject: str) -> str:
    if not subject:
        return ""
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _hebrew_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum("\u0590" <= ch <= "\u05ff" for ch in letters) / len(letters)


def language_for(identity: Identity, parsed: ParsedEmail) -> str:
    if identity.user is not None and identity.user.language:
        return identity.user.language
    if _hebrew_share(parsed.text + parsed.subject) > 0.5:
        return "he"
    return identity.organization.language or "en"


def brand_of(organization: Organization | None) -> dict[str, Any]:
    if organization is None:
        return dict(DEFAULT_BRAND)
    return {
        "name": organization.brand_name or DEFAULT_BRAND["name"],
        "color": organization.brand_color or DEFAULT_BRAND["color"],
        "logo_url": organization.brand_logo_url,
    }


def format_code(code: str | None) -> str | None:
    """``61091000`` -> ``6109.10.00``."""
    if not code:
        return None
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) <= 4:
        return digits
    groups = [digits[:4]] + [digits[i : i + 2] for i in range(4, len(digits), 2)]
    return ".".join(groups)


# -- inbound ---------------------------------------------------------------------------


async def handle_inbound(session: AsyncSession, event: InboundEvent, res: JobResources) -> None:
    content_type = str(event.headers.get("content-type", ""))
    form = parse_form(event.body, content_type)
    _, token, _ = signature_fields(form)
    if not await repository.record_token(session, token, body_digest(event.body)):
        log.warning("email.inbound_replay_ignored", event_id=event.id)
        return
    parsed = parse_inbound(form)
    inbound = InboundEmail(
        inbound_event_id=event.id,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references) or None,
        sender=parsed.sender[:320],
        sender_domain=parsed.sender_domain[:255],
        recipient=parsed.recipient[:320] or None,
        subject=parsed.subject,
        body=parsed.text,
        status="received",
    )
    if not parsed.sender or "@" not in parsed.sender:
        inbound.status = "ignored"
        await repository.add_inbound(session, inbound)
        log.info("email.inbound_ignored", event_id=event.id, reason="no sender")
        return
    if is_automatic(parsed) or parsed.sender == _from_address(res.settings):
        inbound.status = "ignored"
        await repository.add_inbound(session, inbound)
        log.info("email.inbound_ignored", event_id=event.id, reason="automatic")
        return
    identity = await identify(session, parsed.sender)
    if identity is None:
        await _unknown_sender(session, res, parsed, inbound)
        return
    inbound.organization_id = identity.organization.id
    inbound.user_id = identity.user.id if identity.user else None
    await repository.add_inbound(session, inbound)

    engines = worker_engines(res)
    thread = [m for m in [parsed.in_reply_to, *parsed.references] if m]
    previous = await repository.reply_in_thread(session, thread)
    outcome: _Outcome | None = None
    if previous is not None and previous.inbound_email_id is not None:
        earlier = await repository.get_inbound(session, previous.inbound_email_id)
        if earlier is not None and earlier.organization_id == identity.organization.id:
            outcome = await _continue(session, engines, identity, parsed, earlier)
    if outcome is None:
        known = await repository.known_book_ids(session)
        outcome = await _classify_all(session, engines, identity, extract(parsed, known), known)
    inbound.status = outcome.status
    inbound.items = outcome.items
    inbound.item_count = len(outcome.items)
    inbound.customs_book_preference = outcome.requested_book
    await _compose_reply(session, res, identity, parsed, inbound, outcome)


@dataclass
class _Outcome:
    status: str  # classified | continued | no_items
    items: list[dict[str, Any]]
    book: str
    requested_book: str | None
    notes: list[str]
    continued: bool = False


async def _classify_all(
    session: AsyncSession,
    engines: EngineCache,
    identity: Identity,
    extraction: Extraction,
    known_books: list[str],
) -> _Outcome:
    notes = list(extraction.notes)
    requested = extraction.book
    if requested is not None and requested not in known_books:
        notes.append(f"The customs book {requested} is not available; your default was used.")
        requested = None
    organization_id = identity.organization.id
    user_id = identity.user.id if identity.user else None
    book = await classification.resolve_book_id(
        session, requested=requested, user_id=user_id, organization_id=organization_id
    )
    if extraction.truncated:
        notes.append(f"Only the first {len(extraction.items)} items were classified.")
    rows: list[dict[str, Any]] = []
    for number, item in enumerate(extraction.items, start=1):
        rows.append(
            await _classify_item(
                session,
                engines,
                item,
                number=number,
                book=item.book if item.book in known_books else book,
                organization_id=organization_id,
                user_id=user_id,
            )
        )
    return _Outcome(
        status="classified" if rows else "no_items",
        items=rows,
        book=book,
        requested_book=extraction.book,
        notes=notes,
    )


async def _classify_item(
    session: AsyncSession,
    engines: EngineCache,
    item: Item,
    *,
    number: int,
    book: str,
    organization_id: str,
    user_id: str | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "n": number,
        "description": item.description,
        "source": item.source,
        "book": book,
    }
    if item.error:
        return {**row, "status": "error", "error": item.error}
    try:
        async with session.begin_nested():
            interactive = await classification.start_session(
                session,
                engines,
                organization_id=organization_id,
                user_id=user_id,
                channel="email",
                description=item.description,
                attributes=item.attributes or None,
                book_id=book,
            )
    except AppError as exc:
        return {**row, "status": "error", "error": exc.detail}
    return {**row, **_result_fields(interactive.last_result), "session_id": str(interactive.id)}


def _result_fields(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": result.get("status"),
        "code": result.get("code"),
        "level": result.get("level"),
        "confidence": result.get("confidence"),
        "official": result.get("description") or "",
        "message": result.get("message") or "",
        "questions": result.get("questions") or [],
        "engine": result.get("engine"),
    }


async def _continue(
    session: AsyncSession,
    engines: EngineCache,
    identity: Identity,
    parsed: ParsedEmail,
    earlier: InboundEmail,
) -> _Outcome | None:
    """The customer answered our questions: feed the answers to the open sessions."""
    rows = [dict(row) for row in earlier.items]
    numbered = _number_questions(rows)
    if not numbered:
        return None
    answers = parse_answers(parsed.text, len(numbered))
    if not answers:
        return None
    by_session: dict[str, dict[str, str]] = {}
    for number, value in answers.items():
        row, question = numbered[number - 1]
        by_session.setdefault(row["session_id"], {})[question["id"]] = _option_value(
            question, value
        )
    for row in rows:
        given = by_session.get(row.get("session_id", ""))
        if not given:
            continue
        try:
            async with session.begin_nested():
                interactive = await classification.answer_session(
                    session,
                    engines,
                    organization_id=identity.organization.id,
                    session_id=uuid.UUID(row["session_id"]),
                    answers=given,
                    user_id=identity.user.id if identity.user else None,
                )
        except AppError as exc:
            row["note_error"] = exc.detail
            continue
        row.update(_result_fields(interactive.last_result))
    book = rows[0].get("book", "") if rows else ""
    return _Outcome(
        status="continued",
        items=rows,
        book=book,
        requested_book=earlier.customs_book_preference,
        notes=[],
        continued=True,
    )


def _number_questions(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Questions of the rows still open, in the order (and numbering) the reply shows."""
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for row in rows:
        if row.get("status") == "needs_info" and row.get("session_id"):
            out.extend((row, question) for question in row.get("questions", []))
    return out


def _option_value(question: dict[str, Any], value: str) -> str:
    """``2`` -> the second option's value; anything else is passed on as free text."""
    options = question.get("options", [])
    stripped = value.strip().rstrip(".)")
    if stripped.isdigit() and 1 <= int(stripped) <= len(options):
        return str(options[int(stripped) - 1]["value"])
    return value.strip()


def _confidence(value: Any) -> str:
    return f"{round(float(value) * 100)}%" if isinstance(value, int | float) else "-"


def _note(row: dict[str, Any]) -> str | None:
    if row.get("status") == "error":
        return str(row.get("error"))
    if row.get("note_error"):
        return str(row["note_error"])
    if row.get("status") in ("rejected_vague", "needs_info"):
        return str(row.get("message") or "") or None
    return None


def _view(outcome: _Outcome) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = []
    for row in outcome.items:
        rows.append(
            {
                "n": row["n"],
                "description": row["description"],
                "code": format_code(row.get("code")),
                "official": str(row.get("official") or "").rsplit(" > ", 1)[-1],
                "confidence": _confidence(row.get("confidence"))
                if row.get("status") in ("classified", "needs_info")
                else "-",
                "status": row.get("status"),
                "note": _note(row),
            }
        )
    questions = []
    for number, (row, question) in enumerate(_number_questions(outcome.items), start=1):
        questions.append(
            {
                "number": number,
                "item": row["n"],
                "text": question.get("text", ""),
                "options": [
                    {"n": i, "label": f"{o.get('value', '')} {o.get('label', '')}".strip()}
                    for i, o in enumerate(question.get("options", []), start=1)
                ],
            }
        )
    return rows, questions


def results_csv(outcome: _Outcome) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "n",
            "description",
            "status",
            "code",
            "official_description",
            "confidence",
            "message",
            "book",
        ]
    )
    for row in outcome.items:
        writer.writerow(
            [
                row["n"],
                row["description"],
                row.get("status", ""),
                row.get("code") or "",
                row.get("official", ""),
                "" if row.get("confidence") is None else round(float(row["confidence"]), 3),
                row.get("message") or row.get("error") or "",
                row.get("book", ""),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


async def _compose_reply(
    session: AsyncSession,
    res: JobResources,
    identity: Identity,
    parsed: ParsedEmail,
    inbound: InboundEmail,
    outcome: _Outcome,
) -> None:
    rows, questions = _view(outcome)
    language = language_for(identity, parsed)
    attachment_name = "sivug-results.csv"
    more = len(rows) > TABLE_LIMIT
    rendered = await rendering.render(
        session,
        "reply",
        language,
        {
            "brand": brand_of(identity.organization),
            "recipient_name": parsed.sender_name
            or (identity.user.first_name if identity.user else None),
            "rows": rows[:TABLE_LIMIT],
            "total": len(rows),
            "more": more,
            "attachment_name": attachment_name,
            "questions": questions,
            "book": outcome.book,
            "continued": outcome.continued,
            "notes": outcome.notes,
            "reply_subject": reply_subject(parsed.subject),
        },
    )
    await _queue(
        session,
        res,
        EmailMessage(
            inbound_email_id=inbound.id,
            kind="reply",
            organization_id=identity.organization.id,
            user_id=identity.user.id if identity.user else None,
            recipient=parsed.sender,
            subject=rendered.subject,
            language=language,
            html=rendered.html,
            text=rendered.text,
            attachment_name=attachment_name if more else None,
            attachment=results_csv(outcome) if more else None,
        ),
        parsed,
    )
    log.info(
        "email.reply_queued",
        inbound_id=inbound.id,
        items=len(rows),
        questions=len(questions),
        status=outcome.status,
    )


async def _queue(
    session: AsyncSession, res: JobResources, message: EmailMessage, parsed: ParsedEmail
) -> None:
    from sivug.channels.email.tasks import send_message  # tasks imports this module
    from sivug.platform.jobs import defer

    message.message_id = new_message_id(res.settings)
    message.in_reply_to = parsed.message_id
    references = [*parsed.references, *([parsed.message_id] if parsed.message_id else [])]
    message.references = " ".join(references)[-4000:] or None
    message.status = "pending"
    await repository.add_message(session, message)
    await defer(session, send_message, email_message_id=message.id)


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def _unknown_sender(
    session: AsyncSession, res: JobResources, parsed: ParsedEmail, inbound: InboundEmail
) -> None:
    """One polite answer per address per day (and a few per domain): no spam cannon."""
    window = _day(datetime.now(UTC))
    per_address = await repository.count_up(
        session, scope="address", key=parsed.sender, window_start=window
    )
    per_domain = await repository.count_up(
        session, scope="domain", key=parsed.sender_domain, window_start=window
    )
    if per_address > UNKNOWN_PER_ADDRESS or per_domain > UNKNOWN_PER_DOMAIN:
        inbound.status = "rate_limited"
        await repository.add_inbound(session, inbound)
        log.info("email.unknown_sender_rate_limited", inbound_event_id=inbound.inbound_event_id)
        return
    inbound.status = "unknown_sender"
    await repository.add_inbound(session, inbound)
    rendered = await rendering.render(
        session,
        "access_info",
        "en",
        {
            "brand": brand_of(None),
            "sender": parsed.sender,
            "signup_url": SIGNUP_URL,
            "reply_subject": reply_subject(parsed.subject),
        },
    )
    await _queue(
        session,
        res,
        EmailMessage(
            inbound_email_id=inbound.id,
            kind="access_info",
            recipient=parsed.sender,
            subject=rendered.subject,
            language="en",
            html=rendered.html,
            text=rendered.text,
        ),
        parsed,
    )
    log.info("email.unknown_sender_answered", inbound_id=inbound.id)


# -- delivery events -------------------------------------------------------------------

#: How far each event moves a message; an event never moves it back.
_RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "opened": 4, "clicked": 5}


async def handle_delivery_event(
    session: AsyncSession, event: InboundEvent, res: JobResources
) -> None:
    payload = event.payload or {}
    signature = payload.get("signature") or {}
    if not await repository.record_token(
        session, str(signature.get("token", "")), body_digest(event.body)
    ):
        log.warning("email.event_replay_ignored", event_id=event.id)
        return
    data: dict[str, Any] = payload.get("event-data") or {}
    kind = str(data.get("event", ""))
    recipient = str(data.get("recipient", "")).lower()
    headers = (data.get("message") or {}).get("headers") or {}
    provider_id = headers.get("message-id")
    variables = data.get("user-variables") or {}
    row_key = str(variables.get("email_message_id") or "")
    message = await repository.message_for_event(
        session,
        row_id=int(row_key) if row_key.isdigit() else None,
        provider_id=str(provider_id) if provider_id else None,
    )
    occurred = datetime.fromtimestamp(float(data.get("timestamp") or 0) or 0, UTC)
    if not data.get("timestamp"):
        occurred = datetime.now(UTC)
    stored = await repository.add_delivery_event(
        session,
        EmailDeliveryEvent(
            provider_event_id=str(data.get("id") or event.external_id),
            event=kind[:32],
            severity=(str(data["severity"])[:16] if data.get("severity") else None),
            reason=(str(data["reason"])[:255] if data.get("reason") else None),
            recipient=recipient[:320],
            provider_message_id=str(provider_id)[:998] if provider_id else None,
            email_message_id=message.id if message else None,
            occurred_at=occurred,
            delivery_status=data.get("delivery-status") or {},
        ),
    )
    if not stored:
        return
    if message is not None:
        _apply(message, kind, data, occurred)
    permanent = kind == "failed" and data.get("severity") == "permanent"
    if recipient and (permanent or kind in ("complained", "unsubscribed")):
        reason = {"failed": "bounce", "complained": "complaint"}.get(kind, "unsubscribe")
        status = data.get("delivery-status") or {}
        detail = str(status.get("description") or status.get("message") or data.get("reason") or "")
        await repository.suppress(session, recipient, reason, detail[:1000] or None)
        log.info("email.suppressed", reason=reason)
    log.info("email.delivery_event", kind=kind, email_message_id=message.id if message else None)


def _apply(message: EmailMessage, kind: str, data: dict[str, Any], at: datetime) -> None:
    if kind == "delivered":
        message.delivered_at = message.delivered_at or at
    elif kind == "opened":
        message.opened_at = message.opened_at or at
    elif kind == "clicked":
        message.clicked_at = message.clicked_at or at
    elif kind == "failed":
        if data.get("severity") != "permanent":
            return
        message.failed_at = at
        message.status = "failed"
        return
    elif kind == "complained":
        message.complained_at = at
        message.status = "complained"
        return
    else:
        return
    if message.status in _RANK and _RANK[kind] > _RANK[message.status]:
        message.status = kind
