"""Settings, nested per concern, read from the environment (and ``.env`` in local mode).

Every secret the seed document names is read under exactly that name, as a ``SecretStr``.
In ``local`` mode nothing is required: each integration without credentials falls back to an
in-memory fake. ``staging`` refuses to start while a secret it needs is missing or a
placeholder, and names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ENV_FILE = ".env"


def _config() -> SettingsConfigDict:
    return SettingsConfigDict(
        env_file=_ENV_FILE, extra="ignore", populate_by_name=True, frozen=True
    )


class _Concern(BaseSettings):
    """Base for one concern's settings: flat environment names, given by each field's alias."""

    model_config = _config()

    #: Secrets this integration cannot work without (field names).
    required_secrets: ClassVar[tuple[str, ...]] = ()

    def secret_fields(self) -> dict[str, SecretStr | None]:
        """Secret settings by their environment name."""
        out: dict[str, SecretStr | None] = {}
        for name, info in type(self).model_fields.items():
            if info.annotation in (SecretStr, SecretStr | None):
                alias = info.validation_alias
                env_name = alias if isinstance(alias, str) else name.upper()
                out[env_name] = getattr(self, name)
        return out

    def missing_secrets(self) -> list[str]:
        """Required secrets that are unset or placeholders, by environment name."""
        missing = []
        for name in self.required_secrets:
            info = type(self).model_fields[name]
            alias = info.validation_alias
            env_name = alias if isinstance(alias, str) else name.upper()
            if not is_real_secret(getattr(self, name)):
                missing.append(env_name)
        return missing

    @property
    def configured(self) -> bool:
        """True when every required secret has a real value (the integration is live)."""
        return bool(self.required_secrets) and not self.missing_secrets()


_PLACEHOLDER = re.compile(
    r"^\s*$|changeme|change[-_ ]me|placeholder|replace[-_ ]?me|your[-_ ]|^<.*>$|^x{3,}$|^todo$|"
    r"^dummy|^example|^fake$|^none$|^null$|^secret$|^\.\.\.$",
    re.IGNORECASE,
)


def is_real_secret(value: SecretStr | None) -> bool:
    """A secret counts when it is set and does not look like a template placeholder."""
    return value is not None and not _PLACEHOLDER.search(value.get_secret_value())


def _secret(env_name: str) -> SecretStr | None:
    secret: SecretStr | None = Field(default=None, validation_alias=env_name)
    return secret


def _url(env_name: str, default: str) -> str:
    url: str = Field(default=default, validation_alias=env_name)
    return url


class DatabaseSettings(_Concern):
    url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    pool_size: int = Field(default=10, validation_alias="DATABASE_POOL_SIZE")
    max_overflow: int = Field(default=10, validation_alias="DATABASE_MAX_OVERFLOW")


class ClerkSettings(_Concern):
    required_secrets: ClassVar[tuple[str, ...]] = (
        "secret_key",
        "webhook_secret",
        "publishable_key",
    )
    publishable_key: SecretStr | None = _secret("NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY")
    secret_key: SecretStr | None = _secret("CLERK_SECRET_KEY")
    webhook_secret: SecretStr | None = _secret("CLERK_WEBHOOK_SECRET")
    api_url: str = _url("CLERK_API_URL", "https://api.clerk.com/v1")
    jwt_key: str | None = Field(default=None, validation_alias="CLERK_JWT_KEY")
    authorized_parties: str = Field(default="", validation_alias="CLERK_AUTHORIZED_PARTIES")


class MailgunSettings(_Concern):
    required_secrets: ClassVar[tuple[str, ...]] = (
        "api_key",
        "domain",
        "webhook_signing_key",
        "from_email",
        "from_name",
    )
    api_key: SecretStr | None = _secret("MAILGUN_API_KEY")
    domain: SecretStr | None = _secret("MAILGUN_DOMAIN")
    webhook_signing_key: SecretStr | None = _secret("MAILGUN_WEBHOOK_SIGNING_KEY")
    from_email: SecretStr | None = _secret("MAILGUN_FROM_EMAIL")
    from_name: SecretStr | None = _secret("MAILGUN_FROM_NAME")
    api_url: str = _url("MAILGUN_API_URL", "https://api.mailgun.net")
    #: Client-side ceiling on API calls, kept under Mailgun's 10,000 requests per hour.
    requests_per_hour: int = Field(default=9000, validation_alias="MAILGUN_REQUESTS_PER_HOUR")
    #: A send interrupted mid-flight is checked against Mailgun's events only after this long
    #: (events take a moment to appear), so it is never sent twice.
    reconcile_after_seconds: float = Field(
        default=60.0, validation_alias="MAILGUN_RECONCILE_AFTER_SECONDS"
    )
    #: HTTP timeout of one API call, seconds.
    timeout_seconds: float = Field(default=20.0, validation_alias="MAILGUN_TIMEOUT_SECONDS")


class WhatsAppSettings(_Concern):
    required_secrets: ClassVar[tuple[str, ...]] = (
        "business_account_id",
        "access_token",
        "phone_number_id",
        "app_secret",
        "verify_token",
    )
    business_account_id: SecretStr | None = _secret("WHATSAPP_BUSINESS_ACCOUNT_ID")
    access_token: SecretStr | None = _secret("WHATSAPP_ACCESS_TOKEN")
    phone_number_id: SecretStr | None = _secret("WHATSAPP_PHONE_NUMBER_ID")
    app_secret: SecretStr | None = _secret("WHATSAPP_APP_SECRET")
    verify_token: SecretStr | None = _secret("WHATSAPP_VERIFY_TOKEN")
    webhook_secret: SecretStr | None = _secret("WHATSAPP_WEBHOOK_SECRET")  # optional
    api_url: str = _url("WHATSAPP_API_URL", "https://graph.facebook.com")
    api_version: str = Field(default="v26.0", validation_alias="WHATSAPP_API_VERSION")


class PayoneerSettings(_Concern):
    required_secrets: ClassVar[tuple[str, ...]] = ("api_key", "api_secret", "account_id")
    api_key: SecretStr | None = _secret("PAYONEER_API_KEY")
    api_secret: SecretStr | None = _secret("PAYONEER_API_SECRET")
    account_id: SecretStr | None = _secret("PAYONEER_ACCOUNT_ID")
    webhook_secret: SecretStr | None = _secret("PAYONEER_WEBHOOK_SECRET")  # "if available"
    api_url: str = _url("PAYONEER_API_URL", "https://api.payoneer.com/v4")
    auth_url: str = _url("PAYONEER_AUTH_URL", "https://login.payoneer.com/api/v2/oauth2/token")


class LLMSettings(_Concern):
    """LLM providers. None is required: with no key the offline engine answers."""

    openai_api_key: SecretStr | None = _secret("OPENAI_API_KEY")
    anthropic_api_key: SecretStr | None = _secret("ANTHROPIC_API_KEY")
    google_gemini_api_key: SecretStr | None = _secret("GOOGLE_GEMINI_API_KEY")
    xai_api_key: SecretStr | None = _secret("XAI_API_KEY")
    openai_base_url: str = _url("OPENAI_BASE_URL", "https://api.openai.com/v1")
    anthropic_base_url: str = _url("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
    google_gemini_base_url: str = _url(
        "GOOGLE_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"
    )
    xai_base_url: str = _url("XAI_BASE_URL", "https://api.x.ai/v1")
    # A self-hosted OpenAI-compatible model (privacy-minded customers): on when the URL is set.
    selfhosted_base_url: str | None = Field(
        default=None, validation_alias="SIVUG_LLM_SELFHOSTED_BASE_URL"
    )
    selfhosted_api_key: SecretStr | None = _secret("SIVUG_LLM_SELFHOSTED_API_KEY")
    # Model per task, provider order and the dated price table (default: the packaged file).
    models_path: Path | None = Field(default=None, validation_alias="SIVUG_LLM_MODELS")
    timeout_seconds: float = Field(default=30.0, validation_alias="SIVUG_LLM_TIMEOUT")
    max_attempts: int = Field(default=3, validation_alias="SIVUG_LLM_MAX_ATTEMPTS")
    monthly_spend_limit_usd: Decimal = Field(
        default=Decimal("100"), validation_alias="SIVUG_LLM_MONTHLY_SPEND_LIMIT"
    )
    requests_per_minute: int = Field(default=60, validation_alias="SIVUG_LLM_REQUESTS_PER_MINUTE")
    cache_ttl_hours: float = Field(default=720.0, validation_alias="SIVUG_LLM_CACHE_TTL_HOURS")
    breaker_failures: int = Field(default=5, validation_alias="SIVUG_LLM_BREAKER_FAILURES")
    breaker_cooldown_seconds: float = Field(
        default=30.0, validation_alias="SIVUG_LLM_BREAKER_COOLDOWN"
    )
    # Local mode only: an in-memory LLM that answers without a network (development).
    fake: bool = Field(default=False, validation_alias="SIVUG_LLM_FAKE")

    def configured_providers(self) -> list[str]:
        keys = {
            "openai": self.openai_api_key,
            "anthropic": self.anthropic_api_key,
            "gemini": self.google_gemini_api_key,
            "xai": self.xai_api_key,
        }
        found = [name for name, key in keys.items() if is_real_secret(key)]
        if self.selfhosted_base_url:
            found.append("selfhosted")
        return found


class JobSettings(_Concern):
    concurrency: int = Field(default=4, validation_alias="SIVUG_WORKER_CONCURRENCY")
    heartbeat_seconds: float = Field(default=10.0, validation_alias="SIVUG_WORKER_HEARTBEAT")
    stalled_after_seconds: float = Field(
        default=60.0, validation_alias="SIVUG_WORKER_STALLED_AFTER"
    )


class ServerSettings(_Concern):
    host: str = Field(default="127.0.0.1", validation_alias="SIVUG_HOST")
    #: Web server processes (`sivug run`). One starts fastest; on a dedicated host use one per
    #: core (each builds its own engines, ~150 MB per loaded book).
    web_workers: int = Field(default=1, ge=1, le=32, validation_alias="SIVUG_WEB_WORKERS")
    #: Signs the local development sign-in cookie (local mode only; random when unset).
    session_secret: SecretStr | None = _secret("SIVUG_SESSION_SECRET")
    #: Requests per minute per API key (or signed-in user), and per organization.
    rate_limit_per_key: int = Field(default=600, validation_alias="SIVUG_RATE_LIMIT_PER_KEY")
    rate_limit_per_org: int = Field(default=1200, validation_alias="SIVUG_RATE_LIMIT_PER_ORG")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, validation_alias="SIVUG_MAX_UPLOAD")
    port: int = Field(default=8000, validation_alias="SIVUG_PORT")
    log_level: str = Field(default="info", validation_alias="SIVUG_LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="SIVUG_LOG_JSON")


class Settings(BaseSettings):
    """All of Sivug's settings. Build one per process (``get_settings()``) or per test."""

    model_config = _config()

    env: Literal["local", "staging"] = Field(default="local", validation_alias="SIVUG_ENV")
    data_dir: Path = Field(
        default=Path("var"), validation_alias=AliasChoices("SIVUG_DATA_DIR", "data_dir")
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    clerk: ClerkSettings = Field(default_factory=ClerkSettings)
    mailgun: MailgunSettings = Field(default_factory=MailgunSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    payoneer: PayoneerSettings = Field(default_factory=PayoneerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    def integrations(self) -> dict[str, _Concern]:
        return {
            "clerk": self.clerk,
            "mailgun": self.mailgun,
            "whatsapp": self.whatsapp,
            "payoneer": self.payoneer,
        }

    @model_validator(mode="after")
    def _staging_needs_real_secrets(self) -> Settings:
        if self.env != "staging":
            return self
        missing = [
            name for concern in self.integrations().values() for name in concern.missing_secrets()
        ]
        if self.database.url is None:
            missing.append("DATABASE_URL")
        if not self.clerk.jwt_key:
            missing.append("CLERK_JWT_KEY")
        for provider_key in self.llm.secret_fields().items():
            name, value = provider_key
            if value is not None and not is_real_secret(value):
                missing.append(name)
        if missing:
            raise ValueError(
                "staging cannot start: missing or placeholder settings: " + ", ".join(missing)
            )
        return self


@dataclass(frozen=True)
class IntegrationStatus:
    name: str
    mode: str  # "configured" | "fake (in-memory)" | "missing"
    missing: tuple[str, ...]


def integration_report(settings: Settings) -> list[IntegrationStatus]:
    """What `sivug config check` prints: which integrations are live, never a value."""
    out = []
    for name, concern in settings.integrations().items():
        missing = tuple(concern.missing_secrets())
        if not missing:
            mode = "configured"
        elif settings.is_local:
            mode = "fake (in-memory)"
        else:
            mode = "missing"
        out.append(IntegrationStatus(name, mode, missing))
    providers = settings.llm.configured_providers()
    out.append(
        IntegrationStatus(
            "llm",
            "configured: " + ", ".join(providers) if providers else "offline engine only",
            (),
        )
    )
    db_mode = "configured (DATABASE_URL)" if settings.database.url else "embedded PostgreSQL"
    out.append(IntegrationStatus("database", db_mode, ()))
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
