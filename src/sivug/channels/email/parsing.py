"""Reading an inbound Mailgun post: the form, the headers, the items to classify, the book.

Pure functions (no database): the service passes the stored raw body and the known book ids.

Items come from, in order: attachments (CSV, XLSX, JSONL, TXT), structured blocks in the body
(a JSON list, JSON lines, a CSV block with a ``description`` header), else one item per line
of the body (``description | book`` lines allowed), else the subject. The body is the reply
without the quoted thread (Mailgun's ``stripped-text``), else the plain body with quotes cut,
else the HTML body turned to text. Greetings, instructions, closings and everything after a
closing or signature marker never become items.
"""

from __future__ import annotations

import csv
import email.policy
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from charset_normalizer import from_bytes

from sivug.classification.lists import ListFileInvalid, parse_items

#: More items than this in one email are not classified (the reply says so).
MAX_ITEMS = 500
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_LIST_SUFFIXES = (".csv", ".xlsx", ".jsonl")
_TEXT_SUFFIXES = (".txt", ".text")


@dataclass(frozen=True)
class FormFile:
    field: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class InboundForm:
    fields: dict[str, str]
    files: list[FormFile]

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


@dataclass
class Item:
    description: str
    book: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    source: str = "body"
    error: str | None = None


@dataclass
class ParsedEmail:
    sender: str  # lower-cased address
    sender_name: str
    recipient: str
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    text: str  # the reply's own text, quotes and signature removed
    headers: dict[str, str]  # lower-cased MIME header names
    files: list[FormFile]

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


@dataclass
class Extraction:
    items: list[Item]
    book: str | None  # from the subject or a ``book:`` line
    notes: list[str] = field(default_factory=list)  # problems worth telling the sender
    truncated: bool = False


# -- decoding --------------------------------------------------------------------------

_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "windows-1255": "cp1255",
    "x-mac-hebrew": "cp1255",
}


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text in its declared charset, else UTF-8, else the likeliest (Hebrew first)."""
    if declared:
        charset = _CHARSET_ALIASES.get(declared.strip().lower(), declared.strip().lower())
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data, cp_isolation=["cp1255", "iso8859_8", "cp1252", "latin_1"]).best()
    if best is not None and best.encoding in ("cp1255", "iso8859_8"):
        return str(best)
    # Hebrew text in Windows-1255 and ISO-8859-8 decodes to the same letters with cp1255.
    return data.decode("cp1255", errors="replace")


# -- the form --------------------------------------------------------------------------


def _param(content_type: str, name: str) -> str | None:
    match = re.search(rf'{name}\s*=\s*"?([^";]+)"?', content_type, re.IGNORECASE)
    return match.group(1).strip() if match else None


def parse_form(body: bytes, content_type: str) -> InboundForm:
    """Mailgun posts multipart/form-data (with attachments) or url-encoded forms."""
    if content_type.lower().startswith("multipart/"):
        return _multipart(body, content_type)
    charset = _param(content_type, "charset") or "utf-8"
    try:
        pairs = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, encoding=charset, errors="strict"
        )
    except (UnicodeDecodeError, LookupError):
        pairs = parse_qsl(
            body.decode("latin-1"), keep_blank_values=True, encoding="cp1255", errors="replace"
        )
    return InboundForm(fields=dict(pairs), files=[])


def _multipart(body: bytes, content_type: str) -> InboundForm:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: list[FormFile] = []
    if not message.is_multipart():
        return InboundForm(fields, files)
    for part in message.iter_parts() if isinstance(message, MimeMessage) else []:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files.append(FormFile(name, filename, part.get_content_type(), data))
        else:
            fields[name] = decode_bytes(data, part.get_content_charset())
    return InboundForm(fields, files)


def signature_fields(form: InboundForm) -> tuple[str, str, str]:
    return form.get("timestamp"), form.get("token"), form.get("signature")


def mime_headers(form: InboundForm) -> dict[str, str]:
    """The MIME headers, lower-cased: Mailgun's ``message-headers`` list, then the fields."""
    headers: dict[str, str] = {}
    raw = form.get("message-headers")
    if raw:
        try:
            listed = json.loads(raw)
        except json.JSONDecodeError:
            listed = []
        for pair in listed if isinstance(listed, list) else []:
            if isinstance(pair, list) and len(pair) == 2:
                headers.setdefault(str(pair[0]).lower(), str(pair[1]))
    for name in ("Message-Id", "In-Reply-To", "References", "Auto-Submitted", "Precedence"):
        for key in (name, name.lower()):
            if form.get(key) and name.lower() not in headers:
                headers[name.lower()] = form.get(key)
    return headers


