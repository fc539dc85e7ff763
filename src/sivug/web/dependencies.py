"""FastAPI dependencies of the web app: who is looking at the page (with their organization and
language), and the CSRF check every state-changing form post goes through."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer

from sivug.accounts import repository
from sivug.accounts.auth import Principal
from sivug.accounts.dependencies import WRITER_ROLES, Admin, Reader, Writer
from sivug.models import Organization, Role, User
from sivug.platform.config import Settings, is_real_secret
from sivug.platform.dependencies import DbSession
from sivug.platform.errors import Forbidden
from sivug.web.i18n import LANGUAGES, normalize

CSRF_COOKIE = "sivug_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LANGUAGE_COOKIE = "sivug_lang"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    """A form post without the page's CSRF token (or from another site)."""


@dataclass(frozen=True)
class PageUser:
    """The signed-in person as the pages show them."""

    principal: Principal
    user: User | None
    organization: Organization | None
    language: str

    @property
    def name(self) -> str:
        user = self.user
        if user is None:
            return self.principal.user_id or ""
        full = " ".join(p for p in (user.first_name, user.last_name) if p)
        return full or user.email or user.id

    @property
    def email(self) -> str | None:
        return self.user.email if self.user is not None else None

    @property
    def organization_name(self) -> str:
        org = self.organization
        return org.name if org is not None else self.principal.organization_id

    @property
    def role(self) -> str:
        return self.principal.role.value

    @property
    def is_admin(self) -> bool:
        return self.principal.role is Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.principal.role in WRITER_ROLES


def cookie_language(request: Request) -> str | None:
    value = request.cookies.get(LANGUAGE_COOKIE)
    return value if value in LANGUAGES else None


async def _page_user(request: Request, principal: Principal, session: DbSession) -> PageUser:
    user = await repository.get_user(session, principal.user_id) if principal.user_id else None
    organization = await repository.get_organization(session, principal.organization_id)
    chosen = (
        (user.language if user is not None else None)
        or cookie_language(request)
        or (organization.language if organization is not None else None)
    )
    language = normalize(chosen)
    request.state.language = language  # error pages raised later speak it too
    return PageUser(principal, user, organization, language)


async def _reader_page(request: Request, principal: Reader, session: DbSession) -> PageUser:
    return await _page_user(request, principal, session)


async def _writer_page(request: Request, principal: Writer, session: DbSession) -> PageUser:
    return await _page_user(request, principal, session)


async def _admin_page(request: Request, principal: Admin, session: DbSession) -> PageUser:
    return await _page_user(request, principal, session)


#: Anyone signed in to the organization (viewers included).
ReaderPage = Annotated[PageUser, Depends(_reader_page, scope="function")]
#: Members and admins: classify, upload, confirm.
WriterPage = Annotated[PageUser, Depends(_writer_page, scope="function")]
#: Admins: organization settings, API keys.
AdminPage = Annotated[PageUser, Depends(_admin_page, scope="function")]


# --- CSRF --------------------------------------------------------------------------------
#
# Signed double submit: a random nonce lives in an HttpOnly, SameSite=Lax cookie; pages carry
# the nonce signed with the server's secret (hidden field, and an htmx header). A post passes
# when the signature is ours and names the cookie's nonce, so another site can neither read
# the token nor forge one for a cookie it planted. Same-origin is checked too when the browser
# says where the post comes from.


def _web_secret(request: Request) -> str:
    state = request.app.state
    secret: str | None = getattr(state, "web_secret", None)
    if secret is None:
        settings: Settings = state.settings
        configured = settings.server.session_secret or settings.clerk.secret_key
        secret = (
            configured.get_secret_value()
            if configured is not None and is_real_secret(configured)
            else secrets.token_urlsafe(32)  # local mode without a secret: per process
        )
        state.web_secret = secret
    return secret


def _signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(_web_secret(request), salt="sivug-web-csrf")


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF nonce, and whether it is new (the response must set the cookie)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 16 <= len(existing) <= 128:
        return existing, False
    nonce: str | None = getattr(request.state, "csrf_nonce", None)
    if nonce is None:
        nonce = secrets.token_urlsafe(24)
        request.state.csrf_nonce = nonce
    return nonce, True


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms."""
    nonce, _ = csrf_nonce(request)
    token: str = _signer(request).dumps(nonce)
    return token


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def check_csrf(request: Request) -> None:
    """Every non-GET web request: the page's token must come back, from our own origin."""
    if request.method in _SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    nonce = request.cookies.get(CSRF_COOKIE)
    if not sent or not nonce:
        raise CsrfFailed("This form has expired. Reload the page and try again.")
    try:
        signed = _signer(request).loads(sent)
    except BadSignature:
        raise CsrfFailed("This form has expired. Reload the page and try again.") from None
    if not isinstance(signed, str) or not secrets.compare_digest(signed, nonce):
        raise CsrfFailed("This form has expired. Reload the page and try again.")
    if not _same_origin(request):
        raise CsrfFailed("Forms can only be sent from Sivug's own pages.")


CsrfChecked = Depends(check_csrf)


# --- One-time forms ----------------------------------------------------------------------
#
# A form whose post must take effect once (creating an API key, whose key is shown on that one
# response) carries a random id signed with the server's secret and naming the organization and
# user the page was made for. The row the post creates keeps the id under a unique constraint,
# so the same form sent again (a reload re-posts it) creates nothing, whichever web process
# answers it.


def _once_signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(_web_secret(request), salt="sivug-web-once")


def once_token(request: Request, page: PageUser) -> str:
    """A fresh one-time token for a form on ``page``."""
    principal = page.principal
    token: str = _once_signer(request).dumps(
        [secrets.token_urlsafe(16), principal.organization_id, principal.user_id]
    )
    return token


def once_id(request: Request, page: PageUser, token: str) -> str | None:
    """The id of a token :func:`once_token` made for this person and organization, or None
    (missing, forged, or made for someone else)."""
    try:
        data = _once_signer(request).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, list) or len(data) != 3:
        return None
    form_id, organization_id, user_id = data
    principal = page.principal
    if organization_id != principal.organization_id or user_id != principal.user_id:
        return None
    return form_id if isinstance(form_id, str) and form_id else None
