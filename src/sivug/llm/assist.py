"""LLM tasks built on the offline engine's answer.

:func:`assist` takes the engine's result and improves it where an LLM helps:

- (a) classification: the engine proposes the candidate subtree; the LLM decides within it,
  seeing only those lines, their section and chapter notes and the GRIs. The answer is
  validated: a code outside the candidates (hence possibly outside the book) is refused;
- (b) clarifying questions when the LLM cannot decide, options restricted to candidates;
- (c) a second opinion on descriptions the engine rejects as vague;
- (d) description analysis (product, material, composition, function, intended user) when
  the engine found nothing to go on;
- (e) a calibrated confidence that blends the LLM's own estimate with the engine's
  probability for the chosen code (weights in ``models.toml``).

When the LLM fails in any way (no provider, all failing, limits, invalid answers twice), the
engine's result stands and its rationale says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sivug.engine import ClassificationResult, Engine, Option, Question
from sivug.engine.book import Book
from sivug.llm import prompts
from sivug.llm.catalog import Calibration
from sivug.llm.prompts import CandidateContext, digits
from sivug.llm.schemas import (
    ClarifyingQuestion,
    ClassificationDecision,
    DescriptionAnalysis,
    QuestionSet,
    VagueVerdict,
)
from sivug.llm.service import LLMCall, LLMInvalidAnswer, LLMLimitReached, LLMService, LLMUnavailable
from sivug.models import Classification
from sivug.platform.logging import get_logger

log = get_logger(__name__)

_LEVEL_NAMES = {2: "chapter", 4: "heading", 6: "subheading"}


@dataclass(frozen=True)
class Assisted:
    """The final result, the LLM calls that shaped it, and why the LLM did not, if so."""

    result: ClassificationResult
    calls: tuple[LLMCall[Any], ...] = ()
    fallback: str | None = None

    @property
    def answered_by_llm(self) -> bool:
        return any(self.result.engine == c.engine for c in self.calls)


def book_version(book: Book) -> str:
    return f"{book.id}@{book.version}"


# ---------------------------------------------------------------- (e) calibration


def calibrate(
    llm_confidence: float, engine_mass: float, agrees: bool, calibration: Calibration
) -> float:
    """Blend the LLM's confidence with the engine's probability for the same code."""
    blended = calibration.w_llm * llm_confidence + calibration.w_engine * engine_mass
    if not agrees:
        blended *= calibration.disagreement
    return round(max(0.0, min(blended, calibration.ceiling)), 4)


def _engine_mass(result: ClassificationResult, code: str) -> float:
    """The engine's probability for ``code`` (or the best estimate it gives of it)."""
    mass = sum(a.confidence for a in result.alternatives if a.code.startswith(code))
    if result.code and code.startswith(result.code):
        mass = max(mass, result.confidence if result.code == code else 0.0)
    by_level = result.confidence_by_level.get(_LEVEL_NAMES.get(len(code), "national"))
    if by_level is not None and result.code and result.code.startswith(code):
        mass = max(mass, by_level)
    return min(mass, 1.0)


# ---------------------------------------------------------------- validation


def decision_problem(decision: ClassificationDecision, context: CandidateContext) -> str | None:
    allowed = set(context.codes)
    code = digits(decision.code)
    if decision.status == "classified" and not code:
        return "status classified without a code"
    if code and code not in allowed:
        return f"code {decision.code!r} is not one of the candidate lines"
    if decision.question is not None:
        return question_problem(decision.question, allowed)
    return None


def question_problem(question: ClarifyingQuestion, allowed: set[str]) -> str | None:
    for option in question.options:
        if digits(option.code) not in allowed:
            return f"option code {option.code!r} is not one of the candidate lines"
    return None


def _to_question(question: ClarifyingQuestion, node: str) -> Question:
    return Question(
        id=f"llm:{node}",
        text=question.text,
        options=tuple(Option(digits(o.code), o.label, (digits(o.code),)) for o in question.options),
    )


# ---------------------------------------------------------------- the tasks


