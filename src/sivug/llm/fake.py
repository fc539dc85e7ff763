"""The in-memory LLM of local mode (``SIVUG_LLM_FAKE=true``): answers every task with a
schema-valid object, choosing the first candidate line it is shown. For development only."""

from __future__ import annotations

import re

from sivug.llm.schemas import (
    ClassificationDecision,
    DescriptionAnalysis,
    ExtractedPage,
    QuestionSet,
    VagueVerdict,
)
from sivug.wrappers.fake_llm import FakeLLMWrapper, ScriptedAnswer, estimate_tokens
from sivug.wrappers.llm_base import StructuredRequest, Usage

_CANDIDATE = re.compile(r"^\s*([\d.]+) \| ", re.MULTILINE)


def _respond(model: str, request: StructuredRequest) -> ScriptedAnswer:
    usage = Usage(estimate_tokens(request.system + request.prompt), 40)
    codes = [c.replace(".", "") for c in _CANDIDATE.findall(request.prompt)]
    deepest = max(codes, key=len) if codes else None
    data: dict[str, object]
    if request.schema_name == ClassificationDecision.__name__:
        data = {
            "status": "classified" if deepest else "needs_info",
            "code": deepest,
            "confidence": 0.5,
            "reasoning": "fake LLM (local mode): the first deepest candidate",
            "rules": ["GRI 1"],
        }
    elif request.schema_name == QuestionSet.__name__:
        options = [{"code": c, "label": c} for c in codes[:2]] or [
            {"code": "", "label": "yes"},
            {"code": "", "label": "no"},
        ]
        data = {"questions": [{"text": "Which of these is it?", "options": options}]}
    elif request.schema_name == VagueVerdict.__name__:
        data = {"vague": True, "reason": "fake LLM (local mode)", "ask": "what the goods are"}
    elif request.schema_name == DescriptionAnalysis.__name__:
        data = {}
    elif request.schema_name == ExtractedPage.__name__:
        data = {"lines": []}
    else:
        data = {}
    return ScriptedAnswer(data=data, usage=usage)


def local_fake() -> FakeLLMWrapper:
    return FakeLLMWrapper(provider="fake", responder=_respond)
