from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from sivug.cli import app as cli
from sivug.platform.config import Settings, get_settings

STAGING_SECRETS = {
    "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY": "pk_live_abcdefghijkl",
    "CLERK_SECRET_KEY": "sk_live_abcdefghijkl",
    "CLERK_WEBHOOK_SECRET": "whsec_abcdefghijklmnop",
    "CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
    "MAILGUN_API_KEY": "mg-key-1234567890",
    "MAILGUN_DOMAIN": "mail.sivug.example",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "signing-1234567890",
    "MAILGUN_FROM_EMAIL": "codes@mail.sivug.example",
    "MAILGUN_FROM_NAME": "Sivug",
    "WHATSAPP_BUSINESS_ACCOUNT_ID": "102290129340398",
    "WHATSAPP_ACCESS_TOKEN": "EAAJB3ZA1234567890",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_APP_SECRET": "appsecret1234567890",
    "WHATSAPP_VERIFY_TOKEN": "verify-1234567890",
    "PAYONEER_API_KEY": "pyn-key-1234567890",
    "PAYONEER_API_SECRET": "pyn-secret-1234567890",
    "PAYONEER_ACCOUNT_ID": "100200300",
    "DATABASE_URL": "postgresql://sivug@db.internal:5432/sivug",
}


@pytest.fixture
def staging_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIVUG_ENV", "staging")
    for name, value in STAGING_SECRETS.items():
        monkeypatch.setenv(name, value)


def test_local_mode_starts_with_no_secret_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STAGING_SECRETS:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.is_local
    assert not settings.clerk.configured
    assert settings.clerk.missing_secrets() == [
        "CLERK_SECRET_KEY",
        "CLERK_WEBHOOK_SECRET",
        "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY",
    ]


@pytest.mark.usefixtures("staging_env")
def test_staging_starts_when_every_needed_secret_is_real() -> None:
    settings = Settings(_env_file=None)
    assert settings.env == "staging"
    assert settings.mailgun.configured
    assert settings.clerk.secret_key is not None
    assert settings.clerk.secret_key.get_secret_value() == "sk_live_abcdefghijkl"


@pytest.mark.usefixtures("staging_env")
def test_staging_refuses_a_missing_secret_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILGUN_WEBHOOK_SIGNING_KEY")
    with pytest.raises(ValidationError, match="MAILGUN_WEBHOOK_SIGNING_KEY"):
        Settings(_env_file=None)


@pytest.mark.usefixtures("staging_env")
@pytest.mark.parametrize("placeholder", ["changeme", "<your key>", "your-api-key", "xxxx", ""])
def test_staging_refuses_a_placeholder(monkeypatch: pytest.MonkeyPatch, placeholder: str) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", placeholder)
    with pytest.raises(ValidationError, match="CLERK_SECRET_KEY") as info:
        Settings(_env_file=None)
    assert "MAILGUN" not in str(info.value)


@pytest.mark.usefixtures("staging_env")
def test_config_check_reports_integrations_without_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-abcdefghijklmnop")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["config", "check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "clerk      configured" in result.output
    assert "llm        configured: openai" in result.output
    for value in [*STAGING_SECRETS.values(), "sk-proj-abcdefghijklmnop"]:
        if len(value) > 6:
            assert value not in result.output


def test_config_check_in_staging_with_missing_secret_exits_with_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIVUG_ENV", "staging")
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_live_should_not_be_printed")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["config", "check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "CLERK_WEBHOOK_SECRET" in result.output
    assert "sk_live_should_not_be_printed" not in result.output
