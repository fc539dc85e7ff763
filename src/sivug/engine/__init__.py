"""The offline classification engine: a plain library (no web, no database).

>>> from sivug.books.importers.hs_builtin import load_hs2022
>>> engine = Engine(load_hs2022())
>>> engine.classify("cotton t-shirt").code
'610910'
"""

from sivug.engine.book import Book, Section, TariffLine
from sivug.engine.engine import ENGINE_NAME, Engine, Tuning
from sivug.engine.result import (
    Alternative,
    ClassificationResult,
    LineView,
    Option,
    Precedent,
    Question,
)

__all__ = [
    "ENGINE_NAME",
    "Alternative",
    "Book",
    "ClassificationResult",
    "Engine",
    "LineView",
    "Option",
    "Precedent",
    "Question",
    "Section",
    "TariffLine",
    "Tuning",
]
