"""From a noisy description (plus attributes) to weighted evidence.

A description such as "ZENVY 2024 New Women's Cotton T-Shirt for Summer, Navy, XL" becomes:
the product words with their weight ("tshirt" strong, "summer" weak), the lexicon matches
(``tshirt`` -> 6109) with the head noun favoured, and the material and gender words expanded
to the book's own vocabulary ("polyester" -> "synthetic fibres"). Words after "for" or "with"
describe another thing (a charger *for* a phone) and weigh less.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sivug.engine.lexicon import Lexicon, LexiconEntry, skeleton
from sivug.engine.text import COLOURS, STOPWORDS, is_noise, is_quantity, normalize, stem, tokens

#: After these words the description talks about something else ("case for iPhone").
_MODIFIER_START = frozenset({"for", "with", "compatible", "fits", "suitable", "including"})
#: What food is packed in: "tuna in olive oil" is tuna, "peaches in syrup" peaches.
_PACKING_MEDIA = frozenset(
    {"oil", "olive", "sunflower", "brine", "syrup", "water", "sauce", "tomato", "juice"}
    | {"vinegar", "jelly", "gravy", "spring", "salt", "salted", "own", "light", "heavy"}
)
#: Words that say how the whole product is preserved (materials.txt: Chapters 16 and 20).
_STATE_WORDS = frozenset({"canned", "tinned"})
#: Words that put a description in a vehicle ("Radiator for Honda Accord"): makes, by stem.
_VEHICLE = frozenset(
    stem(w)
    for w in (
        *("car", "cars", "auto", "automotive", "vehicle", "truck", "suv", "pickup", "van"),
        *("toyota", "honda", "ford", "bmw", "audi", "mercedes", "nissan", "hyundai", "kia"),
        *("volkswagen", "vw", "chevrolet", "chevy", "mazda", "subaru", "lexus", "jeep"),
        *("dodge", "tesla", "volvo", "peugeot", "renault", "fiat", "skoda", "opel", "gmc"),
        *("mitsubishi", "infiniti", "acura", "porsche", "citroen", "vauxhall", "landrover"),
    )
)
#: Invoice shorthand: "brake pad w/ shims", "w/o box".
_WITHOUT = re.compile(r"\bw/o\b")
_WITH = re.compile(r"\bw/")
_SEGMENT_BREAK = re.compile(r"[,|;/()\[\]]|\s-\s|\s–\s")
_IMITATION_LEATHER = re.compile(
    r"\b(?:pu|faux|vegan|synthetic|artificial|imitation|fake|eco|bonded)[\s-]+leather\b"
)
#: How the goods may be used or cared for, not what they are: "Dishwasher and Microwave Safe",
#: "Machine Washable", "Oven Proof".
_CARE = re.compile(
    r"\b(?:(?:dishwasher|microwave|oven|freezer|fridge|dryer|tumble|machine|hand)"
    r"\s*(?:,|and|&|/)?\s*)+(?:safe|washable|wash|proof|friendly)\b"
)
#: The shape of a shoe's toe ("Round Toe", "Open Toe"): a style, not a toe-cap (6403.40 is a
#: protective metal toe-cap, which "steel toe" still says).
_TOE_STYLE = re.compile(
    r"\b(?:round|open|pointed|pointy|peep|square|closed|almond|split)[\s-]toe\b"
)
#: "Short Sleeve", "Long Sleeves": a cut, not shorts.
_SLEEVE_LENGTH = frozenset({"short", "long", "half", "cap", "puff", "elbow"})
_SLEEVE = frozenset({"sleeve", "sleeves", "sleeved"})
_SET_WORDS = frozenset({"set", "sets", "kit", "kits", "combo", "bundle", "hamper"})

#: Words that say a fabric or garment is knitted, or woven (Chapter 61 against Chapter 62).
KNIT_WORDS = frozenset(
    {"knit", "knitted", "knitwear", "crochet", "crocheted", "jersey", "ribbed", "fleece"}
    | {"סרוג", "סרוגה", "סריג", "טריקו"}  # Hebrew: knitted, knit, jersey ("trico")
)
WOVEN_WORDS = frozenset(
    {
        *("woven", "denim", "chiffon", "poplin", "twill", "oxford", "flannel", "chambray"),
        *("corduroy", "tweed", "seersucker", "satin", "organza", "gabardine", "canvas"),
        *("linen", "voile", "muslin", "taffeta", "brocade", "damask", "chino", "chinos"),
    }
)
#: A category node that joins several departments: "Clothing, Shoes & Jewelry".
_GROUP = re.compile(r"[,&+]|\band\b", re.IGNORECASE)
#: A title word that the category confirms (same heading) is the product: its weight grows.
_CORROBORATED = 1.25

#: Material and property words, expanded to the wording customs books use.
_EXPANSIONS_AS_WRITTEN: dict[str, tuple[tuple[str, float], ...]] = {
    "polyester": (("synthet", 0.8), ("man", 0.5)),
    "nylon": (("synthet", 0.8), ("man", 0.5)),
    "polyamid": (("synthet", 0.8), ("man", 0.5)),
    "spandex": (("synthet", 0.6), ("man", 0.4)),
    "elastan": (("synthet", 0.6), ("man", 0.4)),
    "lycra": (("synthet", 0.6), ("man", 0.4)),
    "microfibr": (("synthet", 0.6), ("man", 0.4)),
    "fleec": (("synthet", 0.3),),
    "viscos": (("artifici", 0.8), ("man", 0.5)),
    "rayon": (("artifici", 0.8), ("man", 0.5)),
    "modal": (("artifici", 0.6), ("man", 0.4)),
    "lyocel": (("artifici", 0.6), ("man", 0.4)),
    "bamboo": (("artifici", 0.3), ("wood", 0.2)),
    "cashmer": (("kashmir", 0.9), ("goat", 0.5), ("wool", 0.7), ("anim", 0.4), ("hair", 0.4)),
    "merino": (("wool", 0.8),),
    "alpaca": (("wool", 0.6), ("hair", 0.4)),
    "mohair": (("wool", 0.6), ("hair", 0.4)),
    "angora": (("wool", 0.6), ("hair", 0.4)),
    "linen": (("flax", 0.7),),
    # Hebrew materials and qualifiers, in the book's English wording (a Hebrew description
    # against a book that has only English texts).
    "כותנה": (("cotton", 1.0),),
    "פוליאסטר": (("synthet", 0.8), ("man", 0.5)),
    "ניילון": (("synthet", 0.8), ("man", 0.5)),
    "צמר": (("wool", 1.0),),
    "משי": (("silk", 1.0),),
    "פשתן": (("flax", 0.8), ("linen", 0.6)),
    "עור": (("leather", 1.0),),
    "פלסטיק": (("plastic", 1.0),),
    "גומי": (("rubber", 1.0),),
    "עץ": (("wood", 1.0),),
    "זכוכית": (("glass", 1.0),),
    "קרמיקה": (("ceram", 1.0),),
    "חרסינה": (("porcelain", 1.0), ("china", 0.6)),
    "נירוסטה": (("stainless", 0.8), ("steel", 1.0), ("iron", 0.5)),
    "פלדה": (("steel", 1.0), ("iron", 0.5)),
    "ברזל": (("iron", 1.0),),
    "אלומיניום": (("aluminium", 1.0),),
    "נחושת": (("copper", 1.0),),
    "זהב": (("gold", 1.0),),
    "כסף": (("silver", 1.0),),
    "נייר": (("paper", 1.0),),
    "קרטון": (("paperboard", 0.8), ("paper", 0.5)),
    "סרוג": (("knit", 0.8), ("crochet", 0.6)),
    "טריקו": (("knit", 0.8), ("crochet", 0.6)),
    "גברים": (("men", 1.0),),
    "נשים": (("women", 1.0),),
    "ילדים": (("boy", 0.6), ("girl", 0.6), ("child", 0.6)),
    "ילדות": (("girl", 1.0),),
    "תינוקות": (("babi", 1.0),),
    "denim": (("cotton", 0.5),),
    "jeans": (("cotton", 0.5),),
    "leatherett": (("plastic", 0.8), ("composit", 0.3)),
    "stainless": (("steel", 0.7), ("iron", 0.5)),
    "steel": (("iron", 0.5),),
    "silicon": (("plastic", 0.5),),
    "abs": (("plastic", 0.8),),
    "pvc": (("plastic", 0.8), ("polym", 0.3), ("vinyl", 0.3)),
    "pp": (("plastic", 0.6), ("polypropylen", 0.6), ("propylen", 0.5)),
    "pe": (("plastic", 0.6), ("polyethylen", 0.6), ("ethylen", 0.5)),
    "acryl": (("plastic", 0.4), ("synthet", 0.3)),
    "polycarbon": (("plastic", 0.7),),
    "resin": (("plastic", 0.5),),
    "vinyl": (("plastic", 0.6),),
    "eva": (("plastic", 0.6),),
    "tpu": (("plastic", 0.7),),
    "polypropylen": (("plastic", 0.6), ("propylen", 0.6)),
    "polyethylen": (("plastic", 0.6), ("ethylen", 0.6)),
    # Trade abbreviations of invoice lines: galvanised iron, mild steel.
    "gi": (("iron", 0.8), ("steel", 0.5), ("galvan", 0.5)),
    "ms": (("steel", 0.5), ("iron", 0.4)),
    "wooden": (("wood", 0.9),),
    "oak": (("wood", 0.7),),
    "pine": (("wood", 0.6),),
    "walnut": (("wood", 0.3),),
    "teak": (("wood", 0.7),),
    "ceram": (("porcelain", 0.3), ("china", 0.2)),
    "stonewar": (("ceram", 0.7),),
    "earthenwar": (("ceram", 0.7),),
    "porcelain": (("ceram", 0.5), ("china", 0.5)),
    "knit": (("crochet", 0.8),),
    "knitwear": (("knit", 0.9), ("crochet", 0.8)),
    "crochet": (("knit", 0.8),),
    "jersey": (("knit", 0.5),),
    "male": (("men", 0.9), ("boy", 0.5)),
    "men": (("boy", 0.5),),
    "boy": (("men", 0.5),),
    "female": (("women", 0.9), ("girl", 0.5)),
    "women": (("girl", 0.5),),
    "girl": (("women", 0.5),),
    "infant": (("babi", 0.9),),
    "newborn": (("babi", 0.9),),
    "toddler": (("babi", 0.6),),
    "sterl": (("silver", 0.6), ("precious", 0.4)),
    "925": (("silver", 0.6), ("precious", 0.4)),
    "18k": (("gold", 0.7), ("precious", 0.5)),
    "14k": (("gold", 0.7), ("precious", 0.5)),
    "aluminum": (("aluminium", 1.0),),
    "algodon": (("cotton", 1.0),),
    "coton": (("cotton", 1.0),),
    "baumwoll": (("cotton", 1.0),),
    "cotone": (("cotton", 1.0),),
    "algodao": (("cotton", 1.0),),
    "cuero": (("leather", 1.0),),
    "cuir": (("leather", 1.0),),
    "leder": (("leather", 1.0),),
    "pell": (("leather", 0.8),),
    "hombr": (("men", 1.0),),
    "homm": (("men", 1.0),),
    "herren": (("men", 1.0),),
    "uomo": (("men", 1.0),),
    "mujer": (("women", 1.0),),
    "femm": (("women", 1.0),),
    "damen": (("women", 1.0),),
    "donna": (("women", 1.0),),
    "bluetooth": (("wireless", 0.4),),
    "wifi": (("wireless", 0.4),),
    "cordless": (("wireless", 0.2),),
}
#: The same, keyed by stem ("polyester" is looked up as "polyest").
EXPANSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    stem(k): v for k, v in _EXPANSIONS_AS_WRITTEN.items()
}

#: Words of goods that are fibres, yarn or fabric: in their company a material word that also
#: names a plastic is the fibre ("acrylic knit gloves": synthetic fibres, not plastics).
_TEXTILE_CONTEXT = frozenset(stem(w) for w in ("yarn", "fabric", "fibre", "fiber", "textile"))
_AS_TEXTILE: dict[str, tuple[tuple[str, float], ...]] = {
    stem("acrylic"): (("synthet", 0.8), ("man", 0.5)),
}

#: Weight of each source of words; the last segment of a category path counts nearly as much
#: as the title.
SOURCE_WEIGHTS = {
    "description": 1.0,
    "category": 0.9,
    "category_path": 0.45,
    # A department node naming several kinds of goods ("Clothing, Shoes & Jewelry"): it
    # narrows the chapters (see ``taxonomy.txt``) but names no product.
    "category_group": 0.2,
    "attribute": 0.8,
    # What the goods are made of (a "material" or "composition" attribute): it names materials,
    # and a product it names ("Polyester satin fabric") only describes the goods.
    "material": 0.8,
    "answer": 1.2,
}
_MODIFIER_FACTOR = 0.4
#: Materials and flavours: goods on their own ("cotton", "apple"), but beside a product noun
#: they describe it ("Natural Titanium iPhone", "apple shampoo") and weigh less.
_DESCRIPTIVE = frozenset(
    {
        *("cotton", "wool", "silk", "linen", "leather", "plastic", "wood", "bamboo", "glass"),
        *("steel", "iron", "aluminium", "copper", "brass", "titanium", "gold", "silver"),
        *("platinum", "ceram", "porcelain", "rubber", "silicon", "paper", "cardboard"),
        *("stone", "marbl", "granit", "nylon", "polyest", "acryl", "resin", "velvet", "satin"),
        *("nickel", "chrome", "bronz", "zinc", "pewter", "polypropylen", "polyethylen"),
        # "LED TV", "LED Desk Lamp": the light source of the goods
        "led",
        *("pvc", "eva", "tpu", "abs", "polycarbon", "neopren", "latex", "vinyl", "polyurethan"),
        *("denim", "fleec", "cashmer", "merino", "lace", "cork", "rattan", "wicker", "crystal"),
        *("appl", "cherri", "strawberri", "vanilla", "lemon", "orang", "peach", "coconut"),
        *("honey", "caramel", "mint", "banana", "mango", "raspberri", "lavend", "rose"),
        *("charcoal", "salt", "sugar", "milk", "cream", "chocol", "coffe", "tea", "water"),
        # gemstones: the stone of a jewel, or a shade ("Lipstick Ruby Woo", "Emerald Dress")
        *("rubi", "emerald", "sapphir", "pearl", "jade", "coral", "amber", "ivori"),
        *("turquois", "onyx", "topaz", "amethyst", "garnet", "opal"),
    }
)
_DESCRIPTIVE_FACTOR = 0.45
#: Flavours and ingredients: named after the product, they describe it.
_FLAVOURS = frozenset(
    stem(w)
    for w in (
        *("salt", "sugar", "honey", "butter", "milk", "cream", "chocolate", "cocoa", "vanilla"),
        *("caramel", "mint", "lemon", "orange", "strawberry", "cherry", "apple", "banana"),
        *("mango", "raspberry", "coconut", "peach", "tomato", "wheat", "garlic", "cinnamon"),
    )
)
#: Attribute keys that say what the goods are made of.
_MATERIAL_KEYS = frozenset({"material", "materials", "composition", "fabric", "fibre", "fiber"})
#: Materials that, before a noun after the product, name a part of it by its material.
_PART_MATERIALS = frozenset(
    stem(w)
    for w in (
        *("leather", "plastic", "wood", "wooden", "bamboo", "glass", "steel", "stainless"),
        *("iron", "aluminium", "metal", "copper", "brass", "silicone", "rubber"),
        *("carbon", "titanium", "ceramic", "nylon", "canvas", "mesh", "foam"),
    )
)
#: Words that name goods as imitations of other goods.
_IMITATION = frozenset(stem(w) for w in ("artificial", "fake", "faux"))
#: Forms a dose is put up in: after the name of what is dosed they describe it.
_DOSAGE_FORMS = frozenset(
    stem(w) for w in ("tablets", "capsules", "softgels", "caplets", "lozenges", "gummies")
)
#: "Battery operated", "solar powered": what drives the product, not the product.
_DRIVEN = frozenset({"operated", "powered", "driven", "charged", "heated", "assisted"})
#: A product noun directly followed by another product noun (the head) qualifies it.
_QUALIFIER_FACTOR = 0.6
#: The head noun of a title is looked for among its first content words.
HEAD_WORDS = 6
_MAX_LEXICON_LEN_BONUS = 0.75


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # the token as written (normalised)
    stem: str
    source: str  # key of SOURCE_WEIGHTS
    position: int  # index among the words of its source
    factor: float  # source weight x zone (head or modifier)
    noise: bool  # marketing, colour, size, quantity, code
    segment: int = 0  # index of the comma- or bracket-separated part it is in


@dataclass(frozen=True, slots=True)
class LexiconMatch:
    entry: LexiconEntry
    words: tuple[Word, ...]
    weight: float  # evidence strength, ~1 for the head noun of the title

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(slots=True)
class Query:
    description: str
    words: list[Word] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)  # stem -> BM25 query weight
    matches: list[LexiconMatch] = field(default_factory=list)
    is_set: bool = False
    fabric: str | None = None  # "knitted" or "woven" when the words say so, else None
    category: tuple[str, ...] = ()  # the category path, department first

    def content_words(self, source: str | None = None) -> list[Word]:
        return [w for w in self.words if not w.noise and (source is None or w.source == source)]


def _words(text: str, source: str) -> list[Word]:
    """The words of ``text`` with their zone (head or modifier) and noise flag."""
    text = _IMITATION_LEATHER.sub(" leatherette ", normalize(text))
    text = _CARE.sub(" ", text)
    text = _TOE_STYLE.sub(" ", text)
    text = _WITHOUT.sub(" without ", text)
    text = _WITH.sub(" with ", text)
    out: list[Word] = []
    base = SOURCE_WEIGHTS[source]
    position = 0
    for segment_index, segment in enumerate(_SEGMENT_BREAK.split(text)):
        factor = base
        raw = tokens(segment)
        for i, token in enumerate(raw):
            if (
                source == "description"
                and position > 0
                and (
                    token in _MODIFIER_START
                    or (token == "in" and i + 1 < len(raw) and raw[i + 1] in _PACKING_MEDIA)
                )
            ):
                factor = base * _MODIFIER_FACTOR
            if token in ("cans", "tins") and i > 0 and _is_count(raw[i - 1]):
                token = "canned"  # "5 oz Cans": the goods are canned
            if token in STOPWORDS:
                continue
            if token in _STATE_WORDS:
                # How the whole product is put up, wherever it is said ("Sardines in Olive
                # Oil Canned"): never a modifier's word.
                out.append(Word(token, stem(token), source, position, base, False, segment_index))
                position += 1
                continue
            noise = (
                is_noise(token)
                or (token in _SLEEVE_LENGTH and i + 1 < len(raw) and raw[i + 1] in _SLEEVE)
                or (i > 0 and raw[i - 1] in ("non", "anti"))  # "non slip", "anti scratch"
                or (
                    token in ("light", "dark", "pale", "deep")
                    and i + 1 < len(raw)
                    and raw[i + 1] in COLOURS
                )
            )
            out.append(Word(token, stem(token), source, position, factor, noise, segment_index))
            position += 1
    return out


#: A match: (index of its first word, number of words, lexicon entry).
_Match = tuple[int, int, LexiconEntry]


def _match_lexicon(words: list[Word], lexicon: Lexicon) -> list[LexiconMatch]:
    """Longest non-overlapping lexicon matches within each source, weighed as a broker reads
    a title: the head noun strong, what describes it (materials, flavours, parts, counts,
    dose forms) weak."""
    found: list[LexiconMatch] = []
    by_source: dict[str, list[Word]] = {}
    for w in words:
        by_source.setdefault(w.source, []).append(w)
    for source, source_words in by_source.items():
        if source == "category_group":
            continue
        chosen = _choose(source_words, lexicon)
        if not chosen:
            continue
        descriptive = _descriptive(source_words, chosen)
        products = [c for c in chosen if c[0] not in descriptive]
        head = _head(source, source_words, products)
        # A product noun right before another one qualifies it: a "battery drill" is a
        # drill, a "wine glass" a glass.
        starts = {c[0] for c in chosen}
        for i, length, entry in chosen:
            span_words = tuple(source_words[i : i + length])
            bonus = min(0.35 * (length - 1), _MAX_LEXICON_LEN_BONUS)
            weight = span_words[0].factor * (1.0 + bonus)
            if i == head:
                weight *= 1.15
            if (
                length == 1
                and i not in descriptive
                and i + 1 in starts
                and i + 1 not in descriptive
                and _next_in_phrase(source_words, i) is not None
            ):
                weight *= _QUALIFIER_FACTOR
            if products and i in descriptive:
                weight *= _DESCRIPTIVE_FACTOR
            found.append(LexiconMatch(entry, span_words, weight))
    if any(m.words[0].source == "description" for m in found):
        found = [
            replace(m, weight=m.weight * _DESCRIPTIVE_FACTOR)
            if m.words[0].source == "material"
            else m
            for m in found
        ]
    return found


def _choose(source_words: list[Word], lexicon: Lexicon) -> list[_Match]:
    """The longest lexicon terms in ``source_words``, without overlaps."""
    stems = [w.stem for w in source_words]
    taken = [False] * len(stems)
    candidates: list[_Match] = []
    for i in range(len(stems)):
        for length in range(min(lexicon.max_len, len(stems) - i), 0, -1):
            entry = lexicon.get(tuple(stems[i : i + length]))
            written = [w.text for w in source_words[i : i + length]]
            if entry is not None and entry.accepts(written):
                candidates.append((i, length, entry))
    # Longest first; among equals, the rightmost (English puts the head noun last).
    candidates.sort(key=lambda c: (-c[1], -c[0]))
    chosen: list[_Match] = []
    for i, length, entry in candidates:
        span = range(i, i + length)
        if any(taken[j] for j in span):
            continue
        if length == 1 and source_words[i].noise and source_words[i].text not in ("light",):
            # A lone marketing or colour word ("gift", "orange") is not the product.
            continue
        for j in span:
            taken[j] = True
        chosen.append((i, length, entry))
    return chosen


def _descriptive(source_words: list[Word], chosen: list[_Match]) -> set[int]:
    """The matches (by first word) that describe the product rather than name it."""
    # Where each match ends, and past the noise after it ("Paracetamol 500mg Tablets").
    ends = {i + length for i, length, _ in chosen}
    for end in list(ends):
        while end < len(source_words) and source_words[end].noise:
            end += 1
            ends.add(end)
    first_product = min(c[0] for c in chosen)
    descriptive = {
        i
        for i, length, _ in chosen
        if (
            length == 1
            and (
                source_words[i].stem in _DESCRIPTIVE
                or getattr(_next_in_phrase(source_words, i), "text", None) in _DRIVEN
                # "Ibuprofen Tablets": the form of a dose after what is dosed
                or (source_words[i].stem in _DOSAGE_FORMS and i in ends)
                # "Stapler Heavy Duty 100 Sheet", "Tent 4 Person": a count of another thing
                or (
                    i != first_product
                    and _is_count(source_words[i - 1].text)
                    and source_words[i - 1].segment == source_words[i].segment
                )
            )
        )
        # "Potato Chips Sea Salt", "Hand Cream Shea Butter": a flavour or an ingredient
        # named after the product (but "Lindt Milk Chocolate Bar" is a bar)
        or (i != first_product and source_words[i + length - 1].stem in _FLAVOURS)
        # "Folding Wheelchair Steel Frame", "Watch ... Aluminum Case": a part of the
        # product, by its material
        or (i != first_product and length > 1 and source_words[i].stem in _PART_MATERIALS)
    }
    # "Artificial Flowers Silk Roses Bouquet": once the goods are named as imitations, the
    # real things named after them ("roses", "bouquet") only say what they imitate.
    imitation = [
        c for c in chosen if _IMITATION & {w.stem for w in source_words[c[0] : c[0] + c[1]]}
    ]
    if imitation:
        first = min(c[0] for c in imitation)
        descriptive |= {
            i for i, _, _ in chosen if i > first and not any(i == c[0] for c in imitation)
        }
    return descriptive


def _head(source: str, source_words: list[Word], products: list[_Match]) -> int:
    """The first word of the match that names the product (-1 when none does)."""
    zone = [c for c in products if source_words[c[0]].factor >= SOURCE_WEIGHTS[source]]
    # Long titles put the product first and its features after ("Watch ... Leather Strap"):
    # the head is among the first content words.
    content = [j for j, w in enumerate(source_words) if not w.noise]
    early = set(content[:HEAD_WORDS]) if source == "description" else set(content)
    leading = [c for c in zone if c[0] in early] or zone
    if leading and source == "description":
        # "Reverse lights, motor vehicles": the first part that names a product is the
        # product; the parts after it qualify it.
        first = min(source_words[c[0]].segment for c in leading)
        leading = sorted(
            (c for c in leading if source_words[c[0]].segment == first), key=lambda c: c[0]
        )
        # The head is the last noun of the first run of product nouns: words that name no
        # product end the run ("Apple Watch Series 9 ... Aluminum Case"). After a single
        # noun one such word does not ("Balloon Waffle-knit Trousers", "Radiator Drainage
        # Taps"): a lone noun first is often an attribute of the head.
        run = [leading[0]]
        for c in leading[1:]:
            end = run[-1][0] + run[-1][1]
            gap = sum(1 for j in range(end, c[0]) if not source_words[j].noise)
            if gap > (1 if run[-1][1] == 1 else 0):
                break
            run.append(c)
        leading = run
    return max(leading, key=lambda c: c[0])[0] if leading else -1


def _is_count(token: str) -> bool:
    """A number or a quantity with its unit ("100", "500g", the "lb" of "3 lb")."""
    if token.isdigit():
        return True
    quantity = is_quantity(token) or is_quantity("1" + token)
    return quantity and (not token.isalpha() or len(token) <= 3)


def _next_in_phrase(words: list[Word], i: int) -> Word | None:
    """The word after ``words[i]`` when it is in the same phrase (segment and zone)."""
    if i + 1 >= len(words):
        return None
    here, after = words[i], words[i + 1]
    return after if (after.segment, after.factor) == (here.segment, here.factor) else None


def _unabbreviated(word: Word, lexicon: Lexicon, known: Callable[[str], bool] | None) -> Word:
    """A word written without its vowels ("mscr", "lpstck"), as the lexicon word it
    abbreviates; any other word as it is."""
    text = word.text
    if word.noise or len(text) < 3 or not text.isalpha() or word.stem in lexicon.vocabulary:
        return word
    if known is not None and known(word.stem):
        return word
    written = skeleton(text)
    if len(text) - len(written) > 1:  # more than one vowel after the first letter
        return word
    full = lexicon.abbreviations.get(written)
    if full is None or len(full) < len(text) + 2:  # "trams" is not "trims"
        return word
    return replace(word, text=full, stem=stem(full))


def _for_vehicles(match: LexiconMatch, lexicon: Lexicon) -> LexiconMatch:
    """In a description about a vehicle, "radiator" reads as the lexicon's "car radiator"."""
    key = tuple(w.stem for w in match.words)
    if key and key[0] in _VEHICLE:
        return match
    entry = lexicon.get(("car", *key))
    if entry is None or match.entry.codes[0][0].startswith(entry.codes[0][0]):
        return match  # no car reading, or a less precise one ("alternator" is 851150)
    return LexiconMatch(entry, match.words, match.weight)


