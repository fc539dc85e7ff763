"""Precedents: confirmed classifications that are evidence for similar descriptions.

Public ones (rulings, official references) have no organization; an organization's own
confirmed classifications apply to that organization only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, utcnow


class Precedent(Base):
    __tablename__ = "precedents"
    __table_args__ = (
        UniqueConstraint(
            "organization_id",
            "source",
            "description_hash",
            "code",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(32))  # "ruling", "reference", "org"
    reference: Mapped[str | None] = mapped_column(String(255))  # ruling number, file name
    description: Mapped[str] = mapped_column(Text)
    description_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised text
    code: Mapped[str] = mapped_column(String(32))  # as given; the engine uses the HS 6 digits
    justification: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
