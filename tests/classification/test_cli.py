"""`sivug classify` and `sivug precedents import` against a real (committed) database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from sivug.cli import app as cli
from sivug.platform.config import get_settings


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


def test_classify_one_description(cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli, ["classify", "--json", "cotton t-shirt for women"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["code"] == "610910"
    assert data["engine"].startswith("sivug-offline/")


def test_classify_a_list_reports_bad_rows_and_runs_the_rest(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "items.csv"
    source.write_text("id,description\n1,stainless steel kitchen knife\n2,\n3,gift\n")
    target = tmp_path / "out.jsonl"
    result = cli_env.invoke(
        cli, ["classify", "--input", str(source), "--output", str(target), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "line 3: no description" in result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["code"].startswith("8211")
    assert rows[1]["status"] == "error"
    assert rows[2]["status"] == "rejected_vague"


def test_precedents_import_counts_new_and_skipped(cli_env: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "refs.csv"
    path.write_text("Goods Description,Commodity Code\nabalone,0307810000\nx,bad\n")
    first = cli_env.invoke(cli, ["precedents", "import", "uk-references", str(path)])
    assert first.exit_code == 0, first.output
    assert "1 new, 1 rows skipped" in first.output
    again = cli_env.invoke(cli, ["precedents", "import", "uk-references", str(path)])
    assert "0 new" in again.output


def test_books_lookup_and_search(cli_env: CliRunner) -> None:
    lookup = cli_env.invoke(cli, ["books", "lookup", "HS2022", "6109.10"])
    assert lookup.exit_code == 0, lookup.output
    assert lookup.stdout.startswith("610910  Apparel and clothing accessories; knitted")
    search = cli_env.invoke(cli, ["books", "search", "HS2022", "abalone", "--limit", "3"])
    assert search.exit_code == 0, search.output
    assert search.stdout.splitlines()[0].startswith("0307")
    missing = cli_env.invoke(cli, ["books", "search", "XX-1", "abalone"])
    assert missing.exit_code == 1
