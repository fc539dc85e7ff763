"""Business rules for accounts. Clerk owns identity; Sivug keeps a synced copy, the
organizations' settings and their API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts import repository
from sivug.accounts.cache import UNCACHED, AccountsCache
from sivug.accounts.repository import KeyIdentity
from sivug.books.service import BookCache
from sivug.models import ApiKey, Invitation, Membership, Organization, Role, User
from sivug.platform import audit
from sivug.platform.errors import NotFound, ValidationFailed
from sivug.platform.logging import get_logger

log = get_logger(__name__)

DEMO_ORGANIZATION_ID = "org_demo"
DEMO_USER_ID = "user_demo"
API_KEY_PREFIX = "sk_sivug_"
#: last_used_at is written at most this often per key (not on every request).
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


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


# --- API keys -----------------------------------------------------------------------------


def hash_key(key: str) -> str:
    """Keys are 256-bit random strings, so a plain SHA-256 is the right storage form."""
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession,
    *,
    organization_id: str,
    name: str,
    created_by: str | None,
    idempotency_key: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the organization. The plain key is returned once and never stored.
    ``idempotency_key`` (the creating form's one-time id) is unique per organization: a
    second creation with it fails with an IntegrityError at the flush."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name: give the key a name of 1 to 100 characters")
    secret = secrets.token_urlsafe(32)
    key = f"{API_KEY_PREFIX}{secret}"
    row = ApiKey(
        organization_id=organization_id,
        name=name,
        prefix=key[: len(API_KEY_PREFIX) + 6],
        key_hash=hash_key(key),
        created_by=created_by,
        idempotency_key=idempotency_key,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor=f"user:{created_by}" if created_by else "system",
        action="api_key.created",
        entity_type="api_key",
        entity_id=str(row.id),
        organization_id=organization_id,
        after={"name": name, "prefix": row.prefix},
    )
    return row, key


async def revoke_api_key(
    session: AsyncSession, *, organization_id: str, key_id: uuid.UUID, revoked_by: str | None
) -> ApiKey:
    row = await repository.api_key(session, organization_id, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    if row.revoked_at is None:
        row.revoked_at = repository.now()
        await audit.record(
            session,
            actor=f"user:{revoked_by}" if revoked_by else "system",
            action="api_key.revoked",
            entity_type="api_key",
            entity_id=str(row.id),
            organization_id=organization_id,
            before={"name": row.name, "prefix": row.prefix},
        )
    await session.flush()
    return row


async def authenticate_api_key(
    session: AsyncSession, key: str, cache: AccountsCache | None = None
) -> KeyIdentity | None:
    """The key's identity if it is valid: not revoked, its organization not deleted. Its
    last-used time is written at most once a minute."""
    key_hash = hash_key(key)
    lookups = cache or UNCACHED
    identity = await lookups.api_key(session, key_hash)
    if identity is None:
        return None
    now = repository.now()
    if identity.last_used_at is None or now - identity.last_used_at > API_KEY_TOUCH_INTERVAL:
        # Recorded in the cache first, so the process's concurrent requests do not all write
        # it; and written only when no other transaction holds the row: a request must never
        # wait on another's lock with a pooled connection checked out (at 50 concurrent
        # requests, waiters emptied the pool and the batch writer could not commit).
        identity = replace(identity, last_used_at=now)
        lookups.key_used(key_hash, identity)
        await repository.touch_api_key(session, identity.id, now)
    return identity


# --- Clerk sync ---------------------------------------------------------------------------

_ROLES = {"admin": Role.ADMIN, "member": Role.MEMBER, "basic_member": Role.MEMBER}


def role_from_clerk(value: str | None) -> Role:
    """Clerk's "org:admin" / "org:member" / "org:viewer"; anything unknown is read-only."""
    name = (value or "").removeprefix("org:")
    return _ROLES.get(name, Role.VIEWER)


