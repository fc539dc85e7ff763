"""Response models of the books API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from sivug.books.service import LineView
from sivug.models import CustomsBook


class BookOut(BaseModel):
    id: str
    name: str
    country: str
    version: str
    digits: int
    languages: list[str]
    lines: int
    imported_at: datetime | None

    @classmethod
    def of(cls, row: CustomsBook) -> BookOut:
        return cls(
            id=row.id,
            name=row.name,
            country=row.country,
            version=row.version,
            digits=row.digits,
            languages=row.languages,
            lines=row.line_count,
            imported_at=row.imported_at,
        )


class PathItem(BaseModel):
    code: str
    text: str


class LineOut(BaseModel):
    book: str
    code: str
    level: int
    text: str
    texts: dict[str, str]
    path_text: str
    path: list[PathItem]
    notes: str
    attributes: dict[str, Any]
    children: list[PathItem]

    @classmethod
    def of(cls, view: LineView, children: list[PathItem], language: str = "en") -> LineOut:
        return cls(
            book=view.book_id,
            code=view.line.code,
            level=view.line.level,
            text=view.line.text(language),
            texts=view.line.texts,
            path_text=view.path_text(language),
            path=[PathItem(code=p.code, text=p.text(language)) for p in view.path],
            notes=view.line.notes,
            attributes=dict(view.line.attributes),
            children=children,
        )


class SearchHit(BaseModel):
    code: str
    level: int
    text: str
    path_text: str
    score: float


class SearchOut(BaseModel):
    book: str
    query: str
    hits: list[SearchHit]
