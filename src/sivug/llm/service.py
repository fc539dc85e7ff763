"""The LLM router: one task, the configured providers in order, and everything around a call.

For each task (``classify``, ``questions``, ...) :meth:`LLMService.run`:

1. refuses when the organization is over its monthly spend or its per-minute rate
   (:class:`LLMLimitReached`; the caller falls back to the offline engine);
2. tries the providers in the configured order, skipping one whose circuit is open;
3. answers from the PostgreSQL cache when (task, model, normalised prompt, book version) was
   answered before and has not expired: a hit costs nothing and is recorded as a hit;
4. otherwise calls the provider (the wrapper retries transient errors with backoff); a
   transient or request failure opens the way to the next provider and counts against the
   circuit; a malformed or invalid answer (a code not in the book) is asked again once, and
   then the task fails with :class:`LLMInvalidAnswer` (the caller falls back);
5. records every call's tokens, cost and time in ``llm_usage``.

With no provider configured, :func:`build_llm_service` returns ``None``: the offline engine
answers everything.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sivug.llm import repository
from sivug.llm.catalog import Catalog, load_catalog
from sivug.llm.prompts import normalise_prompt
from sivug.llm.schemas import UsageReport, UsageRow
from sivug.models import LLMUsage
from sivug.platform.config import LLMSettings, Settings, is_real_secret
from sivug.platform.db import session_scope
from sivug.platform.errors import AppError, ValidationFailed
from sivug.platform.logging import get_logger
from sivug.wrappers.llm_base import (
    FREE,
    LLMError,
    LLMMalformedOutput,
    LLMWrapper,
    RetryPolicy,
    Usage,
)

log = get_logger(__name__)

T = TypeVar("T", bound=BaseModel)
Validator = Callable[[T], str | None]  # a problem with the answer, or None when it is fine
Clock = Callable[[], float]
#: The factory of the sessions that record usage, read at each call.
UsageSessions = Callable[[], async_sessionmaker[AsyncSession]]


class LLMUnavailable(AppError):
    """No provider could answer (none configured, all failing or circuits open)."""

    status_code = 503

    def __init__(self, detail: str, *, tried: list[str]) -> None:
        super().__init__(detail)
        self.tried = tried


class LLMLimitReached(AppError):
    """The organization's LLM spend or rate limit is reached."""

    status_code = 429


class LLMInvalidAnswer(AppError):
    """The provider answered twice with malformed or invalid output."""

    status_code = 502

    def __init__(self, detail: str, *, provider: str, model: str) -> None:
        super().__init__(detail)
        self.provider = provider
        self.model = model


# ---------------------------------------------------------------- circuit breaker


@dataclass
class CircuitBreaker:
    """Closed -> open after ``failures`` failures in a row; after ``cooldown`` seconds one
    trial call is let through (half-open): success closes it, failure opens it again."""

    failures: int = 5
    cooldown: float = 30.0
    clock: Clock = time.monotonic
    _count: int = 0
    _opened_at: float | None = None
    _trial: bool = False

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self._count = 0
        self._opened_at = None
        self._trial = False

    def failure(self) -> None:
        self._count += 1
        if self._trial or self._count >= self.failures:
            self._opened_at = self.clock()
        self._trial = False


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class LLMCall(Generic[T]):
    output: T
    task: str
    provider: str
    model: str
    usage: Usage
    cost: Decimal
    latency_ms: int
    cache_hit: bool
    attempts: int = 1
    tried: tuple[str, ...] = field(default=())

    @property
    def engine(self) -> str:
        return f"{self.provider}/{self.model}"


