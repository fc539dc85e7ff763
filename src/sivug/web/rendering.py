"""Rendering pages: one Jinja2 environment, the context every page gets, and the HTML error
pages (the JSON error handler hands HTML requests to :func:`error_page`)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from sivug.platform.config import Settings
from sivug.web.dependencies import CSRF_COOKIE, PageUser, cookie_language, csrf_nonce, csrf_token
from sivug.web.i18n import EN, direction, normalize, translator

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
#: Served from /static with this query suffix, so a new release is fetched, not cached.
ASSET_VERSION = "2"

#: Scripts and styles from this site only: no inline script, no eval, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
#: Staging: the same, widened by exactly what Clerk's hosted components need (its script and
#: API on the instance's frontend host, Cloudflare's bot check, avatars from img.clerk.com, a
#: session worker from a blob). Still no inline script and no eval.
CLERK_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' https://{host} https://challenges.cloudflare.com; "
    "connect-src 'self' https://{host}; img-src 'self' https://img.clerk.com data:; "
    "worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "frame-src 'self' https://challenges.cloudflare.com; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
LEVEL_KEYS = {2: "level.chapter", 4: "level.heading", 6: "level.subheading"}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _format_code(code: str | None) -> str:
    """ "610910" -> "6109.10", "61091000" -> "6109.10.00": the way brokers write codes."""
    if not code:
        return ""
    if len(code) <= 4:
        return code
    rest = code[4:]
    pairs = [rest[i : i + 2] for i in range(0, len(rest), 2)]
    return code[:4] + "." + ".".join(pairs)


def _percent(value: float | None) -> str:
    return f"{round((value or 0.0) * 100)}%"


@cache
def _zone_names() -> frozenset[str]:
    # "localtime" is the server's own zone, not an IANA name an organization could mean.
    return frozenset(available_timezones() - {"localtime"})


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone ("Asia/Jerusalem", "UTC")."""
    return name in _zone_names()


def time_zone(name: str | None) -> ZoneInfo:
    """The zone of that name; UTC when it is empty or unknown (a page never fails on it)."""
    if name and is_time_zone(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def page_time_zone(page: PageUser | None) -> ZoneInfo:
    """Dates on a page are in its organization's zone (UTC before anyone is signed in)."""
    organization = page.organization if page is not None else None
    return time_zone(organization.timezone if organization is not None else None)


@pass_context
def _when(context: Context, value: datetime | None) -> Markup | str:
    """A stored (UTC) time in the page's organization zone, with the zone's abbreviation and
    its full name on hover: "2026-01-15 12:30 IST"."""
    if value is None:
        return ""
    zone = page_time_zone(context.get("page"))
    local = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(zone)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        local.isoformat(timespec="minutes"), zone.key, local.strftime("%Y-%m-%d %H:%M %Z")
    )


def level_key(digits: int) -> str:
    return LEVEL_KEYS.get(digits, "level.national")


_env.filters["code"] = _format_code
_env.filters["percent"] = _percent
_env.filters["when"] = _when
_env.globals["level_key"] = level_key
_env.globals["asset_version"] = ASSET_VERSION


def clerk_frontend_api(settings: Settings) -> str | None:
    """Clerk's frontend API host, read from the publishable key ("pk_live_" + base64 of
    "clerk.example.com$"). Staging only; None in local mode or when the key is unusable."""
    if settings.is_local or settings.clerk.publishable_key is None:
        return None
    key = settings.clerk.publishable_key.get_secret_value()
    encoded = key.split("_", 2)[-1]
    try:
        host = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    host = host.rstrip("$")
    return host if host and all(ch.isalnum() or ch in ".-" for ch in host) else None


def content_security_policy(clerk_host: str | None) -> str:
    """The policy of every page: our own, or (staging) ours plus Clerk's frontend host, which
    :func:`clerk_frontend_api` has already limited to letters, digits, dots and dashes."""
    if clerk_host is None:
        return CONTENT_SECURITY_POLICY
    return CLERK_CONTENT_SECURITY_POLICY.format(host=clerk_host)


def _base_context(request: Request, language: str) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    publishable = settings.clerk.publishable_key
    return {
        "request": request,
        "lang": language,
        "dir": direction(language),
        "t": translator(language),
        "csrf": csrf_token(request),
        "is_local": settings.is_local,
        "clerk_frontend": clerk_frontend_api(settings),
        # Public by design: Clerk's browser SDK needs it. No other key ever reaches a page.
        "clerk_publishable_key": publishable.get_secret_value() if publishable else "",
        "current_path": request.url.path,
    }


def _with_cookies(request: Request, response: Response) -> Response:
    nonce, new = csrf_nonce(request)
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    response.headers["Content-Security-Policy"] = content_security_policy(
        clerk_frontend_api(request.app.state.settings)
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def render(
    request: Request,
    template: str,
    *,
    page: PageUser | None = None,
    language: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page or fragment. ``page`` (the signed-in user) sets the language and the header."""
    chosen = page.language if page is not None else normalize(language or cookie_language(request))
    values = _base_context(request, chosen)
    values["page"] = page
    values["time_zone"] = page_time_zone(page).key
    values.update(context)
    html = _env.get_template(template).render(values)
    return _with_cookies(request, HTMLResponse(html, status_code=status_code))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def sign_in_url(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or is_htmx(request):
        target = request.headers.get("hx-current-url") or "/"
        target = "/" + target.split("/", 3)[-1] if "://" in target else target
    return "/sign-in?next=" + quote(target, safe="/")


def error_page(request: Request, name: str, detail: str, status_code: int) -> Response:
    """What a person sees instead of ``{"error", "detail"}``: the sign-in page for 401, a
    friendly page (or, for htmx, an inline message) for everything else."""
    if status_code == 401:
        url = sign_in_url(request)
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)
    language = normalize(getattr(request.state, "language", None) or cookie_language(request))
    template = "_error.html" if is_htmx(request) else "error.html"
    key = f"error.{status_code}"
    return render(
        request,
        template,
        language=language,
        status_code=status_code,
        error_name=name,
        error_key=key if key in EN else "error.title",
        detail=detail,
        status=status_code,
    )
