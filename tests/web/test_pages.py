"""The web app without a browser: who may see which page, the development sign-in, CSRF, and
error pages for people instead of JSON."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers import AppFactory, open_client
from tests.web.conftest import (
    BETA_ORG_ID,
    BETA_USER_ID,
    FORM_TOKEN_FIELD,
    STAGING,
    VIEWER_ID,
    WebClient,
)

from sivug.accounts.auth import DEV_COOKIE
from sivug.accounts.service import DEMO_ORGANIZATION_ID, DEMO_USER_ID
from sivug.models import ApiKey
from sivug.platform.config import Settings
from sivug.web.i18n import EN, HE

PAGES = ["/classify", "/lists", "/history", "/books", "/settings", "/api-keys"]
ADMIN_PAGES = ["/settings", "/api-keys"]
NEW_KEY = re.compile(r"sk_sivug_[A-Za-z0-9_-]{20,}")


def test_every_message_exists_in_english_and_hebrew() -> None:
    assert set(EN) == set(HE)
    assert all(HE[key].strip() for key in HE)


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_strangers_to_sign_in(web: WebClient, path: str) -> None:
    response = await web.page(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next={path}"


async def test_htmx_requests_without_a_session_redirect_the_whole_page(web: WebClient) -> None:
    response = await web.http.get(
        "/lists/00000000-0000-0000-0000-000000000000/status",
        headers={"hx-request": "true", "hx-current-url": "http://testserver/lists"},
    )
    assert response.headers["hx-redirect"] == "/sign-in?next=/lists"


async def test_the_api_still_answers_json_to_strangers(web: WebClient) -> None:
    response = await web.http.get("/api/v1/me", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert response.json()["error"] == "NotSignedIn"


async def test_local_sign_in_lists_seeded_people_and_signs_in(web: WebClient) -> None:
    response = await web.http.get("/sign-in?next=/history")
    assert response.status_code == 303
    assert response.headers["location"] == "/dev/sign-in?next=%2Fhistory"
    listing = await web.page("/dev/sign-in?next=/history")
    assert "Development sign-in" in listing.text
    assert "Dana Demo" in listing.text
    assert "Beta Freight Ltd" in listing.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing.text)
    assert token is not None

    signed_in = await web.http.post(
        "/dev/sign-in",
        data={
            "csrf_token": token.group(1),
            "user_id": DEMO_USER_ID,
            "organization_id": DEMO_ORGANIZATION_ID,
            "next": "/history",
        },
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/history"
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{DEV_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    history = await web.page("/history")
    assert history.status_code == 200
    assert "Dana Demo" in history.text
    assert "Demo Imports Ltd" in history.text


async def test_sign_in_refuses_someone_outside_the_organization(web: WebClient) -> None:
    token = await web.csrf_token("/dev/sign-in")
    response = await web.http.post(
        "/dev/sign-in",
        data={
            "csrf_token": token,
            "user_id": BETA_USER_ID,
            "organization_id": DEMO_ORGANIZATION_ID,
        },
        headers={"accept": "text/html"},
    )
    assert response.status_code == 400
    assert DEV_COOKIE not in response.headers.get("set-cookie", "")


async def test_sign_in_never_redirects_to_another_site(web: WebClient) -> None:
    token = await web.csrf_token("/dev/sign-in")
    response = await web.http.post(
        "/dev/sign-in",
        data={
            "csrf_token": token,
            "user_id": DEMO_USER_ID,
            "organization_id": DEMO_ORGANIZATION_ID,
            "next": "//evil.example/steal",
        },
    )
    assert response.headers["location"] == "/classify"


async def test_a_viewer_reads_but_cannot_reach_admin_pages(web: WebClient) -> None:
    web.sign_in(VIEWER_ID)
    for path in ["/classify", "/history", "/lists", "/books"]:
        assert (await web.page(path)).status_code == 200, path
    for path in ADMIN_PAGES:
        response = await web.page(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text
        assert "admin role" in response.text
    classify = await web.page("/classify")
    assert "read-only" in classify.text
    assert 'href="/api-keys"' not in classify.text  # not offered in the menu either


async def test_a_viewer_cannot_classify(web: WebClient) -> None:
    web.sign_in(VIEWER_ID)
    token = await web.csrf_token()
    response = await web.http.post(
        "/classify",
        data={"csrf_token": token, "description": "cotton t-shirt"},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 403


async def test_admin_pages_open_for_admins(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    for path in ADMIN_PAGES:
        assert (await web.page(path)).status_code == 200, path


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    web: WebClient,
) -> None:
    web.sign_in(DEMO_USER_ID)
    await web.csrf_token("/api-keys")  # the browser has the CSRF cookie, but not the token
    forged = await web.http.post(
        "/api-keys", data={"name": "forged"}, headers={"accept": "text/html"}
    )
    assert forged.status_code == 403
    assert "expired" in forged.text
    wrong = await web.http.post(
        "/api-keys",
        data={"name": "forged", "csrf_token": "not-a-token"},
        headers={"accept": "text/html"},
    )
    assert wrong.status_code == 403
    keys = await web.page("/api-keys")
    assert "forged" not in keys.text


async def test_a_post_from_another_site_is_refused_even_with_a_token(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    token = await web.csrf_token("/api-keys")
    response = await web.http.post(
        "/api-keys",
        data={"name": "cross-site", "csrf_token": token},
        headers={"accept": "text/html", "origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "cross-site" not in (await web.page("/api-keys")).text


async def test_a_token_from_another_browser_does_not_fit_this_cookie(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    token = await web.csrf_token("/api-keys")
    web.http.cookies.delete("sivug_csrf")
    await web.csrf_token("/api-keys")  # a new cookie, a new nonce
    response = await web.http.post(
        "/api-keys", data={"name": "replayed", "csrf_token": token}, headers={"accept": "text/html"}
    )
    assert response.status_code == 403


async def test_an_admin_creates_a_key_with_the_token_and_sees_it_once(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    created = await web.http.post("/api-keys", data=await web.key_form("ERP"))
    assert created.status_code == 200
    key = re.search(r"sk_sivug_[A-Za-z0-9_-]{20,}", created.text)
    assert key is not None
    assert created.headers["cache-control"] == "no-store"
    listing = await web.page("/api-keys")
    assert "ERP" in listing.text
    assert key.group(0) not in listing.text  # shown once only


async def _key_names(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(ApiKey.name).where(ApiKey.organization_id == DEMO_ORGANIZATION_ID)
    )
    return sorted(rows)


async def test_the_same_key_form_sent_twice_creates_one_key(
    web: WebClient, session: AsyncSession
) -> None:
    web.sign_in(DEMO_USER_ID)
    form = await web.key_form("ERP")
    first = await web.http.post("/api-keys", data=form)
    assert first.status_code == 200
    assert NEW_KEY.search(first.text) is not None

    again = await web.http.post("/api-keys", data=form)  # what reloading the response does
    assert again.status_code == 409
    assert "This form was already submitted; the key was shown once." in again.text
    assert NEW_KEY.search(again.text) is None
    assert 'data-testid="new-key"' not in again.text
    assert await _key_names(session) == ["ERP"]

    # The refusal's page carries a fresh form: a deliberate second key is still possible.
    fresh = FORM_TOKEN_FIELD.search(again.text)
    assert fresh is not None
    second = await web.http.post(
        "/api-keys", data={**form, "form_token": fresh.group(1), "name": "ERP 2"}
    )
    assert second.status_code == 200
    assert await _key_names(session) == ["ERP", "ERP 2"]


async def test_a_key_form_without_a_one_time_token_of_its_own_creates_nothing(
    web: WebClient, session: AsyncSession
) -> None:
    web.sign_in(BETA_USER_ID, BETA_ORG_ID)
    beta_form = await web.key_form("borrowed")
    web.sign_in(DEMO_USER_ID)
    form = await web.key_form("ERP")
    for data in (
        {"csrf_token": form["csrf_token"], "name": "no token"},
        {**form, "name": "forged", "form_token": form["form_token"][:-2] + "xx"},
        {**form, "name": "borrowed", "form_token": beta_form["form_token"]},
    ):
        response = await web.http.post("/api-keys", data=data)
        assert response.status_code == 422, data["name"]
        assert "This form has expired" in response.text
    assert await _key_names(session) == []


async def test_a_refused_key_name_leaves_the_form_usable(
    web: WebClient, session: AsyncSession
) -> None:
    web.sign_in(DEMO_USER_ID)
    form = await web.key_form("   ")
    refused = await web.http.post("/api-keys", data=form)
    assert refused.status_code == 422
    assert "give the key a name" in refused.text
    fixed = await web.http.post("/api-keys", data={**form, "name": "ERP"})
    assert fixed.status_code == 200
    assert await _key_names(session) == ["ERP"]


async def test_another_organizations_records_are_not_found(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    await web.http.post("/api-keys", data=await web.key_form("demo key"))
    listing = await web.page("/api-keys")
    key_id = re.search(r'action="/api-keys/([0-9a-f-]{36})/revoke"', listing.text)
    assert key_id is not None

    web.http.cookies.clear()
    web.sign_in(BETA_USER_ID, BETA_ORG_ID)
    token = await web.csrf_token("/classify")
    revoke = await web.http.post(
        f"/api-keys/{key_id.group(1)}/revoke",
        data={"csrf_token": token},
        headers={"accept": "text/html"},
    )
    assert revoke.status_code == 404  # an admin, but of another organization
    missing = await web.page("/lists/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert "Not found" in missing.text

    web.http.cookies.clear()
    web.sign_in(DEMO_USER_ID)
    still = await web.page("/api-keys")
    assert "Revoked" not in still.text


async def test_a_browser_gets_an_error_page_not_json(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    response = await web.page("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Back to Sivug" in response.text


async def test_language_is_remembered_on_the_user(web: WebClient) -> None:
    web.sign_in(DEMO_USER_ID)
    token = await web.csrf_token("/history")
    switched = await web.http.post(
        "/language", data={"csrf_token": token, "language": "he", "next": "/history"}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/history"
    web.http.cookies.delete("sivug_lang")  # another device: the user record still says Hebrew
    page = await web.page("/history")
    assert '<html lang="he" dir="rtl">' in page.text
    assert "היסטוריה" in page.text
    me = await web.http.get("/api/v1/me")
    assert me.json()["language"] == "he"


async def test_development_sign_in_does_not_exist_in_staging(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in STAGING.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SIVUG_ENV", "staging")
    staging = Settings(_env_file=None)
    app = make_app(settings=staging)
    async for client in open_client(app):
        assert app.state.dev_sign_in is None
        listing = await client.get("/dev/sign-in", headers={"accept": "text/html"})
        assert listing.status_code == 404
        sign_in = await client.get("/sign-in?next=/history")
        assert sign_in.status_code == 200
        assert "https://clerk.sivug.example/npm/@clerk/clerk-js@5" in sign_in.text
        assert "Development sign-in" not in sign_in.text
        assert "sk_live_" not in sign_in.text
        assert "whsec_" not in sign_in.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.text)
        assert token is not None
        forged = await client.post(
            "/dev/sign-in",
            data={
                "csrf_token": token.group(1),
                "user_id": DEMO_USER_ID,
                "organization_id": DEMO_ORGANIZATION_ID,
            },
            headers={"accept": "text/html", "origin": "http://testserver"},
        )
        assert forged.status_code == 404
        assert DEV_COOKIE not in forged.headers.get("set-cookie", "")
