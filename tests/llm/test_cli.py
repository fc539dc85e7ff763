"""`sivug llm usage` and `sivug llm extract` against a real (committed) database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fakes.llm_server import FakeLLMServer
from tests.llm.test_extraction import PAGES, page_reply
from typer.testing import CliRunner

from sivug.accounts.service import DEMO_ORGANIZATION_ID
from sivug.cli import app as cli
from sivug.platform.config import get_settings
from sivug.platform.db import libpq_url


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, committed_db: AsyncEngine, tmp_path: Path
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SIVUG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIVUG_LOG_LEVEL", "warning")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_usage_report_for_a_month(cli_env: CliRunner, database_url: str) -> None:
    result = cli_env.invoke(cli, ["migrate"])  # the demo organization exists after this
    assert result.exit_code == 0, result.output
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO llm_usage (organization_id, provider, model, task, input_tokens,"
            " output_tokens, total_tokens, cost, response_time_ms, cache_hit, outcome,"
            " created_at) VALUES (%s, 'anthropic', 'claude-haiku-4-5', 'classify', 1000, 100,"
            " 1100, %s, 800, false, 'ok', %s)",
            (DEMO_ORGANIZATION_ID, Decimal("0.0015"), datetime(2026, 5, 3, tzinfo=UTC)),
        )
    result = cli_env.invoke(
        cli, ["llm", "usage", "--org", DEMO_ORGANIZATION_ID, "--month", "2026-05", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["calls"], report["total_tokens"], report["cost"]) == (1, 1100, "0.001500")
    text = cli_env.invoke(
        cli, ["llm", "usage", "--org", DEMO_ORGANIZATION_ID, "--month", "2026-05"]
    )
    assert "anthropic/claude-haiku-4-5 classify: 1 calls" in text.stdout
    bad = cli_env.invoke(cli, ["llm", "usage", "--org", "x", "--month", "May"])
    assert bad.exit_code == 1


def test_extract_a_book_from_text_now(
    cli_env: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    fake_llm: FakeLLMServer,
    tmp_path: Path,
) -> None:
    fake_llm.reset()
    fake_llm.responder = page_reply
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url("openai"))
    source = tmp_path / "tariff.txt"
    source.write_text("\f".join(PAGES))
    result = cli_env.invoke(
        cli,
        [
            "llm",
            "extract",
            str(source),
            "--book-id",
            "IL-CLI-2026",
            "--name",
            "Israel",
            "--country",
            "IL",
            "--version",
            "2026",
            "--digits",
            "10",
            "--now",
        ],
    )
    assert result.exit_code == 0, result.output
    assert ": done, 3 pages" in result.stdout
    listed = cli_env.invoke(cli, ["books", "list"])
    assert "IL-CLI-2026" in listed.stdout
    fake_llm.reset()
