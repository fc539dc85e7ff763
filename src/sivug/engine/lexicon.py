"""The product lexicon: common product nouns mapped to HS headings and subheadings.

The data file ``lexicon.txt`` (beside this module) is hand-written; see its header for the
format. Terms are matched on stems over the words of a description, longest match first.
"""

from __future__ import annotations

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

    def accepts(self, written: list[str]) -> bool:
        """False when a written word is a derived form the term is not ("printed" vs "print")."""
        for word, own in zip(written, self.words, strict=False):
            for suffix in ("ed", "ing"):
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

    @classmethod
    def parse(cls, text: str) -> Lexicon:
        entries: dict[tuple[str, ...], LexiconEntry] = {}
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            codes_text, _, terms = raw.partition("\t")
            codes = codes_text.split()
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
                    entries[key] = LexiconEntry(term.strip(), weighted, words)
                else:  # the same term on two lines: the first line is the specific reading
                    extra = tuple((c, w * 0.8) for c, w in weighted if c not in dict(known.codes))
                    entries[key] = LexiconEntry(known.term, known.codes + extra, known.words)
        return cls(entries)

    def get(self, key: tuple[str, ...]) -> LexiconEntry | None:
        return self.entries.get(key)


@cache
def default_lexicon() -> Lexicon:
    """The lexicon shipped with the engine (parsed once per process)."""
    text = resources.files("sivug.engine").joinpath("lexicon.txt").read_text(encoding="utf-8")
    return Lexicon.parse(text)