def message_ids(value: str | None) -> list[str]:
    """``<a@b> <c@d>`` -> ["<a@b>", "<c@d>"]."""
    if not value:
        return []
    found = re.findall(r"<[^<>\s]+>", value)
    if found:
        return found
    return [f"<{v}>" for v in value.split() if "@" in v]


def parse_inbound(form: InboundForm) -> ParsedEmail:
    headers = mime_headers(form)
    name, address = parseaddr(form.get("from") or headers.get("from", ""))
    sender = (form.get("sender") or address).strip().lower()
    if not name and form.get("from"):
        name = form.get("from").split("<")[0].strip()
    ids = message_ids(headers.get("message-id"))
    reply_to = message_ids(headers.get("in-reply-to"))
    recipients = getaddresses([form.get("recipient")]) if form.get("recipient") else []
    return ParsedEmail(
        sender=sender,
        sender_name=name.strip().strip('"'),
        recipient=recipients[0][1].lower() if recipients else "",
        subject=" ".join((form.get("subject") or headers.get("subject", "")).split()),
        message_id=ids[0] if ids else None,
        in_reply_to=reply_to[0] if reply_to else None,
        references=message_ids(headers.get("references")),
        text=reply_text(form),
        headers=headers,
        files=form.files,
    )


def is_automatic(parsed: ParsedEmail) -> bool:
    """Bounces, auto-replies and list mail: never answered (no mail loops)."""
    headers = parsed.headers
    if headers.get("auto-submitted", "no").lower() not in ("", "no"):
        return True
    if headers.get("precedence", "").lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if "list-id" in headers or "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    local = parsed.sender.partition("@")[0]
    return local in ("mailer-daemon", "postmaster") or local.startswith(
        ("noreply", "no-reply", "do-not-reply", "donotreply", "bounce")
    )


# -- the body --------------------------------------------------------------------------

