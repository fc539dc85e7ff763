"""What the engine returns, and the precedents it is given. Plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["classified", "needs_info", "rejected_vague"]


@dataclass(frozen=True, slots=True)
class Precedent:
    """A confirmed classification used as evidence for similar descriptions.

    ``organization_id`` set: only that organization's classifications see it.
    """

    description: str
    code: str
    source: str = "reference"  # "ruling", "reference" or "org"
    organization_id: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    value: str  # a code of the book; free text matching ``label`` is accepted too
    label: str
    leads_to: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label, "leads_to": list(self.leads_to)}


@dataclass(frozen=True, slots=True)
class Question:
    """A question whose answer decides between the leading candidates.

    Answer it by passing ``answers={question.id: option.value}`` (or a free-text value such
    as "cotton") to the next ``classify`` call.
    """

    id: str
    text: str
    options: tuple[Option, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "options": [o.to_dict() for o in self.options]}


@dataclass(frozen=True, slots=True)
class Alternative:
    code: str
    confidence: float
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "confidence": self.confidence, "description": self.description}


@dataclass(frozen=True, slots=True)
class ClassificationResult:
    status: Status
    code: str | None
    level: int
    confidence: float
    confidence_by_level: dict[str, float]
    alternatives: tuple[Alternative, ...]
    description: str
    rationale: dict[str, Any]
    questions: tuple[Question, ...]
    message: str
    engine: str
    book: str
    answers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary of the whole result (fresh containers throughout)."""
        return {
            "status": self.status,
            "code": self.code,
            "level": self.level,
            "confidence": self.confidence,
            "confidence_by_level": dict(self.confidence_by_level),
            "alternatives": [a.to_dict() for a in self.alternatives],
            "description": self.description,
            "rationale": _plain(self.rationale),
            "questions": [q.to_dict() for q in self.questions],
            "message": self.message,
            "engine": self.engine,
            "book": self.book,
            "answers": dict(self.answers),
        }


def _plain(value: Any) -> Any:
    """Containers copied (tuples become lists), leaves kept: cheaper than ``asdict``."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class LineView:
    """A book line as ``Engine.lookup`` and ``Engine.search`` return it."""

    code: str
    level: int
    text: str
    path_text: str
    path: tuple[tuple[str, str], ...]  # (code, own text) from the chapter down
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = [{"code": c, "text": t} for c, t in self.path]
        return data
