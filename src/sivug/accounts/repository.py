"""All SQL for organizations, users, memberships, invitations and API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import ApiKey, Invitation, Membership, Organization, User
from sivug.models.base import utcnow


async def get_organization(session: AsyncSession, organization_id: str) -> Organization | None:
    return await session.get(Organization, organization_id)


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_membership(session: AsyncSession, membership_id: str) -> Membership | None:
    return await session.get(Membership, membership_id)


async def membership_of(
    session: AsyncSession, organization_id: str, user_id: str
) -> Membership | None:
    result = await session.execute(
        select(Membership).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    )
    return result.scalar_one_or_none()


async def members(session: AsyncSession, organization_id: str) -> list[tuple[Membership, User]]:
    result = await session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.email)
    )
    return [(m, u) for m, u in result]


async def ensure_organization(session: AsyncSession, organization_id: str, name: str) -> None:
    """Insert a placeholder row if the organization is unknown (details arrive by webhook)."""
    await session.execute(
        insert(Organization)
        .values(id=organization_id, name=name)
        .on_conflict_do_nothing(index_elements=["id"])
    )


async def ensure_user(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        insert(User).values(id=user_id).on_conflict_do_nothing(index_elements=["id"])
    )


async def user_memberships(session: AsyncSession, user_id: str) -> list[Membership]:
    result = await session.execute(select(Membership).where(Membership.user_id == user_id))
    return list(result.scalars())


@dataclass(frozen=True)
class KeyIdentity:
    """What a request needs of a valid API key (not revoked, organization not deleted)."""

    id: uuid.UUID
    organization_id: str
    last_used_at: datetime | None


async def api_key_identity(session: AsyncSession, key_hash: str) -> KeyIdentity | None:
    result = await session.execute(
        select(ApiKey.id, ApiKey.organization_id, ApiKey.last_used_at)
        .join(Organization, Organization.id == ApiKey.organization_id)
        .where(
            ApiKey.key_hash == key_hash,
            ApiKey.revoked_at.is_(None),
            Organization.deleted_at.is_(None),
        )
    )
    row = result.one_or_none()
    return KeyIdentity(*row) if row is not None else None


async def organization_default_book(session: AsyncSession, organization_id: str) -> str | None:
    result = await session.execute(
        select(Organization.default_book).where(Organization.id == organization_id)
    )
    return result.scalar_one_or_none()


async def user_preferred_book(session: AsyncSession, user_id: str) -> str | None:
    result = await session.execute(select(User.preferred_book).where(User.id == user_id))
    return result.scalar_one_or_none()


async def api_keys(session: AsyncSession, organization_id: str) -> list[ApiKey]:
    result = await session.execute(
        select(ApiKey)
        .where(ApiKey.organization_id == organization_id)
        .order_by(ApiKey.created_at.desc())
    )
    return list(result.scalars())


async def api_key(session: AsyncSession, organization_id: str, key_id: uuid.UUID) -> ApiKey | None:
    result = await session.execute(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == organization_id)
    )
    return result.scalar_one_or_none()


async def touch_api_key(session: AsyncSession, key_id: uuid.UUID, when: datetime) -> None:
    """Set the key's last-used time, unless another transaction is writing the row (then
    that one records the use: SKIP LOCKED, no waiting)."""
    free = (
        select(ApiKey.id).where(ApiKey.id == key_id).with_for_update(skip_locked=True)
    ).scalar_subquery()
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == free)
        .values(last_used_at=when)
        .execution_options(synchronize_session=False)
    )


async def get_invitation(session: AsyncSession, invitation_id: str) -> Invitation | None:
    return await session.get(Invitation, invitation_id)


def now() -> datetime:
    return utcnow()


async def all_memberships(
    session: AsyncSession, *, limit: int = 200
) -> list[tuple[Membership, User, Organization]]:
    """Every membership with its user and organization (the local development sign-in)."""
    result = await session.execute(
        select(Membership, User, Organization)
        .join(User, User.id == Membership.user_id)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(User.deleted_at.is_(None), Organization.deleted_at.is_(None))
        .order_by(Organization.name, User.email)
        .limit(limit)
    )
    return [(m, u, o) for m, u, o in result.all()]