async def decide(
    session: AsyncSession,
    llm: LLMService,
    engine: Engine,
    offline: ClassificationResult,
    description: str,
    attributes: Mapping[str, str] | None,
    *,
    organization_id: str | None,
    answers: Mapping[str, str] | None = None,
) -> tuple[ClassificationResult, LLMCall[ClassificationDecision]]:
    """(a) + (e): the LLM decides among the engine's candidates; confidence calibrated."""
    prompt, context = prompts.bounded_classify_prompt(
        engine, offline, description, attributes, answers
    )
    call = await llm.run(
        session,
        task="classify",
        organization_id=organization_id,
        system=prompts.CLASSIFY_SYSTEM,
        prompt=prompt,
        output_type=ClassificationDecision,
        book_version=book_version(engine.book),
        validate=lambda d: decision_problem(d, context),
    )
    decision = call.output
    book = engine.book
    code = digits(decision.code) or None
    questions: tuple[Question, ...] = ()
    if decision.question is not None:
        questions = (_to_question(decision.question, code or "root"),)
    status = decision.status
    if status == "needs_info" and not questions:
        questions = offline.questions
    agrees = bool(
        code and offline.code and (offline.code.startswith(code) or code.startswith(offline.code))
    )
    confidence = (
        calibrate(decision.confidence, _engine_mass(offline, code), agrees, llm.catalog.calibration)
        if code
        else 0.0
    )
    path = book.path(code) if code else []
    by_level: dict[str, float] = {}
    for line in path:
        level = _LEVEL_NAMES.get(len(line.code), "national")
        ancestor = max(confidence, offline.confidence_by_level.get(level, 0.0))
        by_level[level] = confidence if line.code == code else round(ancestor, 4)
    rationale = dict(offline.rationale)
    rationale["path"] = [{"code": line.code, "text": line.text()} for line in path]
    rationale["llm"] = {
        "engine": call.engine,
        "reasoning": decision.reasoning,
        "rules": decision.rules,
        "llm_confidence": decision.confidence,
        "offline_code": offline.code,
        "offline_confidence": offline.confidence,
        "candidates": len(context.codes),
        "cache_hit": call.cache_hit,
    }
    message = ""
    if status == "needs_info":
        message = (
            f"the description supports {_LEVEL_NAMES.get(len(code), 'national')} {code}"
            if code
            else "the description does not say enough to choose a chapter"
        ) + "; answer the questions to go further"
    alternatives = tuple(a for a in offline.alternatives if a.code != code)
    result = dataclasses.replace(
        offline,
        status=status,
        code=code,
        level=len(code) if code else 0,
        confidence=confidence,
        confidence_by_level=by_level,
        alternatives=alternatives,
        description=book.path_text(code) if code else "",
        rationale=rationale,
        questions=questions,
        message=message,
        engine=call.engine,
    )
    return result, call


async def clarifying_questions(
    session: AsyncSession,
    llm: LLMService,
    engine: Engine,
    offline: ClassificationResult,
    description: str,
    attributes: Mapping[str, str] | None,
    *,
    organization_id: str | None,
) -> tuple[tuple[Question, ...], LLMCall[QuestionSet]]:
    """(b) Questions whose options are candidate codes, for interactive sessions."""
    context = prompts.candidate_context(engine, offline, 40)
    allowed = set(context.codes)

    def problem(answer: QuestionSet) -> str | None:
        for question in answer.questions:
            found = question_problem(question, allowed)
            if found:
                return found
        return None

    call = await llm.run(
        session,
        task="questions",
        organization_id=organization_id,
        system=prompts.QUESTIONS_SYSTEM,
        prompt=prompts.questions_prompt(context, description, attributes),
        output_type=QuestionSet,
        book_version=book_version(engine.book),
        validate=problem,
    )
    node = offline.code or "root"
    return tuple(_to_question(q, node) for q in call.output.questions), call


async def second_opinion(
    session: AsyncSession,
    llm: LLMService,
    description: str,
    attributes: Mapping[str, str] | None,
    *,
    organization_id: str | None,
) -> LLMCall[VagueVerdict]:
    """(c) Is a description the engine found vague really too vague to classify?"""
    return await llm.run(
        session,
        task="second_opinion",
        organization_id=organization_id,
        system=prompts.SECOND_OPINION_SYSTEM,
        prompt=prompts.text_prompt(description, attributes),
        output_type=VagueVerdict,
    )


async def analyse(
    session: AsyncSession,
    llm: LLMService,
    description: str,
    attributes: Mapping[str, str] | None = None,
    *,
    organization_id: str | None,
) -> LLMCall[DescriptionAnalysis]:
    """(d) Material, function, composition and intended user, as stated in free text."""
    return await llm.run(
        session,
        task="analyse",
        organization_id=organization_id,
        system=prompts.ANALYSE_SYSTEM,
        prompt=prompts.text_prompt(description, attributes),
        output_type=DescriptionAnalysis,
    )


