"""Fixtures of the email channel: a fake Mailgun, settings pointing at it, signed posts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.fakes.mailgun_server import FakeMailgun
from tests.helpers import AppFactory, drain_jobs, open_client

from sivug.accounts.service import seed_demo
from sivug.books.service import ensure_builtin_books
from sivug.channels.email.vendors import sign
from sivug.inbox.vendor import WebhookVendor
from sivug.inbox.vendors import webhook_vendors
from sivug.models import EmailMessage, InboundEmail
from sivug.platform.config import MailgunSettings, Settings
from sivug.platform.db import session_factory

SIGNING_KEY = "test-mailgun-signing-key-4f2a9c"
API_KEY = "key-test-0123456789abcdef"
DOMAIN = "mg.sivug.test"
FROM_EMAIL = "classify@mg.sivug.test"


def mailgun_env(url: str) -> dict[str, str]:
    return {
        "MAILGUN_API_KEY": API_KEY,
        "MAILGUN_DOMAIN": DOMAIN,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "MAILGUN_FROM_EMAIL": FROM_EMAIL,
        "MAILGUN_FROM_NAME": "Sivug",
        "MAILGUN_API_URL": url,
        "MAILGUN_RECONCILE_AFTER_SECONDS": "0",
    }


def email_settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        SIVUG_ENV="local",
        SIVUG_DATA_DIR=data_dir,
        mailgun=MailgunSettings.model_validate(mailgun_env(url)),
    )


@pytest.fixture
def mailgun() -> Iterator[FakeMailgun]:
    server = FakeMailgun(API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(mailgun: FakeMailgun, tmp_path: Path) -> Settings:
    return email_settings(mailgun.url, tmp_path)


@pytest.fixture
def vendors(mail_settings: Settings) -> dict[str, WebhookVendor]:
    return webhook_vendors(mail_settings)


def signature(timestamp: float | None = None, token: str | None = None) -> dict[str, str]:
    ts = str(int(timestamp if timestamp is not None else time.time()))
    tok = token or uuid.uuid4().hex
    return {"timestamp": ts, "token": tok, "signature": sign(SIGNING_KEY, ts, tok)}


@dataclass
class Inbound:
    """An email as Mailgun's route posts it."""

    sender: str = "demo@example.com"
    subject: str = "HS codes please"
    text: str = ""
    html: str | None = None
    stripped: str | None = None
    message_id: str = field(default_factory=lambda: f"<{uuid.uuid4().hex}@mail.example.com>")
    in_reply_to: str | None = None
    references: str | None = None
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    sender_name: str = "Dana Demo"

    def fields(self, signed: dict[str, str] | None = None) -> dict[str, str]:
        headers = [
            ["From", f"{self.sender_name} <{self.sender}>"],
            ["Subject", self.subject],
            ["Message-Id", self.message_id],
            *([["In-Reply-To", self.in_reply_to]] if self.in_reply_to else []),
            *([["References", self.references]] if self.references else []),
            *[[k, v] for k, v in self.extra_headers],
        ]
        data: dict[str, str] = {
            "recipient": "classify@mg.sivug.test",
            "sender": self.sender,
            "from": f"{self.sender_name} <{self.sender}>",
            "subject": self.subject,
            "body-plain": self.text,
            "message-headers": json.dumps(headers),
            "Message-Id": self.message_id,
            "attachment-count": str(len(self.attachments)),
            **(signed or signature()),
        }
        if self.stripped is not None:
            data["stripped-text"] = self.stripped
        if self.html is not None:
            data["body-html"] = self.html
        if self.in_reply_to:
            data["In-Reply-To"] = self.in_reply_to
        return data

    def files(self) -> list[tuple[str, tuple[str, bytes, str]]]:
        return [
            (f"attachment-{i}", (name, content, ctype))
            for i, (name, content, ctype) in enumerate(self.attachments, start=1)
        ]


async def post_inbound(
    client: httpx.AsyncClient, email: Inbound, signed: dict[str, str] | None = None
) -> httpx.Response:
    fields = email.fields(signed)
    files = email.files()
    if files:  # multipart with attachments, url-encoded without (as Mailgun posts)
        return await client.post("/webhooks/mailgun/inbound", data=fields, files=files)
    return await client.post("/webhooks/mailgun/inbound", data=fields)


@pytest.fixture
async def seeded(committed_db: AsyncEngine) -> AsyncEngine:
    """HS 2022, the demo organization (domain example.com) and user, committed."""
    async with AsyncSession(committed_db) as session, session.begin():
        await ensure_builtin_books(session)
        await seed_demo(session)
    return committed_db


@pytest.fixture
async def webhook_client(
    make_app: AppFactory,
    vendors: dict[str, WebhookVendor],
    mail_settings: Settings,
    seeded: AsyncEngine,
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(make_app(webhook_vendors=vendors, settings=mail_settings)):
        yield client


@dataclass
class Worker:
    database_url: str
    settings: Settings
    vendors: dict[str, WebhookVendor]

    async def drain(self) -> None:
        await drain_jobs(self.database_url, self.settings, self.vendors)


@pytest.fixture
def worker(database_url: str, mail_settings: Settings, vendors: dict[str, WebhookVendor]) -> Worker:
    return Worker(database_url, mail_settings, vendors)


async def sent_log(engine: AsyncEngine) -> list[EmailMessage]:
    async with session_factory(engine)() as session:
        result = await session.execute(select(EmailMessage).order_by(EmailMessage.id))
        return list(result.scalars())


async def inbound_rows(engine: AsyncEngine) -> list[InboundEmail]:
    async with session_factory(engine)() as session:
        result = await session.execute(select(InboundEmail).order_by(InboundEmail.id))
        return list(result.scalars())


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)
