"""The product lexicon: common product nouns mapped to HS headings and subheadings.

The data file ``lexicon.txt`` (beside this module) is hand-written; see its header for the
format. Terms are matched on stems over the words of a description, longest match first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sivug.engine.text import STOPWORDS, stem, tokens

#: Weight of the n-th code of a lexicon line (the first is the default reading).
_ORDER_WEIGHTS = (1.0, 0.9, 0.82, 0.76, 0.7, 0.65)


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    term: str
    codes: tuple[tuple[str, float], ...]  # (HS code, prior weight)
    words: tuple[str, ...] = ()  # the term's words as written, stop words removed
    #: Stems the book uses for this product ("jeans" -> "trouser"): within a heading, the
    #: lines that name one of them are the product's own lines ("Trousers ... of cotton").
    focus: frozenset[str] = frozenset()

    def accepts(self, written: list[str]) -> bool:
        """False when a written word is a derived form the term is not ("printed" vs "print",
        "magnetic" vs "magnet", "metallic" vs "metal")."""
        for word, own in zip(written, self.words, strict=False):
            for suffix in ("ed", "ing", "ic"):
                if word.endswith(suffix) and not own.endswith(suffix):
                    return False
        return True


def term_key(text: str) -> tuple[str, ...]:
    """Stems of the term's words; empty when dropping stop words would change its sense."""
    words = tokens(text)
    key = tuple(stem(t) for t in words if t not in STOPWORDS)
    if len(key) == 1 and len(words) > 1:  # "tin can" must not become "tin"
        return ()
    return key


class Lexicon:
    """Stem sequence -> entry; ``max_len`` bounds the n-grams tried when matching."""

    def __init__(self, entries: dict[tuple[str, ...], LexiconEntry]) -> None:
        self.entries = entries
        self.max_len = max((len(k) for k in entries), default=1)
        self.vocabulary = {s for key in entries for s in key}
        self.abbreviations = _abbreviations(w for e in entries.values() for w in e.words)

    @classmethod
    def parse(cls, text: str) -> Lexicon:
        entries: dict[tuple[str, ...], LexiconEntry] = {}
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            codes_text, _, terms = raw.partition("\t")
            codes = [c for c in codes_text.split() if not c.startswith("@")]
            # "@word" goes through the same spelling folds as the words ("@pyjama" is "pajamas").
            focus = frozenset(
                stem(token)
                for c in codes_text.split()
                if c.startswith("@")
                for token in tokens(c[1:].replace("_", " "))
            )
            weighted = tuple(
                (code, _ORDER_WEIGHTS[min(i, len(_ORDER_WEIGHTS) - 1)])
                for i, code in enumerate(codes)
            )
            for term in terms.split(","):
                key = term_key(term)
                if not key:
                    continue
                known = entries.get(key)
                if known is None:
                    words = tuple(t for t in tokens(term) if t not in STOPWORDS)
                    entries[key] = LexiconEntry(
                        term.strip(), weighted, words, focus or frozenset(key)
                    )
                else:  # the same term on two lines: the first line is the specific reading
                    extra = tuple((c, w * 0.8) for c, w in weighted if c not in dict(known.codes))
                    entries[key] = LexiconEntry(
                        known.term, known.codes + extra, known.words, known.focus
                    )
        return cls(entries)

    def get(self, key: tuple[str, ...]) -> LexiconEntry | None:
        return self.entries.get(key)


_VOWELS = frozenset("aeiou")


def skeleton(word: str) -> str:
    """The word without its vowels after the first letter: "mascara" -> "mscr"."""
    return word[:1] + "".join(c for c in word[1:] if c not in _VOWELS)


def _abbreviations(words: Iterable[str]) -> dict[str, str]:
    """Skeleton -> the one lexicon word of at least 5 letters that has it ("lpstck" ->
    "lipstick"). Shop tills and invoices drop the vowels of long words; a skeleton that
    several words share is left out."""
    found: dict[str, set[str]] = {}
    for word in words:
        if len(word) >= 5 and word.isalpha() and word.isascii():
            found.setdefault(skeleton(word), set()).add(word)
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1 and len(k) >= 4}


@cache
def default_lexicon() -> Lexicon:
    """The lexicon shipped with the engine (parsed once per process)."""
    text = resources.files("sivug.engine").joinpath("lexicon.txt").read_text(encoding="utf-8")
    return Lexicon.parse(text)


@dataclass(frozen=True, slots=True)
class MaterialFamilies:
    """Headings that split the same goods by material (``materials.txt``)."""

    #: heading -> (family name, {material stem: heading of that material})
    by_heading: dict[str, tuple[str, dict[str, str]]]

    @classmethod
    def parse(cls, text: str) -> MaterialFamilies:
        by_heading: dict[str, tuple[str, dict[str, str]]] = {}
        for raw in text.splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            name, _, body = raw.partition("\t")
            materials: dict[str, str] = {}
            headings: list[str] = []
            for part in body.split(";"):
                heading, _, words = part.strip().partition("=")
                if not heading:
                    continue
                headings.append(heading)
                for word in words.split():
                    materials.setdefault(stem(word), heading)
            for heading in headings:
                by_heading.setdefault(heading, (name.strip(), materials))
        return cls(by_heading)

    def reading(self, heading: str, said: dict[str, float]) -> tuple[str, str] | None:
        """(heading, material) the material words ``said`` designate in ``heading``'s family.

        ``None`` when the family is unknown, no material of it is said, the materials said
        point to several headings, or the material said is the heading's own.
        """
        family = self.by_heading.get(heading[:4])
        if family is None:
            return None
        _, materials = family
        found = {materials[s]: s for s in said if s in materials and said[s] >= 0.5}
        if len(found) != 1:
            return None
        other, material = next(iter(found.items()))
        return None if other == heading[:4] else (other, material)


@cache
def default_materials() -> MaterialFamilies:
    text = resources.files("sivug.engine").joinpath("materials.txt").read_text(encoding="utf-8")
    return MaterialFamilies.parse(text)


class Taxonomy:
    """Marketplace category nodes -> HS chapters or headings (``taxonomy.txt``)."""

    def __init__(self, phrases: dict[tuple[str, ...], tuple[str, ...]]) -> None:
        self.phrases = phrases
        self.max_len = max((len(k) for k in phrases), default=1)

    @classmethod
    def parse(cls, text: str) -> Taxonomy:
        phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for raw in text.splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            codes, _, terms = raw.partition("\t")
            for term in terms.split(","):
                key = tuple(stem(t) for t in tokens(term) if t not in STOPWORDS)
                if key:
                    known = phrases.get(key, ())
                    phrases[key] = known + tuple(c for c in codes.split() if c not in known)
        return cls(phrases)

    def codes(self, path: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        """(codes, node) of the deepest node of ``path`` that names a known phrase."""
        for node in reversed(path):
            stems = [stem(t) for t in tokens(node) if t not in STOPWORDS]
            found: list[str] = []
            for i in range(len(stems)):
                for n in range(min(self.max_len, len(stems) - i), 0, -1):
                    for code in self.phrases.get(tuple(stems[i : i + n]), ()):
                        if code not in found:
                            found.append(code)
            if found:
                return tuple(found), node.strip()
        return (), ""


@cache
def default_taxonomy() -> Taxonomy:
    text = resources.files("sivug.engine").joinpath("taxonomy.txt").read_text(encoding="utf-8")
    return Taxonomy.parse(text)
