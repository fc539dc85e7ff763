"""What an email asks for: items and book from the body, the subject and the attachments."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import httpx
import pytest
from openpyxl import Workbook

from sivug.channels.email.parsing import (
    FormFile,
    InboundForm,
    ParsedEmail,
    extract,
    parse_answers,
    parse_form,
    parse_inbound,
)

BOOKS = ["HS2022", "EU-CN-2026"]


def parsed(
    text: str = "",
    *,
    subject: str = "",
    files: list[FormFile] | None = None,
    html: str | None = None,
    stripped: str | None = None,
) -> ParsedEmail:
    fields = {"from": "Dana <dana@example.com>", "subject": subject, "body-plain": text}
    if html is not None:
        fields["body-html"] = html
    if stripped is not None:
        fields["stripped-text"] = stripped
    return parse_inbound(InboundForm(fields=fields, files=files or []))


def descriptions(email: ParsedEmail) -> list[str]:
    return [item.description for item in extract(email, BOOKS).items]


def test_one_item_per_line_without_greetings_instructions_or_signature() -> None:
    email = parsed(
        "Hello team,\n\nCould you please classify the following items:\n\n"
        "1. Men's cotton t-shirts\n2) Stainless steel screws\n- Wooden dining chair\n\n"
        "Best regards,\nDana Levi\nPurchasing Manager\nDemo Imports Ltd\n"
        "Tel: +972-3-555-1234\nwww.demo-imports.example\n"
    )
    assert descriptions(email) == [
        "Men's cotton t-shirts",
        "Stainless steel screws",
        "Wooden dining chair",
    ]


def test_signature_marker_ends_the_items() -> None:
    email = parsed("leather handbag\n-- \nDana\nSent with care\n")
    assert descriptions(email) == ["leather handbag"]
    assert descriptions(parsed("olive oil\n\nSent from my iPhone")) == ["olive oil"]


def test_the_quoted_thread_is_not_read() -> None:
    plain = (
        "rubber tyres for cars\n\nOn Tue, 3 Nov 2026 at 10:00, Sivug <c@sivug.app> wrote:\n"
        "> 1. cotton t-shirts\n> 2. steel screws\n"
    )
    assert descriptions(parsed(plain)) == ["rubber tyres for cars"]
    # Mailgun's stripped-text wins over the full body when present
    assert descriptions(parsed(plain, stripped="frozen shrimp")) == ["frozen shrimp"]
    assert descriptions(parsed("> quoted only\nplastic bottles")) == ["plastic bottles"]


def test_html_only_mail() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><div>Hi,</div>"
        "<div>cotton socks<br>ceramic mugs</div><div>Thanks</div>"
        '<div class="gmail_quote"><blockquote>old: glass vases</blockquote></div></body></html>'
    )
    assert descriptions(parsed(html=html)) == ["cotton socks", "ceramic mugs"]


def test_description_pipe_book_lines_and_a_book_line() -> None:
    extraction = extract(
        parsed("cotton t-shirts | EU-CN-2026\nsteel screws\nbook: hs2022\n"), BOOKS
    )
    assert [(i.description, i.book) for i in extraction.items] == [
        ("cotton t-shirts", "EU-CN-2026"),
        ("steel screws", None),
    ]
    assert extraction.book == "HS2022"


def test_the_book_from_the_subject() -> None:
    extraction = extract(parsed("steel screws", subject="Re: codes [EU-CN-2026]"), BOOKS)
    assert extraction.book == "EU-CN-2026"
    assert extract(parsed("x y z chairs", subject="EU-CN-2026 list"), BOOKS).book == "EU-CN-2026"


def test_the_subject_is_the_item_when_the_body_has_none() -> None:
    assert descriptions(parsed("", subject="Classify: leather handbag")) == ["leather handbag"]
    assert descriptions(parsed("", subject="HS codes please")) == []
    assert descriptions(parsed("Thanks,\nDana", subject="Fwd: wooden chair")) == ["wooden chair"]


def test_json_block() -> None:
    body = json.dumps(
        [
            {"description": "olive oil", "book": "HS2022", "attributes": {"use": "food"}},
            "rubber tyres",
        ]
    )
    items = extract(parsed(body), BOOKS).items
    assert [(i.description, i.book, i.attributes) for i in items] == [
        ("olive oil", "HS2022", {"use": "food"}),
        ("rubber tyres", None, {}),
    ]
    lines = '{"description": "tea bags"}\n{"description": "coffee beans"}'
    assert descriptions(parsed(lines)) == ["tea bags", "coffee beans"]


def test_csv_block_in_the_body() -> None:
    body = "Hi,\n\ndescription,material\nT-shirt,cotton\nChair,oak wood\n\nThanks\nDana"
    items = extract(parsed(body), BOOKS).items
    assert [(i.description, i.attributes) for i in items] == [
        ("T-shirt", {"material": "cotton"}),
        ("Chair", {"material": "oak wood"}),
    ]


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_attachments_csv_xlsx_and_txt_and_others_ignored() -> None:
    files = [
        FormFile("attachment-1", "items.csv", "text/csv", b"description,book\nsteel bolts,\n"),
        FormFile(
            "attachment-2",
            "items.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _xlsx([["description"], ["wool sweater"]]),
        ),
        FormFile("attachment-3", "more.txt", "text/plain", b"glass vase\npaper napkins\n"),
        FormFile("attachment-4", "logo.png", "image/png", b"\x89PNG...."),
    ]
    assert descriptions(parsed("Please see attached.\n\nThanks", files=files)) == [
        "steel bolts",
        "wool sweater",
        "glass vase",
        "paper napkins",
    ]


def test_a_csv_without_header_is_one_description_per_row() -> None:
    files = [FormFile("attachment-1", "list.csv", "text/csv", b"copper wire\naluminium foil\n")]
    assert descriptions(parsed("", files=files)) == ["copper wire", "aluminium foil"]


HEBREW = "חולצת טריקו מכותנה לגברים\nבורג פלדה"


@pytest.mark.parametrize("charset", ["windows-1255", "iso-8859-8", "iso-8859-8-i", "utf-8"])
def test_hebrew_bodies_in_each_charset(charset: str) -> None:
    """A multipart post whose text part declares its charset."""
    body_bytes = ("שלום,\n" + HEBREW + "\nתודה,\nדנה").encode(
        "cp1255" if charset == "windows-1255" else charset.removesuffix("-i")
    )
    request = httpx.Request(
        "POST",
        "http://x/",
        files=[
            ("from", (None, b"Dana <dana@example.com>", "text/plain")),
            ("subject", (None, "סיווג".encode(), "text/plain; charset=utf-8")),
            ("body-plain", (None, body_bytes, f"text/plain; charset={charset}")),
        ],
    )
    content = request.read()
    form = parse_form(content, request.headers["content-type"])
    email = parse_inbound(form)
    assert descriptions(email) == HEBREW.splitlines()
    assert email.subject == "סיווג"


@pytest.mark.parametrize("encoding", ["cp1255", "iso-8859-8", "utf-8"])
def test_hebrew_attachments_without_a_declared_charset(encoding: str) -> None:
    data = HEBREW.encode(encoding)
    files = [FormFile("attachment-1", "items.txt", "text/plain", data)]
    assert descriptions(parsed("", files=files)) == HEBREW.splitlines()
    csv_data = ("description\n" + HEBREW).encode(encoding)
    files = [FormFile("attachment-1", "items.csv", "text/csv", csv_data)]
    assert descriptions(parsed("", files=files)) == HEBREW.splitlines()


def test_url_encoded_posts_with_a_charset() -> None:
    body = urlencode({"from": "d@example.com", "body-plain": HEBREW}, encoding="cp1255")
    form = parse_form(body.encode(), "application/x-www-form-urlencoded; charset=windows-1255")
    assert descriptions(parse_inbound(form)) == HEBREW.splitlines()


def test_threading_headers_are_read() -> None:
    form = InboundForm(
        fields={
            "from": "d@example.com",
            "message-headers": json.dumps(
                [
                    ["Message-Id", "<b@x>"],
                    ["In-Reply-To", "<a@sivug>"],
                    ["References", "<z@x> <a@sivug>"],
                ]
            ),
        },
        files=[],
    )
    email = parse_inbound(form)
    assert email.message_id == "<b@x>"
    assert email.in_reply_to == "<a@sivug>"
    assert email.references == ["<z@x>", "<a@sivug>"]


def test_answers_by_number_or_a_lone_answer() -> None:
    assert parse_answers("1: cotton\nQ2) 2\n3 - no\nThanks", 2) == {1: "cotton", 2: "2"}
    assert parse_answers("Hi,\nmostly cotton\n\nRegards", 1) == {1: "mostly cotton"}
    assert parse_answers("Hi,\nmostly cotton", 2) == {}
