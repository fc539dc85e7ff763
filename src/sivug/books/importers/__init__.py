"""Customs book importers: a file in a published format in, a validated :class:`Book` out.

Each importer is a plain function ``(path, *, version=None) -> Book`` that either returns a
whole book that passed :func:`~sivug.books.importers.validation.validate_book` or raises
:class:`~sivug.books.importers.errors.ImportValidationError` naming the first bad lines.
They are pure: no web or database code; storing the book is the books service's job.

Formats (``sivug books import FORMAT PATH``):

- ``eu-cn-json``: EU Combined Nomenclature, a directory of ``cn*_YYYY.json`` files
  (:mod:`.eu_cn`), book ``EU-CN-<year>``.
- ``usitc-hts``: US HTS, a USITC JSON or CSV export (:mod:`.usitc_hts`), ``US-HTS-<version>``.
- ``il-customs-xml``: Israeli customs book, an Israel Tax Authority XML export, directory or
  ``.zip`` (:mod:`.il_customs`), ``IL-CUSTOMS-<version>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sivug.books.importers.errors import ImportValidationError
from sivug.books.importers.eu_cn import import_eu_cn
from sivug.books.importers.il_customs import import_il_customs
from sivug.books.importers.usitc_hts import import_usitc_hts
from sivug.books.importers.validation import build_book, validate_book
from sivug.engine.book import Book


class Importer(Protocol):
    def __call__(self, path: Path, *, version: str | None = None) -> Book: ...


IMPORTERS: dict[str, Importer] = {
    "eu-cn-json": import_eu_cn,
    "usitc-hts": import_usitc_hts,
    "il-customs-xml": import_il_customs,
}

#: The format names ``sivug books import`` accepts, in a stable order.
FORMATS: tuple[str, ...] = tuple(IMPORTERS)


def importer_for(format_name: str) -> Importer:
    """The importer for ``format_name``; ``ValueError`` naming the known formats otherwise."""
    try:
        return IMPORTERS[format_name]
    except KeyError:
        known = ", ".join(FORMATS)
        raise ValueError(f"unknown book format {format_name!r}; expected one of: {known}") from None


__all__ = [
    "FORMATS",
    "IMPORTERS",
    "ImportValidationError",
    "Importer",
    "build_book",
    "import_eu_cn",
    "import_il_customs",
    "import_usitc_hts",
    "importer_for",
    "validate_book",
]
