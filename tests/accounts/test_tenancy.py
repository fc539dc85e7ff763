"""Every API route, walked as a member of another organization: org A's data never shows."""

from __future__ import annotations

import re

import httpx
from tests.accounts.conftest import ORG_A, ORG_B, TokenFactory, bearer

#: Parameters naming a tenant-owned resource: another organization must get 404 or 403.
TENANT_PARAMS = {"classification_id", "session_id", "list_id", "key_id"}
#: Parameters naming shared reference data (customs books are the same for everyone).
SHARED_PARAMS = {"book_id": "HS2022", "code": "6109"}

BODIES = {
    "/api/v1/classifications": {"description": "cotton t-shirt"},
    "/api/v1/sessions": {"description": "t-shirt"},
    "/api/v1/sessions/{session_id}/answers": {"answers": {"material": "cotton"}},
    "/api/v1/classifications/{classification_id}/confirm": {"code": "610910"},
    "/api/v1/organization": {"currency": "EUR"},
    "/api/v1/me": {"language": "he"},
    "/api/v1/api-keys": {"name": "walker"},
}


async def _org_a_resources(api: httpx.AsyncClient, admin_a: dict[str, str]) -> dict[str, str]:
    created = await api.post(
        "/api/v1/classifications", json={"description": "alpha secret widget"}, headers=admin_a
    )
    session = await api.post("/api/v1/sessions", json={"description": "t-shirt"}, headers=admin_a)
    upload = await api.post(
        "/api/v1/lists",
        files={"file": ("alpha.csv", b"id,description\n1,alpha gadget\n", "text/csv")},
        headers=admin_a,
    )
    key = await api.post("/api/v1/api-keys", json={"name": "alpha key"}, headers=admin_a)
    assert {r.status_code for r in (created, session, upload, key)} <= {201, 202}
    return {
        "classification_id": created.json()["id"],
        "session_id": session.json()["id"],
        "list_id": upload.json()["id"],
        "key_id": key.json()["id"],
    }


async def test_every_route_as_another_organization(
    api: httpx.AsyncClient, make_token: TokenFactory, tenants: dict[str, str]
) -> None:
    admin_a = bearer(make_token("user_a_admin", ORG_A, "admin"))
    own = await _org_a_resources(api, admin_a)
    secrets_of_a = [*own.values(), "alpha secret widget", "alpha gadget", "alpha key", ORG_A]

    spec = (await api.get("/openapi.json")).json()  # every route of the API, as documented
    routes = [
        (path, method.upper())
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1")
        for method in operations
    ]
    assert len(routes) >= 18
    walked = 0
    for caller in (bearer(make_token("user_b_admin", ORG_B, "admin")), bearer(tenants["key_b"])):
        for template, method in routes:
            params = set(re.findall(r"{(\w+)}", template))
            unknown = params - TENANT_PARAMS - set(SHARED_PARAMS)
            assert not unknown, f"{template}: add {unknown} to the tenancy walk"
            path = template
            for name in params:
                path = path.replace(f"{{{name}}}", own.get(name) or SHARED_PARAMS[name])
            if method in ("POST", "PATCH", "PUT") and template == "/api/v1/lists":
                files = {"file": ("b.csv", b"id,description\n1,mug\n", "text/csv")}
                response = await api.request(method, path, headers=caller, files=files)
            elif method in ("POST", "PATCH", "PUT"):
                body = BODIES.get(template, {})
                response = await api.request(method, path, headers=caller, json=body)
            else:
                response = await api.request(method, path, headers=caller)
            walked += 1
            where = f"{method} {template} -> {response.status_code}"
            if params & TENANT_PARAMS:
                assert response.status_code in (403, 404), where
            else:
                assert response.status_code < 500, where
                for secret in secrets_of_a:
                    assert secret not in response.text, f"{where} leaks {secret}"
    assert walked >= 30
