from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from starlette.types import Message
from tests.helpers import AppFactory, open_client

from sivug.models import AuditEntry
from sivug.platform.dependencies import DbSession
from sivug.platform.errors import Conflict
from sivug.platform.http import documented_body, json_body, read_body


async def test_healthz_says_the_process_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database_and_the_migrations(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    refused = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert refused.headers["x-request-id"] != "bad id\nwith newline"


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": "No route for GET /no/such/page"}


class Item(BaseModel):
    description: str = Field(min_length=1)
    quantity: int


async def test_malformed_request_names_the_field(make_app: AppFactory) -> None:
    app = make_app()

    @app.post("/items")
    async def create_item(item: Item) -> dict[str, str]:
        return {"description": item.description}

    async for client in open_client(app):
        response = await client.post("/items", json={"description": "mug", "quantity": "many"})
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "ValidationFailed"
        assert body["detail"].startswith("quantity:")
        broken = await client.post(
            "/items", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422
        assert broken.json()["error"] == "ValidationFailed"


def _reading_app(make_app: AppFactory) -> FastAPI:
    """``/read`` reads its body itself; ``/validated`` lets FastAPI validate the same model."""
    app = make_app()

    @app.post("/validated")
    async def validated(item: Item) -> dict[str, str]:
        return {"description": item.description}

    @app.post("/read", openapi_extra=documented_body(Item))
    async def read(request: Request) -> dict[str, str]:
        item = await json_body(request, Item)
        return {"description": item.description}

    return app


async def test_a_route_reading_its_own_body_answers_bad_input_like_fastapi(
    make_app: AppFactory,
) -> None:
    app = _reading_app(make_app)
    async for client in open_client(app):
        good = await client.post("/read", json={"description": "mug", "quantity": 2})
        assert good.json() == {"description": "mug"}
        for body in ({"description": "mug", "quantity": "many"}, {"quantity": 1}):
            ours = await client.post("/read", json=body)
            theirs = await client.post("/validated", json=body)
            assert (ours.status_code, ours.json()) == (422, theirs.json())
        broken = await client.post(
            "/read", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422
        assert broken.json()["error"] == "ValidationFailed"
        spec = (await client.get("/openapi.json")).json()
        schema = spec["paths"]["/read"]["post"]["requestBody"]["content"]["application/json"]
        assert schema["schema"]["required"] == ["description", "quantity"]


async def test_a_body_over_the_limit_is_refused_before_it_is_read_in_full(
    make_app: AppFactory,
) -> None:
    app = make_app()

    @app.post("/small")
    async def small(request: Request) -> dict[str, int]:
        return {"bytes": len(await read_body(request, max_bytes=10, what="Small bodies"))}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(4):
            yield b"abcd"

    async for client in open_client(app):
        assert (await client.post("/small", content=b"0123456789")).json() == {"bytes": 10}
        declared = await client.post("/small", content=b"x" * 11)
        streamed = await client.post("/small", content=chunks())
        for response in (declared, streamed):
            assert response.status_code == 413
            assert response.json() == {
                "error": "PayloadTooLarge",
                "detail": "Small bodies are limited to 10 bytes.",
            }


async def test_a_client_gone_before_its_body_is_not_a_server_error(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = _reading_app(make_app)
    sent: list[Message] = []

    async def gone() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/read",
        "raw_path": b"/read",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    async with app.router.lifespan_context(app):
        await app(scope, gone, send)
    assert sent[0]["status"] == 400
    assert "disconnected" in json.loads(sent[1]["body"])["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_app_errors_render_as_error_and_detail(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("That book version already exists.")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    async for client in open_client(app):
        response = await client.get("/conflict")
        assert response.status_code == 409
        assert response.json() == {
            "error": "Conflict",
            "detail": "That book version already exists.",
        }
        crashed = await client.get("/boom")
        assert crashed.status_code == 500
        assert crashed.json()["error"] == "InternalError"
        assert "secret internals" not in crashed.text
        assert "Traceback" not in crashed.text


async def test_database_down_gives_json_503_never_a_stack_trace(make_app: AppFactory) -> None:
    app = make_app(database_url="postgresql://postgres@127.0.0.1:1/nowhere")

    @app.get("/audit")
    async def audit(session: DbSession) -> dict[str, int]:
        session.add(AuditEntry(actor="system", action="test", entity_type="x", entity_id="1"))
        await session.flush()
        return {"ok": 1}

    async for client in open_client(app):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"] == "NotReady"
        response = await client.get("/audit")
        assert response.status_code == 503
        assert response.json()["error"] == "DatabaseUnavailable"
        assert "Traceback" not in response.text
        assert (await client.get("/healthz")).status_code == 200
