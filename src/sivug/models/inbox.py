"""The inbox: every inbound webhook event, stored before it is acted on, handled once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, utcnow


class InboundEvent(Base):
    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_inbound_events_unhandled", "received_at", postgresql_where="handled_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))  # "clerk", "mailgun.inbound", ...
    external_id: Mapped[str] = mapped_column(String(255))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the raw body, exactly as received
    payload: Mapped[dict[str, Any] | None]  # parsed form, when the vendor sends JSON
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    handled_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
