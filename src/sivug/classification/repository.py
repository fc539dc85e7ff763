"""All SQL for classifications, interactive sessions and precedents."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import JSON, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from sivug.classification.precedent_files import PrecedentRecord
from sivug.models import Classification, ClassificationList, ClassificationSession, Precedent
from sivug.models.base import utcnow

_CLASSIFICATION_ATTRIBUTES = tuple(attr.key for attr in Classification.__mapper__.column_attrs)


def _python_default(key: str) -> Callable[[], Any]:
    """The Python-side default of a Classification column, as a function (None if none)."""
    default = Classification.__mapper__.column_attrs[key].columns[0].default
    if default is not None and default.is_callable:
        make = default.arg
        return lambda: make(None)
    value = default.arg if default is not None and default.is_scalar else None
    return lambda: value


_DEFAULTS = {key: _python_default(key) for key in _CLASSIFICATION_ATTRIBUTES}
_JSON_ATTRIBUTES = frozenset(
    attr.key
    for attr in Classification.__mapper__.column_attrs
    if isinstance(attr.columns[0].type, JSON)
)
_INSERT_CLASSIFICATION = "INSERT INTO {} ({}) VALUES ({})".format(
    Classification.__tablename__,
    ", ".join(
        Classification.__mapper__.column_attrs[key].columns[0].name
        for key in _CLASSIFICATION_ATTRIBUTES
    ),
    ", ".join(["%s"] * len(_CLASSIFICATION_ATTRIBUTES)),
)


def description_hash(description: str) -> str:
    normalized = " ".join(description.lower().split())
    return hashlib.sha256(normalized.encode()).hexdigest()


async def insert_precedents(
    session: AsyncSession,
    records: Iterable[PrecedentRecord],
    *,
    organization_id: str | None = None,
    created_by: str | None = None,
) -> int:
    """Store precedents, skipping ones already stored. Returns how many are new."""
    rows = [
        {
            "organization_id": organization_id,
            "source": r.source,
            "reference": r.reference,
            "description": r.description,
            "description_hash": description_hash(r.description),
            "code": r.code,
            "justification": r.justification,
            "created_by": created_by,
        }
        for r in records
    ]
    inserted = 0
    for start in range(0, len(rows), 2000):
        stmt = (
            insert(Precedent)
            .values(rows[start : start + 2000])
            .on_conflict_do_nothing()
            .returning(Precedent.id)
        )
        inserted += len((await session.execute(stmt)).all())
    return inserted


async def precedents_after(session: AsyncSession, last_id: int) -> list[Precedent]:
    result = await session.execute(
        select(Precedent).where(Precedent.id > last_id).order_by(Precedent.id)
    )
    return list(result.scalars())


async def latest_precedent_id(session: AsyncSession) -> int:
    result = await session.execute(select(func.coalesce(func.max(Precedent.id), 0)))
    return int(result.scalar_one())


async def add_classification(session: AsyncSession, row: Classification) -> None:
    """Store a new classification with one INSERT and attach it to the session.

    The hot path of every channel: a Core INSERT skips the unit of work's bookkeeping, then
    the row joins the session as persistent (later changes to it flush as UPDATEs)."""
    await insert_classifications(session, [row])
    make_transient_to_detached(row)
    session.add(row)


async def insert_classifications(session: AsyncSession, rows: list[Classification]) -> None:
    """One INSERT for new classifications (ids and times filled in here); the objects stay
    outside the session.

    The API's busiest write: the statement goes to the driver as it is (one executemany in
    the session's transaction), without the ORM's bulk-insert machinery, which cost the web
    process more than the INSERT cost PostgreSQL."""
    now = utcnow()
    params = []
    for row in rows:
        row.id = row.id or uuid.uuid4()
        row.created_at = row.created_at or now
        row.updated_at = row.updated_at or now
        state = row.__dict__
        for key in _CLASSIFICATION_ATTRIBUTES:
            if key not in state:  # never set: its default, and known to be (no lazy load)
                set_committed_value(row, key, _DEFAULTS[key]())
        params.append(
            tuple(
                Jsonb(state[key]) if key in _JSON_ATTRIBUTES else state[key]
                for key in _CLASSIFICATION_ATTRIBUTES
            )
        )
    connection = await session.connection()
    await connection.exec_driver_sql(_INSERT_CLASSIFICATION, params)


async def get_classification(
    session: AsyncSession, organization_id: str, classification_id: uuid.UUID
) -> Classification | None:
    result = await session.execute(
        select(Classification).where(
            Classification.id == classification_id,
            Classification.organization_id == organization_id,
        )
    )
    return result.scalar_one_or_none()


async def get_session(
    session: AsyncSession, organization_id: str, session_id: uuid.UUID, *, for_update: bool = False
) -> ClassificationSession | None:
    stmt = select(ClassificationSession).where(
        ClassificationSession.id == session_id,
        ClassificationSession.organization_id == organization_id,
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class HistoryFilter:
    status: str | None = None
    book_id: str | None = None
    channel: str | None = None
    text: str | None = None
    code_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None


async def history(
    session: AsyncSession,
    organization_id: str,
    filters: HistoryFilter,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Classification]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page."""
    stmt = select(Classification).where(Classification.organization_id == organization_id)
    if filters.status:
        stmt = stmt.where(Classification.status == filters.status)
    if filters.book_id:
        stmt = stmt.where(Classification.book_id == filters.book_id)
    if filters.channel:
        stmt = stmt.where(Classification.channel == filters.channel)
    if filters.user_id:
        stmt = stmt.where(Classification.user_id == filters.user_id)
    if filters.text:
        stmt = stmt.where(
            Classification.input.ilike(f"%{_escape_like(filters.text)}%", escape="\\")
        )
    if filters.code_prefix:
        stmt = stmt.where(Classification.code.startswith(filters.code_prefix))
    if filters.since:
        stmt = stmt.where(Classification.created_at >= filters.since)
    if filters.until:
        stmt = stmt.where(Classification.created_at < filters.until)
    if after is not None:
        stmt = stmt.where(tuple_(Classification.created_at, Classification.id) < after)
    stmt = stmt.order_by(Classification.created_at.desc(), Classification.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_list(
    session: AsyncSession, organization_id: str, list_id: uuid.UUID, *, for_update: bool = False
) -> ClassificationList | None:
    stmt = select(ClassificationList).where(
        ClassificationList.id == list_id, ClassificationList.organization_id == organization_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_list_by_id(session: AsyncSession, list_id: uuid.UUID) -> ClassificationList | None:
    stmt = select(ClassificationList).where(ClassificationList.id == list_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def recent_lists(
    session: AsyncSession, organization_id: str, *, limit: int = 20
) -> list[ClassificationList]:
    """The organization's latest uploaded lists, newest first."""
    stmt = (
        select(ClassificationList)
        .where(ClassificationList.organization_id == organization_id)
        .options(
            defer(ClassificationList.input, raiseload=True),
            defer(ClassificationList.results, raiseload=True),
        )
        .order_by(ClassificationList.created_at.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
