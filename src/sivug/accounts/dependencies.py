"""FastAPI dependencies for who is calling and what they may do."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts.auth import CLERK_COOKIE, DEV_COOKIE, Credentials, Principal, authenticate
from sivug.models import Role
from sivug.platform.dependencies import DbSession


def credentials_of(request: Request) -> Credentials:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return Credentials(
        bearer=token.strip() if scheme.lower() == "bearer" and token.strip() else None,
        clerk_cookie=request.cookies.get(CLERK_COOKIE),
        dev_cookie=request.cookies.get(DEV_COOKIE),
    )


#: Who may classify, upload lists and confirm codes (``Writer``).
WRITER_ROLES = (Role.ADMIN, Role.MEMBER)


async def principal_of(request: Request, session: AsyncSession) -> Principal:
    """Who is calling, counted against their rate limits: what ``Reader`` gives, for a route
    that reads its request itself."""
    state = request.app.state
    principal = await authenticate(
        session,
        credentials_of(request),
        clerk=state.clerk,
        dev_sign_in=state.dev_sign_in,
        cache=state.accounts_cache,
    )
    settings = state.settings.server
    await state.rate_limiter.hit(
        {
            principal.rate_bucket: settings.rate_limit_per_key,
            f"org:{principal.organization_id}": settings.rate_limit_per_org,
        }
    )
    request.state.principal = principal
    return principal


async def _principal(request: Request, session: DbSession) -> Principal:
    return await principal_of(request, session)


async def _writer(
    principal: Annotated[Principal, Depends(_principal, scope="function")],
) -> Principal:
    principal.require(*WRITER_ROLES)
    return principal


async def _admin(
    principal: Annotated[Principal, Depends(_principal, scope="function")],
) -> Principal:
    principal.require(Role.ADMIN)
    return principal


#: Anyone signed in to the organization (viewers included): reading.
Reader = Annotated[Principal, Depends(_principal, scope="function")]
#: Members and admins: classifying, uploading lists, confirming codes.
Writer = Annotated[Principal, Depends(_writer, scope="function")]
#: Admins: settings, members, API keys, billing.
Admin = Annotated[Principal, Depends(_admin, scope="function")]
