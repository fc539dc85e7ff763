"""MailgunWrapper: sending (transactional, stored templates, batch), address validation, events.

- httpx against ``MAILGUN_API_URL`` with HTTP Basic ``api:<MAILGUN_API_KEY>``.
- Typed errors: :class:`MailgunRequestError` (4xx, the request is at fault, never retried) and
  :class:`MailgunTransientError` (network, 429, 5xx). Reads are retried with exponential
  backoff and jitter, honouring ``Retry-After``. A *send* is retried only when Mailgun cannot
  have accepted it (connection refused, 429, 502/503/504); a timeout or a 500 after the
  request went out is ambiguous and raised as ``MailgunTransientError(ambiguous=True)`` so
  the caller reconciles against the events API instead of risking a second copy.
- A client-side token bucket keeps the process under ``MAILGUN_REQUESTS_PER_HOUR`` (9,000 by
  default, below Mailgun's 10,000 per hour).
- :class:`InMemoryMailgun` stands in for local mode when Mailgun is not configured.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from sivug.platform.config import MailgunSettings, Settings
from sivug.platform.errors import IntegrationError
from sivug.platform.logging import get_logger

log = get_logger(__name__)

#: Longest ``Retry-After`` honoured inside one call; longer waits are left to the job's retry.
MAX_RETRY_AFTER_SECONDS = 30.0
ATTEMPTS = 4
_NOT_ACCEPTED_STATUSES = frozenset({429, 502, 503, 504})


class MailgunError(IntegrationError):
    """Base of Mailgun failures."""


class MailgunRequestError(MailgunError):
    """Mailgun refused the request (4xx other than 429): retrying will not help."""

    def __init__(self, detail: str, *, status_code: int) -> None:
        super().__init__(detail, transient=False, status_code=502)
        self.http_status = status_code


class MailgunAuthError(MailgunRequestError):
    """401/403: the API key is wrong or lacks access to the domain."""


class MailgunTransientError(MailgunError):
    """Network failure, 429 or 5xx. ``ambiguous``: the message may have been accepted."""

    def __init__(
        self,
        detail: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(detail, transient=True, status_code=503)
        self.http_status = http_status
        self.retry_after = retry_after
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingEmail:
    to: Sequence[str]
    subject: str
    text: str | None = None
    html: str | None = None
    sender: str | None = None  # "Name <address>"; the wrapper's default when unset
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # sent as h:<Name>
    tags: Sequence[str] = ()
    variables: Mapping[str, str] = field(default_factory=dict)  # v:<name>, echoed in events
    attachments: Sequence[Attachment] = ()
    template: str | None = None  # a template stored at Mailgun
    template_variables: Mapping[str, Any] = field(default_factory=dict)
    #: Batch sends: address -> that recipient's variables (Mailgun's recipient-variables).
    recipient_variables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    id: str  # without angle brackets, as delivery events carry it
    message: str


@dataclass(frozen=True)
class AddressValidation:
    address: str
    result: str  # deliverable | undeliverable | do_not_send | catch_all | unknown
    risk: str | None
    reasons: tuple[str, ...]

    @property
    def deliverable(self) -> bool:
        return self.result in ("deliverable", "catch_all", "unknown")


class MailgunClient(Protocol):
    """What Sivug needs from Mailgun; the real wrapper and the in-memory fake implement it."""

    async def send(self, email: OutgoingEmail) -> SendResult: ...

    async def send_template(
        self,
        template: str,
        *,
        to: Sequence[str],
        subject: str,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> SendResult: ...

    async def send_batch(
        self,
        *,
        recipients: Mapping[str, Mapping[str, Any]],
        subject: str,
        text: str,
        html: str | None = None,
    ) -> SendResult: ...

    async def validate_address(self, address: str) -> AddressValidation: ...

    async def events(
        self,
        *,
        message_id: str | None = None,
        event: str | None = None,
        recipient: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


def strip_brackets(message_id: str) -> str:
    return message_id.strip().removeprefix("<").removesuffix(">")


class HourlyLimiter:
    """A token bucket: at most ``per_hour`` acquisitions in any hour, bursts of ``burst``.

    Capacity ``burst`` plus a refill of ``(per_hour - burst) / 3600`` per second bounds any
    one-hour window at ``per_hour``. Per process; give each process its share of the quota.
    """

    def __init__(
        self,
        per_hour: int,
        *,
        burst: int = 50,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_hour < 2:
            raise ValueError("per_hour must be at least 2")
        self.capacity = float(max(1, min(burst, per_hour // 2)))
        self.rate = (per_hour - self.capacity) / 3600.0
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token, waiting for it if needed. Returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                delay = (1.0 - self._tokens) / self.rate
                log.info("mailgun.rate_limited_locally", wait_seconds=round(delay, 2))
                await self._sleep(delay)
                waited += delay
                self._refill()
                self._tokens = max(self._tokens, 1.0)  # the wait was computed for one token
            self._tokens -= 1.0
        return waited


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when: datetime = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds: float = (when - datetime.now(UTC)).total_seconds()
        return max(0.0, seconds)


class _Wait:
    """Wait ``Retry-After`` when Mailgun gave one (capped), else exponential with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = wait_random_exponential(multiplier=initial, max=maximum)

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and outcome.failed:
            exc = outcome.exception()
            if isinstance(exc, MailgunTransientError) and exc.retry_after is not None:
                return min(exc.retry_after, MAX_RETRY_AFTER_SECONDS)
        return float(self._backoff(state))


