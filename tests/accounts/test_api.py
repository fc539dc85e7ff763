"""REST API v1 flows: classify, history and export, sessions, settings, rate limits."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.accounts.conftest import ORG_A, TokenFactory, bearer
from tests.helpers import AppFactory, open_client

from sivug.classification import endpoints
from sivug.platform.config import ServerSettings, Settings


async def test_classify_then_fetch_it_by_id(
    api: httpx.AsyncClient, tenants: dict[str, str]
) -> None:
    key = bearer(tenants["key_a"])
    created = await api.post(
        "/api/v1/classifications",
        json={"description": "Women's 100% cotton knitted T-shirt", "book": "HS2022"},
        headers=key,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["code"], body["book"], body["channel"]) == (
        "classified",
        "610910",
        "HS2022",
        "api",
    )
    assert body["engine"].startswith("sivug-offline/")
    assert body["rationale"]["path"]
    fetched = await api.get(f"/api/v1/classifications/{body['id']}", headers=key)
    assert fetched.json()["id"] == body["id"]


async def test_bad_input_names_the_field(api: httpx.AsyncClient, tenants: dict[str, str]) -> None:
    key = bearer(tenants["key_a"])
    missing = await api.post("/api/v1/classifications", json={"book": "HS2022"}, headers=key)
    assert missing.status_code == 422
    assert missing.json()["detail"].startswith("description:")
    extra = await api.post(
        "/api/v1/classifications", json={"description": "mug", "colour": "red"}, headers=key
    )
    assert extra.status_code == 422
    assert "colour" in extra.json()["detail"]
    unknown_book = await api.post(
        "/api/v1/classifications", json={"description": "mug", "book": "XX"}, headers=key
    )
    assert unknown_book.status_code == 404
    assert unknown_book.json()["error"] == "BookNotFound"
    broken = await api.post(
        "/api/v1/classifications",
        content=b'{"description": "mug"',
        headers={**key, "content-type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.json()["error"] == "ValidationFailed"
    assert "json" in broken.json()["detail"].lower()
    huge = await api.post(
        "/api/v1/classifications", json={"description": "mug " * 300_000}, headers=key
    )
    assert huge.status_code == 413
    assert huge.json()["error"] == "PayloadTooLarge"
    # Who is calling is checked before what they sent.
    anonymous = await api.post("/api/v1/classifications", content=b"{not json")
    assert anonymous.status_code == 401


async def test_history_filters_paginates_and_exports(
    api: httpx.AsyncClient, tenants: dict[str, str]
) -> None:
    key = bearer(tenants["key_a"])
    for description in ["cotton t-shirt", "gift", "leather wallet", "steel bolts", "sample"]:
        await api.post("/api/v1/classifications", json={"description": description}, headers=key)
    first = await api.get("/api/v1/classifications", params={"limit": 2}, headers=key)
    page = first.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    second = await api.get(
        "/api/v1/classifications", params={"limit": 2, "cursor": page["next_cursor"]}, headers=key
    )
    third = await api.get(
        "/api/v1/classifications",
        params={"limit": 2, "cursor": second.json()["next_cursor"]},
        headers=key,
    )
    seen = [i["input"] for p in (page, second.json(), third.json()) for i in p["items"]]
    assert sorted(seen) == sorted(
        ["cotton t-shirt", "gift", "leather wallet", "steel bolts", "sample"]
    )
    assert third.json()["next_cursor"] is None
    rejected = await api.get(
        "/api/v1/classifications", params={"status": "rejected_vague"}, headers=key
    )
    assert sorted(i["input"] for i in rejected.json()["items"]) == ["gift", "sample"]
    text = await api.get("/api/v1/classifications", params={"q": "wallet"}, headers=key)
    assert [i["input"] for i in text.json()["items"]] == ["leather wallet"]
    bad = await api.get("/api/v1/classifications", params={"cursor": "nonsense"}, headers=key)
    assert bad.status_code == 400
    export = await api.get("/api/v1/classifications/export.csv", headers=key)
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 5
    assert {r["description"] for r in rows} >= {"leather wallet"}


async def test_export_streams_every_row_page_by_page(
    api: httpx.AsyncClient, tenants: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of 2 rows: 7 rows take four reads; the file must hold each once, newest first.
    monkeypatch.setattr(endpoints, "EXPORT_PAGE", 2)
    key = bearer(tenants["key_a"])
    descriptions = [f"gift {n}" if n % 3 == 0 else f"cotton t-shirt {n}" for n in range(7)]
    for description in descriptions:
        await api.post("/api/v1/classifications", json={"description": description}, headers=key)
    export = await api.get("/api/v1/classifications/export.csv", headers=key)
    assert export.status_code == 200
    assert export.content.startswith(b"\xef\xbb\xbfid,created_at,")
    assert export.content.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [r["description"] for r in rows] == descriptions[::-1]
    history = await api.get("/api/v1/classifications", params={"limit": 100}, headers=key)
    assert [r["id"] for r in rows] == [i["id"] for i in history.json()["items"]]
    # A filter holds on every page.
    vague = await api.get(
        "/api/v1/classifications/export.csv", params={"status": "rejected_vague"}, headers=key
    )
    vague_rows = list(csv.DictReader(io.StringIO(vague.content.decode("utf-8-sig"))))
    assert [r["description"] for r in vague_rows] == ["gift 6", "gift 3", "gift 0"]
    assert {r["status"] for r in vague_rows} == {"rejected_vague"}


async def test_interactive_session_over_the_api(
    api: httpx.AsyncClient, tenants: dict[str, str]
) -> None:
    key = bearer(tenants["key_a"])
    opened = await api.post("/api/v1/sessions", json={"description": "t-shirt"}, headers=key)
    assert opened.status_code == 201
    session = opened.json()
    assert session["status"] == "open"
    question = session["result"]["questions"][0]
    cotton = next(o for o in question["options"] if "cotton" in o["label"].lower())
    answered = await api.post(
        f"/api/v1/sessions/{session['id']}/answers",
        json={"answers": {question["id"]: cotton["value"]}},
        headers=key,
    )
    assert answered.json()["status"] == "classified"
    assert answered.json()["result"]["code"] == "610910"
    again = await api.post(
        f"/api/v1/sessions/{session['id']}/answers", json={"answers": {"x": "y"}}, headers=key
    )
    assert again.status_code == 409
    empty = await api.post(
        f"/api/v1/sessions/{session['id']}/answers", json={"answers": {}}, headers=key
    )
    assert empty.status_code == 422


async def test_confirmed_code_is_kept_and_shown(
    api: httpx.AsyncClient, tenants: dict[str, str]
) -> None:
    key = bearer(tenants["key_a"])
    created = await api.post(
        "/api/v1/classifications", json={"description": "t-shirt"}, headers=key
    )
    confirmed = await api.post(
        f"/api/v1/classifications/{created.json()['id']}/confirm",
        json={"code": "6109.90"},
        headers=key,
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["confirmed_code"] == "610990"


async def test_organization_settings_validated_and_audited(
    api: httpx.AsyncClient, make_token: TokenFactory, session: AsyncSession
) -> None:
    admin = bearer(make_token("user_a_admin", ORG_A, "admin"))
    ok = await api.patch(
        "/api/v1/organization",
        json={
            "timezone": "Asia/Jerusalem",
            "currency": "ils",
            "language": "he",
            "default_book": "HS2022",
            "allowed_email_domains": ["@Alpha.example"],
        },
        headers=admin,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["currency"] == "ILS"
    assert ok.json()["allowed_email_domains"] == ["alpha.example"]
    for field, value in [
        ("timezone", "Mars/Olympus"),
        ("currency", "XYZ"),
        ("default_book", "NOPE-1"),
        ("language", "fr"),
    ]:
        response = await api.patch("/api/v1/organization", json={field: value}, headers=admin)
        assert response.status_code in (404, 422), field
        assert field in response.json()["detail"] or response.json()["error"] == "BookNotFound"
    from sqlalchemy import text

    audit = await session.execute(
        text("SELECT action, after FROM audit_log WHERE entity_id = :org"), {"org": ORG_A}
    )
    actions = [row[0] for row in audit]
    assert "organization.updated" in actions


async def test_book_lookup_and_search(api: httpx.AsyncClient, tenants: dict[str, str]) -> None:
    key = bearer(tenants["key_a"])
    books = await api.get("/api/v1/books", headers=key)
    assert "HS2022" in [b["id"] for b in books.json()]
    line = await api.get("/api/v1/books/HS2022/lines/6109.10", headers=key)
    assert line.status_code == 200
    assert [p["code"] for p in line.json()["path"]] == ["61", "6109", "610910"]
    heading = await api.get("/api/v1/books/HS2022/lines/6109", headers=key)
    assert [c["code"] for c in heading.json()["children"]] == ["610910", "610990"]
    missing = await api.get("/api/v1/books/HS2022/lines/0199.99", headers=key)
    assert missing.status_code == 404
    hits = await api.get("/api/v1/books/HS2022/search", params={"q": "abalone"}, headers=key)
    assert any(h["code"].startswith("0307") for h in hits.json()["hits"])


async def test_rate_limit_gives_429_with_retry_after(
    make_app: AppFactory,
    api_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenants: dict[str, str],
) -> None:
    strict = api_settings.model_copy(
        update={"server": ServerSettings(SIVUG_RATE_LIMIT_PER_KEY=3, SIVUG_RATE_LIMIT_PER_ORG=100)}
    )
    async for client in open_client(make_app(settings=strict), sessions):
        statuses = [
            (await client.get("/api/v1/me", headers=bearer(tenants["key_b"]))).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get("/api/v1/me", headers=bearer(tenants["key_b"]))
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"] == "RateLimited"


@pytest.mark.parametrize("path", ["/openapi.json"])
async def test_api_is_documented_by_openapi(api: httpx.AsyncClient, path: str) -> None:
    spec = (await api.get(path)).json()
    for route in [
        "/api/v1/classifications",
        "/api/v1/sessions",
        "/api/v1/lists",
        "/api/v1/books",
        "/api/v1/books/{book_id}/search",
    ]:
        assert route in spec["paths"], route
    classify = spec["paths"]["/api/v1/classifications"]["post"]
    body = classify["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["description"]
    assert set(body["properties"]) == {"description", "attributes", "book"}
    assert "201" in classify["responses"]
