"""MailgunWrapper against the fake Mailgun server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.channels.email.conftest import API_KEY, DOMAIN
from tests.fakes.mailgun_server import FakeMailgun, Scripted

from sivug.wrappers.mailgun import (
    Attachment,
    HourlyLimiter,
    InMemoryMailgun,
    MailgunAuthError,
    MailgunRequestError,
    MailgunTransientError,
    MailgunWrapper,
    OutgoingEmail,
    mailgun_client,
)

MESSAGES = f"/v3/{DOMAIN}/messages"


@pytest.fixture
async def wrapper(mailgun: FakeMailgun) -> AsyncIterator[MailgunWrapper]:
    client = MailgunWrapper(
        api_key=API_KEY,
        domain=DOMAIN,
        api_url=mailgun.url,
        from_address="Sivug <classify@mg.sivug.test>",
        backoff_initial=0.01,
        backoff_max=0.05,
    )
    yield client
    await client.aclose()


def _email(**overrides: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "to": ["dana@example.com"],
        "subject": "Your codes",
        "text": "6109.10",
        "html": "<p>6109.10</p>",
    }
    values.update(overrides)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


async def test_send_posts_the_contract_fields_and_returns_the_id_without_brackets(
    wrapper: MailgunWrapper, mailgun: FakeMailgun
) -> None:
    result = await wrapper.send(
        _email(
            headers={"Message-Id": "<abc@mg.sivug.test>", "In-Reply-To": "<q@x>"},
            tags=["reply"],
            variables={"email_message_id": "7"},
            attachments=[Attachment("results.csv", b"a,b\n", "text/csv")],
        )
    )
    assert result.id == "abc@mg.sivug.test"
    [sent] = mailgun.sent
    assert sent.to == ["dana@example.com"]
    assert sent.first("from") == "Sivug <classify@mg.sivug.test>"
    assert sent.header("In-Reply-To") == "<q@x>"
    assert sent.first("o:tag") == "reply"
    assert sent.first("v:email_message_id") == "7"
    assert sent.files == [("attachment", "results.csv", b"a,b\n")]


async def test_templates_and_batches(wrapper: MailgunWrapper, mailgun: FakeMailgun) -> None:
    await wrapper.send_template(
        "welcome", to=["a@example.com"], subject="Hi", variables={"name": "Dana"}
    )
    await wrapper.send_batch(
        recipients={"a@example.com": {"name": "A"}, "b@example.com": {"name": "B"}},
        subject="News",
        text="Hello %recipient.name%",
    )
    template, batch = mailgun.sent
    assert template.first("template") == "welcome"
    assert template.first("t:variables") == '{"name": "Dana"}'
    assert batch.to == ["a@example.com", "b@example.com"]
    assert '"b@example.com": {"name": "B"}' in batch.first("recipient-variables")


async def test_429_is_retried_after_the_retry_after_delay(
    wrapper: MailgunWrapper, mailgun: FakeMailgun
) -> None:
    mailgun.script(Scripted(429, retry_after="0"), Scripted(503))
    await wrapper.send(_email())
    assert len(mailgun.sent) == 1
    assert mailgun.requests.count(("POST", MESSAGES)) == 3


async def test_reads_retry_5xx_and_give_up_with_a_transient_error(
    wrapper: MailgunWrapper, mailgun: FakeMailgun
) -> None:
    mailgun.script(*[Scripted(500, path_prefix="/v4") for _ in range(4)])
    with pytest.raises(MailgunTransientError) as failure:
        await wrapper.validate_address("dana@example.com")
    assert failure.value.http_status == 500
    assert mailgun.requests.count(("GET", "/v4/address/validate")) == 4


async def test_an_ambiguous_send_failure_is_not_retried(
    wrapper: MailgunWrapper, mailgun: FakeMailgun
) -> None:
    """A 500 (or a dropped connection) may come after Mailgun queued the message."""
    mailgun.script(Scripted(500))
    with pytest.raises(MailgunTransientError) as failure:
        await wrapper.send(_email())
    assert failure.value.ambiguous
    mailgun.script(Scripted(0))  # connection dropped without an answer
    with pytest.raises(MailgunTransientError) as dropped:
        await wrapper.send(_email())
    assert dropped.value.ambiguous
    assert mailgun.requests.count(("POST", MESSAGES)) == 2


async def test_request_errors_are_not_retried(
    wrapper: MailgunWrapper, mailgun: FakeMailgun
) -> None:
    mailgun.script(Scripted(400, {"message": "'to' parameter is not a valid address"}))
    with pytest.raises(MailgunRequestError, match="not a valid address") as failure:
        await wrapper.send(_email())
    assert failure.value.http_status == 400
    assert not failure.value.transient
    assert mailgun.requests.count(("POST", MESSAGES)) == 1


async def test_a_wrong_key_is_an_auth_error(mailgun: FakeMailgun) -> None:
    client = MailgunWrapper(
        api_key="key-wrong", domain=DOMAIN, api_url=mailgun.url, from_address="x@y.z"
    )
    with pytest.raises(MailgunAuthError):
        await client.send(_email())
    await client.aclose()


async def test_validation_and_events(wrapper: MailgunWrapper) -> None:
    good = await wrapper.validate_address("dana@example.com")
    bad = await wrapper.validate_address("dana@nowhere.invalid")
    assert good.deliverable
    assert good.result == "deliverable"
    assert not bad.deliverable
    assert bad.reasons == ("no_mx",)

    sent = await wrapper.send(_email(headers={"Message-Id": "<ev1@mg.sivug.test>"}))
    events = await wrapper.events(message_id=f"<{sent.id}>")
    assert [e["event"] for e in events] == ["accepted"]
    assert await wrapper.events(message_id="<other@x>") == []


async def test_the_limiter_keeps_any_hour_under_the_quota() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = HourlyLimiter(3600, burst=10, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):
        assert await limiter.acquire() == 0.0  # the burst is free
    waited = await limiter.acquire()
    assert waited == pytest.approx(1 / ((3600 - 10) / 3600))
    # the first hour: the burst plus the refill, never more than the quota
    count = 11
    while True:
        await limiter.acquire()
        if now[0] >= 3600:
            break
        count += 1
    assert 3590 <= count <= 3600


async def test_local_mode_without_credentials_uses_the_in_memory_fake() -> None:
    from sivug.platform.config import MailgunSettings, Settings

    settings = Settings(
        _env_file=None, SIVUG_ENV="local", mailgun=MailgunSettings.model_validate({})
    )
    client = mailgun_client(settings)
    assert isinstance(client, InMemoryMailgun)
    result = await client.send(_email(headers={"Message-Id": "<m@local>"}))
    assert result.id == "m@local"
    assert [e["event"] for e in await client.events(message_id="<m@local>")] == ["accepted"]
