"""REST API v1: who am I, organization settings and members, API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from sivug.accounts import repository, service
from sivug.accounts.dependencies import Admin, Reader
from sivug.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MemberOut,
    MeOut,
    MeUpdate,
    OrganizationOut,
    OrganizationUpdate,
)
from sivug.classification.dependencies import Engines
from sivug.platform.dependencies import DbSession
from sivug.platform.errors import Forbidden, NotFound

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me")
async def me(principal: Reader, session: DbSession) -> MeOut:
    out = MeOut(
        user_id=principal.user_id,
        organization_id=principal.organization_id,
        role=principal.role.value,
        via=principal.via,
    )
    if principal.user_id:
        user = await repository.get_user(session, principal.user_id)
        if user is not None:
            out.email = user.email
            out.name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
            out.language = user.language
            out.preferred_book = user.preferred_book
    return out


@router.patch("/me")
async def update_me(
    body: MeUpdate, principal: Reader, session: DbSession, engines: Engines
) -> MeOut:
    """Your own preferences: interface language and customs book."""
    if principal.user_id is None:
        raise Forbidden("API keys belong to the organization, not to a person.")
    await service.update_user_preferences(
        session,
        engines.books,
        user_id=principal.user_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return await me(principal, session)


@router.get("/organization")
async def organization(principal: Reader, session: DbSession) -> OrganizationOut:
    row = await repository.get_organization(session, principal.organization_id)
    if row is None:
        raise NotFound("Your organization is not known yet.")
    return OrganizationOut.of(row)


@router.patch("/organization")
async def update_organization(
    body: OrganizationUpdate, principal: Admin, session: DbSession, engines: Engines
) -> OrganizationOut:
    """Default customs book, language, timezone and currency (admins)."""
    row = await service.update_organization(
        session,
        engines.books,
        organization_id=principal.organization_id,
        actor=principal.actor,
        changes=body.model_dump(exclude_unset=True),
    )
    return OrganizationOut.of(row)


@router.get("/organization/members")
async def organization_members(principal: Reader, session: DbSession) -> list[MemberOut]:
    return [
        MemberOut.of(m, u) for m, u in await repository.members(session, principal.organization_id)
    ]


@router.get("/api-keys")
async def api_keys(principal: Admin, session: DbSession) -> list[ApiKeyOut]:
    return [
        ApiKeyOut.of(row) for row in await repository.api_keys(session, principal.organization_id)
    ]


@router.post("/api-keys", status_code=201)
async def create_api_key(body: ApiKeyCreate, principal: Admin, session: DbSession) -> ApiKeyCreated:
    """A key for machine clients of your organization. The key is shown once."""
    row, key = await service.create_api_key(
        session,
        organization_id=principal.organization_id,
        name=body.name,
        created_by=principal.user_id,
    )
    return ApiKeyCreated(**ApiKeyOut.of(row).model_dump(), key=key)


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(key_id: uuid.UUID, principal: Admin, session: DbSession) -> ApiKeyOut:
    row = await service.revoke_api_key(
        session,
        organization_id=principal.organization_id,
        key_id=key_id,
        revoked_by=principal.user_id,
    )
    return ApiKeyOut.of(row)
