"""Staging pages (Clerk sign-in) send a Content-Security-Policy too: ours, widened by exactly
the hosts Clerk's hosted components load from."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.helpers import AppFactory, open_client
from tests.web.conftest import CLERK_HOST, STAGING, WebClient, seed_people

from sivug.accounts.auth import CLERK_COOKIE
from sivug.accounts.service import DEMO_ORGANIZATION_ID, DEMO_USER_ID
from sivug.platform.config import Settings

PAGES = ["/classify", "/lists", "/history", "/books", "/settings", "/api-keys"]
SCRIPT_SRC = re.compile(r"<script\b[^>]*?\bsrc=\"([^\"]+)\"")
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>")


def directives(response_policy: str) -> dict[str, set[str]]:
    """``"script-src 'self' https://a; img-src data:"`` -> {"script-src": {"'self'", ...}}."""
    parsed: dict[str, set[str]] = {}
    for part in response_policy.split(";"):
        name, *sources = part.split()
        parsed[name] = set(sources)
    return parsed


@pytest.fixture(scope="module")
def clerk_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def session_token(key: rsa.RSAPrivateKey, user_id: str, organization_id: str, role: str) -> str:
    """A Clerk session token (v2 claims), as Clerk's script leaves in the ``__session`` cookie."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        "sid": f"sess_{user_id}",
        "iat": now,
        "nbf": now - 1,
        "exp": now + 60,
        "v": 2,
        "o": {"id": organization_id, "rol": role, "slg": organization_id},
    }
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.fixture
async def staging(
    make_app: AppFactory,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    clerk_key: rsa.RSAPrivateKey,
) -> AsyncIterator[WebClient]:
    """The app with staging settings (Clerk sign-in, no development sign-in), people seeded."""
    await seed_people(session, books=False)
    await session.commit()
    public_pem = (
        clerk_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for name, value in {**STAGING, "CLERK_JWT_KEY": public_pem, "SIVUG_ENV": "staging"}.items():
        monkeypatch.setenv(name, value)
    app = make_app(settings=Settings(_env_file=None))
    async for client in open_client(app, sessions):
        client.headers["origin"] = "http://testserver"
        yield WebClient(app, client)


async def test_every_staging_page_allows_clerk_and_nothing_more(
    staging: WebClient, clerk_key: rsa.RSAPrivateKey
) -> None:
    assert staging.app.state.dev_sign_in is None
    responses = {"/sign-in": await staging.page("/sign-in?next=/history")}
    staging.http.cookies.set(
        CLERK_COOKIE, session_token(clerk_key, DEMO_USER_ID, DEMO_ORGANIZATION_ID, "org:admin")
    )
    for path in [*PAGES, "/no/such/page"]:
        responses[path] = await staging.page(path)
    assert responses["/history"].status_code == 200  # signed in through the Clerk cookie
    assert responses["/no/such/page"].status_code == 404

    host = f"https://{CLERK_HOST}"
    for path, response in responses.items():
        assert response.headers["content-type"].startswith("text/html"), path
        policy = directives(response.headers["content-security-policy"])
        assert policy["script-src"] == {"'self'", host, "https://challenges.cloudflare.com"}, path
        assert policy["connect-src"] == {"'self'", host}, path
        assert policy["img-src"] == {"'self'", "https://img.clerk.com", "data:"}, path
        assert policy["worker-src"] == {"'self'", "blob:"}, path
        assert policy["style-src"] == {"'self'", "'unsafe-inline'"}, path
        assert policy["frame-src"] == {"'self'", "https://challenges.cloudflare.com"}, path
        assert policy["form-action"] == {"'self'"}, path
        assert policy["frame-ancestors"] == {"'none'"}, path
        assert policy["base-uri"] == {"'self'"}, path
        assert policy["object-src"] == {"'none'"}, path

        # The page itself fits the policy: no inline script, every script from an allowed host.
        assert not INLINE_SCRIPT.search(response.text), path
        for src in SCRIPT_SRC.findall(response.text):
            origin = urlsplit(src)
            assert not origin.netloc or f"{origin.scheme}://{origin.netloc}" == host, (path, src)

    assert f"{host}/npm/@clerk/clerk-js@5" in responses["/sign-in"].text


async def test_local_pages_keep_the_strict_policy(web: WebClient) -> None:
    response = await web.page("/dev/sign-in")
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == {"'self'"}
    assert policy["connect-src"] == {"'self'"}
    assert "clerk" not in response.headers["content-security-policy"]
