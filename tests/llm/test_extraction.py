"""(f) Book extraction from PDF pages or text: validated lines, progress, resumption, the job."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tests.fakes.llm_server import FakeLLMServer, Reply, Request
from tests.helpers import drain_jobs
from tests.llm.conftest import Clock, make_service

from sivug.books.importers.errors import ImportValidationError
from sivug.books.repository import load_book
from sivug.llm import extraction
from sivug.llm.repository import get_extraction
from sivug.llm.service import LLMUnavailable
from sivug.llm.tasks import extract_book
from sivug.platform.config import LLMSettings, Settings
from sivug.platform.db import session_factory, session_scope
from sivug.platform.jobs import defer

PAGES = [
    "CHAPTER 61 ARTICLES OF APPAREL, KNITTED\n61.09 T-shirts, singlets, knitted\n"
    "6109.10 - Of cotton\n6109.10.00.10 -- Men's 12%",
    "6109.10.00.20 -- Women's 12%\n6109.90 - Of other textile materials\n"
    "6109.90.00.00 -- Of other textile materials 12%",
    "61.10 Jerseys, pullovers, knitted\n6110.20 - Of cotton\n6110.20.00.00 -- Of cotton 12%",
]

LINES: dict[int, list[dict[str, Any]]] = {
    1: [
        {"code": "61", "description": "Articles of apparel, knitted"},
        {"code": "61.09", "description": "T-shirts, singlets, knitted"},
        {"code": "6109.10", "description": "Of cotton"},
        {"code": "6109.10.00.10", "description": "Men's", "duty": "12%"},
    ],
    2: [
        {"code": "6109.10.00.20", "description": "Women's", "duty": "12%"},
        {"code": "6109.90", "description": "Of other textile materials"},
        {"code": "6109.90.00.00", "description": "Of other textile materials", "duty": "12%"},
    ],
    3: [
        {"code": "61.10", "description": "Jerseys, pullovers, knitted"},
        {"code": "6110.20", "description": "Of cotton"},
        {"code": "6110.20.00.00", "description": "Of cotton", "duty": "12%"},
    ],
}


def page_reply(request: Request) -> Reply:
    number = int(request.prompt.split('<page number="')[1].split('"')[0])
    notes = {"61": "This chapter covers knitted apparel only."} if number == 1 else {}
    return Reply(data={"lines": LINES[number], "chapter_notes": notes})


def _pdf(pages: list[str]) -> bytes:
    """A minimal PDF, one text page per string (Helvetica, one line per text line)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for text in pages:
        lines = [
            line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            for line in text.splitlines()
        ]
        ops = "BT /F1 10 Tf 14 TL 40 800 Td " + " ".join(f"({line}) '" for line in lines) + " ET"
        stream = ops.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, content)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_pages_are_read_with_pdfplumber(tmp_path: Path) -> None:
    path = tmp_path / "tariff.pdf"
    path.write_bytes(_pdf(PAGES))
    pages = extraction.read_pages(path)
    assert len(pages) == 3
    assert "6109.10.00.10" in pages[0]
    assert "Jerseys" in pages[2]


def test_text_pages_split_on_form_feeds_or_size() -> None:
    assert extraction.pages_from_text("a\fb\f\f") == ["a", "b"]
    long = "\n".join(f"line {i} " + "x" * 50 for i in range(300))
    pages = extraction.pages_from_text(long, max_chars=2000)
    assert len(pages) > 5
    assert all(len(p) <= 2000 for p in pages)
    assert "\n".join(pages) == long


def test_extracted_lines_become_a_validated_tree() -> None:
    lines = [{**line, "page": page} for page in (1, 2, 3) for line in LINES[page]]
    book = extraction.assemble_book(
        lines, book_id="IL-2026", name="Israel", country="IL", version="2026", book_digits=10
    )
    assert book.lines["6109100010"].parent == "610910"
    assert book.lines["6109100010"].attributes == {"duty": "12%"}
    assert book.lines["6110"].parent == "61"
    assert len(book) == 10


