"""Request and response models of the accounts API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sivug.models import ApiKey, Membership, Organization, User

Language = Literal["en", "he"]


class MeOut(BaseModel):
    user_id: str | None
    organization_id: str
    role: str
    via: str
    email: str | None = None
    name: str | None = None
    language: str | None = None
    preferred_book: str | None = None


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language | None = None
    preferred_book: str | None = Field(default=None, max_length=64)


class OrganizationOut(BaseModel):
    id: str
    name: str
    slug: str | None
    default_book: str | None
    language: str
    timezone: str
    currency: str
    allowed_email_domains: list[str]

    @classmethod
    def of(cls, row: Organization) -> OrganizationOut:
        return cls(
            id=row.id,
            name=row.name,
            slug=row.slug,
            default_book=row.default_book,
            language=row.language,
            timezone=row.timezone,
            currency=row.currency,
            allowed_email_domains=row.allowed_email_domains,
        )


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_book: str | None = Field(default=None, max_length=64)
    language: Language | None = None
    timezone: str | None = Field(default=None, max_length=64, examples=["Asia/Jerusalem"])
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["ILS"])
    allowed_email_domains: list[str] | None = Field(default=None, max_length=50)


class MemberOut(BaseModel):
    user_id: str
    email: str | None
    name: str | None
    role: str

    @classmethod
    def of(cls, membership: Membership, user: User) -> MemberOut:
        name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
        return cls(user_id=user.id, email=user.email, name=name, role=membership.role.value)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once: store it now.")
