"""The offline classification engine: a book and a description in, a result out.

Evidence for each line of the book comes from three places and is added up:

* the product lexicon (head noun of the title -> heading), strongest; a title noun that the
  category path confirms is the product, and the material said can move the lexicon's
  heading to its sibling of that material (``materials.txt``: a fry pan of aluminium is
  7615, not 7323);
* BM25 over the path text of every leaf (materials, gender, "knitted", exclusions);
* precedents (confirmed classifications of similar descriptions);
* the marketplace category path, which narrows the chapters (``taxonomy.txt``), and whether
  the words say knitted or woven (Chapter 61 against 62).

Within a heading, the "Other" line wins when nothing said names its siblings, and the engine
stops at the heading (and asks) when the lines differ by material and no material is said.

Scores become probabilities with a softmax that includes a "none of these" candidate, so
weak evidence gives low confidence. The tree is then walked from the chapter down, taking
the most probable child at each level and stopping where the evidence is too thin: a
correct heading is worth more than a wrong subheading.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sivug.engine.book import Book, TariffLine
from sivug.engine.index import BookIndex
from sivug.engine.lexicon import (
    Lexicon,
    default_lexicon,
    default_materials,
    default_taxonomy,
)
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

ENGINE_VERSION = "0.3.0"
ENGINE_NAME = f"sivug-offline/{ENGINE_VERSION}"


@dataclass(frozen=True, slots=True)
class Tuning:
    """Weights and thresholds (tuned on the dev split, see ``bench/bench_accuracy.py``)."""

    bm25: float = 2.0
    lexicon: float = 3.0
    precedent: float = 6.0
    exclusion: float = 2.5
    parts: float = 0.6  # penalty for "parts of ..." lines when the goods are not parts
    # Lexicon prior kept by the lines of a heading that do not name the product when others
    # do ("jeans" -> 6203: the "Trousers" lines keep it all, the "Suits" lines this share).
    focus: float = 0.7
    residual: float = 0.15  # bonus for the "Other" line when nothing names its siblings
    taxonomy: float = 0.5  # bonus for lines in the chapters the category path points to
    material_default: float = 0.8  # the lexicon's heading when the material says another
    fabric: float = 0.8  # penalty for knitted lines when the goods are woven, and the reverse
    temperature: float = 4.0
    null_score: float = 2.0  # score of "none of these": absolute evidence must beat it
    candidates: int = 300
    min_precedent_similarity: float = 0.35
    # Minimum probability to go down to a level, by number of digits (national: 8 and 10).
    chapter: float = 0.15
    heading: float = 0.25
    subheading: float = 0.15
    national: float = 0.3
    # ... and the best child must outweigh the second best by this factor.
    margin: float = 1.1

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
#: A gender word this strong was said (the title, the category, an attribute), not inferred.
_GENDER_SAID = 0.8
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
        self._named: dict[tuple[str, frozenset[str]], frozenset[int] | None] = {}
        self._book_names: dict[tuple[str, frozenset[str]], bool] = {}
        self.materials = default_materials()
        self.taxonomy = default_taxonomy()
        self._residual_groups: dict[str, tuple[int | None, frozenset[str]]] = {}
        #: The parent line of each leaf ("" for a leaf at the top).
        self._leaf_parent = [path[-2] if len(path) > 1 else "" for path in self.index.paths]

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
        query = build_query(text, None, self.lexicon, known=self._known)
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
        query = build_query(description, attributes, self.lexicon, answer_texts, self._known)

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
        get, paths = mass.get, self.index.paths
        for i, p in probs.items():
            for ancestor in paths[i]:
                mass[ancestor] = get(ancestor, 0.0) + p

        best_path = self._descend(mass)
        code: str | None = None
        said_material = bool(_MATERIAL_WORDS & {s for s, w in query.weights.items() if w >= 0.3})
        for node in best_path:
            if mass[node] < self.tuning.threshold(len(node)):
                break
            if mass[node] < self.tuning.margin * self._runner_up(node, mass):
                break
            if len(node) > 4 and not said_material and self._splits_by_material(node, mass):
                break  # the lines differ by material and the description names none: ask
            code = node
        by_level = {level_name(len(n)): round(mass[n], 4) for n in best_path}
        ranked = heapq.nlargest(5, probs.items(), key=itemgetter(1))
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
        gender = _said_gender(query.weights)
        #: Lines the material said moved a lexicon reading to ("leather jacket": 4203).
        material_moves: set[str] = set()
        for match in query.matches:
            codes = self._named_first(match.entry.codes, match.entry.focus)
            codes = self._gender_first(codes, gender)
            readings = self._material_readings(codes, query.weights)
            if len(readings) > len(codes):
                own = {c for c, _ in codes}
                material_moves.update(c for c, _ in readings if c not in own)
            for code, prior in readings:
                value = match.weight * prior
                named = self._naming(code, match.entry.focus)
                for i in ix.leaves_under(code):
                    v = value if named is None or i in named else value * t.focus
                    if v > lex.get(i, 0.0):
                        lex[i] = v
        prec: dict[int, float] = {}
        text = " ".join(w.text for w in query.words if not w.source.startswith("category_"))
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
        departments = self.taxonomy.codes(query.category)[0] if query.category else ()
        if departments and material_moves:
            # The category names the goods ("Jackets"); the material said moves them to a line
            # of another chapter ("leather": 4203), which the category then supports as well.
            departments = (*departments, *sorted(material_moves))
        candidates = set(lex) | set(prec)
        if bm:
            top = max(bm.values())
            floor = 0.25 * top
            candidates |= {i for i, v in bm.items() if v >= floor}
        scores: dict[int, float] = {}
        total = ix.query_weight(query.weights)
        excluding = ix.excluding(query.weights)
        # Every candidate (a hundred or more) passes here: names bound once, the checks that
        # cannot apply to this query skipped whole.
        bm_get, lex_get, prec_get = bm.get, lex.get, prec.get
        special, parts, leaves = ix.special, ix.parts, ix.leaves
        fabric = query.fabric
        for i in candidates:
            if restrict and not all(leaves[i].startswith(r) for r in restrict):
                continue
            if special[i] and i not in lex and i not in prec:
                continue
            score = t.bm25 * bm_get(i, 0.0) + t.lexicon * lex_get(i, 0.0)
            if prec:
                score += t.precedent * prec_get(i, 0.0)
            if i in excluding:
                score -= t.exclusion * ix.exclusion_penalty(i, query.weights, total)
            if parts[i] and not wants_parts:
                score -= t.parts
            if fabric is not None and self._wrong_fabric(i, fabric):
                score -= t.fabric
            if departments and any(leaves[i].startswith(c) for c in departments):
                score += t.taxonomy
            scores[i] = score
        if t.residual:
            self._favour_residuals(scores, query.weights)
        if restrict and not scores:  # the answer excludes everything: trust the answer
            for r in restrict[:1]:
                for i in ix.leaves_under(r):
                    scores[i] = t.bm25 * bm.get(i, 0.0) + 0.1
        if len(scores) > t.candidates:
            keep = sorted(scores.items(), key=lambda kv: -kv[1])[: t.candidates]
            scores = dict(keep)
        return scores

    def _material_readings(
        self, codes: tuple[tuple[str, float], ...], said: dict[str, float]
    ) -> list[tuple[str, float]]:
        """The lexicon's codes, with the heading of the material said added first.

        "Fry pan" reads 7323 (iron or steel); "aluminium fry pan" reads 7615 first.
        """
        out: list[tuple[str, float]] = []
        for code, prior in codes:
            if len(code) == 6:
                sibling = self._sibling_of_material(code, said)
                if sibling is not None:
                    out.append((sibling[0], prior))
                    prior *= self.tuning.material_default
            other = self.materials.reading(code, said) if len(code) >= 4 else None
            if other is not None and other[0] in self.book.lines:
                out.append((other[0], prior))
                prior *= self.tuning.material_default
            out.append((code, prior))
        return out

    def _sibling_of_material(self, code: str, said: dict[str, float]) -> tuple[str, str] | None:
        """(subheading, material): the subheading beside ``code`` (same one-dash group: its
        first five digits) whose text names the material said, when ``code``'s text names only
        other materials.

        "Crossbody bag" reads 420222 (outer surface of plastics or textile materials) by
        default; "genuine leather crossbody bag" reads 420221 (of leather) first.
        """
        line = self.book.lines.get(code)
        words = self.index.words
        if line is None or code not in words:
            return None
        materials = {s: w for s, w in said.items() if w >= 0.5 and s in _MATERIAL_WORDS}
        own = words[code].positive & _MATERIAL_WORDS
        if not materials or not own or own & materials.keys():
            return None
        best: tuple[float, str, str] | None = None
        tied = False
        for sibling in self.book.children(line.parent):
            other = sibling.code
            if other == code or len(other) != 6 or other[:5] != code[:5] or other not in words:
                continue
            named = words[other].positive & materials.keys()
            if not named:
                continue
            weight, material = max((materials[m], m) for m in named)
            if best is None or weight > best[0]:
                best, tied = (weight, other, material), False
            elif weight == best[0]:
                tied = True
        return None if best is None or tied else (best[1], best[2])

    def _named_first(
        self, codes: tuple[tuple[str, float], ...], focus: frozenset[str]
    ) -> tuple[tuple[str, float], ...]:
        """A lexicon line's headings, those whose lines in the book name the product first:
        "turmeric" on the spices line (0905 ... 0910) reads 0910, whose text says turmeric,
        before the line's default 0905."""
        if len(codes) < 2 or not focus or any(len(code) != 4 for code, _ in codes):
            return codes  # subheadings on a line are a broker's chosen defaults: kept
        named = {code: self._book_names_under(code, focus) for code, _ in codes}
        if not any(named.values()) or all(named.values()):
            return codes
        return _reordered(codes, lambda code: 0 if named[code] else 1)

    def _gender_first(
        self, codes: tuple[tuple[str, float], ...], gender: tuple[str, str] | None
    ) -> tuple[tuple[str, float], ...]:
        """A line's headings for the gender said first, the other gender's last: a line of
        garments reads women's first (Note 9 to Chapters 61 and 62), "Men's puffer jacket"
        reads 6201."""
        if gender is None or len(codes) < 2:
            return codes
        said, other = gender
        words = self.index.words

        def rank(code: str) -> int:
            own = words[code].positive if code in words else frozenset()
            return 0 if said in own else 2 if other in own else 1

        return _reordered(codes, rank)

    def _book_names_under(self, code: str, focus: frozenset[str]) -> bool:
        """Whether a line at or under ``code`` names the rarest word of ``focus`` in the book
        ("turmeric" of "turmeric powder")."""
        key = (code, focus)
        known = self._book_names.get(key)
        if known is None:
            ix = self.index
            rarest = max(sorted(focus), key=ix.idf_of)
            known = code in self.book.lines and any(
                rarest in ix.words[c].positive
                for i in ix.leaves_under(code)
                for c in ix.paths[i]
                if c.startswith(code)
            )
            self._book_names[key] = known
        return known

    def _naming(self, code: str, focus: frozenset[str]) -> frozenset[int] | None:
        """Leaves under ``code`` whose own lines (below ``code``) name one of ``focus``.

        ``None`` when none or all of them do: then the name does not tell them apart.
        """
        key = (code, focus)
        if key in self._named:
            return self._named[key]
        ix = self.index
        leaves = ix.leaves_under(code)
        named: frozenset[int] | None = None
        if focus and len(leaves) > 1:
            hits = frozenset(
                i
                for i in leaves
                if any(focus & ix.words[c].positive for c in ix.paths[i] if len(c) > len(code))
            )
            named = hits if 0 < len(hits) < len(leaves) else None
        self._named[key] = named
        return named

    def _wrong_fabric(self, leaf: int, fabric: str) -> bool:
        """A knitted line for woven goods, or a "not knitted" line for knitted goods."""
        ix = self.index
        if fabric == "woven":
            return bool({"knit", "crochet"} & ix.doc_stems[leaf])
        return "knit" in ix.excluded[leaf]

    def _book_code(self, code: str) -> str | None:
        digits = re.sub(r"\D", "", code)
        for length in range(min(len(digits), self.book.digits), 1, -1):
            if digits[:length] in self.book.lines:
                return digits[:length]
        return None

    def _probabilities(self, scores: dict[int, float]) -> dict[int, float]:
        t = self.tuning
        top = max(max(scores.values()), t.null_score)
        temperature, exp = t.temperature, math.exp
        exps = {i: exp(temperature * (s - top)) for i, s in scores.items()}
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

    def _favour_residuals(self, scores: dict[int, float], said: dict[str, float]) -> None:
        """Give the "Other" line of a group a bonus when nothing said names its siblings.

        "Polyester T-shirt": nothing says cotton (610910), so "of other textile materials"
        (610990) is the reading, not a coin toss between the two.
        """
        leaf_parent = self._leaf_parent
        parents = {leaf_parent[i] for i in scores}
        parents.discard("")
        for parent in parents:
            siblings = self._residual_groups.get(parent)
            if siblings is None:
                siblings = self._residual_group(parent)
                self._residual_groups[parent] = siblings
            residual, distinctive = siblings
            if residual is None or residual not in scores:
                continue
            if distinctive.isdisjoint(said):
                scores[residual] += self.tuning.residual

    def _residual_group(self, parent: str) -> tuple[int | None, frozenset[str]]:
        """(the residual leaf under ``parent``, the words its siblings have and it lacks)."""
        ix = self.index
        if not parent:
            return None, frozenset()
        leaves = [i for i in ix.leaves_under(parent) if ix.paths[i][-2] == parent]
        residual = [i for i in leaves if ix.words[ix.leaves[i]].residual]
        if len(residual) != 1 or len(leaves) < 2:
            return None, frozenset()
        own = ix.words[ix.leaves[residual[0]]].positive
        distinctive: set[str] = set()
        for i in leaves:
            if i != residual[0]:
                distinctive |= ix.words[ix.leaves[i]].positive - own
        return residual[0], frozenset(distinctive)

    def _splits_by_material(self, node: str, mass: dict[str, float]) -> bool:
        """True when ``node`` and its likely siblings are told apart by their material."""
        parent = self.book.lines[node].parent
        siblings = [c for c in self.book.children(parent) if mass.get(c.code, 0.0) >= 0.01]
        siblings.sort(key=lambda c: -mass.get(c.code, 0.0))
        return len(siblings) >= 2 and self._question_kind(siblings[:6])[0] == "material"

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
            lines = sorted(children[:6], key=lambda c: c.code)  # in the book's own order
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
        text = " ".join(w.text for w in query.words if not w.source.startswith("category_"))
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
            and any(
                code.startswith(c) or c.startswith(code)
                for c, _ in self._material_readings(m.entry.codes, query.weights)
            )
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
        for m in supporting if code is not None else []:
            for lexicon_code, _ in m.entry.codes:
                sibling = (
                    self._sibling_of_material(lexicon_code, query.weights)
                    if len(lexicon_code) == 6
                    else None
                )
                if sibling is not None and code is not None and code.startswith(sibling[0]):
                    notes.append(
                        {
                            "note": "material",
                            "text": f"'{m.text}' reads subheading {lexicon_code} by default, "
                            f"but the goods are of {sibling[1]}: subheading {sibling[0]} "
                            "covers the same goods of that material",
                        }
                    )
                    break
                reading = self.materials.reading(lexicon_code, query.weights)
                if reading is not None and code is not None and code.startswith(reading[0]):
                    notes.append(
                        {
                            "note": "material",
                            "text": f"'{m.text}' reads heading {lexicon_code[:4]} by default, "
                            f"but the goods are of {reading[1]}: heading {reading[0]} covers "
                            "the same goods of that material",
                        }
                    )
                    break
        if query.fabric is not None and code is not None and code[:2] in ("61", "62"):
            notes.append(
                {
                    "note": "fabric",
                    "text": f"the description says the goods are {query.fabric} "
                    f"(Chapter {'61' if query.fabric == 'knitted' else '62'})",
                }
            )
        if query.category:
            departments, node = self.taxonomy.codes(query.category)
            if departments:
                notes.append(
                    {
                        "note": "category",
                        "text": f"the category '{node}' points to "
                        + ", ".join(departments)
                        + (
                            ""
                            if code is None or any(code.startswith(d) for d in departments)
                            else " (the description outweighed it)"
                        ),
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


def _reordered(
    codes: tuple[tuple[str, float], ...], rank: Callable[[str], int]
) -> tuple[tuple[str, float], ...]:
    """``codes`` sorted by ``rank`` (stable: the line's order within a rank), each taking the
    prior of the place it moves to."""
    order = sorted(codes, key=lambda c: rank(c[0]))
    return tuple((code, prior) for (code, _), (_, prior) in zip(order, codes, strict=True))


def _said_gender(weights: dict[str, float]) -> tuple[str, str] | None:
    """("men", "women") when the description says men's or boys' (and not women's or
    girls'), the reverse when it says women's or girls', else None."""
    men = max(weights.get("men", 0.0), weights.get("boy", 0.0)) >= _GENDER_SAID
    women = max(weights.get("women", 0.0), weights.get("girl", 0.0)) >= _GENDER_SAID
    if men == women:
        return None
    return ("men", "women") if men else ("women", "men")
