"""ClerkWrapper: Clerk session tokens verified locally, and the Clerk backend API.

Session tokens are RS256 JWTs verified with the instance's PEM public key (``CLERK_JWT_KEY``):
``exp`` and ``nbf`` (5 s leeway) and ``azp`` (against ``CLERK_AUTHORIZED_PARTIES``) are
checked. The organization comes from the v2 ``o`` claim (``o.id``, ``o.rol``, ``o.slg``) or
from the v1 flat claims (``org_id``, ``org_role`` like ``org:admin``). A user whose session is
``sts: pending`` (no organization chosen yet) has no organization.

The backend API goes through the official SDK with an explicit retry policy (its default
retries 5xx for an hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from clerk_backend_api import Clerk, models
from clerk_backend_api.utils.retries import BackoffStrategy, RetryConfig
from pydantic import ValidationError

from sivug.platform.config import ClerkSettings, is_real_secret
from sivug.platform.errors import IntegrationError, NotFound, Unauthorized

LEEWAY_SECONDS = 5
#: 0.2 s, 0.4 s, 0.8 s ... capped at 2 s, giving up after 10 s in all; on connection errors,
#: 429 (the SDK honours its Retry-After) and 5xx. Clerk's SDK default retries 5xx for an hour.
RETRY = RetryConfig(
    "backoff",
    BackoffStrategy(initial_interval=200, max_interval=2000, exponent=2.0, max_elapsed_time=10_000),
    retry_connection_errors=True,
    status_codes_override=["429", "5XX"],
)


class InvalidSessionToken(Unauthorized):
    pass


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    session_id: str | None
    organization_id: str | None
    organization_role: str | None  # without the "org:" prefix: "admin", "member", ...
    organization_slug: str | None
    pending: bool


@dataclass(frozen=True)
class ClerkUser:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None


@dataclass(frozen=True)
class ClerkOrganization:
    id: str
    name: str
    slug: str | None


def _role(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.removeprefix("org:")


def claims_from_payload(payload: dict[str, Any]) -> SessionClaims:
    """Read Clerk's v2 (nested ``o``) or v1 (flat ``org_*``) organization claims."""
    organization = payload.get("o")
    if isinstance(organization, dict):
        org_id, role, slug = (
            organization.get("id"),
            organization.get("rol"),
            organization.get("slg"),
        )
    else:
        org_id, role, slug = payload.get("org_id"), payload.get("org_role"), payload.get("org_slug")
    pending = payload.get("sts") == "pending"
    return SessionClaims(
        user_id=str(payload["sub"]),
        session_id=payload.get("sid"),
        organization_id=None if pending or not org_id else str(org_id),
        organization_role=None if pending else _role(role),
        organization_slug=slug if isinstance(slug, str) else None,
        pending=pending or not org_id,
    )


class ClerkWrapper:
    def __init__(self, settings: ClerkSettings) -> None:
        self._public_key = settings.jwt_key.replace("\\n", "\n") if settings.jwt_key else None
        self._parties = {
            party.strip().rstrip("/")
            for party in settings.authorized_parties.split(",")
            if party.strip()
        }
        secret = settings.secret_key
        self._sdk: Clerk | None = None
        if is_real_secret(secret) and secret is not None:
            self._sdk = Clerk(
                bearer_auth=secret.get_secret_value(),
                server_url=settings.api_url,
                retry_config=RETRY,
                timeout_ms=10_000,
            )

    @property
    def can_verify_tokens(self) -> bool:
        return self._public_key is not None

    def verify_session_token(self, token: str) -> SessionClaims:
        if self._public_key is None:
            raise InvalidSessionToken("Session tokens are not accepted here (no CLERK_JWT_KEY).")
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp", "iat"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidSessionToken("The session token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise InvalidSessionToken("The session token is not valid yet.") from None
        except jwt.PyJWTError:
            raise InvalidSessionToken("The session token is invalid.") from None
        azp = payload.get("azp")
        if self._parties and (not isinstance(azp, str) or azp.rstrip("/") not in self._parties):
            raise InvalidSessionToken("The session token was issued for another origin.")
        return claims_from_payload(payload)

    def _client(self) -> Clerk:
        if self._sdk is None:
            raise IntegrationError("Clerk is not configured (CLERK_SECRET_KEY).", transient=False)
        return self._sdk

    async def get_user(self, user_id: str) -> ClerkUser:
        try:
            user = await self._client().users.get_async(user_id=user_id)
        except (models.ClerkErrors, models.SDKError) as exc:
            raise _error(exc, f"user {user_id}") from None
        except ValidationError:
            raise IntegrationError(
                f"Clerk answered with an unexpected shape for user {user_id}.", transient=False
            ) from None
        email = None
        for address in user.email_addresses or []:
            if address.id == user.primary_email_address_id or email is None:
                email = address.email_address
        return ClerkUser(
            id=user.id or user_id,
            email=email,
            first_name=user.first_name if isinstance(user.first_name, str) else None,
            last_name=user.last_name if isinstance(user.last_name, str) else None,
        )

    async def get_organization(self, organization_id: str) -> ClerkOrganization:
        try:
            org = await self._client().organizations.get_async(organization_id=organization_id)
        except (models.ClerkErrors, models.SDKError) as exc:
            raise _error(exc, f"organization {organization_id}") from None
        except ValidationError:
            raise IntegrationError(
                f"Clerk answered with an unexpected shape for {organization_id}.", transient=False
            ) from None
        return ClerkOrganization(
            id=org.id, name=org.name, slug=org.slug if isinstance(org.slug, str) else None
        )


def _error(exc: Exception, what: str) -> Exception:
    raw = getattr(getattr(exc, "raw_response", None), "status_code", None)
    if raw is None:
        raw = getattr(exc, "status_code", None)
    status = int(raw) if isinstance(raw, int) else 0
    if status == 404:
        return NotFound(f"Clerk has no {what}.")
    transient = status in (0, 408, 429) or status >= 500
    return IntegrationError(f"Clerk failed on {what} (HTTP {status}).", transient=transient)
