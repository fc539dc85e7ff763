"""One interface for a structured completion, whichever LLM provider answers.

A caller gives a system text, a user text and a Pydantic output model; it gets back a
:class:`Completion`: the validated object, the token usage, the cost (from the price the
caller passes, taken from the dated price table) and the latency.

Errors are typed:

- :class:`LLMTransientError`: 429, 5xx, 529 overloaded, timeouts, connection failures. The
  wrapper retries them itself with exponential backoff and jitter, honouring ``Retry-After``
  (tenacity), and raises the last one when the attempts are used up.
- :class:`LLMRequestError`: any other 4xx (bad key, bad request). Never retried.
- :class:`LLMMalformedOutput`: the provider answered, but not with JSON matching the output
  model. Not retried here: the caller decides (the LLM service retries once, then falls back).

Every SDK's own retries are turned off (``max_retries=0``) so that this one policy applies.
"""

from __future__ import annotations

import json
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from sivug.platform.errors import IntegrationError
from sivug.platform.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T", bound=BaseModel)

_MILLION = Decimal(1_000_000)


class LLMError(IntegrationError):
    """A provider failed to give a usable answer."""

    def __init__(
        self,
        detail: str,
        *,
        transient: bool,
        provider: str,
        status: int | None = None,
    ) -> None:
        super().__init__(detail, transient=transient)
        self.provider = provider
        self.status = status


class LLMTransientError(LLMError):
    """429, 5xx, 529 overloaded, timeout, connection error: worth trying again later."""

    def __init__(
        self,
        detail: str,
        *,
        provider: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, transient=True, provider=provider, status=status)
        self.retry_after = retry_after


class LLMRequestError(LLMError):
    """A 4xx other than 429: the request itself is wrong (key, model name, payload)."""

    def __init__(self, detail: str, *, provider: str, status: int | None = None) -> None:
        super().__init__(detail, transient=False, provider=provider, status=status)


class LLMMalformedOutput(LLMError):
    """The provider answered with something that is not the requested JSON object."""

    def __init__(self, detail: str, *, provider: str, usage: Usage, latency_ms: int) -> None:
        super().__init__(detail, transient=False, provider=provider)
        self.usage = usage
        self.latency_ms = latency_ms


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, as of a date (a row of the dated price table)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal

    def cost(self, usage: Usage) -> Decimal:
        raw = (
            Decimal(usage.input_tokens) * self.input_per_mtok
            + Decimal(usage.output_tokens) * self.output_per_mtok
        ) / _MILLION
        return raw.quantize(Decimal("0.000001"))


FREE = Price(Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class Completion(Generic[T]):
    output: T
    provider: str
    model: str
    usage: Usage
    cost: Decimal
    latency_ms: int
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """What a provider call returned, before parsing."""

    text: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; ``Retry-After`` wins when given."""

    attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 20.0
    jitter: float = 0.5

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, LLMTransientError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self.max_wait)
        base: float = self.initial_wait * 2.0 ** (state.attempt_number - 1)
        return min(base + random.uniform(0, self.jitter * base), self.max_wait)


@dataclass(frozen=True, slots=True)
class StructuredRequest:
    system: str
    prompt: str
    schema_name: str
    schema: dict[str, Any]
    max_output_tokens: int
    temperature: float = 0.0


Sleep = Callable[[float], Awaitable[None]]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header value, if numeric."""
    if value is None:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return None


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_output(text: str, output_type: type[T]) -> T:
    """The JSON object in ``text`` validated as ``output_type``; ValueError when it is not."""
    match = _FENCE.match(text)
    body = match.group(1) if match else text
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError("the JSON is not an object")
    try:
        return output_type.model_validate(data)
    except ValidationError as exc:
        raise ValueError(
            f"does not match {output_type.__name__}: {exc.error_count()} errors"
        ) from None


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, with ``additionalProperties: false`` on every object."""
    schema = model.model_json_schema()

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


class LLMWrapper(ABC):
    """A provider behind the common interface. Subclasses implement :meth:`_call` only."""

    #: The provider name as it appears in usage records and ``engine``: "openai", ...
    provider: str = ""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    @abstractmethod
    async def _call(self, model: str, request: StructuredRequest) -> RawAnswer:
        """One HTTP exchange; raise LLMTransientError / LLMRequestError on failure."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the HTTP client (subclasses that hold one override this)."""

    async def complete(
        self,
        *,
        model: str,
        system: str,
        prompt: str,
        output_type: type[T],
        price: Price = FREE,
        max_output_tokens: int = 800,
        temperature: float = 0.0,
    ) -> Completion[T]:
        """A structured completion, retried on transient failures."""
        request = StructuredRequest(
            system=system,
            prompt=prompt,
            schema_name=output_type.__name__,
            schema=strict_schema(output_type),
            max_output_tokens=max_output_tokens,
            temperature=temperature,
        )
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self.retry.wait,
            retry=retry_if_exception_type(LLMTransientError),
            reraise=True,
            before_sleep=self._log_retry,
            **self._sleep_option(),
        )
        started = time.perf_counter()
        attempts = 0
        async for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                raw = await self._call(model, request)
        latency_ms = round((time.perf_counter() - started) * 1000)
        try:
            output = parse_output(raw.text, output_type)
        except ValueError as exc:
            raise LLMMalformedOutput(
                f"{self.provider}/{model} answered malformed output: {exc}",
                provider=self.provider,
                usage=raw.usage,
                latency_ms=latency_ms,
            ) from None
        log.debug(
            "llm.completion", provider=self.provider, model=model, attempts=attempts, ms=latency_ms
        )
        return Completion(
            output=output,
            provider=self.provider,
            model=model,
            usage=raw.usage,
            cost=price.cost(raw.usage),
            latency_ms=latency_ms,
            attempts=attempts,
        )

    def _sleep_option(self) -> dict[str, Any]:
        return {"sleep": self._sleep} if self._sleep is not None else {}

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "llm.retry",
            provider=self.provider,
            attempt=state.attempt_number,
            status=getattr(exc, "status", None),
            wait_seconds=round(state.upcoming_sleep, 3),
        )
