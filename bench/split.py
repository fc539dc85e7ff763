"""Deterministic dev / held-out split of the labelled data in ``../shared/data``.

Every description goes to the held-out split (30%) or the dev split (70%) by a stable hash of
its normalised text, so the split never changes between runs or machines and a description
never appears in both. Tune on dev only; the held-out split is for measuring.

Run ``python bench/split.py`` to print the sizes of each split.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HELD_OUT_PERCENT = 30


@dataclass(frozen=True, slots=True)
class Item:
    description: str
    code: str  # digits, 4 to 10 of them
    source: str  # "reference", "extra", "brand", "ruling"


def data_dir() -> Path:
    """The shared data folder, or exit with a clear message when it is absent."""
    if not (DATA_DIR / "uk-fpo" / "search_references.json").is_file():
        sys.exit(f"benchmark data not found: expected {DATA_DIR} (the ../shared/data folder)")
    return DATA_DIR


def normalise(description: str) -> str:
    return re.sub(r"\s+", " ", description.strip().lower())


def is_held_out(description: str) -> bool:
    digest = hashlib.sha256(normalise(description).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def _digits(code: str) -> str:
    return re.sub(r"\D", "", code)


def load_labelled(root: Path) -> list[Item]:
    """All labelled descriptions, de-duplicated on the normalised description."""
    raw: list[Item] = []
    references = json.loads((root / "uk-fpo" / "search_references.json").read_text("utf-8"))
    raw += [Item(d, _digits(c), "reference") for d, c in references.items()]
    with (root / "uk-fpo" / "extra_references.csv").open(encoding="utf-8") as f:
        raw += [
            Item(r["Goods Description"], _digits(r["Commodity Code"]), "extra")
            for r in csv.DictReader(f)
        ]
    with (root / "uk-fpo" / "brands.csv").open(encoding="utf-8") as f:
        raw += [Item(r["GDSDESC"], _digits(r["CMDTYCODE"]), "brand") for r in csv.DictReader(f)]
    rulings = json.loads((root / "uk-rulings" / "atar_drafts.json").read_text("utf-8"))["drafts"]
    raw += [
        Item(r["ruling"]["description"], _digits(r["ruling"]["commodity_code"]), "ruling")
        for r in rulings
    ]
    seen: set[str] = set()
    items: list[Item] = []
    for item in raw:
        key = normalise(item.description)
        if key and len(item.code) >= 4 and key not in seen:
            seen.add(key)
            items.append(item)
    return items


def load_vague(root: Path) -> list[str]:
    with (root / "uk-fpo" / "vague_terms.csv").open(encoding="utf-8") as f:
        rows = [row[0] for row in csv.reader(f) if row and row[0].strip()]
    return list(dict.fromkeys(rows))


def split(items: list[T], key: str = "description") -> tuple[list[T], list[T]]:
    """(dev, held_out) for items that have a ``description`` attribute or are strings."""
    dev: list[T] = []
    held: list[T] = []
    for item in items:
        text = item if isinstance(item, str) else str(getattr(item, key))
        (held if is_held_out(text) else dev).append(item)
    return dev, held


_BRANDS = ("ZENVY", "Koolmax", "OUYEAH", "Vitalio", "BRIGHTEK", "Lumora", "Kawaii-Go", "Tarvix")
_MARKETING = (
    "2024 New",
    "Premium",
    "Hot Sale",
    "Free Shipping",
    "Upgraded",
    "Best Gift",
    "Luxury",
    "Original",
)
_COLOURS = ("Black", "Navy Blue", "White", "Pink", "Grey", "Beige", "Red", "Multicolor")
_SIZES = ("XL", "Size M", "500ml", "30cm", "2XL", "One Size", "10x20cm", "1kg")
_QUANTITIES = ("2 Pcs", "Pack of 3", "1pc", "Set of 4", "10 Pack", "x1", "3pcs", "5 Pieces")


def noisy(description: str) -> str:
    """``description`` dressed like an e-commerce title, deterministically."""
    h = hashlib.sha256(description.encode("utf-8")).digest()
    parts = [
        _BRANDS[h[0] % len(_BRANDS)],
        _MARKETING[h[1] % len(_MARKETING)],
        description.title() if h[2] % 2 else description,
        _COLOURS[h[3] % len(_COLOURS)],
        _SIZES[h[4] % len(_SIZES)],
    ]
    if h[5] % 2:
        parts.append(_QUANTITIES[h[6] % len(_QUANTITIES)])
    if h[7] % 3 == 0:
        parts.append(_MARKETING[h[8] % len(_MARKETING)])
    return " ".join(parts)


def main() -> None:
    root = data_dir()
    dev, held = split(load_labelled(root))
    vague_dev, vague_held = split(load_vague(root))
    print(f"labelled: dev {len(dev)}, held-out {len(held)}")
    print(f"vague:    dev {len(vague_dev)}, held-out {len(vague_held)}")


if __name__ == "__main__":
    main()
