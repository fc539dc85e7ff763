"""The real SDKs against the fake server: one interface, usage, cost, typed errors, retries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel
from tests.fakes.llm_server import FakeLLMServer, Reply
from tests.wrappers.conftest import Sleeps, make_wrapper

from sivug.wrappers.llm_base import (
    LLMMalformedOutput,
    LLMRequestError,
    LLMTransientError,
    Price,
)

ALL = ("openai", "anthropic", "gemini", "xai", "selfhosted")
PRICE = Price(input_per_mtok=Decimal("2.00"), output_per_mtok=Decimal("8.00"))


class Answer(BaseModel):
    code: str
    confidence: float


@pytest.mark.parametrize("provider", ALL)
async def test_structured_answer_with_usage_cost_and_latency(
    provider: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script(
        provider,
        Reply(data={"code": "610910", "confidence": 0.9}, input_tokens=1200, output_tokens=30),
    )
    wrapper = make_wrapper(provider, llm_server, sleeps)
    try:
        done = await wrapper.complete(
            model="model-x", system="rules", prompt="the goods", output_type=Answer, price=PRICE
        )
    finally:
        await wrapper.close()
    assert done.output == Answer(code="610910", confidence=0.9)
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.total_tokens) == (
        1200,
        30,
        1230,
    )
    # 1200 * 2 / 1e6 + 30 * 8 / 1e6
    assert done.cost == Decimal("0.002640")
    assert done.latency_ms >= 0
    assert (done.provider, done.model) == (provider, "model-x")
    [request] = llm_server.calls(provider)
    assert request.model == "model-x"
    assert "the goods" in request.prompt
    assert "rules" in request.system


@pytest.mark.parametrize(
    ("provider", "header"),
    [
        ("openai", "authorization"),
        # anthropic 2.10 sends the key as a bearer token (the contract says x-api-key)
        ("anthropic", "authorization"),
        ("gemini", "x-goog-api-key"),
        ("xai", "authorization"),
    ],
)
async def test_each_provider_sends_the_key(
    provider: str, header: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script(provider, Reply(data={"code": "01", "confidence": 0.1}))
    wrapper = make_wrapper(provider, llm_server, sleeps)
    await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert "test-key-123456" in llm_server.calls(provider)[0].headers[header]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_429_is_retried_after_the_time_the_server_asks(
    provider: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script(
        provider,
        Reply(status=429, headers={"retry-after": "7"}),
        Reply(data={"code": "8471", "confidence": 0.5}),
    )
    wrapper = make_wrapper(provider, llm_server, sleeps)
    done = await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert done.output.code == "8471"
    assert done.attempts == 2
    assert sleeps.waits == [7.0]
    assert len(llm_server.calls(provider)) == 2  # the SDK's own retries are off


async def test_anthropic_overloaded_529_backs_off_exponentially_then_gives_up(
    llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script("anthropic", *[Reply(status=529) for _ in range(3)])
    wrapper = make_wrapper("anthropic", llm_server, sleeps, attempts=3)
    with pytest.raises(LLMTransientError) as caught:
        await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert caught.value.status == 529
    assert len(llm_server.calls("anthropic")) == 3
    first, second = sleeps.waits
    assert 0.5 <= first <= 0.75  # 0.5 s plus up to 50 % jitter
    assert 1.0 <= second <= 1.5


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_server_errors_are_transient(
    provider: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script(provider, Reply(status=503), Reply(status=500))
    wrapper = make_wrapper(provider, llm_server, sleeps, attempts=2)
    with pytest.raises(LLMTransientError):
        await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert len(llm_server.calls(provider)) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_request_errors_are_not_retried(
    provider: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script(provider, Reply(status=401), Reply(data={"code": "01", "confidence": 1}))
    wrapper = make_wrapper(provider, llm_server, sleeps)
    with pytest.raises(LLMRequestError) as caught:
        await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert caught.value.status == 401
    assert len(llm_server.calls(provider)) == 1
    assert sleeps.waits == []


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_a_timeout_is_transient_and_retried(
    provider: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    # A generous timeout: the second, prompt answer must fit in it even on a loaded machine.
    llm_server.script(provider, Reply(delay=4.0), Reply(data={"code": "01", "confidence": 1}))
    wrapper = make_wrapper(provider, llm_server, sleeps, timeout=1.5)
    done = await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert done.attempts == 2
    assert done.output.code == "01"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_malformed_output_is_a_typed_error_that_still_reports_usage(
    provider: str, llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script(provider, Reply(text="Sure! The code is {610910", output_tokens=12))
    wrapper = make_wrapper(provider, llm_server, sleeps)
    with pytest.raises(LLMMalformedOutput) as caught:
        await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()
    assert caught.value.usage.output_tokens == 12
    assert len(llm_server.calls(provider)) == 1


async def test_json_that_does_not_match_the_model_is_malformed(
    llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    llm_server.script("openai", Reply(data={"code": 610910}))
    wrapper = make_wrapper("openai", llm_server, sleeps)
    with pytest.raises(LLMMalformedOutput, match="does not match Answer"):
        await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
    await wrapper.close()


async def test_the_output_schema_is_sent_to_each_provider(
    llm_server: FakeLLMServer, sleeps: Sleeps
) -> None:
    for provider in ("openai", "anthropic", "gemini"):
        llm_server.script(provider, Reply(data={"code": "01", "confidence": 1}))
        wrapper = make_wrapper(provider, llm_server, sleeps)
        await wrapper.complete(model="m", system="s", prompt="p", output_type=Answer)
        await wrapper.close()
    openai_body = llm_server.calls("openai")[0].body
    assert openai_body["response_format"]["json_schema"]["schema"]["required"] == [
        "code",
        "confidence",
    ]
    anthropic_body = llm_server.calls("anthropic")[0].body
    assert anthropic_body["tool_choice"] == {"type": "tool", "name": "answer"}
    assert "code" in anthropic_body["tools"][0]["input_schema"]["properties"]
    gemini_body = llm_server.calls("gemini")[0].body
    assert gemini_body["generationConfig"]["responseMimeType"] == "application/json"
