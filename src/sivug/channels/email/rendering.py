"""Email templates: stored in the database (editable), seeded from ``templates/`` on first use.

Templates are Jinja2, rendered in a sandbox (operators may edit them), HTML autoescaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.ext.asyncio import AsyncSession

from sivug.channels.email import repository
from sivug.models import EmailTemplate

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("en", "he")

#: Subjects of the seeded templates (Jinja2 too).
_SUBJECTS = {
    ("reply", "en"): "{{ reply_subject or 'Your classification results' }}",
    ("reply", "he"): "{{ reply_subject or 'תוצאות הסיווג שלך' }}",
    ("access_info", "en"): "{{ reply_subject or 'How to use ' ~ brand.name ~ ' by email' }}",
}
_VARIABLES = {
    "reply": {
        "brand": "name, color, logo_url of the organization (or Sivug)",
        "recipient_name": "the sender's display name",
        "rows": "items shown: n, description, code, official, confidence, status, note",
        "total": "number of items",
        "more": "true when the items beyond the table are only in the attachment",
        "attachment_name": "the CSV attachment's file name",
        "questions": "number, item, text, options (n, label)",
        "book": "the customs book used",
        "continued": "true when this answers the customer's answers",
        "notes": "remarks about the email (unreadable attachment, unknown book ...)",
        "reply_subject": "Re: the original subject",
    },
    "access_info": {
        "brand": "name, color, logo_url",
        "sender": "the address that wrote",
        "signup_url": "where to sign up",
        "reply_subject": "Re: the original subject",
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


_html_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_text_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@lru_cache(maxsize=64)
def _compiled(source: str, html: bool) -> Template:
    return (_html_env if html else _text_env).from_string(source)


def default_templates() -> list[EmailTemplate]:
    out = []
    for (name, language), subject in _SUBJECTS.items():
        out.append(
            EmailTemplate(
                name=name,
                language=language,
                subject=subject,
                html=(TEMPLATE_DIR / f"{name}.{language}.html").read_text(encoding="utf-8"),
                text=(TEMPLATE_DIR / f"{name}.{language}.txt").read_text(encoding="utf-8"),
                variables=_VARIABLES[name],
            )
        )
    return out


async def ensure_templates(session: AsyncSession) -> None:
    """Store the default templates that are not in the database yet (never overwrites)."""
    for template in default_templates():
        await repository.add_template_if_absent(session, template)


async def load(session: AsyncSession, name: str, language: str) -> EmailTemplate:
    template = await repository.get_template(session, name, language)
    if template is None:
        await ensure_templates(session)
        template = await repository.get_template(session, name, language)
    if template is None and language != "en":
        template = await load(session, name, "en")
    if template is None:
        raise LookupError(f"no email template {name!r}")
    return template


async def render(
    session: AsyncSession, name: str, language: str, context: dict[str, Any]
) -> Rendered:
    template = await load(session, name, language)
    subject = " ".join(_compiled(template.subject, False).render(context).split())
    full = {**context, "subject": subject}
    return Rendered(
        subject=subject,
        html=_compiled(template.html, True).render(full),
        text=_compiled(template.text, False).render(full),
    )
