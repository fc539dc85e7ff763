"""Mailgun webhook signatures: valid, bad, stale, replayed."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.email.conftest import (
    SIGNING_KEY,
    Inbound,
    inbound_rows,
    post_inbound,
    signature,
)

from sivug.channels.email.vendors import (
    DEVELOPMENT_SIGNING_KEY,
    MailgunEventsVendor,
    MailgunInboundVendor,
    SignatureChecker,
    mailgun_vendors,
    sign,
)
from sivug.platform.config import MailgunSettings, Settings
from sivug.platform.errors import WebhookSignatureInvalid

FORM = {"content-type": "application/x-www-form-urlencoded"}


def _inbound(body_fields: dict[str, str], signed: dict[str, str]) -> bytes:
    return urlencode({**body_fields, **signed}).encode()


def test_the_documented_scheme_is_hex_hmac_sha256_of_timestamp_and_token() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"key", b"1700000000abc", hashlib.sha256).hexdigest()
    assert sign("key", "1700000000", "abc") == expected


def test_a_valid_signature_is_accepted_with_the_message_id_as_external_id() -> None:
    vendor = MailgunInboundVendor(SignatureChecker(SIGNING_KEY))
    body = _inbound({"Message-Id": "<m1@example.com>", "from": "d@example.com"}, signature())
    assert vendor.verify(FORM, body).external_id == "<m1@example.com>"


def test_without_a_message_id_the_token_is_the_external_id() -> None:
    vendor = MailgunInboundVendor(SignatureChecker(SIGNING_KEY))
    signed = signature(token="tok123")
    assert vendor.verify(FORM, _inbound({}, signed)).external_id == "token:tok123"


def test_a_bad_signature_is_refused() -> None:
    vendor = MailgunInboundVendor(SignatureChecker(SIGNING_KEY))
    signed = signature()
    signed["signature"] = sign("another-key", signed["timestamp"], signed["token"])
    with pytest.raises(WebhookSignatureInvalid, match="does not match"):
        vendor.verify(FORM, _inbound({}, signed))
    with pytest.raises(WebhookSignatureInvalid, match="missing"):
        vendor.verify(FORM, _inbound({"from": "x@y.z"}, {}))


def test_a_stale_or_future_timestamp_is_refused() -> None:
    vendor = MailgunInboundVendor(SignatureChecker(SIGNING_KEY))
    with pytest.raises(WebhookSignatureInvalid, match="too old"):
        vendor.verify(FORM, _inbound({}, signature(timestamp=time.time() - 301)))
    with pytest.raises(WebhookSignatureInvalid, match="too old"):
        vendor.verify(FORM, _inbound({}, signature(timestamp=time.time() + 301)))
    vendor.verify(FORM, _inbound({}, signature(timestamp=time.time() - 290)))


def test_a_reused_token_with_another_body_is_refused_but_a_redelivery_is_not() -> None:
    checker = SignatureChecker(SIGNING_KEY)
    vendor = MailgunInboundVendor(checker)
    signed = signature()
    original = _inbound({"Message-Id": "<a@x>", "body-plain": "chairs"}, signed)
    vendor.verify(FORM, original)
    vendor.verify(FORM, original)  # Mailgun delivering the same post again
    forged = _inbound({"Message-Id": "<b@x>", "body-plain": "buy now"}, signed)
    with pytest.raises(WebhookSignatureInvalid, match="already used"):
        vendor.verify(FORM, forged)


def test_event_webhooks_carry_the_signature_inside_the_json() -> None:
    checker = SignatureChecker(SIGNING_KEY)
    vendor = MailgunEventsVendor(checker)
    body = json.dumps(
        {"signature": signature(), "event-data": {"id": "ev-1", "event": "delivered"}}
    ).encode()
    verified = vendor.verify({"content-type": "application/json"}, body)
    assert verified.external_id == "ev-1"
    assert verified.payload is not None
    bad = json.dumps(
        {"signature": {**signature(), "signature": "0" * 64}, "event-data": {"id": "ev-2"}}
    ).encode()
    with pytest.raises(WebhookSignatureInvalid):
        vendor.verify({}, bad)


def test_local_mode_without_a_key_uses_the_development_key() -> None:
    local = Settings(_env_file=None, SIVUG_ENV="local", mailgun=MailgunSettings.model_validate({}))
    inbound, _ = mailgun_vendors(local)
    assert isinstance(inbound, MailgunInboundVendor)
    with pytest.raises(WebhookSignatureInvalid):
        inbound.verify(FORM, _inbound({}, {"timestamp": "1", "token": "t", "signature": "x"}))
    ts = str(int(time.time()))
    good = {"timestamp": ts, "token": "t1", "signature": sign(DEVELOPMENT_SIGNING_KEY, ts, "t1")}
    inbound.verify(FORM, _inbound({}, good))
    staging_like = Settings(
        _env_file=None, SIVUG_ENV="local", mailgun=MailgunSettings.model_validate({})
    ).model_copy(update={"env": "staging"})
    assert mailgun_vendors(staging_like) == []  # never the development key outside local


async def test_over_http_a_forged_post_is_refused_and_nothing_is_stored(
    webhook_client: httpx.AsyncClient, seeded: AsyncEngine
) -> None:
    signed = signature()
    signed["signature"] = "f" * 64
    response = await post_inbound(webhook_client, Inbound(text="chairs"), signed)
    assert response.status_code == 401
    stale = await post_inbound(
        webhook_client, Inbound(text="chairs"), signature(timestamp=time.time() - 3600)
    )
    assert stale.status_code == 401
    assert await inbound_rows(seeded) == []


async def test_over_http_a_replayed_token_is_refused(
    webhook_client: httpx.AsyncClient, seeded: AsyncEngine
) -> None:
    signed = signature(token=uuid.uuid4().hex)
    first = await post_inbound(webhook_client, Inbound(text="chairs"), signed)
    replay = await post_inbound(webhook_client, Inbound(text="viagra"), signed)
    assert first.status_code == 200
    assert replay.status_code == 401
