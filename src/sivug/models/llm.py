"""The LLM tier's records: one usage row per provider call, the response cache, per-
organization limits, and book extraction jobs with their progress."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin, utcnow


class LLMUsage(Base):
    """One call to a provider (or one cache hit, which costs nothing)."""

    __tablename__ = "llm_usage"
    __table_args__ = (
        Index("ix_llm_usage_organization_id_created_at", "organization_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    task: Mapped[str] = mapped_column(String(32))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    response_time_ms: Mapped[int] = mapped_column(Integer, default=0)
    cache_hit: Mapped[bool] = mapped_column(default=False)
    #: "ok", "cache_hit", "malformed" (unparseable), "invalid" (failed validation)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class LLMCacheEntry(Base):
    """A validated answer, keyed by sha256(task, model, normalised prompt, book version)."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    book_version: Mapped[str] = mapped_column(String(96))
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LLMOrganizationLimit(TimestampMixin, Base):
    """Overrides of the default spend and rate limits for one organization."""

    __tablename__ = "llm_organization_limits"

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    monthly_spend_limit: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    requests_per_minute: Mapped[int | None]


class ExtractionJob(TimestampMixin, Base):
    """A customs book being extracted from a PDF or text, page by page (resumable)."""

    __tablename__ = "llm_extraction_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    book_id: Mapped[str] = mapped_column(String(64))
    book_name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(32))
    digits: Mapped[int]
    source_path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    pages_total: Mapped[int] = mapped_column(default=0)
    pages_done: Mapped[int] = mapped_column(default=0)
    lines: Mapped[list[Any]] = mapped_column(default=list)  # extracted so far, page order
    chapter_notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