def build_query(
    description: str,
    attributes: dict[str, str] | None,
    lexicon: Lexicon,
    extra_answers: list[str] | None = None,
    known: Callable[[str], bool] | None = None,
) -> Query:
    """Parse the description, the attributes and free-text answers into a :class:`Query`.

    ``known`` says whether a stem is a word of the book (or of anything else the caller
    knows): such a word is never read as an abbreviation."""
    query = Query(description)
    query.words += _words(description, "description")
    for key, value in (attributes or {}).items():
        if not value:
            continue
        if key.lower() in ("category", "category_path", "categories", "breadcrumb"):
            parts = [p for p in re.split(r">|/|\\|»|›", value) if p.strip()]
            query.category = tuple(p.strip() for p in parts)
            if parts:
                for part in parts[:-1]:
                    group = bool(_GROUP.search(part))
                    query.words += _words(part, "category_group" if group else "category_path")
                query.words += _words(parts[-1], "category")
        else:
            source = "material" if key.lower() in _MATERIAL_KEYS else "attribute"
            query.words += _words(value, source)
    for answer in extra_answers or []:
        query.words += _words(answer, "answer")
    query.words = [_unabbreviated(w, lexicon, known) for w in query.words]

    query.fabric = _fabric(query.words)
    textile = query.fabric is not None or any(w.stem in _TEXTILE_CONTEXT for w in query.words)
    for w in query.words:
        if w.noise:
            continue
        query.weights[w.stem] = max(query.weights.get(w.stem, 0.0), w.factor)
        expansions = EXPANSIONS.get(w.stem, ())
        if textile:
            expansions = _AS_TEXTILE.get(w.stem, expansions)
        for extra, weight in expansions:
            query.weights[extra] = max(query.weights.get(extra, 0.0), w.factor * weight)
    query.matches = _corroborate(_match_lexicon(query.words, lexicon))
    if any(w.stem in _VEHICLE for w in query.words):
        query.matches = [_for_vehicles(m, lexicon) for m in query.matches]
    query.is_set = any(t in _SET_WORDS for t in tokens(description))
    return query


