"""Nearest-neighbour search over confirmed classifications (rulings, references, an org's own)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sivug.engine.result import Precedent
from sivug.engine.text import is_noise, stem, tokens


def _stems(text: str) -> set[str]:
    return {stem(t) for t in tokens(text) if not is_noise(t)}


@dataclass(frozen=True, slots=True)
class PrecedentMatch:
    precedent: Precedent
    similarity: float  # cosine over IDF-weighted stems, 0..1


class PrecedentIndex:
    """An inverted index of precedent descriptions; similarity is IDF-weighted cosine."""

    def __init__(self) -> None:
        self.items: list[Precedent] = []
        self._stems: list[set[str]] = []
        self._postings: dict[str, list[int]] = {}
        self._norms: list[float] = []
        self._idf: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def vocabulary(self) -> set[str]:
        return set(self._postings)

    def add(self, precedents: list[Precedent]) -> None:
        for p in precedents:
            s = _stems(p.description)
            if not s:
                continue
            index = len(self.items)
            self.items.append(p)
            self._stems.append(s)
            for x in s:
                self._postings.setdefault(x, []).append(index)
        n = len(self.items)
        self._idf = {s: math.log(1.0 + n / len(ids)) for s, ids in self._postings.items()}
        self._norms = [math.sqrt(sum(self._idf[x] ** 2 for x in s)) for s in self._stems]

    def search(
        self, text: str, organization_id: str | None, limit: int = 5
    ) -> list[PrecedentMatch]:
        """The most similar precedents visible to ``organization_id`` (public ones always)."""
        if not self.items:
            return []
        query = _stems(text)
        if not query:
            return []
        dots: dict[int, float] = {}
        for s in query:
            weight = self._idf.get(s, 0.0) ** 2
            for i in self._postings.get(s, ()):
                dots[i] = dots.get(i, 0.0) + weight
        q_norm = math.sqrt(
            sum(self._idf.get(s, math.log(1.0 + len(self.items))) ** 2 for s in query)
        )
        scored: list[PrecedentMatch] = []
        for i, dot in dots.items():
            p = self.items[i]
            if p.organization_id is not None and p.organization_id != organization_id:
                continue
            scored.append(PrecedentMatch(p, dot / (q_norm * self._norms[i] or 1.0)))
        scored.sort(key=lambda m: -m.similarity)
        return scored[:limit]