def _retryable(*, sending: bool) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if not isinstance(exc, MailgunTransientError):
            return False
        return not (sending and exc.ambiguous)

    return check


class _SendShortcuts:
    """``send_template`` and ``send_batch``, built on a class's own ``send``."""

    async def send(self, email: OutgoingEmail) -> SendResult:
        raise NotImplementedError

    async def send_template(
        self,
        template: str,
        *,
        to: Sequence[str],
        subject: str,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> SendResult:
        return await self.send(
            OutgoingEmail(
                to=to,
                subject=subject,
                template=template,
                template_variables=variables,
                headers=headers or {},
            )
        )

    async def send_batch(
        self,
        *,
        recipients: Mapping[str, Mapping[str, Any]],
        subject: str,
        text: str,
        html: str | None = None,
    ) -> SendResult:
        """One API call for up to 1,000 recipients; ``%recipient.name%`` fills per recipient."""
        if len(recipients) > 1000:
            raise MailgunRequestError("a batch holds at most 1,000 recipients", status_code=400)
        return await self.send(
            OutgoingEmail(
                to=list(recipients),
                subject=subject,
                text=text,
                html=html,
                recipient_variables=recipients,
            )
        )


class MailgunWrapper(_SendShortcuts):
    """The real client. Create once per process; close with :meth:`aclose`."""

    def __init__(
        self,
        *,
        api_key: str,
        domain: str,
        api_url: str,
        from_address: str,
        requests_per_hour: int = 9000,
        timeout: float = 20.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        attempts: int = ATTEMPTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.domain = domain
        self.from_address = from_address
        self.limiter = HourlyLimiter(requests_per_hour)
        self._attempts = attempts
        self._wait = _Wait(backoff_initial, backoff_max)
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            auth=("api", api_key),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"User-Agent": "sivug-mailgun/1"},
        )

    @classmethod
    def from_settings(cls, settings: MailgunSettings) -> MailgunWrapper:
        if not settings.configured:
            raise MailgunRequestError("Mailgun is not configured", status_code=401)
        assert settings.api_key is not None
        assert settings.domain is not None
        assert settings.from_email is not None
        name = settings.from_name.get_secret_value() if settings.from_name else "Sivug"
        return cls(
            api_key=settings.api_key.get_secret_value(),
            domain=settings.domain.get_secret_value(),
            api_url=settings.api_url,
            from_address=f"{name} <{settings.from_email.get_secret_value()}>",
            requests_per_hour=settings.requests_per_hour,
            timeout=settings.timeout_seconds,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- HTTP ---------------------------------------------------------------------------

    async def _once(
        self,
        method: str,
        path: str,
        *,
        sending: bool,
        params: Mapping[str, Any] | None = None,
        data: Sequence[tuple[str, str]] | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> dict[str, Any]:
        await self.limiter.acquire()
        try:
            form: dict[str, list[str]] = {}
            for name, value in data or ():
                form.setdefault(name, []).append(value)
            response = await self._http.request(
                method, path, params=params, data=form or None, files=files or None
            )
        except httpx.ConnectError as exc:  # the request never reached Mailgun
            raise MailgunTransientError(f"Mailgun unreachable: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # timeout or dropped connection: maybe accepted
            raise MailgunTransientError(
                f"Mailgun request failed: {type(exc).__name__}", ambiguous=sending
            ) from exc
        status = response.status_code
        if status < 300:
            try:
                body: dict[str, Any] = response.json()
            except ValueError as exc:
                raise MailgunTransientError(
                    "Mailgun answered with a body that is not JSON", http_status=status
                ) from exc
            return body
        detail = _error_detail(response)
        if status == 429 or status >= 500:
            raise MailgunTransientError(
                f"Mailgun {status}: {detail}",
                http_status=status,
                retry_after=_retry_after_seconds(response),
                ambiguous=sending and status not in _NOT_ACCEPTED_STATUSES,
            )
        if status in (401, 403):
            raise MailgunAuthError(f"Mailgun {status}: {detail}", status_code=status)
        raise MailgunRequestError(f"Mailgun {status}: {detail}", status_code=status)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        sending: bool = False,
        params: Mapping[str, Any] | None = None,
        data: Sequence[tuple[str, str]] | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> dict[str, Any]:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable(sending=sending)),
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            reraise=True,
            before_sleep=_log_retry,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(
                    method, path, sending=sending, params=params, data=data, files=files
                )
        raise AssertionError("unreachable")  # pragma: no cover

    # -- sending ------------------------------------------------------------------------

    def _form(self, email: OutgoingEmail) -> list[tuple[str, str]]:
        data: list[tuple[str, str]] = [("from", email.sender or self.from_address)]
        data += [("to", address) for address in email.to]
        data.append(("subject", email.subject))
        if email.text is not None:
            data.append(("text", email.text))
        if email.html is not None:
            data.append(("html", email.html))
        if email.reply_to:
            data.append(("h:Reply-To", email.reply_to))
        data += [(f"h:{name}", value) for name, value in email.headers.items()]
        data += [("o:tag", tag) for tag in email.tags]
        data += [(f"v:{name}", value) for name, value in email.variables.items()]
        if email.template:
            data.append(("template", email.template))
            data.append(("t:variables", json.dumps(dict(email.template_variables))))
        if email.recipient_variables:
            variables = {k: dict(v) for k, v in email.recipient_variables.items()}
            data.append(("recipient-variables", json.dumps(variables)))
        return data

    async def send(self, email: OutgoingEmail) -> SendResult:
        if not email.to:
            raise MailgunRequestError("a message needs at least one recipient", status_code=400)
        files = [("attachment", (a.filename, a.content, a.content_type)) for a in email.attachments]
        body = await self._call(
            "POST",
            f"/v3/{self.domain}/messages",
            sending=True,
            data=self._form(email),
            files=files,
        )
        result = SendResult(
            id=strip_brackets(str(body.get("id", ""))), message=body.get("message", "")
        )
        log.info("mailgun.sent", message_id=result.id, recipients=len(email.to))
        return result

    # -- validation and events ----------------------------------------------------------

    async def validate_address(self, address: str) -> AddressValidation:
        body = await self._call("GET", "/v4/address/validate", params={"address": address})
        return AddressValidation(
            address=str(body.get("address", address)),
            result=str(body.get("result", "unknown")),
            risk=body.get("risk"),
            reasons=tuple(str(r) for r in body.get("reason", []) or []),
        )

    async def events(
        self,
        *,
        message_id: str | None = None,
        event: str | None = None,
        recipient: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if message_id:
            params["message-id"] = strip_brackets(message_id)
        if event:
            params["event"] = event
        if recipient:
            params["recipient"] = recipient
        body = await self._call("GET", f"/v3/{self.domain}/events", params=params)
        items = body.get("items", [])
        return [item for item in items if isinstance(item, dict)]


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:200]
    return str(body)[:200]


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "mailgun.retry",
        attempt=state.attempt_number,
        http_status=getattr(exc, "http_status", None),
        error=type(exc).__name__ if exc else None,
    )


@dataclass
class FakeSentMessage:
    id: str
    email: OutgoingEmail
    sent_at: datetime


class InMemoryMailgun(_SendShortcuts):
    """Local mode without Mailgun credentials: accepts everything, remembers it in memory."""

    def __init__(self, domain: str = "sivug.local") -> None:
        self.domain = domain
        self.sent: list[FakeSentMessage] = []
        self._ids = itertools.count(1)

    async def send(self, email: OutgoingEmail) -> SendResult:
        custom = email.headers.get("Message-Id")
        message_id = strip_brackets(custom) if custom else f"{uuid.uuid4().hex}@{self.domain}"
        self.sent.append(FakeSentMessage(message_id, email, datetime.now(UTC)))
        log.info("mailgun.fake_sent", message_id=message_id)
        return SendResult(id=message_id, message="Queued. Thank you.")

    async def validate_address(self, address: str) -> AddressValidation:
        local, _, domain = address.partition("@")
        ok = bool(local) and "." in domain
        return AddressValidation(
            address=address,
            result="deliverable" if ok else "undeliverable",
            risk="low" if ok else "high",
            reasons=() if ok else ("malformed address",),
        )

    async def events(
        self,
        *,
        message_id: str | None = None,
        event: str | None = None,
        recipient: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for sent in self.sent:
            if message_id and sent.id != strip_brackets(message_id):
                continue
            for address in sent.email.to:
                if recipient and address != recipient:
                    continue
                if event and event != "accepted":
                    continue
                out.append(
                    {
                        "event": "accepted",
                        "id": f"{sent.id}-{address}",
                        "timestamp": sent.sent_at.timestamp(),
                        "recipient": address,
                        "message": {"headers": {"message-id": sent.id}},
                    }
                )
        return out[:limit]

    async def aclose(self) -> None:
        return None


def mailgun_client(settings: Settings) -> MailgunClient:
    """The real wrapper when Mailgun is configured; the in-memory fake in local mode."""
    if settings.mailgun.configured:
        return MailgunWrapper.from_settings(settings.mailgun)
    if settings.is_local:
        return InMemoryMailgun()
    raise MailgunRequestError("Mailgun is not configured", status_code=401)
