"""Who may call: Clerk session tokens (v1 and v2 claims), API keys, roles."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession
from tests.accounts.conftest import ORG_A, ORG_B, ORIGIN, TokenFactory, bearer

from sivug.models import ApiKey, Organization


async def test_v2_session_token_identifies_user_organization_and_role(
    api: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await api.get(
        "/api/v1/me", headers=bearer(make_token("user_a_member", ORG_A, "member"))
    )
    assert response.status_code == 200, response.text
    assert response.json()["organization_id"] == ORG_A
    assert response.json()["role"] == "member"
    assert response.json()["email"] == "user_a_member@example.com"


async def test_v1_flat_claims_are_understood(
    api: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = make_token("user_a_admin", None, org_id=ORG_A, org_role="org:admin", org_slug="a")
    response = await api.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"


async def test_the_clerk_cookie_works_like_the_header(
    api: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    api.cookies.set("__session", make_token("user_a_admin", ORG_A))
    try:
        response = await api.get("/api/v1/me")
    finally:
        api.cookies.clear()
    assert response.status_code == 200


async def test_pending_user_without_organization_gets_a_clear_403(
    api: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await api.get(
        "/api/v1/me", headers=bearer(make_token("user_new", None, sts="pending"))
    )
    assert response.status_code == 403
    assert response.json()["error"] == "NoOrganization"
    assert "organization" in response.json()["detail"]


async def test_forged_expired_early_and_wrong_audience_tokens_get_401(
    api: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = {
        "forged": make_token("user_a_admin", ORG_A, key=other_key),
        "expired": make_token("user_a_admin", ORG_A, exp=now - 60, iat=now - 120),
        "not yet valid": make_token("user_a_admin", ORG_A, nbf=now + 60),
        "other origin": make_token("user_a_admin", ORG_A, azp="https://evil.example"),
        "garbage": "not-a-jwt",
    }
    for name, token in tokens.items():
        response = await api.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json()["error"] == "InvalidSessionToken", name
    ok = make_token("user_a_admin", ORG_A, nbf=now + 3)  # within the 5 s clock skew
    assert (await api.get("/api/v1/me", headers=bearer(ok))).status_code == 200
    assert ORIGIN.startswith("https://")


async def test_no_credentials_is_401_naming_how_to_authenticate(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/classifications")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_api_key_is_scoped_to_its_organization_and_usage_is_recorded(
    api: httpx.AsyncClient, tenants: dict[str, str], session: AsyncSession
) -> None:
    response = await api.get("/api/v1/me", headers=bearer(tenants["key_a"]))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": None,
        "organization_id": ORG_A,
        "role": "member",
        "via": "api_key",
        "email": None,
        "name": None,
        "language": None,
        "preferred_book": None,
    }
    keys = {k.name: k for k in (await session.execute(ApiKey.__table__.select())).all()}
    assert keys["A"].last_used_at is not None
    assert tenants["key_a"] not in str(keys["A"])  # only the hash is stored
    unknown = await api.get("/api/v1/me", headers=bearer("sk_sivug_" + "x" * 43))
    assert unknown.status_code == 401


async def test_admins_manage_keys_shown_once_and_revocation_is_immediate(
    api: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = bearer(make_token("user_a_admin", ORG_A, "admin"))
    created = await api.post("/api/v1/api-keys", json={"name": "ERP"}, headers=admin)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("sk_sivug_")
    listed = await api.get("/api/v1/api-keys", headers=admin)
    assert all("key" not in item for item in listed.json())
    assert key not in listed.text
    assert (await api.get("/api/v1/me", headers=bearer(key))).status_code == 200
    revoked = await api.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await api.get("/api/v1/me", headers=bearer(key))).status_code == 401


async def test_roles_members_classify_viewers_read_only_admins_manage(
    api: httpx.AsyncClient, make_token: TokenFactory, tenants: dict[str, str]
) -> None:
    member = bearer(make_token("user_a_member", ORG_A, "member"))
    viewer = bearer(make_token("user_a_viewer", ORG_A, "viewer"))
    body = {"description": "stainless steel kitchen knife"}
    assert (await api.post("/api/v1/classifications", json=body, headers=member)).status_code == 201
    refused = await api.post("/api/v1/classifications", json=body, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["error"] == "InsufficientRole"
    assert (await api.get("/api/v1/classifications", headers=viewer)).status_code == 200
    assert (await api.get("/api/v1/api-keys", headers=member)).status_code == 403
    assert (await api.get("/api/v1/api-keys", headers=bearer(tenants["key_a"]))).status_code == 403
    patch = await api.patch("/api/v1/organization", json={"currency": "ILS"}, headers=member)
    assert patch.status_code == 403


async def test_keys_of_a_deleted_organization_are_refused(
    api: httpx.AsyncClient, session: AsyncSession, tenants: dict[str, str]
) -> None:
    assert (await api.get("/api/v1/me", headers=bearer(tenants["key_b"]))).status_code == 200
    organization = await session.get(Organization, ORG_B)
    assert organization is not None
    organization.deleted_at = datetime.now(UTC)
    await session.flush()
    refused = await api.get("/api/v1/me", headers=bearer(tenants["key_b"]))
    assert refused.status_code == 401
