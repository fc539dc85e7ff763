"""An in-memory LLM for local development and tests: no network, scripted answers.

Selected by ``SIVUG_LLM_FAKE=true`` in local mode (see ``sivug.llm.service.build_clients``).
Answers come from a script (first in, first out), else from a responder function given the
request, else an error is raised.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sivug.wrappers.llm_base import (
    LLMError,
    LLMRequestError,
    LLMWrapper,
    RawAnswer,
    RetryPolicy,
    StructuredRequest,
    Usage,
)


@dataclass
class ScriptedAnswer:
    """One answer: a JSON object, raw text, or an error to raise."""

    data: dict[str, Any] | None = None
    text: str | None = None
    error: LLMError | None = None
    usage: Usage = field(default_factory=lambda: Usage(100, 20))


Responder = Callable[[str, StructuredRequest], ScriptedAnswer]


def estimate_tokens(text: str) -> int:
    """About four characters per token (English text; what the fake charges)."""
    return max(1, (len(text) + 3) // 4)


class FakeLLMWrapper(LLMWrapper):
    def __init__(
        self,
        *,
        provider: str = "fake",
        script: Iterable[ScriptedAnswer] = (),
        responder: Responder | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(timeout=1.0, retry=retry or RetryPolicy(attempts=1))
        self.provider = provider
        self.script: deque[ScriptedAnswer] = deque(script)
        self.responder = responder
        self.requests: list[tuple[str, StructuredRequest]] = []

    async def _call(self, model: str, request: StructuredRequest) -> RawAnswer:
        self.requests.append((model, request))
        if self.script:
            answer = self.script.popleft()
        elif self.responder is not None:
            answer = self.responder(model, request)
        else:
            raise LLMRequestError("fake: nothing scripted", provider=self.provider, status=400)
        if answer.error is not None:
            raise answer.error
        text = answer.text if answer.text is not None else json.dumps(answer.data or {})
        return RawAnswer(text=text, usage=answer.usage)
