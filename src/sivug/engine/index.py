"""A BM25 index over the leaves of a book, each leaf carrying the words of its whole path.

A leaf such as HS 620349 reads only "Other" in some books; here it also carries "trousers",
"women's or girls'", "not knitted or crocheted" from its ancestors, so a query finds it.
Words inside exclusions ("other than cotton", "not knitted") are kept apart: they count
against a line, not for it.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from sivug.engine.book import Book, TariffLine
from sivug.engine.text import stems

# "(other than cotton)", "other than ski-boots", "excluding items of 8443", "not knitted".
_PAREN_EXCLUSION = re.compile(
    r"\((?:other than|excluding|excl\.|except|not|but not)\s+([^)]*)\)", re.IGNORECASE
)
_EXCLUSION = re.compile(
    r"\b(?:other than|excluding|excl\.|except|not(?! exceeding| more| less| over| under))"
    r"\s+([^;(),]*)",
    re.IGNORECASE,
)
_BOTH_WAYS = re.compile(r"\bwhether or not\b|\bor not\b", re.IGNORECASE)
_RESIDUAL = re.compile(
    r"^\s*other\b|\bn\.e\.c\b|\bnot elsewhere\b|\bother than\b|\bnes\b", re.IGNORECASE
)

#: Weight of an ancestor's words in a leaf, by distance (own text first).
_PATH_WEIGHTS = (1.0, 0.6, 0.35, 0.25, 0.2, 0.15)
_SECTION_WEIGHT = 0.15
_K1 = 1.2
_B = 0.5
#: Chapters of special provisions, never reached by plain text search.
SPECIAL_CHAPTERS = frozenset({"77", "98", "99"})


def split_exclusions(text: str) -> tuple[str, str]:
    """``text`` without its exclusion clauses, and the exclusion clauses themselves."""
    excluded: list[str] = []
    text = _BOTH_WAYS.sub(" ", text)

    def keep(match: re.Match[str]) -> str:
        excluded.append(match.group(1))
        return " "

    positive = _PAREN_EXCLUSION.sub(keep, text)
    positive = _EXCLUSION.sub(keep, positive)
    return positive, " ".join(excluded)


@dataclass(frozen=True, slots=True)
class LineWords:
    """The stems of one line's own text, split into what it covers and what it excludes."""

    positive: frozenset[str]
    excluded: frozenset[str]
    residual: bool


def line_words(line: TariffLine) -> LineWords:
    positive: set[str] = set()
    excluded: set[str] = set()
    residual = False
    for text in line.texts.values():
        pos, exc = split_exclusions(text)
        positive.update(stems(pos))
        excluded.update(stems(exc))
        residual = residual or bool(_RESIDUAL.search(text))
    return LineWords(frozenset(positive), frozenset(excluded - positive), residual)


class BookIndex:
    """BM25 over the leaves of ``book``; also the per-line word sets used for questions."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self.words: dict[str, LineWords] = {
            code: line_words(line) for code, line in book.lines.items()
        }
        self.leaves: list[str] = sorted(line.code for line in book.leaves())
        self.vocabulary: set[str] = set()
        self.excluded: list[frozenset[str]] = []
        self.special: list[bool] = []
        self.parts: list[bool] = []  # "parts of ..." lines: wrong for a whole article
        self.paths: list[tuple[str, ...]] = []  # ancestor codes of each leaf, chapter first
        self.doc_stems: list[frozenset[str]] = []

        docs: list[dict[str, float]] = []
        for code in self.leaves:
            tf: dict[str, float] = {}
            excluded: set[str] = set()
            path = book.path(code)
            for distance, line in enumerate(reversed(path)):
                weight = _PATH_WEIGHTS[min(distance, len(_PATH_WEIGHTS) - 1)]
                words = self.words[line.code]
                for text in line.texts.values():
                    for s in stems(split_exclusions(text)[0]):
                        tf[s] = tf.get(s, 0.0) + weight
                excluded.update(words.excluded)
            section = book.sections.get(path[0].section) if path else None
            if section is not None:
                for s in stems(section.title):
                    tf[s] = tf.get(s, 0.0) + _SECTION_WEIGHT
            docs.append(tf)
            self.paths.append(tuple(line.code for line in path))
            self.doc_stems.append(frozenset(tf))
            self.excluded.append(frozenset(excluded - set(tf)))
            self.special.append(code[:2] in SPECIAL_CHAPTERS)
            own = self.words[code].positive
            self.parts.append("part" in own or "accessori" in own)

        #: stem -> the leaves that exclude it ("other than of cotton" excludes "cotton").
        self.excluded_by: dict[str, set[int]] = {}
        for i, stems_out in enumerate(self.excluded):
            for s in stems_out:
                self.excluded_by.setdefault(s, set()).add(i)

        n = len(docs) or 1
        avgdl = sum(sum(d.values()) for d in docs) / n or 1.0
        df: dict[str, int] = {}
        for d in docs:
            for s in d:
                df[s] = df.get(s, 0) + 1
        self.idf = {s: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for s, f in df.items()}
        self.vocabulary = set(df)
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for i, d in enumerate(docs):
            norm = _K1 * (1.0 - _B + _B * sum(d.values()) / avgdl)
            for s, f in d.items():
                score = self.idf[s] * f * (_K1 + 1.0) / (f + norm)
                self.postings.setdefault(s, []).append((i, score))

    def idf_of(self, stem: str) -> float:
        """IDF of ``stem``; unknown stems count as rare (they are informative when matched)."""
        return self.idf.get(stem, 0.0)

    def score(self, query: dict[str, float]) -> dict[int, float]:
        """Leaf index -> BM25 coverage in about [0, 1.5] (1 = every query word well matched)."""
        total = sum(w * self.idf.get(s, 0.0) for s, w in query.items())
        if total <= 0.0:
            return {}
        scores: dict[int, float] = {}
        get = scores.get  # the engine's innermost loop: names bound once
        postings = self.postings
        for s, w in query.items():
            for i, contribution in postings.get(s, ()):
                scores[i] = get(i, 0.0) + w * contribution
        return {i: v / total for i, v in scores.items()}

    def excluding(self, stems: Iterable[str]) -> set[int]:
        """The leaves that exclude at least one of ``stems``."""
        out: set[int] = set()
        for s in stems:
            out |= self.excluded_by.get(s, set())
        return out

    def exclusion_penalty(
        self, leaf: int, query: dict[str, float], total: float | None = None
    ) -> float:
        """Share of the query's weight that this leaf explicitly excludes.

        ``total`` is the query's whole weight (:meth:`query_weight`), when already known.
        """
        excluded = self.excluded[leaf]
        if not excluded:
            return 0.0
        if total is None:
            total = self.query_weight(query)
        return sum(w * self.idf.get(s, 0.0) for s, w in query.items() if s in excluded) / total

    def query_weight(self, query: dict[str, float]) -> float:
        """The IDF-weighted sum of the query's weights (never 0)."""
        return sum(w * self.idf.get(s, 0.0) for s, w in query.items()) or 1.0

    def leaves_under(self, code: str) -> range:
        """Indices of the leaves whose code starts with ``code``."""
        return range(bisect_left(self.leaves, code), bisect_left(self.leaves, code + "\x7f"))
