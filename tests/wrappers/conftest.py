from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.fakes.llm_server import FakeLLMServer

from sivug.wrappers.anthropic_wrapper import AnthropicWrapper
from sivug.wrappers.gemini_wrapper import GoogleGeminiWrapper
from sivug.wrappers.llm_base import LLMWrapper, RetryPolicy
from sivug.wrappers.openai_wrapper import OpenAICompatibleWrapper, OpenAIWrapper
from sivug.wrappers.xai_wrapper import XAIWrapper


@pytest.fixture(scope="session")
def llm_server_session() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm_server(llm_server_session: FakeLLMServer) -> Iterator[FakeLLMServer]:
    llm_server_session.reset()
    yield llm_server_session
    llm_server_session.reset()


class Sleeps:
    """Records the waits tenacity asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_wrapper(
    provider: str, server: FakeLLMServer, sleeps: Sleeps, *, timeout: float = 2.0, attempts: int = 3
) -> LLMWrapper:
    retry = RetryPolicy(attempts=attempts, initial_wait=0.5, max_wait=30.0)
    common = {
        "api_key": "test-key-123456",
        "base_url": server.base_url(provider),
        "timeout": timeout,
        "retry": retry,
        "sleep": sleeps,
    }
    classes: dict[str, type[LLMWrapper]] = {
        "openai": OpenAIWrapper,
        "anthropic": AnthropicWrapper,
        "gemini": GoogleGeminiWrapper,
        "xai": XAIWrapper,
        "selfhosted": OpenAICompatibleWrapper,
    }
    return classes[provider](**common)  # type: ignore[arg-type]