def _analysis_attributes(analysis: DescriptionAnalysis) -> dict[str, str]:
    return {k: v for k, v in analysis.model_dump().items() if isinstance(v, str) and v.strip()}


# ---------------------------------------------------------------- the whole flow


async def assist(
    session: AsyncSession,
    llm: LLMService,
    engine: Engine,
    offline: ClassificationResult,
    description: str,
    attributes: Mapping[str, str] | None,
    *,
    organization_id: str | None,
    answers: Mapping[str, str] | None = None,
) -> Assisted:
    """The engine's result, improved by the LLM where it can; never worse than the engine's."""
    calls: list[LLMCall[Any]] = []
    try:
        current = offline
        attrs = dict(attributes or {})
        if current.status == "rejected_vague":
            opinion = await second_opinion(
                session, llm, description, attrs, organization_id=organization_id
            )
            calls.append(opinion)
            verdict = opinion.output
            if verdict.vague or not verdict.product:
                rationale = {
                    **current.rationale,
                    "llm": {
                        "engine": opinion.engine,
                        "second_opinion": "vague",
                        "reason": verdict.reason,
                    },
                }
                message = current.message
                if verdict.ask:
                    message = f"{message} ({verdict.ask})" if message else verdict.ask
                result = dataclasses.replace(
                    current, rationale=rationale, message=message, engine=opinion.engine
                )
                return Assisted(result, tuple(calls))
            attrs["product"] = verdict.product
            current = engine.classify(
                description, attrs, answers=dict(answers or {}), organization_id=organization_id
            )
            if current.status == "rejected_vague":
                return Assisted(offline, tuple(calls), "the engine still finds it vague")
        if not current.alternatives:
            analysis = await analyse(
                session, llm, description, attrs, organization_id=organization_id
            )
            calls.append(analysis)
            extra = _analysis_attributes(analysis.output)
            if extra:
                attrs.update({k: v for k, v in extra.items() if k not in attrs})
                current = engine.classify(
                    description, attrs, answers=dict(answers or {}), organization_id=organization_id
                )
            if not current.alternatives:
                return Assisted(offline, tuple(calls), "no candidate lines to decide between")
        result, call = await decide(
            session,
            llm,
            engine,
            current,
            description,
            attrs,
            organization_id=organization_id,
            answers=answers,
        )
        calls.append(call)
        if result.status == "needs_info" and not result.questions:
            questions, asked = await clarifying_questions(
                session, llm, engine, current, description, attrs, organization_id=organization_id
            )
            calls.append(asked)
            result = dataclasses.replace(result, questions=questions)
        return Assisted(result, tuple(calls))
    except (LLMUnavailable, LLMLimitReached, LLMInvalidAnswer) as exc:
        reason = f"{type(exc).__name__}: {exc.detail}"
        log.warning("llm.fallback_offline", reason=type(exc).__name__)
        rationale = {**offline.rationale, "llm": {"fallback": reason}}
        return Assisted(dataclasses.replace(offline, rationale=rationale), tuple(calls), reason)


def fill_llm_columns(row: Classification, assisted: Assisted) -> None:
    """The seed's ``llm_*`` columns of a classification: every call that shaped it, summed."""
    calls = assisted.calls
    if not calls:
        row.result = {**row.result, "llm": {"calls": [], "fallback": assisted.fallback}}
        return
    last = calls[-1]
    row.llm_provider = last.provider
    row.llm_model = last.model
    row.llm_input_tokens = sum(c.usage.input_tokens for c in calls)
    row.llm_output_tokens = sum(c.usage.output_tokens for c in calls)
    row.llm_total_tokens = sum(c.usage.total_tokens for c in calls)
    row.llm_cost = sum((c.cost for c in calls), Decimal(0))
    row.llm_response_time_ms = sum(c.latency_ms for c in calls)
    row.result = {
        **row.result,
        "llm": {
            "calls": [
                {
                    "task": c.task,
                    "engine": c.engine,
                    "cache_hit": c.cache_hit,
                    "input_tokens": c.usage.input_tokens,
                    "output_tokens": c.usage.output_tokens,
                    "cost": str(c.cost),
                    "response_time_ms": c.latency_ms,
                }
                for c in calls
            ],
            "fallback": assisted.fallback,
        },
    }
