"""The web app: server-rendered pages (Jinja2) made live with htmx. A channel like the API:
it parses forms, calls the same domain services, and renders what they return."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from sivug.accounts import repository as accounts_repository
from sivug.accounts import service as accounts_service
from sivug.accounts.auth import (
    CLERK_COOKIE,
    DEV_COOKIE,
    DEV_COOKIE_MAX_AGE,
    Principal,
    authenticate,
)
from sivug.accounts.dependencies import credentials_of
from sivug.books.service import list_books
from sivug.classification import list_service, service
from sivug.classification import repository as classification_repository
from sivug.classification.dependencies import Engines, Llm
from sivug.classification.repository import HistoryFilter, history
from sivug.classification.schemas import ClassificationOut, ListOut
from sivug.models import Classification, ClassificationList, ClassificationSession
from sivug.platform.dependencies import AppSettings, DbSession
from sivug.platform.errors import AppError, BadRequest, NotFound
from sivug.web.dependencies import (
    LANGUAGE_COOKIE,
    AdminPage,
    CsrfChecked,
    PageUser,
    ReaderPage,
    WriterPage,
    once_id,
    once_token,
)
from sivug.web.i18n import LANGUAGES, translator
from sivug.web.rendering import is_htmx, is_time_zone, render

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])

HISTORY_PAGE_SIZE = 25
BOOK_SEARCH_LIMIT = 30
HOME = "/classify"
StatusFilter = Literal["classified", "needs_info", "rejected_vague"]
#: The unique constraint a second post of the same API-key form runs into.
REPEATED_KEY_FORM = "uq_api_keys_organization_id_idempotency_key"


class PageNotFound(NotFound):
    pass


def _local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, never another host (no open redirect)."""
    if not target:
        return None
    if "://" in target:  # htmx's HX-Current-URL is absolute: keep its path
        target = "/" + target.split("/", 3)[-1]
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a local page that is not a sign-in page itself."""
    path = _local_path(target)
    if path is None or path.startswith(("/sign-in", "/dev/sign-in", "/sign-out")):
        return HOME
    return path


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _optional_principal(request: Request, session: DbSession) -> Principal | None:
    state = request.app.state
    try:
        return await authenticate(
            session, credentials_of(request), clerk=state.clerk, dev_sign_in=state.dev_sign_in
        )
    except AppError:
        return None


# --- Sign-in ------------------------------------------------------------------------------


@router.get("/")
async def home() -> RedirectResponse:
    return _redirect(HOME)


@router.get("/sign-in")
async def sign_in(
    request: Request, settings: AppSettings, next: str | None = None, signed_out: bool = False
) -> Response:
    """Clerk's hosted sign-in in staging; the development sign-in in local mode."""
    if request.app.state.dev_sign_in is not None:
        query = urlencode({"next": _safe_next(next)})
        return _redirect(f"/dev/sign-in?{query}")
    return render(
        request, "sign_in_clerk.html", next=_safe_next(next), signed_out=signed_out, dev=[]
    )


@router.get("/dev/sign-in")
async def dev_sign_in_page(
    request: Request, session: DbSession, next: str | None = None
) -> Response:
    """Local mode only: pick a seeded user and organization. 404 in staging."""
    if request.app.state.dev_sign_in is None:
        raise PageNotFound(f"No page {request.url.path}")
    memberships = await accounts_repository.all_memberships(session)
    return render(request, "sign_in_dev.html", memberships=memberships, next=_safe_next(next))


