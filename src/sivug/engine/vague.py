"""Descriptions too vague to classify honestly: "gift", "spare parts", a brand, an order number.

The rules are general, not a list of known bad descriptions: a description is vague when,
once marketing words, colours, sizes, quantities and codes are set aside, nothing names the
goods (only generic nouns such as "goods" or "parts", or only words no book or lexicon knows,
or a code or reference number). Words the engine does not know are not rejected: they may
be a real product the lexicon lacks, so the engine asks instead (see ``Engine.classify``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sivug.engine.query import Query

#: Nouns that do not say what the goods are, with what the sender should add.
GENERIC_NOUNS: dict[str, str] = {
    "gift": "the product, its material and its use",
    "present": "the product, its material and its use",
    "sampl": "what the sample is of: the product, its material and its use",
    "specimen": "what the specimen is of: the product, its material and its use",
    "good": "the product, its material and its use",
    "item": "the product, its material and its use",
    "product": "the product, its material and its use",
    "merchandis": "the product, its material and its use",
    "stuff": "the product, its material and its use",
    "thing": "the product, its material and its use",
    "articl": "the product, its material and its use",
    "part": "which part it is, its material and the machine or vehicle it belongs to",
    "spare": "which part it is, its material and the machine or vehicle it belongs to",
    "compon": "which component it is, its material and what it belongs to",
    "accessori": "which accessory it is, its material and what it is used with",
    "effect": "each kind of article (e.g. clothing, books, shoes) and its material",
    "belong": "each kind of article (e.g. clothing, books, shoes) and its material",
    "misc": "each product, its material and its use",
    "miscellan": "each product, its material and its use",
    "sundri": "each product, its material and its use",
    "order": "the product, its material and its use",
    "parcel": "what the parcel contains: the product, its material and its use",
    "packag": "what the package contains: the product, its material and its use",
    "packet": "what the packet contains: the product, its material and its use",
    "shipment": "what the shipment contains: the product, its material and its use",
    "consign": "what the consignment contains: the product, its material and its use",
    "cargo": "what the cargo is: the product, its material and its use",
    "freight": "what the freight is: the product, its material and its use",
    "content": "what the goods are: the product, its material and its use",
    "document": "what the documents are (printed matter, plans, papers) and their use",
    "cloth": "the garment (e.g. T-shirt, trousers), the fabric and whether it is knitted",
    "clothing": "the garment (e.g. T-shirt, trousers), the fabric and whether it is knitted",
    "apparel": "the garment (e.g. T-shirt, trousers), the fabric and whether it is knitted",
    "garment": "the garment (e.g. T-shirt, trousers), the fabric and whether it is knitted",
    "wear": "the garment (e.g. T-shirt, trousers), the fabric and whether it is knitted",
    "textil": "the article (e.g. towel, fabric, garment) and the fibre",
    "electron": "the device (e.g. phone, charger, headphones) and its function",
    "electr": "the device or part and its function",
    "hardwar": "the article (e.g. screws, hinges, tools) and its material",
    "equip": "the machine or apparatus and what it does",
    "suppli": "the products, their material and their use",
    "materi": "the material (e.g. plastic sheet, cotton fabric) and its form",
    "chemic": "the chemical name or the product (e.g. detergent, paint) and its use",
    "foodstuff": "the food (e.g. biscuits, tea, sauce) and how it is prepared",
    "food": "the food (e.g. biscuits, tea, sauce) and how it is prepared",
    "household": "the article, its material and its use",
    "homewar": "the article, its material and its use",
    "decor": "the article (e.g. vase, wall sticker, cushion) and its material",
    "souvenir": "the article (e.g. mug, keyring, T-shirt) and its material",
    "collect": "the article and its material",
    "consum": "the products, their material and their use",
    "unit": "the product, its material and its use",
    "kit": "what the kit contains and what it is for",
    "set": "what the set contains and what it is for",
    "pack": "what the pack contains",
    "bundl": "what the bundle contains",
    "lot": "what the lot contains",
    "assort": "each product in the assortment",
    "various": "each product",
    "mix": "each product in the mix",
    "prototyp": "what the prototype is and its material",
    "replac": "the article being replaced and its material",
    "repair": "the article and its material",
    "return": "what the returned goods are",
    "promot": "the article (e.g. pen, mug, T-shirt) and its material",
    "advertis": "the article (e.g. leaflet, banner, pen) and its material",
    "market": "the article (e.g. leaflet, banner, pen) and its material",
    "display": "the article and its material",
    "tool": "which tool it is and whether it is hand-operated or powered",
    "applianc": "which appliance it is and what it does",
    "devic": "which device it is and what it does",
    "machin": "which machine it is and what it does",
    "other": "the product, its material and its use",
    "none": "the product, its material and its use",
    "n/a": "the product, its material and its use",
    "commod": "the product, its material and its use",
    "person": "each kind of article (e.g. clothing, books, shoes) and its material",
    "use": "the product and its material",
    "second": "the product and its material",
    "hand": "the product and its material",
    "new": "the product, its material and its use",
    "commerci": "the product, its material and its use",
    "retail": "the product, its material and its use",
    "handl": "the product, its material and its use",
    "fee": "the goods (a fee is not goods)",
    "charg": "the goods (a charge is not goods)",
    "postag": "the goods (postage is not goods)",
    "ship": "the goods (shipping is not goods)",
}

#: Words that qualify goods but never name them.
QUALIFIERS = frozenset(
    {
        *("men", "women", "boy", "girl", "kid", "child", "children", "babi", "adult"),
        *("unisex", "infant", "toddler", "junior", "teen"),
        *("plastic", "metal", "steel", "iron", "wood", "wooden", "glass", "paper", "cotton"),
        *("leather", "rubber", "silicon", "textil", "fabric", "synthet", "natur", "cloth"),
        *("small", "larg", "big", "mini", "heavi", "light"),
        *("car", "auto", "vehicl", "bike", "bicycl", "motor", "comput", "phone", "mobil"),
        *("kitchen", "garden", "home", "offic", "bathroom", "bedroom", "live", "room"),
    }
)


@cache
def brand_words() -> frozenset[str]:
    """The words of well-known brand names (``brands.txt``, written here)."""
    text = resources.files("sivug.engine").joinpath("brands.txt").read_text(encoding="utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            words.update(line.strip().split())
    return frozenset(words)


@dataclass(frozen=True, slots=True)
class Vagueness:
    message: str


def vagueness(query: Query, known: Callable[[str], bool]) -> Vagueness | None:
    """Why the description cannot be classified, or ``None`` when it names goods."""
    description = query.description.strip()
    shown = description if len(description) <= 60 else description[:57] + "..."
    words = [w for w in query.words if not w.source.startswith("category_")]
    if any(len(code) > 2 for m in query.matches for code, _ in m.entry.codes):
        return None  # a product noun of the lexicon ("machine" alone names only a chapter)
    content = [w for w in words if not w.noise]
    generic_only = [w for w in words if w.stem in GENERIC_NOUNS]
    if not content and generic_only:
        return Vagueness(
            f"'{shown}' does not say what the goods are: give {GENERIC_NOUNS[generic_only[0].stem]}"
        )
    if not content:
        if not [w for w in words if w.text.isalpha()]:
            return Vagueness(
                f"'{shown}' does not describe the goods (only numbers, codes or symbols): "
                "give the product, its material and its use"
            )
        return Vagueness(
            f"'{shown}' gives only colour, size, quantity or marketing words: "
            "say what the product is, its material and its use"
        )
    naming = [w for w in content if w.stem not in GENERIC_NOUNS and w.stem not in QUALIFIERS]
    if not naming:
        generic = next((w for w in content if w.stem in GENERIC_NOUNS), None)
        if generic is not None:
            return Vagueness(
                f"'{shown}' does not say what the goods are: give {GENERIC_NOUNS[generic.stem]}"
            )
        return None  # only qualifiers such as "cotton" or "steel": a material is a product
    brands = brand_words()
    if not query.category and all(w.text.lower() in brands for w in naming):
        return Vagueness(
            f"'{shown}' names a brand, not the goods: say what the product is "
            "(e.g. running shoes, a phone charger), its material and its use"
        )
    looks_like_code = any(c.isdigit() for c in description) and all(
        len(w.text) <= 3 for w in naming
    )
    if looks_like_code and not any(known(w.stem) for w in naming):
        return Vagueness(
            f"'{shown}' looks like a brand, model or reference number, not a description: "
            "say what the product is, its material and its use"
        )
    return None