def test_a_broken_tree_is_refused_naming_the_page() -> None:
    lines = [
        {"code": "61", "description": "Apparel", "page": 1},
        {"code": "6109.10.00.10", "description": "Men's", "page": 4},  # no heading above it
    ]
    with pytest.raises(ImportValidationError, match="page 4"):
        extraction.assemble_book(
            lines, book_id="X", name="X", country="IL", version="1", book_digits=10
        )


def _scope(
    sessions: async_sessionmaker[AsyncSession],
) -> extraction.SessionScope:
    def open_scope() -> AbstractAsyncContextManager[AsyncSession]:
        return session_scope(sessions)

    return open_scope


async def test_an_interrupted_extraction_resumes_at_the_next_page(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    llm_server: FakeLLMServer,
    clock: Clock,
    tmp_path: Path,
) -> None:
    source = tmp_path / "tariff.txt"
    source.write_text("\f".join(PAGES))
    llm = make_service(llm_server, clock, ("openai",))
    job = await extraction.create_extraction(
        session,
        source_path=source,
        book_id="IL-TEST-2026",
        name="Israel customs tariff (test)",
        country="IL",
        version="2026",
        book_digits=10,
    )
    await session.commit()
    llm_server.script(
        "openai", Reply(data={"lines": LINES[1]}), Reply(status=503), Reply(status=503)
    )
    with pytest.raises(LLMUnavailable):
        await extraction.run_extraction(_scope(sessions), llm, job.id)
    async with sessions() as check:
        stopped = await get_extraction(check, job.id)
        assert stopped is not None
        assert (stopped.status, stopped.pages_done, stopped.pages_total) == ("running", 1, 3)
        assert len(stopped.lines) == 4

    llm_server.reset()
    llm_server.responder = page_reply
    done = await extraction.run_extraction(_scope(sessions), llm, job.id)
    assert (done.status, done.pages_done) == ("done", 3)
    asked = [r.prompt.split('<page number="')[1][0] for r in llm_server.calls()]
    assert asked == ["2", "3"]  # page 1 was not asked again
    book = await load_book(session, "IL-TEST-2026")
    assert book is not None
    assert book.lines["6109100020"].parent == "610910"
    await llm.close()


async def test_the_extraction_job_runs_in_a_real_worker(
    committed_db: AsyncEngine,
    database_url: str,
    fake_llm: FakeLLMServer,
    tmp_path: Path,
) -> None:
    fake_llm.reset()
    fake_llm.responder = page_reply
    source = tmp_path / "tariff.pdf"
    source.write_bytes(_pdf(PAGES))
    settings = Settings(
        _env_file=None,
        SIVUG_ENV="local",
        SIVUG_DATA_DIR=tmp_path,
        llm=LLMSettings(
            _env_file=None,  # type: ignore[call-arg]
            OPENAI_API_KEY="sk-test-extraction-123456",
            OPENAI_BASE_URL=fake_llm.base_url("openai"),
        ),
    )
    factory = session_factory(committed_db)
    async with session_scope(factory) as session:
        job = await extraction.create_extraction(
            session,
            source_path=source,
            book_id="IL-PDF-2026",
            name="Israel customs tariff (PDF)",
            country="IL",
            version="2026",
            book_digits=10,
        )
        await defer(session, extract_book, extraction_id=str(job.id))
    await drain_jobs(database_url, settings)
    async with session_scope(factory) as session:
        done = await get_extraction(session, job.id)
        assert done is not None
        assert (done.status, done.pages_done, done.pages_total) == ("done", 3, 3)
        book = await load_book(session, "IL-PDF-2026")
    assert book is not None
    assert book.chapter_notes["61"].startswith("This chapter covers knitted apparel")
    assert len(fake_llm.calls("openai")) == 3
    assert "Of cotton" in fake_llm.calls("openai")[0].prompt  # the PDF's text was sent
    fake_llm.reset()
