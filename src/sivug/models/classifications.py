"""Classifications: one row per answered description, with what answering it cost."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, SmallInteger, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin, utcnow


class Classification(TimestampMixin, Base):
    __tablename__ = "classifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # History, its pages and the CSV export read an organization's rows newest first, by
    # (created_at, id): one index serves them (and, by its first column, the foreign key).
    __table_args__ = (
        Index(
            "ix_classifications_organization_id_created_at", "organization_id", "created_at", "id"
        ),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    book_id: Mapped[str] = mapped_column(ForeignKey("customs_books.id"))
    channel: Mapped[str] = mapped_column(String(16))  # web, api, email, whatsapp, cli, list
    input: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str | None] = mapped_column(String(32))
    level_reached: Mapped[int | None] = mapped_column(SmallInteger)
    confidence: Mapped[float | None]
    confidence_by_level: Mapped[dict[str, Any]] = mapped_column(default=dict)
    alternatives: Mapped[list[Any]] = mapped_column(default=list)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    engine: Mapped[str] = mapped_column(String(128))
    llm_provider: Mapped[str | None] = mapped_column(String(32))
    llm_model: Mapped[str | None] = mapped_column(String(128))
    llm_input_tokens: Mapped[int | None]
    llm_output_tokens: Mapped[int | None]
    llm_total_tokens: Mapped[int | None]
    llm_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    llm_response_time_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
