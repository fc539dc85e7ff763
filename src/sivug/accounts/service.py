"""Business rules for accounts. Clerk owns identity; this keeps the local copy."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts import repository
from sivug.models import Membership, Organization, Role, User

DEMO_ORGANIZATION_ID = "org_demo"
DEMO_USER_ID = "user_demo"


async def seed_demo(session: AsyncSession) -> bool:
    """Local mode: a demo organization with one admin user. True if created now."""
    if await repository.get_organization(session, DEMO_ORGANIZATION_ID) is not None:
        return False
    session.add(
        Organization(
            id=DEMO_ORGANIZATION_ID,
            name="Demo Imports Ltd",
            slug="demo",
            default_book="HS2022",
            allowed_email_domains=["example.com"],
        )
    )
    session.add(
        User(id=DEMO_USER_ID, email="demo@example.com", first_name="Dana", last_name="Demo")
    )
    await session.flush()
    session.add(
        Membership(
            id="orgmem_demo",
            organization_id=DEMO_ORGANIZATION_ID,
            user_id=DEMO_USER_ID,
            role=Role.ADMIN,
        )
    )
    await session.flush()
    return True
