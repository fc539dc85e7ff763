"""Who is calling: a Clerk session (header or cookie), an organization API key, or, in local
mode only, the development sign-in. Every route that touches tenant data goes through here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts import repository
from sivug.accounts.cache import AccountsCache
from sivug.accounts.service import API_KEY_PREFIX, authenticate_api_key, role_from_clerk
from sivug.models import Role
from sivug.platform.errors import Forbidden, Unauthorized
from sivug.wrappers.clerk import ClerkWrapper

DEV_COOKIE = "sivug_dev"
CLERK_COOKIE = "__session"
DEV_COOKIE_MAX_AGE = 7 * 24 * 3600


class NotSignedIn(Unauthorized):
    pass


class NoOrganization(Forbidden):
    pass


class InsufficientRole(Forbidden):
    pass


@dataclass(frozen=True)
class Principal:
    organization_id: str
    user_id: str | None
    role: Role
    via: Literal["session", "api_key", "dev"]
    api_key_id: uuid.UUID | None = None

    @property
    def actor(self) -> str:
        return f"apikey:{self.api_key_id}" if self.api_key_id else f"user:{self.user_id}"

    @property
    def rate_bucket(self) -> str:
        return f"key:{self.api_key_id}" if self.api_key_id else f"user:{self.user_id}"

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = " or ".join(role.value for role in roles)
            raise InsufficientRole(f"This needs the {allowed} role; you are {self.role.value}.")


@dataclass(frozen=True)
class Credentials:
    bearer: str | None
    clerk_cookie: str | None
    dev_cookie: str | None


class DevSignIn:
    """The local-mode sign-in: a signed cookie naming a seeded user and organization."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="sivug-dev-sign-in")

    def issue(self, user_id: str, organization_id: str) -> str:
        return self._serializer.dumps({"u": user_id, "o": organization_id})

    def read(self, cookie: str) -> tuple[str, str] | None:
        try:
            data = self._serializer.loads(cookie, max_age=DEV_COOKIE_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        return str(data.get("u")), str(data.get("o"))


async def authenticate(
    session: AsyncSession,
    credentials: Credentials,
    *,
    clerk: ClerkWrapper,
    dev_sign_in: DevSignIn | None,
    cache: AccountsCache | None = None,
) -> Principal:
    if credentials.bearer:
        if credentials.bearer.startswith(API_KEY_PREFIX):
            key = await authenticate_api_key(session, credentials.bearer, cache)
            if key is None:
                raise NotSignedIn("Unknown or revoked API key.")
            return Principal(
                organization_id=key.organization_id,
                user_id=None,
                role=Role.MEMBER,
                via="api_key",
                api_key_id=key.id,
            )
        return await _from_clerk(session, clerk, credentials.bearer)
    if credentials.clerk_cookie and clerk.can_verify_tokens:
        return await _from_clerk(session, clerk, credentials.clerk_cookie)
    if credentials.dev_cookie and dev_sign_in is not None:
        found = dev_sign_in.read(credentials.dev_cookie)
        if found is not None:
            user_id, organization_id = found
            membership = await repository.membership_of(session, organization_id, user_id)
            if membership is not None:
                return Principal(
                    organization_id=organization_id,
                    user_id=user_id,
                    role=membership.role,
                    via="dev",
                )
    raise NotSignedIn(
        "Sign in, or send 'Authorization: Bearer <organization API key or session token>'."
    )


async def _from_clerk(session: AsyncSession, clerk: ClerkWrapper, token: str) -> Principal:
    claims = clerk.verify_session_token(token)
    if claims.pending or claims.organization_id is None:
        raise NoOrganization(
            "Your account has no organization yet: create one or accept an invitation first."
        )
    await repository.ensure_organization(session, claims.organization_id, claims.organization_id)
    await repository.ensure_user(session, claims.user_id)
    organization = await repository.get_organization(session, claims.organization_id)
    if organization is not None and organization.deleted_at is not None:
        raise NoOrganization("This organization has been deleted.")
    return Principal(
        organization_id=claims.organization_id,
        user_id=claims.user_id,
        role=role_from_clerk(claims.organization_role),
        via="session",
    )