def _fabric(words: list[Word]) -> str | None:
    """ "knitted" or "woven" when the title, attributes or answers say which (not both)."""
    said = {w.text for w in words if w.source != "category_path"}
    knit = bool(said & KNIT_WORDS) and not {"not", "non"} & said
    woven = bool(said & WOVEN_WORDS)
    if knit == woven:
        return None
    return "knitted" if knit else "woven"


def _compatible(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _corroborate(matches: list[LexiconMatch]) -> list[LexiconMatch]:
    """Title matches that the category path agrees with (same heading) weigh more."""
    category = [m for m in matches if m.words and m.words[0].source.startswith("category")]
    if not category:
        return matches
    category_codes = [c[:4] for m in category for c, _ in m.entry.codes if len(c) >= 4]

    def confirmed(m: LexiconMatch) -> bool:
        return (
            bool(m.words)
            and m.words[0].source == "description"
            and any(_compatible(c[:4], k) for c, _ in m.entry.codes for k in category_codes)
        )

    any_confirmed = any(confirmed(m) for m in matches)
    out: list[LexiconMatch] = []
    for m in matches:
        if confirmed(m):
            m = LexiconMatch(m.entry, m.words, m.weight * _CORROBORATED)
        elif any_confirmed and m.words and m.words[0].source == "description":
            # Another title word is what the category says the product is: this one is a
            # feature or a use ("Toaster ... Bagel Defrost").
            m = LexiconMatch(m.entry, m.words, m.weight / _CORROBORATED)
        out.append(m)
    return out