_QUOTE_HEADER = re.compile(
    r"^(on .{4,200} wrote:?|.{0,200} כתב(?:/ה|ה)?:|-{2,}\s*original message\s*-{2,}|"
    r"-{2,}\s*forwarded message\s*-{2,}|from:\s.+|_{10,})\s*$",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(
    r"^(--\s*|__+|sent from my .+|get outlook for .+|נשלח מה.+)$", re.IGNORECASE
)


def reply_text(form: InboundForm) -> str:
    stripped = form.get("stripped-text")
    if stripped.strip():
        return stripped
    plain = form.get("body-plain")
    if plain.strip():
        return strip_quoted(plain)
    html = form.get("stripped-html") or form.get("body-html")
    if html.strip():
        return strip_quoted(html_to_text(html))
    return ""


def strip_quoted(text: str) -> str:
    """The text above the quoted thread, without ``>`` lines."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _QUOTE_HEADER.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "ul", "ol", "pre"}
    )
    _SKIP = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "blockquote" or "gmail_quote" in classes:
            self._quote += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "td":
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._quote:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """HTML-only mail: visible text, one line per block, quoted blocks left out."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


# -- items -----------------------------------------------------------------------------

_GREETING = re.compile(
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening|day)|greetings|hiya|"
    r"to whom it may concern|שלום|היי|הי|בוקר טוב|ערב טוב|צהריים טובים|אהלן|"
    r"לכבוד)\b[^.]{0,40}[,!:.]?$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^(thanks|thank you|thx|many thanks|regards|best|best regards|kind regards|warm regards|"
    r"cheers|sincerely|yours( truly| sincerely)?|all the best|תודה|תודה רבה|בברכה|"
    r"בתודה|להתראות|ב ?ברכה)\b[^.]{0,40}[,!.]?$",
    re.IGNORECASE,
)
_INSTRUCTION = re.compile(
    r"(\bclassif|\bhs codes?\b|\btariff codes?\b|\bcustoms codes?\b|\bcodes? for\b|"
    r"\bthe following\b|\bbelow\b|\battached\b|\bplease\b|\bcould you\b|\bcan you\b|"
    r"סיווג|לסווג|קוד מכס|קודי מכס|מצורף|להלן|בבקשה|אנא)",
    re.IGNORECASE,
)
_INSTRUCTION_START = re.compile(
    r"^(please|pls|kindly|could you|can you|would you|see (the )?(attached|below)|attached|"
    r"here (are|is)|below|find attached|אנא|בבקשה|מצורף|מצורפים|מצורפת|להלן|ראו)\b",
    re.IGNORECASE,
)
_CONTACT = re.compile(
    r"(https?://|www\.|\S+@\S+\.\S+|^(tel|phone|mobile|fax|cell|טל|נייד|פקס)\b|"
    r"^[+()\d][\d\s().+-]{6,}$)",
    re.IGNORECASE,
)
_BOOK_LINE = re.compile(
    r"^(?:customs\s+)?(?:book|tariff|ספר(?: מכס)?|תעריף)\s*[:=]\s*(\S+)\s*$", re.IGNORECASE
)
_BULLET = re.compile(r"^(?:[-*•·▪–]+|\(?\d{1,4}[.)\]:]|\(?[a-z][.)])\s+", re.IGNORECASE)
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|tr|השב|תשובה|הועבר)\s*:\s*)+", re.IGNORECASE)
_SUBJECT_BOOK = re.compile(r"(?:\bbook\s*[:=]\s*(\S+)|\[([A-Za-z0-9][A-Za-z0-9._-]*)\])", re.I)
_SUBJECT_LEAD = re.compile(
    r"^((please\s+)?(classify|classification|hs\s*codes?|tariff\s*codes?|codes?)(\s+for)?|"
    r"סיווג|לסווג)\s*[:\-–]?\s*",
    re.IGNORECASE,
)
_SUBJECT_NOISE = re.compile(
    r"\b(classif\w*|hs|codes?|tariff|customs|request|please|for|help|question|items?|list|"
    r"new|urgent|the|a|of|סיווג|קוד|קודי|מכס|בקשה|לסיווג|פריטים)\b",
    re.IGNORECASE,
)


def _match_book(candidate: str, known_books: Iterable[str]) -> str | None:
    wanted = candidate.strip().strip(".,;:[]()").upper()
    for book in known_books:
        if book.upper() == wanted:
            return book
    return None


def book_from_subject(subject: str, known_books: Iterable[str]) -> tuple[str | None, str]:
    """(book named in the subject, the subject without the book and reply prefixes)."""
    known = list(known_books)
    clean = _SUBJECT_PREFIX.sub("", subject).strip()
    book: str | None = None
    for match in _SUBJECT_BOOK.finditer(clean):
        candidate = match.group(1) or match.group(2) or ""
        found = _match_book(candidate, known) or (candidate.upper() if match.group(1) else None)
        if found:
            book = found
            clean = clean.replace(match.group(0), " ")
            break
    if book is None:
        for token in re.split(r"[\s,;]+", clean):
            found = _match_book(token, known)
            if found:
                book = found
                clean = re.sub(re.escape(token), " ", clean, count=1)
                break
    return book, " ".join(clean.split())


def _looks_like_item(line: str) -> bool:
    letters = sum(ch.isalpha() for ch in line)
    return letters >= 2 and len(line) <= 500


