"""Request and response models of the classification API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sivug.models import Classification, ClassificationList, ClassificationSession


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=4000, examples=["Men's cotton T-shirt"])
    attributes: dict[str, str] | None = Field(
        default=None,
        description="Optional facts: material, composition, function, gender, category, price.",
        examples=[{"material": "100% cotton", "category": "Clothing > Men > T-shirts"}],
    )
    book: str | None = Field(
        default=None, description="Customs book id; default: yours, then your organization's."
    )


class AlternativeOut(BaseModel):
    code: str
    confidence: float
    description: str = ""


class OptionOut(BaseModel):
    value: str
    label: str
    leads_to: list[str] = []


class QuestionOut(BaseModel):
    id: str
    text: str
    options: list[OptionOut]


class ClassificationOut(BaseModel):
    id: uuid.UUID
    status: Literal["classified", "needs_info", "rejected_vague"]
    code: str | None
    level: int
    confidence: float
    confidence_by_level: dict[str, float]
    description: str = Field(description="The official text of the code, from the chapter down.")
    alternatives: list[AlternativeOut]
    questions: list[QuestionOut]
    message: str
    rationale: dict[str, Any]
    engine: str = Field(description="What answered: the offline engine, or an LLM provider/model.")
    book: str
    input: str
    attributes: dict[str, str]
    channel: str
    created_at: datetime
    confirmed_code: str | None = None

    @classmethod
    def of(cls, row: Classification) -> ClassificationOut:
        result = row.result
        return cls(
            id=row.id,
            status=result["status"],
            code=result.get("code"),
            level=result.get("level") or 0,
            confidence=result.get("confidence") or 0.0,
            confidence_by_level=result.get("confidence_by_level") or {},
            description=result.get("description") or "",
            alternatives=[AlternativeOut(**a) for a in result.get("alternatives", [])],
            questions=[QuestionOut(**q) for q in result.get("questions", [])],
            message=result.get("message") or "",
            rationale=result.get("rationale") or {},
            engine=row.engine,
            book=row.book_id,
            input=row.input,
            attributes=row.attributes,
            channel=row.channel,
            created_at=row.created_at,
            confirmed_code=result.get("confirmed_code"),
        )


class HistoryPage(BaseModel):
    items: list[ClassificationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(
        default=None, description="The code you settled on; default: the code Sivug gave."
    )


class SessionStart(ClassifyRequest):
    pass


class SessionAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str] = Field(
        min_length=1, description="Question id -> chosen option value (or free text)."
    )


class SessionOut(BaseModel):
    id: uuid.UUID
    status: Literal["open", "classified", "rejected"]
    description: str
    answers: dict[str, str]
    book: str
    result: dict[str, Any]
    classification_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ClassificationSession) -> SessionOut:
        return cls(
            id=row.id,
            status=row.status,
            description=row.description,
            answers=row.answers,
            book=row.book_id,
            result=row.last_result,
            classification_id=row.classification_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ListAccepted(BaseModel):
    id: uuid.UUID
    status: str
    total: int


class ListOut(BaseModel):
    id: uuid.UUID
    filename: str
    status: Literal["queued", "running", "done", "failed"]
    total: int
    done: int
    book: str | None
    error: str | None
    created_at: datetime
    results_url: str | None

    @classmethod
    def of(cls, row: ClassificationList) -> ListOut:
        return cls(
            id=row.id,
            filename=row.filename,
            status=row.status,
            total=row.total,
            done=row.done,
            book=row.book_id,
            error=row.error,
            created_at=row.created_at,
            results_url=f"/api/v1/lists/{row.id}/results" if row.status == "done" else None,
        )
