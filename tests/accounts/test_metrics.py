from __future__ import annotations

import re

import httpx
from tests.accounts.conftest import bearer


async def test_metrics_count_requests_by_route_and_classifications_by_outcome(
    api: httpx.AsyncClient, tenants: dict[str, str]
) -> None:
    def value(text: str, name: str, **labels: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = (await api.get("/metrics")).text
    for description in ("cotton t-shirt", "gift"):
        response = await api.post(
            "/api/v1/classifications",
            json={"description": description},
            headers=bearer(tenants["key_a"]),
        )
        assert response.status_code == 201
    after = await api.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    route = dict(method="POST", route="/api/v1/classifications", status="201")
    assert (
        value(text, "sivug_http_requests_total", **route)
        - value(before, "sivug_http_requests_total", **route)
        == 2
    )
    for status in ("classified", "rejected_vague"):
        labels = dict(channel="api", status=status, engine="sivug-offline")
        assert (
            value(text, "sivug_classifications_total", **labels)
            - value(before, "sivug_classifications_total", **labels)
            == 1
        )
    assert re.search(r'sivug_http_request_seconds_bucket\{.*route="/api/v1/classifications"', text)