def _clerk_time(data: dict[str, Any], fallback_ms: int | None) -> datetime:
    value = data.get("updated_at") or data.get("created_at") or fallback_ms or 0
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _newer(stored: datetime | None, incoming: datetime) -> bool:
    return stored is None or incoming > stored


def _primary_email(data: dict[str, Any]) -> str | None:
    addresses = data.get("email_addresses") or []
    primary = data.get("primary_email_address_id")
    for address in addresses:
        if address.get("id") == primary:
            return str(address.get("email_address"))
    return str(addresses[0].get("email_address")) if addresses else None


async def apply_clerk_event(
    session: AsyncSession, event_type: str, data: dict[str, Any], event_ms: int | None
) -> str:
    """Bring the local copy in line with one Clerk event. Idempotent and order-tolerant:
    an event older than what is stored changes nothing. Returns what was done."""
    when = _clerk_time(data, event_ms)
    kind, _, action = event_type.partition(".")
    if kind == "user":
        return await _user_event(session, action, data, when)
    if kind == "organization":
        return await _organization_event(session, action, data, when)
    if kind == "organizationMembership":
        return await _membership_event(session, action, data, when)
    if kind == "organizationInvitation":
        return await _invitation_event(session, action, data, when)
    return "ignored"


async def _user_event(
    session: AsyncSession, action: str, data: dict[str, Any], when: datetime
) -> str:
    user_id = str(data["id"])
    user = await repository.get_user(session, user_id)
    if action == "deleted":
        if user is None:
            user = User(id=user_id)
            session.add(user)
        elif not _newer(user.clerk_updated_at, when):
            return "stale"
        await erase_user(session, user, when)
        return "erased"
    if user is None:
        user = User(id=user_id)
        session.add(user)
    elif not _newer(user.clerk_updated_at, when) or user.deleted_at is not None:
        return "stale"
    user.email = _primary_email(data)
    user.first_name = data.get("first_name")
    user.last_name = data.get("last_name")
    user.clerk_updated_at = when
    await session.flush()
    return "synced"


async def erase_user(session: AsyncSession, user: User, when: datetime) -> None:
    """GDPR erasure: personal data goes, the id stays so the organizations' audit trail and
    billing records still add up (they name the user only by id)."""
    user.email = None
    user.first_name = None
    user.last_name = None
    user.preferred_book = None
    user.deleted_at = when
    user.clerk_updated_at = when
    for membership in await repository.user_memberships(session, user.id):
        await session.delete(membership)
    await session.flush()
    await audit.record(
        session,
        actor="clerk",
        action="user.erased",
        entity_type="user",
        entity_id=user.id,
        organization_id=None,
    )


async def _organization_event(
    session: AsyncSession, action: str, data: dict[str, Any], when: datetime
) -> str:
    organization_id = str(data["id"])
    organization = await repository.get_organization(session, organization_id)
    if organization is None:
        organization = Organization(id=organization_id, name=data.get("name") or organization_id)
        session.add(organization)
    elif not _newer(organization.clerk_updated_at, when):
        return "stale"
    if action == "deleted":
        organization.deleted_at = when
        organization.clerk_updated_at = when
        await session.flush()
        return "deleted"
    if organization.deleted_at is not None:
        return "stale"
    organization.name = data.get("name") or organization.name
    organization.slug = data.get("slug") or organization.slug
    organization.clerk_updated_at = when
    await session.flush()
    return "synced"


