"""Fixtures for the web app: seeded people of every role, an in-process client that signs in
through the development sign-in, and (for the browser tests) the real app served by uvicorn
on a free loopback port with headless Chromium driving it."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tests.helpers import AppFactory, empty_tables, open_client
from tests.platform.test_config import STAGING_SECRETS

from sivug.accounts.auth import DEV_COOKIE
from sivug.accounts.service import DEMO_ORGANIZATION_ID, seed_demo
from sivug.app import create_app
from sivug.books.service import ensure_builtin_books
from sivug.models import Membership, Organization, Role, User
from sivug.platform.config import Settings
from sivug.platform.db import session_factory, session_scope

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("/tmp/sivug-web-screenshots")

VIEWER_ID = "user_viewer"
BETA_ORG_ID = "org_beta"
BETA_USER_ID = "user_beta"
#: Staging settings (with ``SIVUG_ENV=staging``): every secret real-looking, and a publishable
#: key naming Clerk's frontend host, base64 of "clerk.sivug.example$" as Clerk makes them.
STAGING = {
    **STAGING_SECRETS,
    "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY": "pk_live_Y2xlcmsuc2l2dWcuZXhhbXBsZSQ",
}
CLERK_HOST = "clerk.sivug.example"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_TOKEN_FIELD = re.compile(r'name="form_token" value="([^"]+)"')


async def seed_people(session: AsyncSession, *, books: bool) -> None:
    """The demo organization (admin Dana), a viewer in it, and a second organization with an
    admin of its own."""
    if books:
        await ensure_builtin_books(session)
    await seed_demo(session)
    session.add(Organization(id=BETA_ORG_ID, name="Beta Freight Ltd", slug="beta"))
    session.add(User(id=VIEWER_ID, email="vera@example.com", first_name="Vera", last_name="View"))
    session.add(User(id=BETA_USER_ID, email="ben@beta.example", first_name="Ben", last_name="Beta"))
    await session.flush()
    session.add(
        Membership(
            id="orgmem_viewer",
            organization_id=DEMO_ORGANIZATION_ID,
            user_id=VIEWER_ID,
            role=Role.VIEWER,
        )
    )
    session.add(
        Membership(
            id="orgmem_beta", organization_id=BETA_ORG_ID, user_id=BETA_USER_ID, role=Role.ADMIN
        )
    )
    await session.flush()


# --- In-process client (fast tests) ------------------------------------------------------


@dataclass
class WebClient:
    app: FastAPI
    http: httpx.AsyncClient

    def sign_in(self, user_id: str, organization_id: str = DEMO_ORGANIZATION_ID) -> None:
        cookie = self.app.state.dev_sign_in.issue(user_id, organization_id)
        self.http.cookies.set(DEV_COOKIE, cookie)

    async def page(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"accept": "text/html"})

    async def csrf_token(self, path: str = "/classify") -> str:
        """The token a page puts in its forms (the response also sets the CSRF cookie)."""
        response = await self.page(path)
        found = CSRF_FIELD.search(response.text)
        assert found, f"no CSRF token on {path} ({response.status_code})"
        return found.group(1)

    async def key_form(self, name: str) -> dict[str, str]:
        """The API-key form as /api-keys serves it: CSRF and one-time tokens, and a name."""
        response = await self.page("/api-keys")
        csrf = CSRF_FIELD.search(response.text)
        once = FORM_TOKEN_FIELD.search(response.text)
        assert csrf, f"no CSRF token on /api-keys ({response.status_code})"
        assert once, f"no one-time form token on /api-keys ({response.status_code})"
        return {"csrf_token": csrf.group(1), "form_token": once.group(1), "name": name}


@pytest.fixture
async def web(
    make_app: AppFactory, sessions: async_sessionmaker[AsyncSession], session: AsyncSession
) -> AsyncIterator[WebClient]:
    """The app in-process, its requests inside the test's transaction, people seeded."""
    await seed_people(session, books=False)
    await session.commit()  # a savepoint: visible to the app's sessions on this connection
    app = make_app()
    async for client in open_client(app, sessions):
        client.headers["origin"] = "http://testserver"
        yield WebClient(app, client)


# --- The real app on a port, and a browser -----------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings
    database_url: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_server(
    database_url: str, engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """The whole app served by uvicorn on 127.0.0.1, on the test database (committed data,
    emptied afterwards): what a browser talks to in production, minus the proxy."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    settings = Settings(
        _env_file=None,
        SIVUG_ENV="local",
        SIVUG_DATA_DIR=tmp_path_factory.mktemp("web"),
        SIVUG_SESSION_SECRET="browser-tests-session-secret-0123456789",
    )
    async with session_scope(session_factory(engine)) as session:
        await seed_people(session, books=True)
    app = create_app(settings, database_url=database_url, webhook_vendors={})
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",  # as `sivug run`: the app speaks no WebSocket
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, database_url)
    finally:
        server.should_exit = True
        await task
        await empty_tables(engine)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(live_server: LiveServer) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, live_server: LiveServer) -> AsyncIterator[Page]:
    """A fresh browser profile (no cookies) per test; script errors and anything the Content
    Security Policy blocked fail the test."""
    context = await browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda message: errors.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )
    yield tab
    await context.close()
    assert not errors, f"JavaScript or CSP errors on the page: {errors}"
