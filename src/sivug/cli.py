"""The `sivug` command line."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.platform.config import Settings, get_settings, integration_report
from sivug.platform.errors import AppError
from sivug.platform.logging import configure_logging

if TYPE_CHECKING:
    from sivug.classification.lists import ListItem
    from sivug.engine import Precedent
    from sivug.engine.book import Book

app = typer.Typer(help="Sivug: customs tariff (HS code) classification.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)
books_app = typer.Typer(help="Customs books.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(books_app, name="books")
precedents_app = typer.Typer(
    help="Precedents: rulings and confirmed classifications.", no_args_is_help=True
)
app.add_typer(precedents_app, name="precedents")


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
    from sivug.platform.memory import tune_collector
    from sivug.runner import database

    settings = _settings()
    tune_collector()
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


@books_app.command("search")
def books_search(
    book_id: Annotated[str, typer.Argument(metavar="BOOK")],
    query: Annotated[str, typer.Argument(help="Words to look for (English or Hebrew).")],
    limit: Annotated[int, typer.Option(help="How many lines to show.")] = 10,
) -> None:
    """Lines of a book matching some words, best first, with their path."""
    from sivug.books.repository import load_book
    from sivug.books.service import BookNotFound
    from sivug.engine import Engine

    settings = _settings()

    async def find(url: str) -> list[str]:
        async with _session(url) as session:
            book = await load_book(session, book_id)
            if book is None:
                raise BookNotFound(f"No customs book {book_id!r}; see `sivug books list`.")
        return [f"{hit.code:12} {hit.path_text}" for hit in Engine(book).search(query, limit=limit)]

    with _database(settings) as url:
        try:
            lines = asyncio.run(find(url))
        except AppError as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(1) from None
    typer.echo("\n".join(lines) if lines else "no matching lines")


@precedents_app.command("import")
def precedents_import(
    format_name: Annotated[str, typer.Argument(metavar="FORMAT", help="uk-references or uk-atar")],
    path: Annotated[Path, typer.Argument(help="The file to import.")],
) -> None:
    """Load public precedents (official references, advance rulings) into the database."""
    from sivug.classification.precedent_files import read_precedents
    from sivug.classification.service import import_public_precedents

    settings = _settings()
    try:
        loaded = read_precedents(format_name, path)
    except AppError as exc:
        typer.echo(f"import failed: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    for problem in loaded.skipped[:10]:
        typer.echo(f"skipped {problem}", err=True)
    if len(loaded.skipped) > 10:
        typer.echo(f"... and {len(loaded.skipped) - 10} more rows skipped", err=True)

    async def store(url: str) -> int:
        async with _session(url) as session:
            return await import_public_precedents(session, loaded.records)

    with _database(settings) as url:
        added = asyncio.run(store(url))
    typer.echo(
        f"read {len(loaded.records)} precedents from {path.name}; {added} new, "
        f"{len(loaded.skipped)} rows skipped"
    )


@app.command()
def classify(
    description: Annotated[str | None, typer.Argument(help="One description to classify.")] = None,
    book: Annotated[str, typer.Option(help="Customs book id.")] = "HS2022",
    input_path: Annotated[
        Path | None, typer.Option("--input", help="A .csv, .xlsx or .jsonl list to classify.")
    ] = None,
    output_path: Annotated[
        Path | None, typer.Option("--output", help="Where to write the results (same formats).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes for a list.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Classify one description, or a list with --input/--output."""
    from sivug.classification.lists import ListFileInvalid, read_items, write_results

    if (description is None) == (input_path is None):
        typer.echo("give either a description or --input FILE (with --output FILE)", err=True)
        raise typer.Exit(2)
    if input_path is not None and output_path is None:
        typer.echo("--input needs --output FILE", err=True)
        raise typer.Exit(2)
    settings = _settings()
    items = []
    if input_path is not None:
        try:
            items = read_items(input_path)
        except (ListFileInvalid, OSError) as exc:
            typer.echo(f"cannot read {input_path}: {getattr(exc, 'detail', exc)}", err=True)
            raise typer.Exit(1) from None
    with _database(settings) as url:
        try:
            loaded, precedents = asyncio.run(_book_and_precedents(url, book))
        except AppError as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(1) from None
    if description is not None:
        from sivug.engine import Engine

        engine = Engine(loaded)
        engine.add_precedents(precedents)
        result = engine.classify(description).to_dict()
        typer.echo(
            json.dumps(result, ensure_ascii=False, indent=2) if as_json else _summary(result)
        )
        return
    assert output_path is not None
    for item in items:
        if item.error:
            typer.echo(item.error, err=True)
    rows = _classify_list(loaded, precedents, items, workers)
    write_results(output_path, rows)
    counts = Counter(row["status"] for row in rows)
    typer.echo(
        f"{len(rows)} items -> {output_path}: "
        + ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    )


async def _book_and_precedents(url: str, book_id: str) -> tuple[Book, list[Precedent]]:
    from sivug.books.repository import load_book
    from sivug.books.service import BookNotFound
    from sivug.classification.engines import as_engine_precedent
    from sivug.classification.repository import precedents_after

    async with _session(url) as session:
        book = await load_book(session, book_id)
        if book is None:
            raise BookNotFound(f"No customs book {book_id!r}; see `sivug books list`.")
        rows = await precedents_after(session, 0)
        return book, [as_engine_precedent(row) for row in rows if row.organization_id is None]


