"""Organizations, users and memberships, keyed by their Clerk ids."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sivug.models.base import Base, TimestampMixin


class Role(enum.StrEnum):
    ADMIN = "admin"  # settings, members, billing, API keys
    MEMBER = "member"  # classify, history
    VIEWER = "viewer"  # read-only


class Organization(TimestampMixin, Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Clerk org id ("org_...")
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str | None] = mapped_column(String(255), unique=True)
    default_book: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    allowed_email_domains: Mapped[list[str]] = mapped_column(
        ARRAY(String(255)), default=list, server_default="{}"
    )
    deleted_at: Mapped[datetime | None]
    #: Clerk's updated_at of the last event applied: older (out-of-order) events are ignored.
    clerk_updated_at: Mapped[datetime | None]
    # Branding of the emails sent on the organization's behalf (unset: Sivug's own).
    brand_name: Mapped[str | None] = mapped_column(String(255))
    brand_color: Mapped[str | None] = mapped_column(String(16))  # "#1a73e8"
    brand_logo_url: Mapped[str | None] = mapped_column(String(1024))


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Clerk user id ("user_...")
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    preferred_book: Mapped[str | None] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None]
    clerk_updated_at: Mapped[datetime | None]


class Membership(TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Clerk "orgmem_..." id
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="membership_role", values_callable=lambda e: [m.value for m in e])
    )
    clerk_updated_at: Mapped[datetime | None]


class ApiKey(TimestampMixin, Base):
    """An organization's key for machine clients. Only a hash is stored; shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("organization_id", "idempotency_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))  # shown in lists: "sk_sivug_ab12cd34"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    created_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: The one-time token of the request that created it: the same form sent twice (a page
    #: reload) cannot create a second key.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class Invitation(TimestampMixin, Base):
    """A pending invitation to an organization (synced from Clerk)."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Clerk "orginv_..." id
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # pending, accepted, revoked
    clerk_updated_at: Mapped[datetime | None]
