"""Pydantic models: what each LLM task must answer, and the usage report."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

# ---------------------------------------------------------------- LLM outputs


class QuestionOption(BaseModel):
    code: str = Field(description="One of the candidate codes this answer leads to.")
    label: str = Field(max_length=200)


class ClarifyingQuestion(BaseModel):
    text: str = Field(max_length=300)
    options: list[QuestionOption] = Field(min_length=2, max_length=8)


class ClassificationDecision(BaseModel):
    """(a) The LLM's choice among the candidate lines."""

    status: Literal["classified", "needs_info"]
    code: str | None = Field(
        description="A candidate code, at the deepest level the description supports."
    )
    confidence: float = Field(ge=0.0, le=1.0)
    reasoning: str = Field(max_length=1500)
    rules: list[str] = Field(default_factory=list, description='GRIs applied, e.g. "GRI 1".')
    question: ClarifyingQuestion | None = None


class QuestionSet(BaseModel):
    """(b) Questions whose answers decide between the candidates."""

    questions: list[ClarifyingQuestion] = Field(min_length=1, max_length=3)


class VagueVerdict(BaseModel):
    """(c) Second opinion on a description the engine found too vague."""

    vague: bool
    product: str | None = Field(
        default=None, max_length=120, description="What the goods are, when not vague."
    )
    reason: str = Field(max_length=500)
    ask: str | None = Field(default=None, max_length=300, description="What to ask for.")


class DescriptionAnalysis(BaseModel):
    """(d) Facts stated in a free-text description (null when not stated)."""

    product: str | None = Field(default=None, max_length=120)
    material: str | None = Field(default=None, max_length=120)
    composition: str | None = Field(default=None, max_length=200)
    function: str | None = Field(default=None, max_length=200)
    intended_user: str | None = Field(default=None, max_length=120)


class ExtractedLine(BaseModel):
    """(f) One line of a tariff page."""

    code: str = Field(description="The code as printed, e.g. 6109.10.00.00")
    description: str
    duty: str | None = None
    notes: str | None = None


class ExtractedPage(BaseModel):
    lines: list[ExtractedLine] = Field(default_factory=list)
    chapter_notes: dict[str, str] = Field(
        default_factory=dict, description="Chapter number -> notes text found on the page."
    )


# ---------------------------------------------------------------- API


class UsageRow(BaseModel):
    provider: str
    model: str
    task: str
    calls: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: Decimal
    avg_response_time_ms: int


class UsageReport(BaseModel):
    organization_id: str
    month: str
    calls: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: Decimal
    rows: list[UsageRow]
