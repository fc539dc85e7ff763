"""The offline classification engine: a book and a description in, a result out.

Evidence for each line of the book comes from three places and is added up:

* the product lexicon (head noun of the title -> heading), strongest;
* BM25 over the path text of every leaf (materials, gender, "knitted", exclusions);
* precedents (confirmed classifications of similar descriptions).

Scores become probabilities with a softmax that includes a "none of these" candidate, so
weak evidence gives low confidence. The tree is then walked from the chapter down, taking
the most probable child at each level and stopping where the evidence is too thin: a
correct heading is worth more than a wrong subheading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sivug.engine.book import Book, TariffLine
from sivug.engine.index import BookIndex
from sivug.engine.lexicon import Lexicon, default_lexicon
from sivug.engine.precedents import PrecedentIndex, PrecedentMatch
from sivug.engine.query import EXPANSIONS, Query, build_query
from sivug.engine.result import (
    Alternative,
    ClassificationResult,
    LineView,
    Option,
    Precedent,
    Question,
)
from sivug.engine.text import stem, tokens
from sivug.engine.vague import vagueness

ENGINE_VERSION = "0.1.0"
ENGINE_NAME = f"sivug-offline/{ENGINE_VERSION}"


@dataclass(frozen=True, slots=True)
class Tuning:
    """Weights and thresholds (tuned on the dev split, see ``bench/bench_accuracy.py``)."""

    bm25: float = 2.0
    lexicon: float = 3.0
    precedent: float = 6.0
    exclusion: float = 2.5
    parts: float = 0.6  # penalty for "parts of ..." lines when the goods are not parts
    temperature: float = 4.0
    null_score: float = 2.0  # score of "none of these": absolute evidence must beat it
    candidates: int = 300
    min_precedent_similarity: float = 0.35
    # Minimum probability to go down to a level, by number of digits (national: 8 and 10).
    chapter: float = 0.15
    heading: float = 0.25
    subheading: float = 0.3
    national: float = 0.3
    # ... and the best child must outweigh the second best by this factor.
    margin: float = 1.25

    def threshold(self, digits: int) -> float:
        if digits <= 2:
            return self.chapter
        if digits <= 4:
            return self.heading
        if digits <= 6:
            return self.subheading
        return self.national


_LEVEL_NAMES = {2: "chapter", 4: "heading", 6: "subheading"}
_MATERIAL_WORDS = frozenset(
    {
        *("cotton", "wool", "synthet", "artifici", "leather", "plastic", "rubber", "textil"),
        *("steel", "iron", "aluminium", "wood", "glass", "ceram", "porcelain", "paper"),
        *("silk", "flax", "precious", "base", "gold", "silver", "copper", "stone"),
    }
)
_GENDER_WORDS = frozenset({"men", "women", "boy", "girl"})
_ASSEMBLY = re.compile(r"\b(unassembled|disassembled|flat[- ]?pack|incomplete|unfinished)\b")
_CODE = re.compile(r"^\d{2,10}$")


def level_name(digits: int) -> str:
    return _LEVEL_NAMES.get(digits, "national")


def _strip_common(texts: list[str]) -> list[str]:
    """Each text without the words all of them share at the start and at the end."""
    split = [t.split() for t in texts]
    if len(split) < 2:
        return texts
    prefix = 0
    while all(len(s) > prefix for s in split) and len({s[prefix] for s in split}) == 1:
        prefix += 1
    suffix = 0
    while all(len(s) > prefix + suffix for s in split) and (
        len({s[-1 - suffix] for s in split}) == 1
    ):
        suffix += 1
    out = []
    for words, full in zip(split, texts, strict=True):
        kept = words[prefix : len(words) - suffix] if suffix else words[prefix:]
        label = " ".join(kept).strip(" ;,:.")
        out.append(label or full)
    return out


class Engine:
    """Classifies descriptions against one book. Build once, reuse: building indexes the book."""

    def __init__(self, book: Book, lexicon: Lexicon | None = None, tuning: Tuning | None = None):
        self.book = book
        self.index = BookIndex(book)
        self.lexicon = lexicon or default_lexicon()
        self.tuning = tuning or Tuning()
        self.precedents = PrecedentIndex()
        self._precedent_vocabulary: set[str] = set()

    # ------------------------------------------------------------------ precedents
    def add_precedents(self, precedents: Iterable[Precedent]) -> None:
        """Add confirmed classifications; they count as evidence for similar descriptions."""
        self.precedents.add(list(precedents))
        self._precedent_vocabulary = self.precedents.vocabulary

    # ------------------------------------------------------------------ lookup, search
    def lookup(self, code: str) -> LineView | None:
        """The line ``code`` with its path from the chapter down, or ``None``."""
        line = self.book.get(re.sub(r"\D", "", code))
        if line is None:
            return None
        path = self.book.path(line.code)
        return LineView(
            code=line.code,
            level=line.level,
            text=line.text(),
            path_text=self.book.path_text(line.code),
            path=tuple((p.code, p.text()) for p in path),
        )

    def search(self, text: str, limit: int = 10) -> list[LineView]:
        """Lines ranked for ``text``: a code prefix lists its lines, words search the texts."""
        digits = re.sub(r"[\s.]", "", text)
        if _CODE.match(digits):
            codes = sorted(c for c in self.book.lines if c.startswith(digits))[:limit]
            return [v for v in (self.lookup(c) for c in codes) if v is not None]
        query = build_query(text, None, self.lexicon)
        scores = self._scores(query, organization_id=None, restrict=())
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:limit]
        out: list[LineView] = []
        for i, score in ranked:
            view = self.lookup(self.index.leaves[i])
            if view is not None:
                out.append(
                    LineView(view.code, view.level, view.text, view.path_text, view.path, score)
                )
        return out

    # ------------------------------------------------------------------ classify
    def classify(
        self,
        description: str,
        attributes: dict[str, str] | None = None,
        *,
        answers: dict[str, str] | None = None,
        organization_id: str | None = None,
    ) -> ClassificationResult:
        """Classify one description. ``answers`` (question id -> value) narrow the result."""
        answers = dict(answers or {})
        restrict, answer_texts = self._read_answers(answers)
        query = build_query(description, attributes, self.lexicon, answer_texts)

        vague = vagueness(query, self._known) if not restrict else None
        if vague is not None:
            return self._result(
                "rejected_vague", None, {}, [], {}, {"reason": "vague"}, (), vague.message, answers
            )

        scores = self._scores(query, organization_id, restrict)
        if not scores:
            unknown = [w.text for w in query.content_words() if not self._known(w.stem)]
            message = (
                f"'{description.strip()[:60]}' names nothing found in {self.book.id}"
                + (f" ({', '.join(unknown[:3])}: a brand or model name?)" if unknown else "")
                + ": say what the product is, its material and its use"
            )
            return self._result(
                "needs_info", None, {}, [], {}, {"reason": "no match"}, (), message, answers
            )

        probs = self._probabilities(scores)
        mass: dict[str, float] = {}
        for i, p in probs.items():
            for ancestor in self.index.paths[i]:
                mass[ancestor] = mass.get(ancestor, 0.0) + p

        best_path = self._descend(mass)
        code: str | None = None
        for node in best_path:
            if mass[node] < self.tuning.threshold(len(node)):
                break
            if mass[node] < self.tuning.margin * self._runner_up(node, mass):
                break
            code = node
        by_level = {level_name(len(n)): round(mass[n], 4) for n in best_path}
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])[:5]
        alternatives = [
            Alternative(
                self.index.leaves[i], round(p, 4), self.book.path_text(self.index.leaves[i])
            )
            for i, p in ranked
        ]
        precedent = self._precedent_for(query, organization_id, code)
        questions = self._questions(code, mass, best_path)
        is_leaf = code is not None and not self.book.children(code)
        status = "classified" if is_leaf or (code is not None and not questions) else "needs_info"
        rationale = self._rationale(query, code, best_path, mass, precedent, ranked)
        message = ""
        if status == "needs_info":
            message = (
                "the description supports "
                + (f"{level_name(len(code))} {code}" if code else "no chapter with confidence")
                + "; answer the questions to go further"
            )
        return self._result(
            status, code, mass, alternatives, by_level, rationale, questions, message, answers
        )

    # ------------------------------------------------------------------ internals
    def _known(self, s: str) -> bool:
        return (
            s in self.index.vocabulary
            or s in self.lexicon.vocabulary
            or s in self._precedent_vocabulary
        )

    def _read_answers(self, answers: dict[str, str]) -> tuple[tuple[str, ...], list[str]]:
        """Codes the answers restrict to, and the free-text answers to add as evidence."""
        restrict: list[str] = []
        texts: list[str] = []
        for question_id, raw in answers.items():
            value = raw.strip()
            code = re.sub(r"[\s.]", "", value)
            if _CODE.match(code) and code in self.book.lines:
                restrict.append(code)
                continue
            texts.append(value)
            node = question_id.partition(":")[2]
            chosen = self._option_for_text(node, value)
            if chosen is not None:
                restrict.append(chosen)
        # Keep only restrictions compatible with the most specific one.
        restrict.sort(key=len, reverse=True)
        kept: list[str] = []
        for r in restrict:
            if all(k.startswith(r) or r.startswith(k) for k in kept):
                kept.append(r)
        return tuple(kept), texts

    def _option_for_text(self, node: str, value: str) -> str | None:
        """The child of ``node`` that a free-text answer ("cotton") designates."""
        if node == "root":
            return None
        children = self.book.children(node) if node in self.book.lines else []
        if not children:
            return None
        weights: dict[str, float] = {}
        for t in tokens(value):
            s = stem(t)
            weights[s] = 1.0
            for extra, w in EXPANSIONS.get(s, ()):
                weights.setdefault(extra, w)
        scored: list[tuple[float, TariffLine]] = []
        for child in children:
            words = self.index.words[child.code]
            score = sum(w for s, w in weights.items() if s in words.positive)
            score -= sum(w for s, w in weights.items() if s in words.excluded)
            scored.append((score, child))
        scored.sort(key=lambda x: -x[0])
        if scored[0][0] > 0 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return scored[0][1].code
        residual = [c for s, c in scored if self.index.words[c.code].residual and s >= 0]
        return residual[0].code if len(residual) == 1 else None

    def _scores(
        self, query: Query, organization_id: str | None, restrict: tuple[str, ...]
    ) -> dict[int, float]:
        t = self.tuning
        ix = self.index
        bm = ix.score(query.weights)
        lex: dict[int, float] = {}
        for match in query.matches:
            for code, prior in match.entry.codes:
                value = match.weight * prior
                for i in ix.leaves_under(code):
                    if value > lex.get(i, 0.0):
                        lex[i] = value
        prec: dict[int, float] = {}
        text = " ".join(w.text for w in query.words if w.source != "category_path")
        for pm in self.precedents.search(text, organization_id, limit=5):
            if pm.similarity < t.min_precedent_similarity:
                continue
            book_code = self._book_code(pm.precedent.code)
            if book_code is None:
                continue
            value = pm.similarity**2
            for i in ix.leaves_under(book_code):
                if value > prec.get(i, 0.0):
                    prec[i] = value

        wants_parts = bool({"part", "spare", "accessori", "replac"} & set(query.weights))
        candidates = set(lex) | set(prec)
        if bm:
            top = max(bm.values())
            candidates |= {i for i, v in bm.items() if v >= 0.25 * top}
        scores: dict[int, float] = {}
        for i in candidates:
            if restrict and not all(ix.leaves[i].startswith(r) for r in restrict):
                continue
            if ix.special[i] and i not in lex and i not in prec:
                continue
            score = t.bm25 * bm.get(i, 0.0) + t.lexicon * lex.get(i, 0.0)
            score += t.precedent * prec.get(i, 0.0)
            score -= t.exclusion * ix.exclusion_penalty(i, query.weights)
            if ix.parts[i] and not wants_parts:
                score -= t.parts
            scores[i] = score
        if restrict and not scores:  # the answer excludes everything: trust the answer
            for r in restrict[:1]:
                for i in ix.leaves_under(r):
                    scores[i] = t.bm25 * bm.get(i, 0.0) + 0.1
        if len(scores) > t.candidates:
            keep = sorted(scores.items(), key=lambda kv: -kv[1])[: t.candidates]
            scores = dict(keep)
        return scores

    def _book_code(self, code: str) -> str | None:
        digits = re.sub(r"\D", "", code)
        for length in range(min(len(digits), self.book.digits), 1, -1):
            if digits[:length] in self.book.lines:
                return digits[:length]
        return None

    def _probabilities(self, scores: dict[int, float]) -> dict[int, float]:
        t = self.tuning
        top = max(max(scores.values()), t.null_score)
        exps = {i: math.exp(t.temperature * (s - top)) for i, s in scores.items()}
        total = sum(exps.values()) + math.exp(t.temperature * (t.null_score - top))
        return {i: e / total for i, e in exps.items()}

    def _runner_up(self, node: str, mass: dict[str, float]) -> float:
        line = self.book.lines[node]
        siblings = [
            mass.get(c.code, 0.0) for c in self.book.children(line.parent) if c.code != node
        ]
        return max(siblings, default=0.0)

    def _descend(self, mass: dict[str, float]) -> list[str]:
        """The most probable child at each level, from the chapter down to a leaf."""
        path: list[str] = []
        node: str | None = None
        while True:
            children = [c.code for c in self.book.children(node) if c.code in mass]
            if not children:
                return path
            node = max(children, key=lambda c: mass[c])
            path.append(node)

    def _questions(
        self, code: str | None, mass: dict[str, float], best_path: list[str]
    ) -> tuple[Question, ...]:
        if code is not None and not self.book.children(code):
            return ()
        if code is None or (len(code) <= 2 and mass.get(code, 0.0) < 0.5):
            headings = sorted(
                (c for c in mass if len(c) == 4 and c in self.book.lines), key=lambda c: -mass[c]
            )[:5]
            lines = [self.book.lines[c] for c in headings if mass[c] >= 0.02]
            node = "root"
        else:
            children = [c for c in self.book.children(code) if mass.get(c.code, 0.0) >= 0.01]
            children.sort(key=lambda c: -mass.get(c.code, 0.0))
            lines = children[:6]
            node = code
        if len(lines) < 2:
            return ()
        labels = _strip_common([line.text() for line in lines])
        kind, text = self._question_kind(lines)
        options = tuple(
            Option(line.code, label, (line.code,))
            for line, label in zip(lines, labels, strict=True)
        )
        return (Question(f"{kind}:{node}", text, options),)

    def _question_kind(self, lines: list[TariffLine]) -> tuple[str, str]:
        words = [self.index.words[line.code] for line in lines]
        materials = [w.positive & _MATERIAL_WORDS for w in words]
        if sum(1 for m in materials if m) >= 2 and len({frozenset(m) for m in materials}) > 1:
            return "material", "What is it made of?"
        knit = [("knit" in w.positive) for w in words]
        if any(knit) and not all(knit):
            return "knitted", "Is it knitted or crocheted?"
        genders = [w.positive & _GENDER_WORDS for w in words]
        if len({frozenset(g) for g in genders}) > 1:
            return "gender", "Is it for men or boys, or for women or girls?"
        return "type", "Which of these describes the goods?"

    def _precedent_for(
        self, query: Query, organization_id: str | None, code: str | None
    ) -> PrecedentMatch | None:
        if code is None or not len(self.precedents):
            return None
        text = " ".join(w.text for w in query.words if w.source != "category_path")
        for pm in self.precedents.search(text, organization_id, limit=5):
            book_code = self._book_code(pm.precedent.code)
            if (
                pm.similarity >= self.tuning.min_precedent_similarity
                and book_code is not None
                and (book_code.startswith(code) or code.startswith(book_code))
            ):
                return pm
        return None

    def _rationale(
        self,
        query: Query,
        code: str | None,
        best_path: list[str],
        mass: dict[str, float],
        precedent: PrecedentMatch | None,
        ranked: list[tuple[int, float]],
    ) -> dict[str, Any]:
        path_codes = [c for c in best_path if code is not None and code.startswith(c)]
        lines = [self.book.lines[c] for c in path_codes]
        leaf_index = ranked[0][0] if ranked else None
        doc = self.index.doc_stems[leaf_index] if leaf_index is not None else frozenset()
        supporting = [
            m
            for m in query.matches
            if code is not None
            and any(code.startswith(c) or c.startswith(code) for c, _ in m.entry.codes)
        ]
        decisive: list[str] = []
        for m in supporting:
            decisive.append(m.text)
        for w in query.words:
            if not w.noise and w.stem in doc and w.text not in decisive:
                decisive.append(w.text)

        rules: list[dict[str, str]] = []
        notes: list[dict[str, str]] = []
        heading = next((line for line in lines if line.level == 4), None)
        if heading is not None:
            rules.append(
                {
                    "rule": "GRI 1",
                    "text": f"heading {heading.code} by the terms of the heading "
                    f"('{heading.text()}') and the section and chapter notes",
                }
            )
        if _ASSEMBLY.search(query.description.lower()):
            rules.append(
                {
                    "rule": "GRI 2(a)",
                    "text": "incomplete, unfinished or unassembled article classified as the "
                    "complete article",
                }
            )
        component_headings = {m.entry.codes[0][0][:4] for m in query.matches}
        if query.is_set and len(component_headings) >= 2:
            main = max(query.matches, key=lambda m: m.weight)
            rules.append(
                {
                    "rule": "GRI 3(b)",
                    "text": "goods put up in a set for retail sale: classified as the component "
                    f"that gives the set its essential character ('{main.text}')",
                }
            )
        if code is not None and len(code) >= 6:
            rules.append(
                {
                    "rule": "GRI 6",
                    "text": f"subheading {code[:6]} chosen by comparing only subheadings at the "
                    "same level, under the same heading",
                }
            )
        if (
            code is not None
            and code[:2] in ("61", "62")
            and not (
                {w.stem for w in query.words}
                & (_GENDER_WORDS | {"male", "female", "ladi", "unisex"})
            )
        ):
            notes.append(
                {
                    "note": "Chapter 61 note 9 / Chapter 62 note 8",
                    "text": "garments which cannot be identified as men's or boys' or as women's "
                    "or girls' are classified as women's or girls'",
                }
            )
        if code is not None and self.book.chapter_notes.get(code[:2]):
            notes.append(
                {
                    "note": f"Chapter {code[:2]} notes",
                    "text": self.book.chapter_notes[code[:2]][:500],
                }
            )
        residual = bool(lines) and self.index.words[lines[-1].code].residual
        if residual:
            notes.append(
                {
                    "note": "residual line",
                    "text": f"'{lines[-1].text()}' covers goods of the heading not named in the "
                    "lines before it",
                }
            )
        stopped = None
        if code is not None and best_path and best_path[-1] != code:
            nxt = next((c for c in best_path if len(c) > len(code)), None)
            if nxt is not None:
                stopped = (
                    f"stopped at {level_name(len(code))} {code}: the best "
                    f"{level_name(len(nxt))} ({nxt}) has only {mass[nxt]:.0%} support"
                )
        return {
            "path": [{"code": line.code, "text": line.text()} for line in lines],
            "decisive_words": decisive,
            "lexicon": [
                {"term": m.text, "product": m.entry.term, "codes": [c for c, _ in m.entry.codes]}
                for m in supporting
            ],
            "rules": rules,
            "notes": notes,
            "residual": residual,
            "precedent": None
            if precedent is None
            else {
                "description": precedent.precedent.description[:200],
                "code": precedent.precedent.code,
                "source": precedent.precedent.source,
                "reference": precedent.precedent.reference,
                "similarity": round(precedent.similarity, 3),
            },
            "stopped": stopped,
        }

    def _result(
        self,
        status: str,
        code: str | None,
        mass: dict[str, float],
        alternatives: list[Alternative],
        by_level: dict[str, float],
        rationale: dict[str, Any],
        questions: tuple[Question, ...],
        message: str,
        answers: dict[str, str],
    ) -> ClassificationResult:
        return ClassificationResult(
            status="classified"
            if status == "classified"
            else ("needs_info" if status == "needs_info" else "rejected_vague"),
            code=code,
            level=len(code) if code else 0,
            confidence=round(mass.get(code, 0.0), 4) if code else 0.0,
            confidence_by_level=by_level,
            alternatives=tuple(alternatives),
            description=self.book.path_text(code) if code else "",
            rationale=rationale,
            questions=questions,
            message=message,
            engine=ENGINE_NAME,
            book=self.book.id,
            answers=answers,
        )