def _split_book(line: str, known: list[str]) -> tuple[str, str | None]:
    """``description | book`` -> (description, book); other pipes stay in the description."""
    if "|" not in line:
        return line, None
    head, _, tail = line.rpartition("|")
    tail = tail.strip()
    book = _match_book(tail, known)
    if (
        book is None
        and re.fullmatch(r"[A-Za-z]{2}[A-Za-z0-9-]{1,30}", tail)
        and any(ch.isdigit() for ch in tail)
    ):
        book = tail.upper()
    if book is None:
        return line.replace("|", " "), None
    return head.strip(), book


def items_from_lines(text: str, known_books: Iterable[str]) -> tuple[list[Item], str | None]:
    """One item per line; greetings, instructions, contacts and the signature are skipped."""
    known = list(known_books)
    items: list[Item] = []
    book: str | None = None
    for raw in text.splitlines():
        line = raw.strip().strip("\u200f\u200e\ufeff")
        if not line:
            continue
        if _SIGNATURE_START.match(line) or _CLOSING.match(line):
            break  # what follows is a signature: name, company, phone
        book_match = _BOOK_LINE.match(line)
        if book_match:
            book = _match_book(book_match.group(1), known) or book_match.group(1).upper()
            continue
        if _GREETING.match(line) or _CONTACT.search(line):
            continue
        line = _BULLET.sub("", line).strip()
        if line.endswith(":") or _INSTRUCTION_START.match(line):
            continue
        if _INSTRUCTION.search(line) and len(line.split()) > 3:
            continue
        if line.endswith("?") and len(line.split()) > 3:
            continue  # a question to us, not an item
        description, item_book = _split_book(line, known)
        if _looks_like_item(description):
            items.append(Item(description=description, book=item_book))
    return items, book


