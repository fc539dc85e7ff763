"""One error hierarchy, rendered everywhere as ``{"error": "ClassName", "detail": "..."}``.

Domains subclass :class:`AppError` with an explicit status code. Routes and services raise
these, never ``HTTPException``.
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error Sivug reports to a caller."""

    status_code: int = 500

    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code

    @property
    def name(self) -> str:
        return type(self).__name__


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413


class ValidationFailed(AppError):
    status_code = 422


class RateLimited(AppError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    status_code = 503


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL cannot be reached."""


class WebhookSignatureInvalid(Unauthorized):
    """A webhook's signature, timestamp or token did not verify."""


class IntegrationError(AppError):
    """A third party failed. ``transient`` errors (network, 429, 5xx) are retried."""

    status_code = 502

    def __init__(self, detail: str, *, transient: bool, status_code: int | None = None) -> None:
        super().__init__(detail, status_code=status_code)
        self.transient = transient
