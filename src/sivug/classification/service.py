"""Business rules of classification: which book, classify and record, interactive sessions,
confirmed classifications as precedents. Every channel (web, API, email, WhatsApp) calls these."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.accounts.cache import UNCACHED, AccountsCache
from sivug.books.service import SYSTEM_DEFAULT_BOOK
from sivug.classification import repository
from sivug.classification.engines import EngineCache
from sivug.classification.precedent_files import PrecedentRecord
from sivug.classification.writer import ClassificationWriter
from sivug.engine import ClassificationResult
from sivug.llm.assist import assist, fill_llm_columns
from sivug.llm.service import LLMService
from sivug.models import Classification, ClassificationSession
from sivug.platform.errors import Conflict, NotFound, ValidationFailed
from sivug.platform.metrics import CLASSIFICATIONS

MAX_DESCRIPTION_CHARS = 4000
MAX_ATTRIBUTES = 30


class ClassificationNotFound(NotFound):
    pass


class SessionNotFound(NotFound):
    pass


class SessionClosed(Conflict):
    pass


def clean_input(
    description: str, attributes: Mapping[str, Any] | None
) -> tuple[str, dict[str, str]]:
    """Trim and check what a caller sent; raise a 422 naming what is wrong."""
    text = " ".join(description.split())
    if not text:
        raise ValidationFailed("description: give the product description to classify")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise ValidationFailed(
            f"description: {len(text)} characters; at most {MAX_DESCRIPTION_CHARS} are accepted"
        )
    attrs: dict[str, str] = {}
    for key, value in (attributes or {}).items():
        if value is None or str(value).strip() == "":
            continue
        attrs[str(key).strip().lower()[:64]] = str(value).strip()[:500]
    if len(attrs) > MAX_ATTRIBUTES:
        raise ValidationFailed(f"attributes: at most {MAX_ATTRIBUTES} are accepted")
    return text, attrs


async def resolve_book_id(
    session: AsyncSession,
    *,
    requested: str | None,
    user_id: str | None,
    organization_id: str | None,
    cache: AccountsCache | None = None,
) -> str:
    """The customs book to use: the request's, else the user's, else the organization's, else
    the system default. ``cache`` (web processes) answers the preferences from memory."""
    if requested:
        return requested
    lookups = cache or UNCACHED
    if user_id:
        preferred = await lookups.user_preferred_book(session, user_id)
        if preferred:
            return preferred
    if organization_id:
        default = await lookups.organization_default_book(session, organization_id)
        if default:
            return default
    return SYSTEM_DEFAULT_BOOK


def _row(
    result: ClassificationResult,
    *,
    organization_id: str,
    user_id: str | None,
    channel: str,
    description: str,
    attributes: dict[str, str],
    elapsed_ms: int,
) -> Classification:
    data = result.to_dict()
    data["elapsed_ms"] = elapsed_ms
    return Classification(
        organization_id=organization_id,
        user_id=user_id,
        book_id=result.book,
        channel=channel,
        input=description,
        attributes=attributes,
        status=result.status,
        code=result.code,
        level_reached=result.level or None,
        confidence=result.confidence,
        confidence_by_level=dict(result.confidence_by_level),
        alternatives=data["alternatives"],
        result=data,
        engine=result.engine,
    )


async def classify(
    session: AsyncSession,
    engines: EngineCache,
    *,
    organization_id: str,
    user_id: str | None,
    channel: str,
    description: str,
    attributes: Mapping[str, Any] | None = None,
    book_id: str | None = None,
    answers: Mapping[str, str] | None = None,
    llm: LLMService | None = None,
    accounts_cache: AccountsCache | None = None,
    writer: ClassificationWriter | None = None,
) -> Classification:
    """Classify one description and record it (with what it cost) for the organization.

    With ``llm`` (providers configured), the offline engine answers first and the LLM then
    decides within its candidates; if every provider fails, the offline result stands and
    its rationale says so. ``engine`` names what answered.

    With ``writer`` (the API's hot path) the row is committed in a shared batch before this
    returns and is not part of ``session``; callers that go on to use the row in ``session``
    (sessions, lists, email) pass no writer. ``accounts_cache`` answers the book preferences
    from memory."""
    text, attrs = clean_input(description, attributes)
    book = await resolve_book_id(
        session,
        requested=book_id,
        user_id=user_id,
        organization_id=organization_id,
        cache=accounts_cache,
    )
    engine = await engines.get(session, book)
    started = time.perf_counter()
    result = engine.classify(
        text, attrs or None, answers=dict(answers or {}), organization_id=organization_id
    )
    assisted = None
    if llm is not None and llm.enabled:
        assisted = await assist(
            session,
            llm,
            engine,
            result,
            text,
            attrs,
            organization_id=organization_id,
            answers=dict(answers or {}),
        )
        result = assisted.result
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    row = _row(
        result,
        organization_id=organization_id,
        user_id=user_id,
        channel=channel,
        description=text,
        attributes=attrs,
        elapsed_ms=elapsed_ms,
    )
    if assisted is not None:
        fill_llm_columns(row, assisted)
    if writer is not None:
        await writer.write(row)  # committed in a batch; the row stays outside ``session``
    else:
        await repository.add_classification(session, row)
    CLASSIFICATIONS.labels(channel, row.status, row.engine.split("/", 1)[0]).inc()
    return row


async def get_classification(
    session: AsyncSession, organization_id: str, classification_id: uuid.UUID
) -> Classification:
    row = await repository.get_classification(session, organization_id, classification_id)
    if row is None:
        raise ClassificationNotFound(f"No classification {classification_id}.")
    return row


_SESSION_STATUS = {"classified": "classified", "rejected_vague": "rejected", "needs_info": "open"}


async def start_session(
    session: AsyncSession,
    engines: EngineCache,
    *,
    organization_id: str,
    user_id: str | None,
    channel: str,
    description: str,
    attributes: Mapping[str, Any] | None = None,
    book_id: str | None = None,
    llm: LLMService | None = None,
) -> ClassificationSession:
    """Open an interactive session: it ends classified or rejected, asking questions between."""
    row = await classify(
        session,
        engines,
        organization_id=organization_id,
        user_id=user_id,
        channel=channel,
        description=description,
        attributes=attributes,
        book_id=book_id,
        llm=llm,
    )
    interactive = ClassificationSession(
        organization_id=organization_id,
        user_id=user_id,
        book_id=row.book_id,
        channel=channel,
        description=row.input,
        attributes=row.attributes,
        answers={},
        status=_SESSION_STATUS[row.status],
        last_result=row.result,
        classification_id=row.id,
    )
    session.add(interactive)
    await session.flush()
    return interactive


async def answer_session(
    session: AsyncSession,
    engines: EngineCache,
    *,
    organization_id: str,
    session_id: uuid.UUID,
    answers: Mapping[str, str],
    user_id: str | None = None,
    llm: LLMService | None = None,
) -> ClassificationSession:
    """Add answers to an open session and classify again with everything known so far."""
    interactive = await repository.get_session(
        session, organization_id, session_id, for_update=True
    )
    if interactive is None:
        raise SessionNotFound(f"No session {session_id}.")
    if interactive.status != "open":
        raise SessionClosed(f"Session {session_id} is already {interactive.status}.")
    if not answers:
        raise ValidationFailed("answers: give at least one answer (question id -> value)")
    merged = {**interactive.answers, **{str(k): str(v) for k, v in answers.items()}}
    row = await classify(
        session,
        engines,
        organization_id=organization_id,
        user_id=user_id or interactive.user_id,
        channel=interactive.channel,
        description=interactive.description,
        attributes=interactive.attributes,
        book_id=interactive.book_id,
        answers=merged,
        llm=llm,
    )
    interactive.answers = merged
    interactive.status = _SESSION_STATUS[row.status]
    interactive.last_result = row.result
    interactive.classification_id = row.id
    await session.flush()
    return interactive


async def get_session(
    session: AsyncSession, organization_id: str, session_id: uuid.UUID
) -> ClassificationSession:
    interactive = await repository.get_session(session, organization_id, session_id)
    if interactive is None:
        raise SessionNotFound(f"No session {session_id}.")
    return interactive


async def confirm(
    session: AsyncSession,
    engines: EngineCache,
    *,
    organization_id: str,
    user_id: str | None,
    classification_id: uuid.UUID,
    code: str | None = None,
) -> Classification:
    """A person confirms (or corrects) a classification: it becomes the organization's
    precedent for similar descriptions."""
    row = await get_classification(session, organization_id, classification_id)
    final = "".join(ch for ch in (code or row.code or "") if ch.isdigit())
    if len(final) < 4:
        raise ValidationFailed("code: confirm with a code of at least 4 digits")
    await repository.insert_precedents(
        session,
        [PrecedentRecord(description=row.input, code=final, source="org")],
        organization_id=organization_id,
        created_by=user_id,
    )
    row.result = {**row.result, "confirmed_code": final, "confirmed_by": user_id}
    await session.flush()
    engines.precedents_changed()
    return row


async def import_public_precedents(session: AsyncSession, records: list[PrecedentRecord]) -> int:
    return await repository.insert_precedents(session, records)
