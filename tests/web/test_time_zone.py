"""Dates on the pages are shown in the organization's time zone and say which zone that is;
the settings form refuses a zone that does not exist."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.web.conftest import WebClient

from sivug.accounts.service import DEMO_ORGANIZATION_ID, DEMO_USER_ID
from sivug.models import ApiKey, Classification, CustomsBook, Organization

BOOK_ID = "TZ-TEST"
WINTER = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)  # Jerusalem is UTC+2 then (IST)
SUMMER = datetime(2026, 7, 15, 10, 30, tzinfo=UTC)  # and UTC+3 (IDT)


async def add_classification(
    session: AsyncSession, *, description: str, created_at: datetime
) -> Classification:
    if await session.get(CustomsBook, BOOK_ID) is None:
        session.add(
            CustomsBook(
                id=BOOK_ID,
                family="HS",
                name="Time zone test book",
                country="INT",
                version="1",
                digits=6,
                source="test",
            )
        )
        await session.flush()
    result = {"status": "classified", "code": "610910", "level": 6, "confidence": 0.9}
    row = Classification(
        organization_id=DEMO_ORGANIZATION_ID,
        book_id=BOOK_ID,
        channel="web",
        input=description,
        status="classified",
        code="610910",
        result=result,
        engine="engine",
        created_at=created_at,
    )
    session.add(row)
    await session.commit()
    return row


async def set_time_zone(session: AsyncSession, zone: str) -> None:
    organization = await session.get(Organization, DEMO_ORGANIZATION_ID)
    assert organization is not None
    organization.timezone = zone
    await session.commit()


async def stored_time_zone(session: AsyncSession) -> str | None:
    found: str | None = await session.scalar(
        select(Organization.timezone).where(Organization.id == DEMO_ORGANIZATION_ID)
    )
    return found


async def test_history_and_a_classification_show_the_organizations_local_time(
    web: WebClient, session: AsyncSession
) -> None:
    await set_time_zone(session, "Asia/Jerusalem")
    winter = await add_classification(session, description="wool scarf", created_at=WINTER)
    await add_classification(session, description="cotton t-shirt", created_at=SUMMER)
    web.sign_in(DEMO_USER_ID)

    history = await web.page("/history")
    assert history.status_code == 200
    assert "2026-01-15 12:30 IST" in history.text
    assert "2026-07-15 13:30 IDT" in history.text
    assert "10:30" not in history.text
    assert 'title="Asia/Jerusalem"' in history.text  # the full zone name, on hover
    assert "(Asia/Jerusalem)" in history.text  # and beside the column's name

    detail = await web.page(f"/history/{winter.id}")
    assert detail.status_code == 200
    assert '<time datetime="2026-01-15T12:30+02:00"' in detail.text
    assert "2026-01-15 12:30 IST" in detail.text


@pytest.mark.parametrize("zone", ["UTC", "", "Mars/Olympus"])
async def test_without_a_usable_zone_dates_are_in_utc_and_say_so(
    web: WebClient, session: AsyncSession, zone: str
) -> None:
    await set_time_zone(session, zone)  # "" and unknown names: stored before validation
    await add_classification(session, description="wool scarf", created_at=WINTER)
    web.sign_in(DEMO_USER_ID)
    history = await web.page("/history")
    assert history.status_code == 200
    assert "2026-01-15 10:30 UTC" in history.text


async def test_api_keys_show_when_they_were_created_in_local_time(
    web: WebClient, session: AsyncSession
) -> None:
    await set_time_zone(session, "America/New_York")
    web.sign_in(DEMO_USER_ID)
    created = await web.http.post("/api-keys", data=await web.key_form("ERP"))
    assert created.status_code == 200
    stored = await session.scalar(select(ApiKey.created_at).where(ApiKey.name == "ERP"))
    assert stored is not None
    local = stored.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M %Z")
    assert local.endswith((" EST", " EDT"))
    listing = await web.page("/api-keys")
    assert local in listing.text
    assert "(America/New_York)" in listing.text


async def _post_settings(web: WebClient, timezone: str) -> tuple[int, str]:
    token = await web.csrf_token("/settings")
    response = await web.http.post(
        "/settings",
        data={
            "csrf_token": token,
            "default_book": "",
            "language": "en",
            "timezone": timezone,
            "currency": "USD",
            "allowed_email_domains": "",
        },
        headers={"accept": "text/html"},
    )
    return response.status_code, response.text


async def test_settings_save_a_real_zone_and_refuse_an_unknown_one(
    web: WebClient, session: AsyncSession
) -> None:
    web.sign_in(DEMO_USER_ID)
    assert (await _post_settings(web, " Asia/Jerusalem "))[0] == 303
    assert await stored_time_zone(session) == "Asia/Jerusalem"

    for refused in ("Mars/Olympus", "asia/jerusalem", "localtime", "../../etc/passwd"):
        status, text = await _post_settings(web, refused)
        assert status == 422, refused
        assert "is not an IANA time zone" in text, refused
        assert "Asia/Jerusalem, Europe/London or UTC" in text
        assert await stored_time_zone(session) == "Asia/Jerusalem", refused

    assert (await _post_settings(web, ""))[0] == 303  # an emptied field means UTC
    assert await stored_time_zone(session) == "UTC"


async def test_the_zone_error_is_in_the_users_language(
    web: WebClient, session: AsyncSession
) -> None:
    web.sign_in(DEMO_USER_ID)
    web.http.cookies.set("sivug_lang", "he")
    status, text = await _post_settings(web, "Mars/Olympus")
    assert status == 422
    assert "„Mars/Olympus” אינו אזור זמן של IANA" in text
    assert await stored_time_zone(session) == "UTC"