def _classify_list(
    book: Book, precedents: list[Precedent], items: list[ListItem], workers: int
) -> list[dict[str, Any]]:
    from rich.progress import Progress

    from sivug.classification.batch import classify_items

    with Progress(transient=True) as progress:
        task = progress.add_task("classifying", total=len(items))
        return classify_items(
            book,
            precedents,
            items,
            workers=workers,
            on_progress=lambda n: progress.advance(task, n),
        )


def _summary(result: dict[str, Any]) -> str:
    lines = [f"status:     {result['status']}"]
    if result["code"]:
        lines.append(f"code:       {result['code']}  ({result['confidence']:.0%})")
        lines.append(f"            {result['description']}")
    if result["message"]:
        lines.append(f"message:    {result['message']}")
    for alternative in result["alternatives"]:
        lines.append(f"  or        {alternative['code']}  ({alternative['confidence']:.0%})")
    for question in result["questions"]:
        options = " / ".join(option["label"] for option in question["options"])
        lines.append(f"question:   {question['text']}  [{options}]")
    lines.append(f"engine:     {result['engine']}  book: {result['book']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- LLM tier

llm_app = typer.Typer(help="The LLM tier: usage and cost, book extraction.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")


@llm_app.command("usage")
def llm_usage(
    org: Annotated[str, typer.Option("--org", help="Organization id.")],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """LLM calls, tokens and cost of one organization in one month."""
    from sivug.llm.service import usage_report

    settings = _settings()

    async def fetch(url: str) -> str:
        async with _session(url) as session:
            report = await usage_report(session, org, month)
        if as_json:
            return report.model_dump_json(indent=2)
        lines = [
            f"{report.organization_id} {report.month}: {report.calls} calls "
            f"({report.cache_hits} cache hits), {report.total_tokens} tokens, "
            f"{report.cost} USD"
        ]
        for row in report.rows:
            lines.append(
                f"  {row.provider}/{row.model} {row.task}: {row.calls} calls, "
                f"{row.cache_hits} hits, {row.input_tokens} in / {row.output_tokens} out, "
                f"{row.cost} USD, {row.avg_response_time_ms} ms avg"
            )
        return "\n".join(lines)

    with _database(settings) as url:
        try:
            typer.echo(asyncio.run(fetch(url)))
        except AppError as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(1) from None


@llm_app.command("extract")
def llm_extract(
    path: Annotated[Path, typer.Argument(help="A tariff PDF or a text file.")],
    book_id: Annotated[str, typer.Option("--book-id", help="Id of the book to create.")],
    name: Annotated[str, typer.Option(help="Name of the book.")],
    country: Annotated[str, typer.Option(help="ISO country code, e.g. IL.")],
    version: Annotated[str, typer.Option(help="Version label, e.g. 2026.")],
    digits: Annotated[int, typer.Option(help="Digits of a full code (8 or 10).")] = 10,
    now: Annotated[
        bool, typer.Option("--now", help="Run here instead of enqueueing a job.")
    ] = False,
) -> None:
    """Extract a customs book from a PDF or text with the LLM (a resumable job)."""
    from sivug.llm.extraction import create_extraction, run_extraction
    from sivug.llm.service import build_llm_service
    from sivug.llm.tasks import extract_book
    from sivug.platform.db import create_engine, session_factory, session_scope
    from sivug.platform.jobs import defer

    settings = _settings()
    llm = build_llm_service(settings)
    if llm is None:
        typer.echo("no LLM provider is configured (set a provider key)", err=True)
        raise typer.Exit(1)

    async def start(url: str) -> str:
        async with _session(url) as session:
            job = await create_extraction(
                session,
                source_path=path.resolve(),
                book_id=book_id,
                name=name,
                country=country,
                version=version,
                book_digits=digits,
            )
            if not now:
                await defer(session, extract_book, extraction_id=str(job.id))
            extraction_id = job.id
        if not now:
            return f"extraction {extraction_id} queued; `sivug llm extraction {extraction_id}`"
        engine = create_engine(url, pool_size=1, max_overflow=0)
        factory = session_factory(engine)
        try:
            done = await run_extraction(lambda: session_scope(factory), llm, extraction_id)
        finally:
            await engine.dispose()
            await llm.close()
        return f"extraction {extraction_id}: {done.status}, {done.pages_done} pages" + (
            f"\n{done.error}" if done.error else ""
        )

    with _database(settings) as url:
        try:
            typer.echo(asyncio.run(start(url)))
        except AppError as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(1) from None


@llm_app.command("extraction")
def llm_extraction(extraction_id: Annotated[str, typer.Argument()]) -> None:
    """Progress of a book extraction."""
    import uuid

    from sivug.llm.repository import get_extraction

    settings = _settings()

    async def fetch(url: str) -> str:
        async with _session(url) as session:
            job = await get_extraction(session, uuid.UUID(extraction_id))
            if job is None:
                return f"no extraction {extraction_id}"
            return (
                f"{job.id} {job.book_id}: {job.status}, page {job.pages_done}/{job.pages_total}, "
                f"{len(job.lines)} lines" + (f"\n{job.error}" if job.error else "")
            )

    with _database(settings) as url:
        typer.echo(asyncio.run(fetch(url)))
