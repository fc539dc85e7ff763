"""Interactive classification sessions: questions and answers until the code is certain."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin


class ClassificationSession(TimestampMixin, Base):
    __tablename__ = "classification_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    book_id: Mapped[str] = mapped_column(ForeignKey("customs_books.id"))
    channel: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # question id -> value
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | classified | rejected
    last_result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    classification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("classifications.id", ondelete="SET NULL")
    )
