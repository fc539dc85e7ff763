"""Fixtures for accounts and API tests: an RSA key pair standing in for the Clerk instance,
signed session tokens, two organizations with members of every role."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.helpers import AppFactory, open_client

from sivug.accounts.service import create_api_key
from sivug.books.service import ensure_builtin_books
from sivug.models import Membership, Organization, Role, User
from sivug.platform.config import ClerkSettings, ServerSettings, Settings

ORIGIN = "https://app.sivug.example"
ORG_A, ORG_B = "org_alpha", "org_beta"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def public_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token(rsa_key: rsa.RSAPrivateKey) -> TokenFactory:
    """A Clerk-shaped session token (v2 claims unless ``claims`` overrides them)."""

    def build(
        user_id: str,
        organization_id: str | None = None,
        role: str = "admin",
        *,
        key: rsa.RSAPrivateKey | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": user_id,
            "sid": f"sess_{user_id}",
            "azp": ORIGIN,
            "iss": "https://clerk.sivug.example",
            "iat": now,
            "nbf": now - 1,
            "exp": now + 60,
            "v": 2,
        }
        if organization_id is not None:
            payload["o"] = {"id": organization_id, "rol": role, "slg": organization_id}
        payload.update(claims)
        return jwt.encode(payload, key or rsa_key, algorithm="RS256")

    return build


@pytest.fixture
def api_settings(settings: Settings, public_pem: str) -> Settings:
    return settings.model_copy(
        update={
            "clerk": ClerkSettings(CLERK_JWT_KEY=public_pem, CLERK_AUTHORIZED_PARTIES=ORIGIN),
            "server": ServerSettings(
                SIVUG_RATE_LIMIT_PER_KEY=10_000, SIVUG_RATE_LIMIT_PER_ORG=10_000
            ),
        }
    )


@pytest.fixture
async def tenants(session: AsyncSession) -> dict[str, str]:
    """Two organizations; in A an admin, a member and a viewer; in B an admin. API keys."""
    await ensure_builtin_books(session)
    session.add_all([Organization(id=ORG_A, name="Alpha"), Organization(id=ORG_B, name="Beta")])
    people = {
        "user_a_admin": (ORG_A, Role.ADMIN),
        "user_a_member": (ORG_A, Role.MEMBER),
        "user_a_viewer": (ORG_A, Role.VIEWER),
        "user_b_admin": (ORG_B, Role.ADMIN),
    }
    session.add_all([User(id=u, email=f"{u}@example.com") for u in people])
    await session.flush()
    session.add_all(
        [
            Membership(id=f"orgmem_{u}", organization_id=org, user_id=u, role=role)
            for u, (org, role) in people.items()
        ]
    )
    await session.flush()
    _, key_a = await create_api_key(session, organization_id=ORG_A, name="A", created_by=None)
    _, key_b = await create_api_key(session, organization_id=ORG_B, name="B", created_by=None)
    await session.flush()
    return {"key_a": key_a, "key_b": key_b}


@pytest.fixture
async def api(
    make_app: AppFactory,
    api_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenants: dict[str, str],
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(make_app(settings=api_settings), sessions):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
