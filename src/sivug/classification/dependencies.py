"""FastAPI dependencies of the classification domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sivug.classification.engines import EngineCache


def _engines(request: Request) -> EngineCache:
    engines: EngineCache = request.app.state.engines
    return engines


Engines = Annotated[EngineCache, Depends(_engines)]