@router.post("/dev/sign-in")
async def dev_sign_in(
    request: Request,
    session: DbSession,
    user_id: Annotated[str, Form(max_length=64)],
    organization_id: Annotated[str, Form(max_length=64)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    dev = request.app.state.dev_sign_in
    if dev is None:
        raise PageNotFound(f"No page {request.url.path}")
    if await accounts_repository.membership_of(session, organization_id, user_id) is None:
        raise BadRequest(f"{user_id} is not a member of {organization_id}.")
    response = _redirect(_safe_next(next))
    response.set_cookie(
        DEV_COOKIE,
        dev.issue(user_id, organization_id),
        max_age=DEV_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Forget the session cookies; in staging the sign-in page also signs out of Clerk."""
    response = _redirect("/sign-in?signed_out=true")
    for name in (DEV_COOKIE, CLERK_COOKIE):
        response.delete_cookie(name, path="/", httponly=True, samesite="lax")
    return response


@router.post("/language")
async def switch_language(
    request: Request,
    session: DbSession,
    engines: Engines,
    language: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Remember the language on the user (every device) and in a cookie (the sign-in page)."""
    if language not in LANGUAGES:
        raise BadRequest(f"language: expected one of {', '.join(LANGUAGES)}")
    principal = await _optional_principal(request, session)
    if principal is not None and principal.user_id is not None:
        await accounts_service.update_user_preferences(
            session, engines.books, user_id=principal.user_id, changes={"language": language}
        )
    target = _local_path(next) or _local_path(request.headers.get("referer")) or HOME
    response: Response = _redirect(target)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


# --- Classify and interactive sessions ----------------------------------------------------


def _result_context(
    row: Classification, interactive: ClassificationSession | None
) -> dict[str, Any]:
    return {
        "r": ClassificationOut.of(row),
        "session_id": interactive.id if interactive is not None else None,
        "session_open": interactive is not None and interactive.status == "open",
    }


def _result(
    request: Request,
    page: PageUser,
    row: Classification,
    interactive: ClassificationSession | None,
) -> Response:
    return render(request, "_result.html", page=page, **_result_context(row, interactive))


@router.get("/classify")
async def classify_page(
    request: Request, page: ReaderPage, session: DbSession, book: str | None = None
) -> Response:
    books = await list_books(session)
    return render(
        request,
        "classify.html",
        page=page,
        books=books,
        selected_book=book or "",
        form={},
        result=None,
    )


@router.post("/classify")
async def classify(
    request: Request,
    page: WriterPage,
    session: DbSession,
    engines: Engines,
    llm: Llm,
    description: Annotated[str, Form(max_length=4000)] = "",
    material: Annotated[str, Form(max_length=500)] = "",
    category: Annotated[str, Form(max_length=500)] = "",
    function: Annotated[str, Form(max_length=500)] = "",
    book: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Classify (as an interactive session, so questions can be answered in place)."""
    attributes = {"material": material, "category": category, "function": function}
    interactive = await service.start_session(
        session,
        engines,
        organization_id=page.principal.organization_id,
        user_id=page.principal.user_id,
        channel="web",
        description=description,
        attributes=attributes,
        book_id=book or None,
        llm=llm,
    )
    row = await _classification_of(session, page, interactive)
    if is_htmx(request):
        return _result(request, page, row, interactive)
    books = await list_books(session)
    form = {"description": description, **attributes, "book": book}
    return render(
        request,
        "classify.html",
        page=page,
        books=books,
        selected_book=book,
        form=form,
        result=_result_context(row, interactive),
    )


async def _classification_of(
    session: DbSession, page: PageUser, interactive: ClassificationSession
) -> Classification:
    if interactive.classification_id is None:
        raise PageNotFound("This session has no classification yet.")
    return await service.get_classification(
        session, page.principal.organization_id, interactive.classification_id
    )


@router.post("/classify/sessions/{session_id}/answers")
async def answer(
    request: Request,
    session_id: uuid.UUID,
    page: WriterPage,
    session: DbSession,
    engines: Engines,
    llm: Llm,
    question_id: Annotated[str, Form(max_length=200)],
    value: Annotated[str, Form(max_length=500)],
) -> Response:
    """Answer one of the questions; the result is classified again with every answer."""
    interactive = await service.answer_session(
        session,
        engines,
        organization_id=page.principal.organization_id,
        session_id=session_id,
        answers={question_id: value},
        user_id=page.principal.user_id,
        llm=llm,
    )
    row = await _classification_of(session, page, interactive)
    if is_htmx(request):
        return _result(request, page, row, interactive)
    return _redirect(f"/history/{row.id}")


@router.post("/classify/{classification_id}/confirm")
async def confirm(
    request: Request,
    classification_id: uuid.UUID,
    page: WriterPage,
    session: DbSession,
    engines: Engines,
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    row = await service.confirm(
        session,
        engines,
        organization_id=page.principal.organization_id,
        user_id=page.principal.user_id,
        classification_id=classification_id,
        code=code or None,
    )
    if is_htmx(request):
        return _result(request, page, row, None)
    return _redirect(f"/history/{row.id}")


# --- Lists --------------------------------------------------------------------------------


def _list_context(row: ClassificationList) -> dict[str, Any]:
    out = ListOut.of(row)
    suffix = out.filename.rsplit(".", 1)[-1].lower()
    return {
        "item": out,
        "percent": round(100 * out.done / out.total) if out.total else 0,
        "other_formats": [f for f in ("csv", "xlsx", "jsonl") if f != suffix],
        "active": out.status in ("queued", "running"),
    }


@router.get("/lists")
async def lists_page(request: Request, page: ReaderPage, session: DbSession) -> Response:
    recent = await classification_repository.recent_lists(session, page.principal.organization_id)
    books = await list_books(session)
    settings = request.app.state.settings
    return render(
        request,
        "lists.html",
        page=page,
        recent=[ListOut.of(r) for r in recent],
        books=books,
        max_mb=settings.server.max_upload_bytes // (1024 * 1024),
        current=None,
    )


@router.post("/lists")
async def upload_list(
    request: Request,
    page: WriterPage,
    session: DbSession,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
    book: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    limit = settings.server.max_upload_bytes
    data = await file.read(limit + 1)
    row = await list_service.accept_list(
        session,
        organization_id=page.principal.organization_id,
        user_id=page.principal.user_id,
        channel="web",
        filename=file.filename or "list.csv",
        data=data,
        max_bytes=limit,
        book_id=book or None,
    )
    if is_htmx(request):
        return render(request, "_list_status.html", page=page, **_list_context(row))
    return _redirect(f"/lists/{row.id}")


@router.get("/lists/{list_id}")
async def list_page(
    request: Request, list_id: uuid.UUID, page: ReaderPage, session: DbSession
) -> Response:
    row = await list_service.get_list(session, page.principal.organization_id, list_id)
    return render(request, "list.html", page=page, **_list_context(row))


@router.get("/lists/{list_id}/status")
async def list_status(
    request: Request, list_id: uuid.UUID, page: ReaderPage, session: DbSession
) -> Response:
    """The progress fragment htmx polls until the list is done."""
    row = await list_service.get_list(session, page.principal.organization_id, list_id)
    return render(request, "_list_status.html", page=page, **_list_context(row))


# --- History ------------------------------------------------------------------------------


def _encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        when, _, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(when), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a link this page made") from None


@router.get("/history")
async def history_page(
    request: Request,
    page: ReaderPage,
    session: DbSession,
    status: StatusFilter | Literal[""] = "",
    book: Annotated[str, Query(max_length=64)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=16)] = "",
    cursor: str | None = None,
) -> Response:
    digits = "".join(ch for ch in code if ch.isdigit())
    filters = HistoryFilter(
        status=status or None, book_id=book or None, text=q or None, code_prefix=digits or None
    )
    rows = await history(
        session,
        page.principal.organization_id,
        filters,
        limit=HISTORY_PAGE_SIZE + 1,
        after=_decode_cursor(cursor) if cursor else None,
    )
    shown = rows[:HISTORY_PAGE_SIZE]
    params = {k: v for k, v in {"status": status, "book": book, "q": q, "code": code}.items() if v}
    next_url = None
    if len(rows) > HISTORY_PAGE_SIZE:
        last = shown[-1]
        next_url = "/history?" + urlencode(
            {**params, "cursor": _encode_cursor(last.created_at, last.id)}
        )
    return render(
        request,
        "history.html",
        page=page,
        rows=[ClassificationOut.of(r) for r in shown],
        books=await list_books(session),
        filters={"status": status, "book": book, "q": q, "code": code},
        next_url=next_url,
        first_url=("/history?" + urlencode(params)) if cursor else None,
        export_url="/api/v1/classifications/export.csv"
        + (("?" + urlencode(params)) if params else ""),
    )


@router.get("/history/{classification_id}")
async def classification_page(
    request: Request, classification_id: uuid.UUID, page: ReaderPage, session: DbSession
) -> Response:
    row = await service.get_classification(
        session, page.principal.organization_id, classification_id
    )
    return render(request, "classification.html", page=page, result=_result_context(row, None))


# --- Books --------------------------------------------------------------------------------


@router.get("/books")
async def books_page(request: Request, page: ReaderPage, session: DbSession) -> Response:
    return render(request, "books.html", page=page, books=await list_books(session))


@router.get("/books/{book_id}")
async def book_page(
    request: Request,
    book_id: str,
    page: ReaderPage,
    session: DbSession,
    engines: Engines,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """A book's chapters (grouped by section), or the lines matching a search."""
    book = await engines.books.get(session, book_id)
    hits = []
    if q.strip():
        engine = await engines.get(session, book_id)
        hits = engine.search(q, limit=BOOK_SEARCH_LIMIT)
    chapters = book.children(None)
    sections = []
    for number, section in book.sections.items():
        members = [c for c in chapters if c.section == number]
        if members:
            sections.append({"number": number, "title": section.title, "chapters": members})
    unsectioned = [c for c in chapters if not c.section or c.section not in book.sections]
    if unsectioned:
        sections.append({"number": "", "title": "", "chapters": unsectioned})
    template = "book.html"
    if is_htmx(request):
        template = "_book_search.html" if q.strip() else "_book_chapters.html"
    return render(request, template, page=page, book=book, q=q, hits=hits, sections=sections)


@router.get("/books/{book_id}/{code}")
async def book_line_page(
    request: Request,
    book_id: str,
    code: str,
    page: ReaderPage,
    session: DbSession,
    engines: Engines,
) -> Response:
    """One line with its path (breadcrumbs) and the lines under it."""
    book = await engines.books.get(session, book_id)
    normalized = "".join(ch for ch in code if ch.isdigit())
    line = book.get(normalized)
    if line is None:
        raise PageNotFound(f"{code!r} is not a line of {book.id}.")
    return render(
        request,
        "book_line.html",
        page=page,
        book=book,
        line=line,
        path=book.path(normalized),
        children=book.children(normalized),
        section=book.sections.get(line.section or ""),
        q="",
    )


# --- Organization settings and API keys (admins) ------------------------------------------


async def _settings_page(
    request: Request,
    page: AdminPage,
    session: DbSession,
    *,
    saved: bool = False,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    organization = page.organization
    members = await accounts_repository.members(session, page.principal.organization_id)
    values = form or {
        "default_book": organization.default_book if organization else "",
        "language": organization.language if organization else "en",
        "timezone": organization.timezone if organization else "UTC",
        "currency": organization.currency if organization else "USD",
        "allowed_email_domains": "\n".join(organization.allowed_email_domains)
        if organization
        else "",
    }
    return render(
        request,
        "settings.html",
        page=page,
        status_code=422 if error else 200,
        books=await list_books(session),
        members=members,
        form=values,
        saved=saved,
        error=error,
    )


@router.get("/settings")
async def settings_page(
    request: Request, page: AdminPage, session: DbSession, saved: bool = False
) -> Response:
    return await _settings_page(request, page, session, saved=saved)


@router.post("/settings")
async def save_settings(
    request: Request,
    page: AdminPage,
    session: DbSession,
    engines: Engines,
    default_book: Annotated[str, Form(max_length=64)] = "",
    language: Annotated[str, Form(max_length=8)] = "en",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    currency: Annotated[str, Form(max_length=3)] = "USD",
    allowed_email_domains: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    domains = [d for d in allowed_email_domains.replace(",", "\n").split() if d.strip()]
    form = {
        "default_book": default_book,
        "language": language,
        "timezone": timezone,
        "currency": currency,
        "allowed_email_domains": allowed_email_domains,
    }
    try:
        if language not in LANGUAGES:
            raise BadRequest(f"language: expected one of {', '.join(LANGUAGES)}")
        if not is_time_zone(timezone.strip()):
            t = translator(page.language)
            raise BadRequest(t("settings.timezone.invalid", zone=timezone.strip()))
        await accounts_service.update_organization(
            session,
            engines.books,
            organization_id=page.principal.organization_id,
            actor=page.principal.actor,
            changes={
                "default_book": default_book or None,
                "language": language,
                "timezone": timezone.strip(),
                "currency": currency.strip(),
                "allowed_email_domains": domains,
            },
        )
    except AppError as exc:
        if exc.status_code >= 500:
            raise
        await session.rollback()  # nothing of a refused form is kept
        for row in (page.user, page.organization):
            if row is not None:
                await session.refresh(row)  # the rollback expired them; the page reads them
        return await _settings_page(request, page, session, error=exc.detail, form=form)
    return _redirect("/settings?saved=true")


async def _keys_page(
    request: Request,
    page: AdminPage,
    session: DbSession,
    *,
    created: tuple[str, str] | None = None,
    error: str | None = None,
    error_status: int = 422,
) -> Response:
    keys = await accounts_repository.api_keys(session, page.principal.organization_id)
    return render(
        request,
        "api_keys.html",
        page=page,
        status_code=error_status if error else 200,
        keys=keys,
        created=created,
        error=error,
        form_token=once_token(request, page),  # every page gets a fresh one
    )


@router.get("/api-keys")
async def api_keys_page(request: Request, page: AdminPage, session: DbSession) -> Response:
    return await _keys_page(request, page, session)


def _is_repeated_form(exc: IntegrityError) -> bool:
    diagnostics = getattr(exc.orig, "diag", None)
    return getattr(diagnostics, "constraint_name", None) == REPEATED_KEY_FORM


@router.post("/api-keys")
async def create_api_key(
    request: Request,
    page: AdminPage,
    session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    form_token: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """The new key is on this response only (no-store); it is never shown again. The form's
    one-time token is stored on the key, so posting the same form again (reloading this
    response) creates no second key: the unique constraint refuses it, even when another
    web process answers the second post or both arrive at once."""
    t = translator(page.language)
    form_id = once_id(request, page, form_token)
    if form_id is None:
        return await _keys_page(request, page, session, error=t("form.expired"))
    try:
        async with session.begin_nested():  # a refused repeat leaves no key and no audit row
            row, key = await accounts_service.create_api_key(
                session,
                organization_id=page.principal.organization_id,
                name=name,
                created_by=page.principal.user_id,
                idempotency_key=form_id,
            )
    except IntegrityError as exc:
        if not _is_repeated_form(exc):
            raise
        return await _keys_page(
            request, page, session, error=t("keys.already_submitted"), error_status=409
        )
    except AppError as exc:
        if exc.status_code >= 500:
            raise
        return await _keys_page(request, page, session, error=exc.detail)
    return await _keys_page(request, page, session, created=(row.name, key))


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: uuid.UUID, page: AdminPage, session: DbSession) -> Response:
    await accounts_service.revoke_api_key(
        session,
        organization_id=page.principal.organization_id,
        key_id=key_id,
        revoked_by=page.principal.user_id,
    )
    return _redirect("/api-keys")
