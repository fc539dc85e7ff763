from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from sivug.platform.logging import configure_logging, get_logger


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    return capsys


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_secrets_tokens_and_payment_details_are_masked(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", json=True)
    log = get_logger("test")
    log.info(
        "vendor.call",
        api_key="sk_live_0123456789abcdef",
        webhook_secret=SecretStr("whsec_supersecretvalue"),
        authorization="Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl",
        card="4111 1111 1111 1111",
        body="Dear Sivug, please classify my goods",
        note="paid with 4111-1111-1111-1111 to IBAN GB82 WEST 1234 5698 7654 32",
        url="https://x.test/?key=sk_test_abcdefghijklmnop",
        book="HS2022",
    )
    (line,) = _lines(json_logs)
    text = json.dumps(line)
    for leaked in (
        "sk_live_0123456789abcdef",
        "whsec_supersecretvalue",
        "eyJhbGciOiJSUzI1NiJ9",
        "4111",
        "Dear Sivug",
        "GB82",
        "sk_test_abcdefghijklmnop",
    ):
        assert leaked not in text
    assert line["book"] == "HS2022"  # ordinary values are kept
    assert line["api_key"] == "***"


def test_standard_library_loggers_are_masked_too(json_logs: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=True)
    logging.getLogger("httpx").warning("retrying with Authorization: Bearer abcdefghijklmnop123")
    (line,) = _lines(json_logs)
    assert "abcdefghijklmnop123" not in json.dumps(line)
    assert line["level"] == "warning"


def test_request_id_is_on_every_line_bound_in_context(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    import structlog

    configure_logging("info", json=True)
    structlog.contextvars.bind_contextvars(request_id="req-123")
    try:
        get_logger("a").info("first")
        logging.getLogger("b").info("second")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = _lines(json_logs)
    assert [line["request_id"] for line in lines] == ["req-123", "req-123"]
