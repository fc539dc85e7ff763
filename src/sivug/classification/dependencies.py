"""FastAPI dependencies of the classification domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sivug.classification.engines import EngineCache
from sivug.llm.service import LLMService


async def _engines(request: Request) -> EngineCache:
    engines: EngineCache = request.app.state.engines
    return engines


Engines = Annotated[EngineCache, Depends(_engines)]


async def _llm(request: Request) -> LLMService | None:
    llm: LLMService | None = request.app.state.llm
    return llm


#: The LLM tier, or None when no provider is configured (the offline engine answers).
Llm = Annotated[LLMService | None, Depends(_llm)]
