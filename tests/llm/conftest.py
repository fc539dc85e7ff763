from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.fakes.llm_server import FakeLLMServer

from sivug.llm.catalog import load_catalog
from sivug.llm.service import LLMService, UsageSessions
from sivug.platform.config import LLMSettings
from sivug.wrappers.anthropic_wrapper import AnthropicWrapper
from sivug.wrappers.gemini_wrapper import GoogleGeminiWrapper
from sivug.wrappers.llm_base import LLMWrapper, RetryPolicy
from sivug.wrappers.openai_wrapper import OpenAIWrapper

KEY = "test-key-123456"


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm_server(fake_llm: FakeLLMServer) -> Iterator[FakeLLMServer]:
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@dataclass
class Clock:
    """Monotonic seconds and wall time the tests move by hand."""

    seconds: float = 1000.0
    wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    waits: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.wall

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def wrappers(
    server: FakeLLMServer, clock: Clock, providers: tuple[str, ...], timeout: float = 2.0
) -> dict[str, LLMWrapper]:
    retry = RetryPolicy(attempts=2, initial_wait=0.1, max_wait=1.0)
    out: dict[str, LLMWrapper] = {}
    for provider in providers:
        base = server.base_url(provider)
        if provider == "openai":
            out[provider] = OpenAIWrapper(
                api_key=KEY, base_url=base, timeout=timeout, retry=retry, sleep=clock.sleep
            )
        elif provider == "anthropic":
            out[provider] = AnthropicWrapper(
                api_key=KEY, base_url=base, timeout=timeout, retry=retry, sleep=clock.sleep
            )
        elif provider == "gemini":
            out[provider] = GoogleGeminiWrapper(
                api_key=KEY, base_url=base, timeout=timeout, retry=retry, sleep=clock.sleep
            )
    return out


def make_service(
    server: FakeLLMServer,
    clock: Clock,
    providers: tuple[str, ...] = ("openai", "anthropic", "gemini"),
    usage_sessions: UsageSessions | None = None,
    **limits: Any,
) -> LLMService:
    settings = LLMSettings(_env_file=None, **limits)
    return LLMService(
        wrappers(server, clock, providers),
        load_catalog(),
        settings,
        usage_sessions=usage_sessions,
        clock=clock.monotonic,
        now=clock.now,
    )


@pytest.fixture
async def llm(llm_server: FakeLLMServer, clock: Clock) -> AsyncIterator[LLMService]:
    service = make_service(llm_server, clock)
    yield service
    await service.close()
