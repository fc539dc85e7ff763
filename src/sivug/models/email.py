"""The email channel: inbound emails, the sent log, templates, suppressions, delivery events.

Exactly one outgoing message per inbound email is enforced by the unique
``email_messages.inbound_email_id``; an outgoing message is sent by a job that moves it
``pending -> sending -> sent`` (see ``sivug.channels.email.tasks``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin, utcnow


class InboundEmail(Base):
    """One email received on the inbound route (the raw post stays in ``inbound_events``)."""

    __tablename__ = "email_inbound"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    inbound_event_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_events.id", ondelete="CASCADE"), unique=True
    )
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(320), index=True)
    sender_domain: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")  # the text the items were read from
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    customs_book_preference: Mapped[str | None] = mapped_column(String(64))
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: classified | continued | unknown_sender | rate_limited | ignored | no_items
    status: Mapped[str] = mapped_column(String(32))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The items as read and their outcome (description, book, session id, status, code ...).
    items: Mapped[list[Any]] = mapped_column(default=list)


class EmailMessage(TimestampMixin, Base):
    """The sent log: every email Sivug sends, rendered once and stored before it is sent."""

    __tablename__ = "email_messages"
    __table_args__ = (Index("ix_email_messages_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    #: At most one message answers an inbound email: the exactly-once guarantee.
    inbound_email_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_inbound.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # reply | access_info
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="en")
    #: The Message-Id header Sivug sets (with angle brackets); replies thread on it.
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    #: The id Mailgun returned (without angle brackets); delivery events carry it.
    provider_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(255))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: pending | sending | sent | delivered | opened | clicked | failed | complained |
    #: suppressed | rejected
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    send_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    complained_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class EmailTemplate(TimestampMixin, Base):
    """A Jinja2 template stored in the database, per name and language."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))  # reply | access_info
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    #: The variables the template may use, name -> description (documentation for editors).
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)


class EmailSuppression(Base):
    """Addresses never written to again: permanent failures, complaints, unsubscribes."""

    __tablename__ = "email_suppressions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    reason: Mapped[str] = mapped_column(String(32))  # bounce | complaint | unsubscribe
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class EmailDeliveryEvent(Base):
    """Delivery events from Mailgun (bounces and complaints among them), once per event id."""

    __tablename__ = "email_delivery_events"
    __table_args__ = (Index("ix_email_delivery_events_recipient_event", "recipient", "event"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    provider_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(320))
    provider_message_id: Mapped[str | None] = mapped_column(String(998))
    email_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_messages.id", ondelete="SET NULL"), index=True
    )
    occurred_at: Mapped[datetime]
    delivery_status: Mapped[dict[str, Any]] = mapped_column(default=dict)


class EmailRateLimit(Base):
    """Counters for replies to unknown senders, per address and per domain and window."""

    __tablename__ = "email_rate_limits"
    __table_args__ = (UniqueConstraint("scope", "key", "window_start"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))  # address | domain
    key: Mapped[str] = mapped_column(String(320))
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=0)


class EmailWebhookToken(Base):
    """Signature tokens of Mailgun webhooks already acted on (replays are ignored)."""

    __tablename__ = "email_webhook_tokens"

    token: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow, index=True)
