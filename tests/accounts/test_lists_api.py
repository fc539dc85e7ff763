"""Uploading a list: accepted whole or refused whole, progress, results in every format."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.accounts.conftest import bearer
from tests.helpers import AppFactory, drain_jobs, open_client

from sivug.accounts.service import create_api_key
from sivug.books.service import ensure_builtin_books
from sivug.models import ClassificationList, Organization
from sivug.platform.config import Settings


@pytest.fixture
async def committed_key(committed_db: AsyncEngine) -> str:
    async with AsyncSession(committed_db) as session, session.begin():
        await ensure_builtin_books(session)
        session.add(Organization(id="org_lists", name="Lists Ltd"))
        await session.flush()
        _, key = await create_api_key(
            session, organization_id="org_lists", name="k", created_by=None
        )
    return key


@pytest.fixture
async def client(
    make_app: AppFactory, api_settings: Settings, committed_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in open_client(make_app(settings=api_settings)):
        c.headers.update(bearer(committed_key))
        yield c


async def test_upload_progress_and_results(
    client: httpx.AsyncClient, database_url: str, api_settings: Settings
) -> None:
    data = b"id,description,material\nA1,T-shirt for men,cotton\nA2,gift,\nA3,,\n"
    accepted = await client.post("/api/v1/lists", files={"file": ("order.csv", data, "text/csv")})
    assert accepted.status_code == 202, accepted.text
    list_id = accepted.json()["id"]
    queued = (await client.get(f"/api/v1/lists/{list_id}")).json()
    assert (queued["status"], queued["total"], queued["done"]) == ("queued", 3, 0)
    early = await client.get(f"/api/v1/lists/{list_id}/results")
    assert early.status_code == 409

    await drain_jobs(database_url, api_settings)

    done = (await client.get(f"/api/v1/lists/{list_id}")).json()
    assert (done["status"], done["done"]) == ("done", 3)
    as_jsonl = await client.get(f"/api/v1/lists/{list_id}/results", params={"format": "jsonl"})
    rows = [json.loads(line) for line in as_jsonl.text.splitlines()]
    assert [r["id"] for r in rows] == ["A1", "A2", "A3"]
    assert rows[0]["code"] == "610910"
    assert rows[1]["status"] == "rejected_vague"
    assert rows[2] == {"id": "A3", "status": "error", "error": "line 4: no description"}
    as_csv = await client.get(f"/api/v1/lists/{list_id}/results")
    assert as_csv.headers["content-disposition"] == 'attachment; filename="order-results.csv"'
    as_xlsx = await client.get(f"/api/v1/lists/{list_id}/results", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
    assert [c.value for c in sheet[2]][:3] == ["A1", "classified", "610910"]


@pytest.mark.parametrize(
    ("name", "data", "status", "detail"),
    [
        ("list.pdf", b"%PDF-1.4", 400, "expected a .csv, .xlsx or .jsonl file"),
        ("list.csv", b"id,name\n1,mug\n", 400, "line 1: no 'description' column"),
        ("list.csv", "id,description\n1,כוס\n".encode() + b"\xff\xfe\x81\n", 400, "line 3"),
        ("list.xlsx", b"not a workbook", 400, "not a readable .xlsx workbook"),
        ("list.csv", b"id,description\n" + b"1,mug\n" * 2_000_000, 413, "limit"),
    ],
)
async def test_refused_files_commit_nothing(
    client: httpx.AsyncClient,
    committed_db: AsyncEngine,
    name: str,
    data: bytes,
    status: int,
    detail: str,
) -> None:
    response = await client.post("/api/v1/lists", files={"file": (name, data, "text/plain")})
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    async with AsyncSession(committed_db) as session:
        count = await session.execute(select(func.count()).select_from(ClassificationList))
        assert count.scalar_one() == 0
        jobs = await session.execute(select(func.count()).select_from(ClassificationList.__table__))
        assert jobs.scalar_one() == 0
