"""The `sivug` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.platform.config import Settings, get_settings, integration_report
from sivug.platform.errors import AppError
from sivug.platform.logging import configure_logging

app = typer.Typer(help="Sivug: customs tariff (HS code) classification.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)
books_app = typer.Typer(help="Customs books.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(books_app, name="books")


def _settings() -> Settings:
    try:
        settings = get_settings()
    except ValidationError as exc:
        # Only the messages: pydantic's full text would echo input values.
        for error in exc.errors():
            typer.echo(f"configuration error: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.server.log_level, json=settings.server.log_json)
    return settings


@contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The database URL, migrated and bootstrapped (embedded PostgreSQL if none is set)."""
    from sivug.runner import database, prepare

    with database(settings) as url:
        prepare(settings, url)
        yield url


@asynccontextmanager
async def _session(url: str) -> AsyncIterator[AsyncSession]:
    from sivug.platform.db import create_engine, session_factory, session_scope

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with session_scope(session_factory(engine)) as session:
            yield session
    finally:
        await engine.dispose()


@app.command()
def run(
    no_worker: Annotated[bool, typer.Option(help="Serve without the job worker.")] = False,
) -> None:
    """Start the web app and API on http://127.0.0.1:8000 with a job worker beside it."""
    from sivug.runner import run as run_service

    run_service(_settings(), with_worker=not no_worker)


@app.command()
def worker() -> None:
    """Process background jobs until interrupted."""
    from sivug.inbox.vendors import webhook_vendors
    from sivug.platform.jobs import run_worker
    from sivug.runner import database

    settings = _settings()
    with database(settings) as url:
        asyncio.run(run_worker(settings, url, webhook_vendors(settings)))


@app.command()
def migrate() -> None:
    """Apply the database migrations (and load the built-in book if missing)."""
    from sivug.runner import database, prepare

    settings = _settings()
    with database(settings) as url:
        prepare(settings, url)
    typer.echo("database is at the latest migration")


@config_app.command("check")
def config_check() -> None:
    """Say which integrations are configured. Never prints a value."""
    settings = _settings()
    typer.echo(f"environment: {settings.env}")
    for status in integration_report(settings):
        line = f"{status.name:10} {status.mode}"
        if status.missing:
            line += f"  (unset: {', '.join(status.missing)})"
        typer.echo(line)


@books_app.command("list")
def books_list() -> None:
    """List the customs books stored in the database."""
    from sivug.books.service import list_books

    settings = _settings()

    async def fetch(url: str) -> list[tuple[str, str, str, int, int]]:
        async with _session(url) as session:
            books = await list_books(session)
            return [(b.id, b.name, b.country, b.digits, b.line_count) for b in books]

    with _database(settings) as url:
        rows = asyncio.run(fetch(url))
    typer.echo(f"{'id':16} {'country':8} {'digits':6} {'lines':>7}  name")
    for book_id, name, country, digits, lines in rows:
        typer.echo(f"{book_id:16} {country:8} {digits:<6} {lines:>7}  {name}")


@books_app.command("import")
def books_import(
    format_name: Annotated[
        str, typer.Argument(metavar="FORMAT", help="eu-cn-json, usitc-hts or il-customs-xml")
    ],
    path: Annotated[Path, typer.Argument(help="The file or folder to import.")],
    version: Annotated[
        str | None, typer.Option(help="Version label (default: from the file).")
    ] = None,
) -> None:
    """Import a customs book as a new version; a bad file changes nothing."""
    from sivug.books.service import import_book

    settings = _settings()

    async def store(url: str) -> tuple[str, int]:
        async with _session(url) as session:
            book = await import_book(session, format_name, path, version=version)
            return book.id, len(book)

    with _database(settings) as url:
        try:
            book_id, lines = asyncio.run(store(url))
        except AppError as exc:
            typer.echo(f"import failed: {exc.detail}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"imported {book_id}: {lines} lines")


@books_app.command("lookup")
def books_lookup(
    book_id: Annotated[str, typer.Argument(metavar="BOOK")],
    code: Annotated[str, typer.Argument()],
) -> None:
    """Show a line of a book with its full path."""
    from sivug.books.repository import load_book
    from sivug.books.service import BookNotFound, lookup

    settings = _settings()

    async def find(url: str) -> str:
        async with _session(url) as session:
            book = await load_book(session, book_id)
            if book is None:
                raise BookNotFound(f"No customs book {book_id!r}.")
            view = lookup(book, code)
            return f"{view.line.code}  {view.path_text()}"

    with _database(settings) as url:
        try:
            typer.echo(asyncio.run(find(url)))
        except AppError as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(1) from None


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="sivug")
    sys.exit(0)
