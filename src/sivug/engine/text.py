"""Text handling shared by the index, the lexicon and the query parser.

Everything is reduced to *stems*: lower-cased, accent-free tokens, English words through the
Snowball stemmer, Hebrew words with their one-letter prefixes and plural suffixes removed.
The same function is used on the book and on the query, so they meet in the middle.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_STEMMER = snowballstemmer.stemmer("english")

_HEBREW = re.compile(r"[\u05d0-\u05ea]")
_HEBREW_POINTS = re.compile(r"[\u0591-\u05c7]")
_HEBREW_PREFIXES = "והבלמשכ"
_TOKEN = re.compile(r"[a-z0-9\u05d0-\u05ea]+(?:['’][a-z]+)?")
# "t-shirt" -> "tshirt", "e-bike" -> "ebike", "x-ray" -> "xray": a one-letter part joins.
_SHORT_COMPOUND = re.compile(r"\b([a-z])-([a-z]{2,})\b")
_T_SHIRT = re.compile(r"\b(?:t|tee) shirts?\b")
_HTML_ENTITY = re.compile(r"&(amp|quot|apos|lt|gt|nbsp|#\d+);")

#: Words that carry no meaning for classification, in any position.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "for",
        "with",
        "without",
        "in",
        "on",
        "at",
        "to",
        "by",
        "from",
        "as",
        "is",
        "are",
        "be",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "into",
        "onto",
        "per",
        "via",
        "than",
        "other",
        "others",
        "such",
        "not",
        "no",
        "nor",
        "but",
        "also",
        "all",
        "any",
        "each",
        "both",
        "either",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "only",
        "more",
        "most",
        "very",
        "so",
        "too",
        "can",
        "will",
        "may",
        "up",
        "down",
        "out",
        "off",
        "over",
        "under",
        "about",
        "above",
        "below",
        "between",
        "incl",
        "including",
        "include",
        "includes",
        "included",
        "whether",
        "etc",
        "ie",
        "eg",
        "use",
        "used",
        "using",
        "made",
        "thereof",
        "therefor",
        "therein",
        "wherein",
        "n",
        "e",
        "c",
        "nec",
    ]
)

#: Marketing and listing noise: says nothing about what the goods are.
MARKETING = frozenset(
    [
        "new",
        "newest",
        "latest",
        "hot",
        "sale",
        "sales",
        "best",
        "bestseller",
        "seller",
        "selling",
        "top",
        "quality",
        "high",
        "premium",
        "luxury",
        "luxurious",
        "deluxe",
        "fashion",
        "fashionable",
        "style",
        "stylish",
        "trendy",
        "trend",
        "genuine",
        "authentic",
        "original",
        "official",
        "brand",
        "branded",
        "free",
        "shipping",
        "delivery",
        "fast",
        "express",
        "cheap",
        "discount",
        "discounted",
        "offer",
        "deal",
        "deals",
        "promo",
        "promotion",
        "limited",
        "edition",
        "exclusive",
        "upgrade",
        "upgraded",
        "improved",
        "version",
        "gen",
        "generation",
        "pro",
        "plus",
        "max",
        "ultra",
        "super",
        "mega",
        "mini",
        "special",
        "classic",
        "vintage",
        "retro",
        "modern",
        "cute",
        "lovely",
        "beautiful",
        "elegant",
        "gorgeous",
        "amazing",
        "perfect",
        "great",
        "good",
        "nice",
        "cool",
        "awesome",
        "unique",
        "popular",
        "hottest",
        "arrival",
        "arrivals",
        "item",
        "items",
        "piece",
        "pieces",
        "pcs",
        "pc",
        "pack",
        "packs",
        "lot",
        "lots",
        "set",
        "sets",
        "bundle",
        "combo",
        "qty",
        "quantity",
        "count",
        "ct",
        "unit",
        "units",
        "size",
        "sizes",
        "colour",
        "colours",
        "color",
        "colors",
        "assorted",
        "various",
        "mixed",
        "multi",
        "multicolor",
        "multicolour",
        "random",
        "style",
        "styles",
        "design",
        "designs",
        "designer",
        "model",
        "edition",
        "series",
        "collection",
        "type",
        "version",
        "stock",
        "instock",
        "uk",
        "us",
        "eu",
        "usa",
        "european",
        "american",
        "british",
        "chinese",
        "china",
        "import",
        "imported",
        "export",
        "wholesale",
        "retail",
        "bulk",
        "factory",
        "direct",
        "outlet",
        "store",
        "shop",
        "amazon",
        "ebay",
        "aliexpress",
        "temu",
        "shein",
        "etsy",
        "sku",
        "ref",
        "no",
        "nr",
        "number",
        "year",
        "years",
        "yrs",
        "old",
        "age",
        "ages",
        "month",
        "months",
        "mo",
        "day",
        "days",
        "week",
        "weeks",
        "ship",
        "ships",
        "shipped",
        "warranty",
        "guarantee",
        "guaranteed",
        "certified",
        "approved",
        "compatible",
        "suitable",
        "fits",
        "fit",
        "fitting",
        "universal",
        "replacement",
        "durable",
        "sturdy",
        "strong",
        "lightweight",
        "weight",
        "soft",
        "comfortable",
        "comfy",
        "breathable",
        "waterproof",
        "portable",
        "adjustable",
        "foldable",
        "reusable",
        "washable",
        "easy",
        "simple",
        "practical",
        "multifunction",
        "multifunctional",
        "multipurpose",
        "functional",
        "creative",
        "fun",
        "funny",
        "novelty",
        "personalised",
        "personalized",
        "custom",
        "customised",
        "customized",
        "handmade",
        "natural",
        "organic",
        "eco",
        "friendly",
        "safe",
        "non",
        "toxic",
        "bpa",
        "2019",
        "2020",
        "2021",
        "2022",
        "2023",
        "2024",
        "2025",
        "2026",
        "christmas",
        "xmas",
        "birthday",
        "halloween",
        "easter",
        "valentine",
        "valentines",
        "holiday",
        "summer",
        "winter",
        "spring",
        "autumn",
        "fall",
        "season",
        "seasonal",
        "casual",
        "daily",
        "everyday",
        "indoor",
        "outdoor",
        "home",
        "office",
        "travel",
        "party",
        "wedding",
        "gift",
        "gifts",
        "present",
        "presents",
        "idea",
        "ideas",
    ]
)

#: Colours and finishes: descriptive, never the goods themselves.
COLOURS = frozenset(
    [
        "black",
        "white",
        "red",
        "blue",
        "green",
        "yellow",
        "orange",
        "purple",
        "pink",
        "brown",
        "grey",
        "gray",
        "beige",
        "navy",
        "khaki",
        "ivory",
        "golden",
        "silvery",
        "teal",
        "turquoise",
        "aqua",
        "cyan",
        "magenta",
        "maroon",
        "burgundy",
        "lilac",
        "violet",
        "indigo",
        "tan",
        "nude",
        "taupe",
        "mauve",
        "fuchsia",
        "transparent",
        "clear",
        "matte",
        "matt",
        "glossy",
        "gloss",
        "metallic",
        "neon",
        "pastel",
        "dark",
        "bright",
        "multicoloured",
        "rainbow",
        "floral",
        "pattern",
        "patterned",
        "striped",
        "stripe",
        "plaid",
        "check",
        "checked",
        "solid",
        "leopard",
        "camo",
        "camouflage",
    ]
)

#: Sizes and fits.
SIZES = frozenset(
    [
        "xxs",
        "xs",
        "s",
        "m",
        "l",
        "xl",
        "xxl",
        "xxxl",
        "2xl",
        "3xl",
        "4xl",
        "5xl",
        "6xl",
        "small",
        "medium",
        "large",
        "extra",
        "big",
        "huge",
        "tiny",
        "slim",
        "regular",
        "loose",
        "oversized",
        "petite",
        "tall",
        "plus",
        "one",
        "os",
        "o",
        "size",
        "fits",
        "king",
        "queen",
        "single",
        "double",
        "twin",
    ]
)

_QUANTITY = re.compile(
    r"^(?:\d+(?:[.,]\d+)?(?:x\d+)*"
    r"(?:mm|cm|m|km|in|inch|inches|ft|g|gr|kg|mg|lb|lbs|oz|ml|l|cl|dl|ltr|litre|liter|"
    r"w|kw|v|mah|ah|hz|ghz|mhz|gb|tb|mb|pcs|pc|pk|x|p|k|s|th|st|nd|rd|yr|yrs|m|d|mp|"
    r"ft|sqm|cc|qt|gal|a|db|xl|xxl|xs)?)$"
)
_CODELIKE = re.compile(r"^(?=.*\d)(?=.*[a-z])[a-z0-9]{3,}$")

#: "Single-phase", "multi-phase" (motors, meters): one word each, or both lose their sense.
_PHASE = re.compile(r"\b(single|multi|poly|three|3)[\s-]?phase\b")
#: "Ski-boots", "snowboard boots": one word each, so that other boots do not read them.
_SKI_BOOTS = re.compile(r"\b(ski|snowboard)[\s-](boots?)\b")
#: Spelling variants folded before stemming (US/UK, common shop spellings).
VARIANTS = {
    # Trade shorthand on invoices: steel grades, polyethylene grades, assemblies.
    **dict.fromkeys(("ss", "ss201", "ss304", "ss316", "ss430", "sus304", "sus316"), "stainless"),
    **dict.fromkeys(("hdpe", "ldpe", "lldpe"), "polyethylene"),
    "assy": "assembly",
    "tshirt": "tshirt",
    "tshirts": "tshirt",
    "tee": "tshirt",
    "tees": "tshirt",
    "aluminum": "aluminium",
    "jewelry": "jewellery",
    "jewellry": "jewellery",
    "colour": "color",
    "grey": "gray",
    "fibers": "fibres",
    "fiber": "fibre",
    "mens": "men",
    "man's": "men",
    "men's": "men",
    "womens": "women",
    "women's": "women",
    "woman": "women",
    "ladies": "women",
    "lady": "women",
    "ladys": "women",
    "lady's": "women",
    "girls": "girl",
    "boys": "boy",
    "pyjamas": "pajamas",
    "pyjama": "pajamas",
    "tyre": "tire",
    "tyres": "tire",
    "mould": "mold",
    "moulds": "mold",
    "catalogue": "catalog",
    "sulphate": "sulfate",
    "sulphur": "sulfur",
    "sulphide": "sulfide",
    "sulphides": "sulfide",
    "sulphuric": "sulfuric",
    "moulded": "molded",
    "moulding": "molding",
    "mouldings": "molding",
    "coloured": "colored",
    "colours": "color",
    "colors": "color",
    "enameled": "enamelled",
    "vulcanized": "vulcanised",
    "traveling": "travelling",
    "fueled": "fuelled",
    "modeling": "modelling",
    "flavor": "flavour",
    "flavors": "flavour",
    "flavored": "flavoured",
    "center": "centre",
    "centers": "centre",
    "liter": "litre",
    "liters": "litre",
    "plow": "plough",
    "plows": "plough",
    "analyzer": "analyser",
    "analyzers": "analyser",
    "grillers": "grill",
    "griller": "grill",
    "3phase": "multiphase",
    "threephase": "multiphase",
    "polyphase": "multiphase",
    "caliper": "calliper",
    "calipers": "callipers",
}


def normalize(text: str) -> str:
    """Lower-case, NFKC, HTML entities and Hebrew points removed, short compounds joined."""
    text = unicodedata.normalize("NFKC", text).lower()
    if not text.isascii():  # "algodón" -> "algodon"; Hebrew letters are kept as they are
        text = "".join(
            c
            for c in unicodedata.normalize("NFKD", text)
            if not (unicodedata.combining(c) and c < "\u0591")
        )
        text = unicodedata.normalize("NFKC", text)
    text = _HTML_ENTITY.sub(" ", text)
    text = _HEBREW_POINTS.sub("", text)
    text = text.replace("’", "'")
    text = _SHORT_COMPOUND.sub(r"\1\2", text)
    text = _PHASE.sub(r"\1phase", text)
    text = _SKI_BOOTS.sub(r"\1\2", text)
    return _T_SHIRT.sub("tshirt", text)


def tokens(text: str) -> list[str]:
    """Raw word tokens of ``text`` after :func:`normalize` (no stop-word removal)."""
    out: list[str] = []
    for token in _TOKEN.findall(normalize(text)):
        token = VARIANTS.get(token, token)
        if "'" in token:
            token = VARIANTS.get(token, token.split("'")[0])
        out.append(token)
    return out


def is_hebrew(token: str) -> bool:
    return bool(_HEBREW.match(token))


#: Words whose Snowball stem is another product's ("leggings" -> "leg", so "wide leg pants"
#: read leggings; "clothes" -> "cloth", the cloths of 6307) or no word's ("scarves" -> "scarv").
_STEM_EXCEPTIONS = {
    "leggings": "legging",
    "legging": "legging",
    "scarves": "scarf",
    "clothes": "clothes",
}


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """The stem of one token (English Snowball; light Hebrew prefix/suffix removal)."""
    if is_hebrew(token):
        if len(token) >= 4 and token[0] in _HEBREW_PREFIXES:
            token = token[1:]
        if len(token) >= 5 and token[-2:] in ("ים", "ות"):
            token = token[:-2]
        return token
    if token.isdigit():
        return token
    return _STEM_EXCEPTIONS.get(token) or str(_STEMMER.stemWord(token))


def is_quantity(token: str) -> bool:
    """``100ml``, ``2x3``, ``500g``, ``12``, ``4pcs``: a size or count, not a product word."""
    return bool(_QUANTITY.match(token))


def is_codelike(token: str) -> bool:
    """Model or order numbers such as ``pk022s`` or ``a9jk51``."""
    return bool(_CODELIKE.match(token)) and not is_quantity(token)


def is_noise(token: str) -> bool:
    """True for words that never identify goods: stop words, marketing, colours, sizes."""
    return (
        token in STOPWORDS
        or token in MARKETING
        or token in COLOURS
        or token in SIZES
        or is_quantity(token)
        or is_codelike(token)
        or len(token) < 2
    )


def stems(text: str) -> list[str]:
    """Stems of the meaningful words of ``text`` (for indexing book lines)."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 1]