def cache_key(task: str, model: str, system: str, prompt: str, book_version: str) -> str:
    material = "\x1f".join(
        [task, model, normalise_prompt(system), normalise_prompt(prompt), book_version]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _month_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = (
        datetime(day.year + 1, 1, 1, tzinfo=UTC)
        if day.month == 12
        else datetime(day.year, day.month + 1, 1, tzinfo=UTC)
    )
    return start, end


class LLMService:
    """Created once per process (app lifespan, worker start); holds the provider clients."""

    def __init__(
        self,
        clients: Mapping[str, LLMWrapper],
        catalog: Catalog,
        settings: LLMSettings,
        *,
        usage_sessions: UsageSessions | None = None,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``usage_sessions`` (read at each call) gives the sessions that record usage in a
        transaction of their own, committed at once: a caller that then fails and rolls back
        (a request, a job) still has what its calls cost counted against the spend limit.
        They must come from a pool the caller does not exhaust. Without them (the CLI's
        one-connection runs) usage is written in the caller's session."""
        self.clients = dict(clients)
        self._usage_sessions = usage_sessions
        self.catalog = catalog
        self.settings = settings
        self.now = now
        self.breakers = {
            name: CircuitBreaker(
                settings.breaker_failures, settings.breaker_cooldown_seconds, clock
            )
            for name in self.clients
        }

    @property
    def enabled(self) -> bool:
        return bool(self.clients)

    def routes(self, task: str) -> list[tuple[str, str]]:
        route = self.catalog.route(task)
        return [(p, route.models[p]) for p in route.providers if p in self.clients]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    # ------------------------------------------------------------------ limits
    async def check_limits(self, session: AsyncSession, organization_id: str | None) -> None:
        if organization_id is None:
            return
        override = await repository.get_limits(session, organization_id)
        spend_limit = self.settings.monthly_spend_limit_usd
        rate_limit = self.settings.requests_per_minute
        if override is not None:
            if override.monthly_spend_limit is not None:
                spend_limit = override.monthly_spend_limit
            if override.requests_per_minute is not None:
                rate_limit = override.requests_per_minute
        now = self.now()
        start, end = _month_bounds(now.date())
        spent = await repository.spend_between(session, organization_id, start, end)
        if spent >= spend_limit:
            raise LLMLimitReached(
                f"LLM spend this month ({spent} USD) reached the limit of {spend_limit} USD"
            )
        recent = await repository.calls_since(session, organization_id, now - timedelta(minutes=1))
        if recent >= rate_limit:
            raise LLMLimitReached(f"LLM rate limit of {rate_limit} calls per minute reached")

    # ------------------------------------------------------------------ the call
    async def run(
        self,
        session: AsyncSession,
        *,
        task: str,
        organization_id: str | None,
        system: str,
        prompt: str,
        output_type: type[T],
        book_version: str = "",
        validate: Validator[T] | None = None,
    ) -> LLMCall[T]:
        routes = self.routes(task)
        if not routes:
            raise LLMUnavailable("no LLM provider is configured", tried=[])
        await self.check_limits(session, organization_id)
        route = self.catalog.route(task)
        tried: list[str] = []
        for provider, model in routes:
            breaker = self.breakers[provider]
            if not breaker.allow():
                tried.append(f"{provider}: circuit open")
                continue
            key = cache_key(task, model, system, prompt, book_version)
            cached = await self._from_cache(
                session, key, task, provider, model, organization_id, output_type, validate
            )
            if cached is not None:  # a hit says nothing about the provider's health
                return cached
            client = self.clients[provider]
            price = self.catalog.price(provider, model, self.now().date())
            problem = ""
            ask = prompt
            for attempt in (1, 2):
                try:
                    done = await client.complete(
                        model=model,
                        system=system,
                        prompt=ask,
                        output_type=output_type,
                        price=price,
                        max_output_tokens=route.max_output_tokens,
                    )
                except LLMMalformedOutput as exc:
                    breaker.success()  # it answered: the provider is up
                    problem = exc.detail
                    await self._record(
                        session,
                        organization_id,
                        provider,
                        model,
                        task,
                        exc.usage,
                        price.cost(exc.usage),
                        exc.latency_ms,
                        outcome="malformed",
                    )
                    log.warning("llm.malformed", provider=provider, model=model, task=task)
                    ask = _retry_prompt(prompt, problem)
                    continue
                except LLMError as exc:
                    breaker.failure()
                    tried.append(f"{provider}: {exc.detail}")
                    log.warning(
                        "llm.provider_failed",
                        provider=provider,
                        model=model,
                        task=task,
                        transient=exc.transient,
                        status=exc.status,
                        circuit=breaker.state,
                    )
                    break
                breaker.success()
                problem = (validate(done.output) if validate else None) or ""
                await self._record(
                    session,
                    organization_id,
                    provider,
                    model,
                    task,
                    done.usage,
                    done.cost,
                    done.latency_ms,
                    outcome="invalid" if problem else "ok",
                )
                if problem:
                    log.warning("llm.invalid_answer", provider=provider, model=model, task=task)
                    ask = _retry_prompt(prompt, problem)
                    continue
                await repository.cache_put(
                    session,
                    key=key,
                    task=task,
                    provider=provider,
                    model=model,
                    book_version=book_version,
                    response=done.output.model_dump(mode="json"),
                    input_tokens=done.usage.input_tokens,
                    output_tokens=done.usage.output_tokens,
                    now=self.now(),
                    ttl=timedelta(hours=self.settings.cache_ttl_hours),
                )
                log.info(
                    "llm.call",
                    provider=provider,
                    model=model,
                    task=task,
                    # (keys containing "token" are masked by the log redactor)
                    usage_in=done.usage.input_tokens,
                    usage_out=done.usage.output_tokens,
                    cost=str(done.cost),
                    ms=done.latency_ms,
                    attempts=attempt,
                )
                return LLMCall(
                    output=done.output,
                    task=task,
                    provider=provider,
                    model=model,
                    usage=done.usage,
                    cost=done.cost,
                    latency_ms=done.latency_ms,
                    cache_hit=False,
                    attempts=attempt,
                    tried=tuple(tried),
                )
            else:
                raise LLMInvalidAnswer(
                    f"{provider}/{model} answered twice without a valid answer: {problem}",
                    provider=provider,
                    model=model,
                )
        raise LLMUnavailable("every LLM provider failed: " + "; ".join(tried), tried=tried)

    async def _from_cache(
        self,
        session: AsyncSession,
        key: str,
        task: str,
        provider: str,
        model: str,
        organization_id: str | None,
        output_type: type[T],
        validate: Validator[T] | None,
    ) -> LLMCall[T] | None:
        started = time.perf_counter()
        entry = await repository.cache_get(session, key, self.now())
        if entry is None:
            return None
        try:
            output = output_type.model_validate(entry.response)
        except ValidationError:
            return None
        if validate is not None and validate(output):
            return None
        await repository.cache_hit(session, key)
        latency_ms = round((time.perf_counter() - started) * 1000)
        await self._record(
            session,
            organization_id,
            provider,
            model,
            task,
            Usage(),
            FREE.cost(Usage()),
            latency_ms,
            outcome="cache_hit",
        )
        log.info("llm.cache_hit", provider=provider, model=model, task=task)
        return LLMCall(
            output=output,
            task=task,
            provider=provider,
            model=model,
            usage=Usage(),
            cost=Decimal(0),
            latency_ms=latency_ms,
            cache_hit=True,
        )

    async def _record(
        self,
        session: AsyncSession,
        organization_id: str | None,
        provider: str,
        model: str,
        task: str,
        usage: Usage,
        cost: Decimal,
        latency_ms: int,
        *,
        outcome: str,
    ) -> None:
        row = LLMUsage(
            organization_id=organization_id,
            provider=provider,
            model=model,
            task=task,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
            cost=cost,
            response_time_ms=latency_ms,
            cache_hit=outcome == "cache_hit",
            outcome=outcome,
            created_at=self.now(),
        )
        if self._usage_sessions is None:
            await repository.add_usage(session, row)
            return
        async with session_scope(self._usage_sessions()) as own:
            await repository.add_usage(own, row)


def _retry_prompt(prompt: str, problem: str) -> str:
    return (
        f"{prompt}\n\nYour previous answer was rejected ({problem[:200]}). Answer again with "
        "only the JSON object, using only codes from the candidate list."
    )


# ---------------------------------------------------------------- construction


def build_clients(settings: Settings, *, retry: RetryPolicy | None = None) -> dict[str, LLMWrapper]:
    """One wrapper per configured provider. Call once per process (app lifespan, worker).

    Each SDK is imported only when its provider is configured (together they take seconds
    to import, which the offline default should not pay at every start)."""
    llm = settings.llm
    policy = retry or RetryPolicy(attempts=max(llm.max_attempts, 1))
    timeout = llm.timeout_seconds
    clients: dict[str, LLMWrapper] = {}
    if is_real_secret(llm.openai_api_key) and llm.openai_api_key is not None:
        from sivug.wrappers.openai_wrapper import OpenAIWrapper

        clients["openai"] = OpenAIWrapper(
            api_key=llm.openai_api_key.get_secret_value(),
            base_url=llm.openai_base_url,
            timeout=timeout,
            retry=policy,
        )
    if is_real_secret(llm.anthropic_api_key) and llm.anthropic_api_key is not None:
        from sivug.wrappers.anthropic_wrapper import AnthropicWrapper

        clients["anthropic"] = AnthropicWrapper(
            api_key=llm.anthropic_api_key.get_secret_value(),
            base_url=llm.anthropic_base_url,
            timeout=timeout,
            retry=policy,
        )
    if is_real_secret(llm.google_gemini_api_key) and llm.google_gemini_api_key is not None:
        from sivug.wrappers.gemini_wrapper import GoogleGeminiWrapper

        clients["gemini"] = GoogleGeminiWrapper(
            api_key=llm.google_gemini_api_key.get_secret_value(),
            base_url=llm.google_gemini_base_url,
            timeout=timeout,
            retry=policy,
        )
    if is_real_secret(llm.xai_api_key) and llm.xai_api_key is not None:
        from sivug.wrappers.xai_wrapper import XAIWrapper

        clients["xai"] = XAIWrapper(
            api_key=llm.xai_api_key.get_secret_value(),
            base_url=llm.xai_base_url,
            timeout=timeout,
            retry=policy,
        )
    if llm.selfhosted_base_url:
        from sivug.wrappers.openai_wrapper import OpenAICompatibleWrapper

        key = llm.selfhosted_api_key.get_secret_value() if llm.selfhosted_api_key else "none"
        clients["selfhosted"] = OpenAICompatibleWrapper(
            api_key=key, base_url=llm.selfhosted_base_url, timeout=timeout, retry=policy
        )
    if llm.fake and settings.is_local:
        from sivug.llm.fake import local_fake

        clients["fake"] = local_fake()
    return clients


def build_llm_service(
    settings: Settings,
    *,
    usage_sessions: UsageSessions | None = None,
    retry: RetryPolicy | None = None,
) -> LLMService | None:
    """The process's LLM service, or ``None`` when no provider is configured (offline only).
    ``usage_sessions``: see :class:`LLMService`."""
    clients = build_clients(settings, retry=retry)
    if not clients:
        return None
    catalog = load_catalog(settings.llm.models_path)
    log.info("llm.configured", providers=sorted(clients))
    return LLMService(clients, catalog, settings.llm, usage_sessions=usage_sessions)


# ---------------------------------------------------------------- usage report


def parse_month(month: str) -> date:
    try:
        year, number = month.split("-")
        return date(int(year), int(number), 1)
    except ValueError:
        raise ValidationFailed(f"month: {month!r} is not YYYY-MM") from None


async def usage_report(session: AsyncSession, organization_id: str, month: str) -> UsageReport:
    """Calls, tokens and cost of one organization in one month, by provider, model and task."""
    start, end = _month_bounds(parse_month(month))
    groups = await repository.usage_groups(session, organization_id, start, end)
    rows = [UsageRow.model_validate(asdict(g)) for g in groups]
    return UsageReport(
        organization_id=organization_id,
        month=f"{start.year:04d}-{start.month:02d}",
        calls=sum(r.calls for r in rows),
        cache_hits=sum(r.cache_hits for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        total_tokens=sum(r.total_tokens for r in rows),
        cost=sum((r.cost for r in rows), Decimal(0)),
        rows=rows,
    )
