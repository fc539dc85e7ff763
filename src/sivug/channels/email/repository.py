"""All SQL of the email channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import (
    CustomsBook,
    EmailDeliveryEvent,
    EmailMessage,
    EmailRateLimit,
    EmailSuppression,
    EmailTemplate,
    EmailWebhookToken,
    InboundEmail,
    Membership,
    Organization,
    User,
)


async def record_token(session: AsyncSession, token: str, digest: str) -> bool:
    """Remember a webhook token. False when it was used before for a different body."""
    stmt = (
        insert(EmailWebhookToken)
        .values(token=token, body_sha256=digest)
        .on_conflict_do_nothing(index_elements=["token"])
        .returning(EmailWebhookToken.token)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is not None:
        return True
    existing = await session.execute(
        select(EmailWebhookToken.body_sha256).where(EmailWebhookToken.token == token)
    )
    return existing.scalar_one() == digest


async def prune_tokens(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(EmailWebhookToken).where(EmailWebhookToken.seen_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def user_by_email(session: AsyncSession, address: str) -> tuple[User, str] | None:
    """The active user with this address and the organization of their first membership."""
    result = await session.execute(
        select(User, Membership.organization_id)
        .join(Membership, Membership.user_id == User.id)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(
            func.lower(User.email) == address.lower(),
            User.deleted_at.is_(None),
            Organization.deleted_at.is_(None),
        )
        .order_by(Membership.created_at)
        .limit(1)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def organization_for_domain(session: AsyncSession, domain: str) -> Organization | None:
    result = await session.execute(
        select(Organization)
        .where(
            Organization.allowed_email_domains.contains([domain.lower()]),
            Organization.deleted_at.is_(None),
        )
        .order_by(Organization.created_at)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def get_organization(session: AsyncSession, organization_id: str) -> Organization | None:
    return await session.get(Organization, organization_id)


async def known_book_ids(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(CustomsBook.id))).scalars())


async def count_up(session: AsyncSession, *, scope: str, key: str, window_start: datetime) -> int:
    """Add one to a rate-limit counter and return the new count (row-locked upsert)."""
    stmt = (
        insert(EmailRateLimit)
        .values(scope=scope, key=key, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=["scope", "key", "window_start"],
            set_={"count": EmailRateLimit.count + 1},
        )
        .returning(EmailRateLimit.count)
    )
    return int((await session.execute(stmt)).scalar_one())


async def is_suppressed(session: AsyncSession, address: str) -> bool:
    result = await session.execute(
        select(EmailSuppression.id).where(EmailSuppression.address == address.lower())
    )
    return result.scalar_one_or_none() is not None


async def suppress(session: AsyncSession, address: str, reason: str, detail: str | None) -> None:
    await session.execute(
        insert(EmailSuppression)
        .values(address=address.lower(), reason=reason, detail=detail)
        .on_conflict_do_nothing(index_elements=["address"])
    )


async def add_inbound(session: AsyncSession, inbound: InboundEmail) -> InboundEmail:
    session.add(inbound)
    await session.flush()
    return inbound


async def get_inbound(session: AsyncSession, inbound_id: int) -> InboundEmail | None:
    return await session.get(InboundEmail, inbound_id)


async def reply_in_thread(session: AsyncSession, message_ids: list[str]) -> EmailMessage | None:
    """The latest reply Sivug sent whose Message-Id is one of ``message_ids``."""
    if not message_ids:
        return None
    bare = [m.strip("<>") for m in message_ids]
    result = await session.execute(
        select(EmailMessage)
        .where(
            EmailMessage.kind == "reply",
            or_(EmailMessage.message_id.in_(message_ids), EmailMessage.provider_id.in_(bare)),
        )
        .order_by(EmailMessage.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def add_message(session: AsyncSession, message: EmailMessage) -> EmailMessage:
    session.add(message)
    await session.flush()
    return message


async def lock_message(session: AsyncSession, message_id: int) -> EmailMessage | None:
    result = await session.execute(
        select(EmailMessage).where(EmailMessage.id == message_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def message_for_event(
    session: AsyncSession, *, row_id: int | None, provider_id: str | None
) -> EmailMessage | None:
    conditions = []
    if row_id is not None:
        conditions.append(EmailMessage.id == row_id)
    if provider_id:
        bare = provider_id.strip("<>")
        conditions += [EmailMessage.provider_id == bare, EmailMessage.message_id == f"<{bare}>"]
    if not conditions:
        return None
    result = await session.execute(
        select(EmailMessage).where(or_(*conditions)).order_by(EmailMessage.id).limit(1)
    )
    return result.scalar_one_or_none()


async def add_delivery_event(session: AsyncSession, event: EmailDeliveryEvent) -> bool:
    """Store a delivery event once (by Mailgun's event id). False if it was already stored."""
    stmt = (
        insert(EmailDeliveryEvent)
        .values(
            provider_event_id=event.provider_event_id,
            event=event.event,
            severity=event.severity,
            reason=event.reason,
            recipient=event.recipient,
            provider_message_id=event.provider_message_id,
            email_message_id=event.email_message_id,
            occurred_at=event.occurred_at,
            delivery_status=event.delivery_status,
        )
        .on_conflict_do_nothing(index_elements=["provider_event_id"])
        .returning(EmailDeliveryEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def get_template(session: AsyncSession, name: str, language: str) -> EmailTemplate | None:
    result = await session.execute(
        select(EmailTemplate).where(EmailTemplate.name == name, EmailTemplate.language == language)
    )
    return result.scalar_one_or_none()


async def add_template_if_absent(session: AsyncSession, template: EmailTemplate) -> None:
    await session.execute(
        insert(EmailTemplate)
        .values(
            name=template.name,
            language=template.language,
            subject=template.subject,
            html=template.html,
            text=template.text,
            variables=template.variables,
        )
        .on_conflict_do_nothing(index_elements=["name", "language"])
    )


async def recent_messages(session: AsyncSession, limit: int = 200) -> list[EmailMessage]:
    result = await session.execute(
        select(EmailMessage).order_by(EmailMessage.id.desc()).limit(limit)
    )
    return list(result.scalars())


async def get_message(session: AsyncSession, message_id: int) -> EmailMessage | None:
    return await session.get(EmailMessage, message_id)


async def reset_to_pending(session: AsyncSession, message_id: int, error: str) -> None:
    await session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message_id, EmailMessage.status == "sending")
        .values(status="pending", last_error=error)
    )