async def _membership_event(
    session: AsyncSession, action: str, data: dict[str, Any], when: datetime
) -> str:
    membership_id = str(data["id"])
    org_data = data.get("organization") or {}
    user_data = data.get("public_user_data") or {}
    membership = await repository.get_membership(session, membership_id)
    if membership is not None and not _newer(membership.clerk_updated_at, when):
        return "stale"
    if action == "deleted":
        if membership is not None:
            await session.delete(membership)
            await session.flush()
        return "deleted"
    organization_id = str(org_data.get("id"))
    user_id = str(user_data.get("user_id"))
    await repository.ensure_organization(
        session, organization_id, org_data.get("name") or organization_id
    )
    await repository.ensure_user(session, user_id)
    user = await repository.get_user(session, user_id)
    if user is not None and user.deleted_at is not None:
        return "stale"
    if user is not None and user.email is None and user.clerk_updated_at is None:
        user.email = user_data.get("identifier")
        user.first_name = user.first_name or user_data.get("first_name")
        user.last_name = user.last_name or user_data.get("last_name")
    if membership is None:
        existing = await repository.membership_of(session, organization_id, user_id)
        if existing is not None:
            await session.delete(existing)
            await session.flush()
        membership = Membership(id=membership_id, organization_id=organization_id, user_id=user_id)
        session.add(membership)
    membership.role = role_from_clerk(data.get("role"))
    membership.clerk_updated_at = when
    await session.flush()
    return "synced"


async def _invitation_event(
    session: AsyncSession, action: str, data: dict[str, Any], when: datetime
) -> str:
    invitation_id = str(data["id"])
    organization_id = str(data.get("organization_id") or "")
    if not organization_id:
        return "ignored"
    invitation = await repository.get_invitation(session, invitation_id)
    if invitation is not None and not _newer(invitation.clerk_updated_at, when):
        return "stale"
    await repository.ensure_organization(session, organization_id, organization_id)
    if invitation is None:
        invitation = Invitation(
            id=invitation_id, organization_id=organization_id, role="", status=""
        )
        session.add(invitation)
    invitation.email = data.get("email_address")
    invitation.role = str(data.get("role") or "org:member").removeprefix("org:")
    invitation.status = str(data.get("status") or action)
    invitation.clerk_updated_at = when
    await session.flush()
    return "synced"


# --- Settings -----------------------------------------------------------------------------


def _valid_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"timezone: {name!r} is not an IANA time zone") from None
    return name


def _valid_currency(code: str) -> str:
    from babel.numbers import list_currencies

    upper = code.upper()
    if upper not in list_currencies():
        raise ValidationFailed(f"currency: {code!r} is not an ISO 4217 currency code")
    return upper


def _valid_domains(domains: list[str]) -> list[str]:
    import re

    out = []
    for domain in domains:
        cleaned = domain.strip().lower().lstrip("@")
        if not re.fullmatch(r"(?:[a-z0-9-]+\.)+[a-z]{2,}", cleaned):
            raise ValidationFailed(f"allowed_email_domains: {domain!r} is not a domain")
        out.append(cleaned)
    return sorted(set(out))


async def update_organization(
    session: AsyncSession,
    books: BookCache,
    *,
    organization_id: str,
    actor: str,
    changes: dict[str, Any],
) -> Organization:
    organization = await repository.get_organization(session, organization_id)
    if organization is None:
        raise NotFound("Your organization is not known yet.")
    before = {key: getattr(organization, key) for key in changes}
    if changes.get("default_book"):
        await books.get(session, changes["default_book"])  # 404 if unknown
    if changes.get("timezone"):
        changes["timezone"] = _valid_timezone(changes["timezone"])
    if changes.get("currency"):
        changes["currency"] = _valid_currency(changes["currency"])
    if changes.get("allowed_email_domains") is not None:
        changes["allowed_email_domains"] = _valid_domains(changes["allowed_email_domains"])
    for key, value in changes.items():
        if value is not None or key == "default_book":
            setattr(organization, key, value)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="organization.updated",
        entity_type="organization",
        entity_id=organization_id,
        organization_id=organization_id,
        before=before,
        after={key: getattr(organization, key) for key in changes},
    )
    return organization


async def update_user_preferences(
    session: AsyncSession, books: BookCache, *, user_id: str, changes: dict[str, Any]
) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound("Your user is not known yet.")
    if changes.get("preferred_book"):
        await books.get(session, changes["preferred_book"])
    for key in ("language", "preferred_book"):
        if key in changes:
            setattr(user, key, changes[key])
    await session.flush()
    return user
