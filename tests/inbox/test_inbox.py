"""The shared webhook inbox, proven with a test vendor that signs like real ones do."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.helpers import AppFactory, drain_jobs, open_client

from sivug.inbox.vendor import VerifiedEvent, WebhookVendor
from sivug.models import AuditEntry, InboundEvent
from sivug.platform.config import Settings
from sivug.platform.db import session_factory
from sivug.platform.errors import WebhookSignatureInvalid
from sivug.platform.jobs import JobResources

SECRET = b"test-vendor-signing-secret"


class TestVendor:
    """HMAC-SHA256 of the raw body in ``X-Test-Signature``; event id in ``X-Test-Id``."""

    __test__ = False
    source = "test"
    path = "/webhooks/test"
    ack_status = 202

    def __init__(self) -> None:
        self.fail_times = 0

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedEvent:
        expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-test-signature", "")):
            raise WebhookSignatureInvalid("The X-Test-Signature header does not match the body.")
        return VerifiedEvent(external_id=headers["x-test-id"], payload=json.loads(body))

    async def handle(
        self, session: AsyncSession, event: InboundEvent, resources: JobResources
    ) -> None:
        session.add(
            AuditEntry(
                actor="vendor:test",
                action="test.handled",
                entity_type="inbound_event",
                entity_id=str(event.id),
                after=event.payload,
            )
        )
        await session.flush()
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("downstream is down")


def signed(body: bytes, event_id: str) -> dict[str, str]:
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return {
        "X-Test-Signature": signature,
        "X-Test-Id": event_id,
        "Content-Type": "application/json",
    }


@pytest.fixture
def vendor() -> TestVendor:
    return TestVendor()


@pytest.fixture
async def webhook_client(
    make_app: AppFactory, vendor: TestVendor, committed_db: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    vendors: dict[str, WebhookVendor] = {vendor.source: vendor}
    async for client in open_client(make_app(webhook_vendors=vendors)):
        yield client


async def _scalar(engine: AsyncEngine, query: str) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(text(query))).scalar_one()


async def _jobs(engine: AsyncEngine) -> object:
    return await _scalar(
        engine, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'inbox.process'"
    )


async def _event(engine: AsyncEngine, external_id: str) -> InboundEvent:
    async with session_factory(engine)() as session:
        result = await session.execute(
            select(InboundEvent).where(InboundEvent.external_id == external_id)
        )
        return result.scalar_one()


async def _handled_count(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        result = await session.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.handled")
        )
        return result.scalar_one()


async def test_signed_delivery_is_stored_enqueued_acknowledged_and_handled_once(
    webhook_client: httpx.AsyncClient,
    committed_db: AsyncEngine,
    database_url: str,
    settings: Settings,
    vendor: TestVendor,
) -> None:
    body = b'{"order": 42}'
    response = await webhook_client.post(
        "/webhooks/test", content=body, headers=signed(body, "ev_1")
    )
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}

    event = await _event(committed_db, "ev_1")
    assert event.body == body  # the raw body, stored before anything acts on it
    assert event.handled_at is None
    assert await _jobs(committed_db) == 1

    duplicate = await webhook_client.post(
        "/webhooks/test", content=body, headers=signed(body, "ev_1")
    )
    assert duplicate.status_code == 202
    assert duplicate.json() == {"status": "duplicate"}
    assert await _jobs(committed_db) == 1

    await drain_jobs(database_url, settings, {vendor.source: vendor})
    handled = await _event(committed_db, "ev_1")
    assert handled.handled_at is not None
    assert handled.attempts == 1
    assert await _handled_count(committed_db) == 1


async def test_bad_signature_is_refused_and_nothing_is_stored(
    webhook_client: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    body = b'{"order": 42}'
    headers = signed(b'{"order": 43}', "ev_forged")
    response = await webhook_client.post("/webhooks/test", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "WebhookSignatureInvalid"
    assert await _scalar(committed_db, "SELECT count(*) FROM inbound_events") == 0
    assert await _jobs(committed_db) == 0


async def test_failing_handler_is_retried_with_its_error_visible(
    webhook_client: httpx.AsyncClient,
    committed_db: AsyncEngine,
    database_url: str,
    settings: Settings,
    vendor: TestVendor,
) -> None:
    vendor.fail_times = 1
    body = b'{"order": 7}'
    await webhook_client.post("/webhooks/test", content=body, headers=signed(body, "ev_2"))

    await drain_jobs(database_url, settings, {vendor.source: vendor})
    failed = await _event(committed_db, "ev_2")
    assert failed.handled_at is None
    assert failed.attempts == 1
    assert failed.last_error == "RuntimeError: downstream is down"
    assert await _handled_count(committed_db) == 0  # the failed attempt's writes rolled back
    # Scheduled again, in the future (2 s after a first failure, then 4 s, 8 s ...).
    delay = await _scalar(
        committed_db,
        "SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs "
        "WHERE task_name = 'inbox.process' AND status = 'todo'",
    )
    assert 0 < float(str(delay)) <= 2

    # Time passes: make the retry due now, and run the worker again.
    async with committed_db.begin() as conn:
        await conn.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now()"))
    await drain_jobs(database_url, settings, {vendor.source: vendor})
    handled = await _event(committed_db, "ev_2")
    assert handled.handled_at is not None
    assert handled.attempts == 2
    assert handled.last_error is None
    assert await _handled_count(committed_db) == 1
