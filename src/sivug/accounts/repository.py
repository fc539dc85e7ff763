"""All SQL for organizations, users and memberships."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.models import Membership, Organization, User


async def get_organization(session: AsyncSession, organization_id: str) -> Organization | None:
    return await session.get(Organization, organization_id)


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_membership(session: AsyncSession, membership_id: str) -> Membership | None:
    return await session.get(Membership, membership_id)
