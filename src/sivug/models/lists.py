"""Uploaded lists classified in the background, with progress and downloadable results."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin


class ClassificationList(TimestampMixin, Base):
    __tablename__ = "classification_lists"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    book_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done, failed
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    input: Mapped[bytes] = mapped_column(LargeBinary)  # the file as uploaded
    results: Mapped[list[Any]] = mapped_column(default=list)  # one output row per item
    error: Mapped[str | None] = mapped_column(String(2000))


class RateLimitCounter(Base):
    """Fixed-window request counters shared by every API process."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(128), primary_key=True)  # "key:<id>", "org:<id>"
    window: Mapped[int] = mapped_column(primary_key=True)  # unix minute
    count: Mapped[int] = mapped_column(default=0)
