"""Clerk's webhooks through the shared inbox: Svix signatures, order, duplicates, erasure."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from svix.webhooks import Webhook
from tests.helpers import AppFactory, drain_jobs, open_client

from sivug.accounts.webhooks import ClerkWebhooks
from sivug.books.service import ensure_builtin_books
from sivug.inbox.vendor import WebhookVendor
from sivug.models import AuditEntry, Classification, InboundEvent, Membership, Organization, User
from sivug.platform.config import Settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_svix_known_vector_verifies() -> None:
    """The vector from Svix's documentation, through our vendor's verify()."""
    vendor = ClerkWebhooks(SECRET)
    headers = {
        "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "svix-timestamp": "1614265330",
        "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    signer = Webhook(SECRET)
    expected = signer.sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, UTC),
        '{"test": 2432232314}',
    )
    assert expected == headers["svix-signature"]
    with pytest.raises(Exception, match="signature"):  # 2021: far outside the 5 minute window
        vendor.verify(headers, b'{"test": 2432232314}')


def signed(event_id: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    now = datetime.now(UTC)
    signature = Webhook(SECRET).sign(event_id, now, body.decode())
    return body, {
        "svix-id": event_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": data,
        "object": "event",
        "type": kind,
        "timestamp": int(time.time() * 1000),
        "instance_id": "ins_test",
    }


def user(user_id: str, email: str, updated_at: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "object": "user",
        "first_name": "Noa",
        "last_name": "Levi",
        "primary_email_address_id": "idn_1",
        "email_addresses": [{"id": "idn_1", "email_address": email}],
        "created_at": 1_700_000_000_000,
        "updated_at": updated_at,
        **extra,
    }


def membership(
    mem_id: str, org_id: str, user_id: str, role: str, updated_at: int
) -> dict[str, Any]:
    return {
        "id": mem_id,
        "object": "organization_membership",
        "organization": {"id": org_id, "name": "Noa's Imports", "slug": "noa"},
        "public_user_data": {"user_id": user_id, "identifier": "noa@imports.example"},
        "role": role,
        "created_at": 1_700_000_000_000,
        "updated_at": updated_at,
    }


@pytest.fixture
def vendors() -> dict[str, WebhookVendor]:
    return {"clerk": ClerkWebhooks(SECRET)}


@pytest.fixture
async def hooks(
    make_app: AppFactory, vendors: dict[str, WebhookVendor], committed_db: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(make_app(webhook_vendors=vendors)):
        yield client


async def deliver(client: httpx.AsyncClient, event_id: str, payload: dict[str, Any]) -> int:
    body, headers = signed(event_id, payload)
    return (await client.post("/webhooks/clerk", content=body, headers=headers)).status_code


async def test_bad_signature_is_refused_and_not_stored(
    hooks: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    body, headers = signed("msg_1", event("user.created", user("user_1", "a@x.example", 1)))
    headers["svix-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    response = await hooks.post("/webhooks/clerk", content=body, headers=headers)
    assert response.status_code == 401
    async with AsyncSession(committed_db) as session:
        assert (await session.execute(select(InboundEvent))).first() is None


async def test_out_of_order_and_duplicate_deliveries_end_in_the_right_state(
    hooks: httpx.AsyncClient,
    committed_db: AsyncEngine,
    database_url: str,
    settings: Settings,
    vendors: dict[str, WebhookVendor],
) -> None:
    # The membership arrives before the user; the user's newer update before its creation.
    assert (
        await deliver(
            hooks,
            "msg_m",
            event(
                "organizationMembership.created",
                membership("orgmem_1", "org_noa", "user_noa", "org:admin", 1_700_000_000_500),
            ),
        )
        == 202
    )
    assert (
        await deliver(
            hooks,
            "msg_u2",
            event("user.updated", user("user_noa", "noa@new.example", 1_700_000_002_000)),
        )
        == 202
    )
    assert (
        await deliver(
            hooks,
            "msg_u1",
            event("user.created", user("user_noa", "noa@old.example", 1_700_000_001_000)),
        )
        == 202
    )
    assert (
        await deliver(
            hooks,
            "msg_u1",
            event(  # Svix retries the same message
                "user.created", user("user_noa", "noa@old.example", 1_700_000_001_000)
            ),
        )
        == 202
    )
    await drain_jobs(database_url, settings, vendors)

    async with AsyncSession(committed_db) as session:
        noa = await session.get(User, "user_noa")
        assert noa is not None
        assert noa.email == "noa@new.example"  # the older creation did not win
        member = await session.get(Membership, "orgmem_1")
        assert member is not None
        assert (member.organization_id, member.role.value) == ("org_noa", "admin")
        org = await session.get(Organization, "org_noa")
        assert org is not None
        assert org.name == "Noa's Imports"
        events = (await session.execute(select(InboundEvent))).scalars().all()
        assert len(events) == 3  # the duplicate was acknowledged, not stored twice
        assert all(e.handled_at is not None for e in events)


async def test_deleting_a_user_erases_personal_data_but_keeps_the_trail(
    hooks: httpx.AsyncClient,
    committed_db: AsyncEngine,
    database_url: str,
    settings: Settings,
    vendors: dict[str, WebhookVendor],
) -> None:
    await deliver(
        hooks,
        "msg_a",
        event(
            "organizationMembership.created",
            membership("orgmem_2", "org_erase", "user_gone", "org:member", 1_700_000_000_500),
        ),
    )
    await deliver(
        hooks,
        "msg_b",
        event("user.created", user("user_gone", "gone@imports.example", 1_700_000_001_000)),
    )
    await drain_jobs(database_url, settings, vendors)
    async with AsyncSession(committed_db) as session, session.begin():
        await ensure_builtin_books(session)
        session.add(
            Classification(
                organization_id="org_erase",
                user_id="user_gone",
                book_id="HS2022",
                channel="api",
                input="cotton t-shirt",
                status="classified",
                engine="sivug-offline/test",
            )
        )
    await deliver(
        hooks,
        "msg_c",
        event("user.deleted", {"deleted": True, "id": "user_gone", "object": "user"}),
    )
    # A late, older update must not bring the personal data back.
    await deliver(
        hooks,
        "msg_d",
        event("user.updated", user("user_gone", "gone@imports.example", 1_700_000_001_500)),
    )
    await drain_jobs(database_url, settings, vendors)
    async with AsyncSession(committed_db) as session:
        gone = await session.get(User, "user_gone")
        assert gone is not None
        assert (gone.email, gone.first_name, gone.last_name) == (None, None, None)
        assert gone.deleted_at is not None
        assert await session.get(Membership, "orgmem_2") is None
        assert await session.get(Organization, "org_erase") is not None  # the org stays
        erased = await session.execute(select(AuditEntry).where(AuditEntry.action == "user.erased"))
        assert erased.scalar_one().entity_id == "user_gone"
        kept = await session.execute(
            select(Classification).where(Classification.organization_id == "org_erase")
        )
        assert kept.scalar_one().user_id == "user_gone"  # the org's records still add up