def _json_items(text: str, source: str) -> list[Item] | None:
    """A JSON list (of strings or objects) or JSON lines; None when the text is not JSON."""
    stripped = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.+?)```", stripped, re.DOTALL)
    if fenced:
        stripped = fenced.group(1).strip()
    if not stripped.startswith(("[", "{")):
        return None
    values: list[Any]
    try:
        loaded = json.loads(stripped)
        values = loaded if isinstance(loaded, list) else [loaded]
    except json.JSONDecodeError:
        try:
            values = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        except json.JSONDecodeError:
            return None
    items: list[Item] = []
    for value in values:
        if isinstance(value, str) and value.strip():
            items.append(Item(description=value.strip(), source=source))
        elif isinstance(value, dict):
            items.append(_dict_item(value, source))
    return items


def _dict_item(value: Mapping[str, Any], source: str) -> Item:
    description = value.get("description")
    if not isinstance(description, str) or not description.strip():
        return Item(description="", source=source, error="no description")
    attributes = value.get("attributes")
    attrs = (
        {str(k): str(v) for k, v in attributes.items() if v not in (None, "")}
        if isinstance(attributes, dict)
        else {}
    )
    book = value.get("book")
    return Item(
        description=description.strip(),
        book=str(book).strip() if book else None,
        attributes=attrs,
        source=source,
    )


def _csv_block(text: str, source: str) -> list[Item] | None:
    """A CSV block whose header has a ``description`` column (the text after it is read)."""
    lines = text.strip().splitlines()
    for index, line in enumerate(lines):
        cells = [c.strip().lower() for c in re.split(r"[,;\t]", line)]
        if "description" in cells and len(cells) > 1:
            block: list[str] = []
            for row in lines[index:]:
                if not row.strip() or _CLOSING.match(row.strip()):
                    break
                block.append(row)
            try:
                listed = parse_items("\n".join(block).encode(), "block.csv")
            except ListFileInvalid:
                return None
            return [_list_item(i, source) for i in listed]
    return None


def _list_item(item: Any, source: str) -> Item:
    return Item(
        description=item.description,
        book=item.book,
        attributes=dict(item.attributes),
        source=source,
        error=item.error,
    )


def items_from_text(text: str, known_books: Iterable[str], source: str) -> Extraction:
    known = list(known_books)
    structured = _json_items(text, source)
    if structured is None:
        structured = _csv_block(text, source)
    book_match = next(
        (
            _BOOK_LINE.match(line.strip())
            for line in text.splitlines()
            if _BOOK_LINE.match(line.strip())
        ),
        None,
    )
    if structured is not None:
        book = None
        if book_match:
            book = _match_book(book_match.group(1), known) or book_match.group(1).upper()
        return Extraction(items=structured, book=book)
    items, book = items_from_lines(text, known)
    for item in items:
        item.source = source
    return Extraction(items=items, book=book)


def items_from_attachment(file: FormFile, known_books: Iterable[str]) -> Extraction | None:
    """Items of a CSV/XLSX/JSONL/TXT attachment; None for other files (logos, PDFs ...)."""
    name = file.filename or file.field
    suffix = Path(name).suffix.lower()
    source = f"attachment:{name}"
    if len(file.content) > MAX_ATTACHMENT_BYTES:
        return Extraction(items=[], book=None, notes=[f"{name}: larger than 10 MB, not read"])
    if suffix in _LIST_SUFFIXES:
        data = file.content
        if suffix in (".csv", ".jsonl"):
            charset = _param(file.content_type, "charset")
            data = decode_bytes(data, charset).encode("utf-8")
        try:
            listed = parse_items(data, name)
        except ListFileInvalid as exc:
            if suffix == ".csv":  # a CSV without a header: one description per row
                text = decode_bytes(data, "utf-8")
                rows = [r[0] for r in csv.reader(io.StringIO(text)) if r and r[0].strip()]
                return Extraction(
                    items=[Item(description=r.strip(), source=source) for r in rows], book=None
                )
            return Extraction(items=[], book=None, notes=[exc.detail])
        return Extraction(items=[_list_item(i, source) for i in listed], book=None)
    if suffix in _TEXT_SUFFIXES or file.content_type.startswith("text/plain"):
        text = decode_bytes(file.content, _param(file.content_type, "charset"))
        return items_from_text(text, known_books, source)
    return None


def extract(parsed: ParsedEmail, known_books: Iterable[str]) -> Extraction:
    """Every item of the email and the book it asks for (None: the account's default)."""
    known = list(known_books)
    subject_book, subject_rest = book_from_subject(parsed.subject, known)
    items: list[Item] = []
    notes: list[str] = []
    book: str | None = None
    for file in parsed.files:
        found = items_from_attachment(file, known)
        if found is not None:
            items.extend(found.items)
            notes.extend(found.notes)
            book = book or found.book
    body = items_from_text(parsed.text, known, "body")
    items.extend(body.items)
    book = body.book or book
    if not items:
        candidate = _SUBJECT_LEAD.sub("", subject_rest).strip()
        remainder = " ".join(_SUBJECT_NOISE.sub(" ", candidate).split())
        if _looks_like_item(remainder):
            items.append(Item(description=candidate, source="subject"))
    truncated = len(items) > MAX_ITEMS
    return Extraction(
        items=items[:MAX_ITEMS],
        book=subject_book or book,
        notes=notes,
        truncated=truncated,
    )


# -- answers to questions ---------------------------------------------------------------

_ANSWER = re.compile(r"^\s*(?:q(?:uestion)?\s*)?(\d{1,3})\s*[:.)=-]\s*(.+?)\s*$", re.IGNORECASE)


def parse_answers(text: str, question_count: int) -> dict[int, str]:
    """Numbered answers (``1: cotton``, ``Q2) 2``); a lone answer to a lone question."""
    answers: dict[int, str] = {}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if _SIGNATURE_START.match(line) or _CLOSING.match(line):
            break
        match = _ANSWER.match(line)
        if match and 1 <= int(match.group(1)) <= question_count:
            answers[int(match.group(1))] = match.group(2)
    if not answers and question_count == 1:
        for line in lines:
            if _SIGNATURE_START.match(line) or _CLOSING.match(line):
                break
            if _GREETING.match(line) or _CONTACT.search(line):
                continue
            answers[1] = _BULLET.sub("", line).strip()
            break
    return answers
