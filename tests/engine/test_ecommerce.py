"""E-commerce listings: the title with its category path and attributes, as the CLI sends them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sivug.engine import Engine
from sivug.engine.lexicon import Lexicon, MaterialFamilies, Taxonomy, default_lexicon
from sivug.engine.query import build_query
from sivug.engine.text import stems


@pytest.mark.parametrize(
    ("description", "attributes", "code"),
    [
        # material and gender from the attributes, woven from "chiffon"
        (
            "2024 New Women's Summer Floral V-Neck Short Sleeve Casual Chiffon Dress",
            {
                "category": "Clothing, Shoes & Jewelry > Women > Clothing > Dresses",
                "material": "Polyester",
            },
            "620443",
        ),
        # the same garment knitted ("ribbed knit") goes to Chapter 61
        (
            "Women's Ribbed Knit Bodycon Midi Dress Long Sleeve",
            {"category": "Women > Clothing > Dresses", "material": "95% Polyester, 5% Spandex"},
            "610443",
        ),
        # "jeans" are trousers in the book: the trousers lines, not the suits lines
        ("Men's Slim Fit Stretch Jeans", {"material": "98% Cotton, 2% Elastane"}, "620342"),
        # nothing names cotton: the "of other textile materials" line
        ("Polyester quick dry running t-shirt", None, "610990"),
        # the lexicon says 7323 for a fry pan, the material says aluminium: 7615
        ("Hard Anodized Aluminium Nonstick Fry Pan 28cm", None, "761510"),
        # the lexicon says 420222 (plastics or textile) for a crossbody bag, 420232 for a
        # wallet: the leather said moves each to its leather sibling
        ("Genuine Leather Crossbody Bag for Women Small Shoulder Purse", None, "420221"),
        ("Men's Genuine Leather RFID Blocking Bifold Wallet", None, "420231"),
        ("Nylon Crossbody Bag for Women", None, "420222"),
        # cashmere is the wool of Kashmir goats: the line that names them
        ("Pure Cashmere Turtleneck Sweater Women Soft Knit Pullover", None, "611012"),
        # acrylic in a knitted article is the fibre, not a plastic coating (611610)
        ("Winter Knit Gloves Touchscreen Warm Acrylic Gloves for Men", None, "611693"),
        # the category says clothing (Chapters 61, 62), the leather says 4203: both hold
        (
            "Men's Genuine Leather Motorcycle Biker Jacket Lambskin",
            {"category": "Clothing, Shoes & Jewelry > Men > Men's Clothing > Jackets"},
            "420310",
        ),
        # canned or preserved, food is a preparation (Chapters 16, 20), and what it is packed
        # in ("in olive oil", "in syrup") is not the product
        ("Canned tuna in olive oil 160g", None, "160414"),
        ("Tinned peaches in syrup", None, "200870"),
        ("Chopped tomatoes tinned 400g", None, "200210"),  # tomatoes in pieces
        ("SARDINES IN OLIVE OIL CANNED 125G X 24", None, "160413"),
        ("StarKist Chunk Light Tuna in Water 5 oz Cans (Pack of 10)", None, "160414"),
        # electric, a barbecue is an appliance of 8516 (the book's "grillers")
        ("Electric BBQ grill", None, "851660"),
        # the first part that names a product is the product: "motor vehicles" qualifies it
        ("reverse lights, motor vehicles", None, "851220"),
        # electric, nail clippers are an appliance of 8510
        ("Rechargeable Nail clippers electric", None, "851020"),
        # tablets after the name of a drug are its dose, not a tablet computer
        ("Paracetamol 500mg Tablets", None, "300490"),
        ("Android Tablet 10 inch", None, "847130"),
        # named as imitations, the goods are not the real things named after them
        ("Artificial Flowers Silk Roses Bouquet", None, "670290"),
        # a finish is a material that describes the product, not a product
        ("Bathroom Faucet Brushed Nickel", None, "848180"),
        ("Humidifier Cool Mist Ultrasonic", None, "850980"),
        # "100 Sheet" is what the stapler takes, not bed linen
        ("Stapler Heavy Duty 100 Sheet", None, "847290"),
        ("Wine Opener Electric Corkscrew", None, "850980"),
        # HS 2022 put photovoltaic modules in 8541.43
        ("Solar Panel 100W Monocrystalline 12V", None, "854143"),
        ("UPS Battery Backup 1500VA", None, "850440"),
        ("Stretch Wrap Film 18 inch 1500 ft", None, "392010"),
        # a flavour or an ingredient named after the product describes it
        ("Potato Chips Sea Salt 150g", None, "200520"),
        ("Hand Cream Shea Butter 75ml", None, "330499"),
        ("Spaghetti Pasta 500g Durum Wheat", None, "190219"),
        # the bag or jar a quantity comes in is not the goods; frozen fruit is 0811
        ("Wyman's Frozen Wild Blueberries 3 lb Bag, Unsweetened", None, "081190"),
        # a sheet of plastics is not bed linen
        ("Polycarbonate solid sheet 3mm clear", None, "392061"),
        # what the goods are made of describes them: "fabric" there is not the product
        (
            "Sequin Evening Clutch Purse Women Party Handbag with Chain Strap Silver",
            {"material": "Polyester satin fabric with plastic sequins"},
            "420222",
        ),
        ("FD30 diesel forklift truck 3.0 ton", None, "842720"),
        # the subheading a broker gives the common product
        ("BIC Cristal ballpoint pen medium 1.0mm blue, box of 50", None, "960810"),
        ("Gillette Sensor3 Disposable Razors for Men, 8 Count", None, "821210"),
        ("Ninja AF101 Air Fryer 4 Qt, 1550W, Grey", None, "851660"),
        ("Samsung 55-Inch Class Crystal UHD 4K Smart TV", None, "852872"),
        ("Dell 27 Inch Computer Monitor FHD IPS HDMI", None, "852852"),
        ("Brother monochrome laser printer A4 40ppm, duplex, network", None, "844332"),
        ("HP all in one printer scanner copier wireless", None, "844331"),
        ("12V 200Ah VRLA AGM deep cycle battery for solar", None, "850720"),
        ("Porcelain Dinnerware Set 16 Piece Plates and Bowls Service for 4", None, "691110"),
        # football boots are sports footwear, not ski-boots; slippers are not sports shoes
        ("Adidas Predator Firm Ground Soccer Cleats Men's Football Boots", None, "640219"),
        ("Salomon S/Pro 100 Alpine Ski Boots Men's", None, "640212"),
        (
            "Men's Memory Foam Slippers Plush Fleece House Shoes Anti-Skid Rubber Sole",
            None,
            "640419",
        ),
        ("SanDisk 128GB microSD Card", None, "852351"),
        ("Swing check valve DN100 PN16 flanged, ductile iron", None, "848130"),
        ("DIN 933 hex bolt M10x40 SS304 A2-70 full thread", None, "731815"),
        # the head is the last noun of the first run of product nouns; "LED" is what lights
        # the goods
        ("Samsung UE50CU7100 LED HDR 4K Ultra HD Smart TV", None, "852872"),
        ("Cotton Tablecloth Rectangle 60x102 Washable Farmhouse Table Cover Beige", None, "630251"),
        ("Graduated Compression Socks 20-30 mmHg Knee High Nylon", None, "611510"),
        # a part named by its material after the product is a part of it
        ("Folding manual wheelchair steel frame, 18 inch seat", None, "871310"),
        ("Apple Watch Series 9 GPS 45mm Midnight Aluminum Case with Sport Band", None, "851762"),
        # US spelling against the book's British one ("enamelled")
        ("Le Creuset Enameled Cast Iron Dutch Oven 5.5 Qt", None, "732392"),
    ],
)
def test_listing_is_classified_to_the_subheading(
    hs_engine: Engine, description: str, attributes: dict[str, str] | None, code: str
) -> None:
    result = hs_engine.classify(description, attributes)
    assert result.code == code, (result.code, [a.code for a in result.alternatives])
    assert result.status == "classified"


def test_material_reading_is_explained(hs_engine: Engine) -> None:
    result = hs_engine.classify("Hard Anodized Aluminium Nonstick Fry Pan 28cm")
    notes = [n for n in result.rationale["notes"] if n["note"] == "material"]
    assert notes
    assert "7615" in notes[0]["text"]
    assert "aluminium" in notes[0]["text"]


def test_material_reading_within_a_heading_is_explained(hs_engine: Engine) -> None:
    result = hs_engine.classify("Genuine Leather Crossbody Bag")
    notes = [n["text"] for n in result.rationale["notes"] if n["note"] == "material"]
    assert notes == [
        "'crossbody bag' reads subheading 420222 by default, but the goods are of leather: "
        "subheading 420221 covers the same goods of that material"
    ]


def test_the_shape_of_a_toe_is_not_a_toe_cap() -> None:
    assert "toe" not in build_query("Ballet Flats Round Toe", None, default_lexicon()).weights
    assert "toe" in build_query("Steel Toe Work Boots", None, default_lexicon()).weights


def test_a_stem_is_not_another_products() -> None:
    assert stems("Wide Leg Pants") == ["wide", "leg", "pant"]
    assert "leg" not in stems("leggings")
    assert stems("scarves") == stems("scarf")
    assert stems("clothes") != stems("cloth")


def test_a_focus_word_is_folded_like_the_words() -> None:
    entry = Lexicon.parse("6208 6108 @pyjama\tnightwear").get(("nightwear",))
    assert entry is not None
    assert entry.focus == frozenset(stems("pajamas"))


def test_single_and_multi_phase_stay_whole_words() -> None:
    assert stems("3-phase motor") == stems("multi-phase motor") == ["multiphas", "motor"]
    assert stems("single phase") == ["singlephas"]


@pytest.mark.parametrize(
    ("us", "uk"),
    [
        ("enameled", "enamelled"),
        ("vulcanized", "vulcanised"),
        ("molded", "moulded"),
        ("colored", "coloured"),
        ("flavored", "flavoured"),
        ("liters", "litres"),
        ("calipers", "callipers"),
        ("aluminum", "aluminium"),
    ],
)
def test_us_and_uk_spellings_meet(us: str, uk: str) -> None:
    assert stems(us) == stems(uk)


def test_a_grill_is_not_a_car_grille(hs_engine: Engine) -> None:
    assert (hs_engine.classify("grill").code or "").startswith("7321")
    assert hs_engine.classify("Front grille for BMW X5").code == "870829"  # parts of bodies


def test_what_food_is_packed_in_weighs_less_than_the_food() -> None:
    weights = build_query("tuna in olive oil", None, default_lexicon()).weights
    assert weights["tuna"] > weights["oliv"]
    # "in" before anything else is not a modifier: "2 in 1 shampoo" is shampoo
    assert build_query("2 in 1 shampoo", None, default_lexicon()).weights["shampoo"] == 1.0


@pytest.mark.parametrize(
    "description",
    [
        "Ceramic Coffee Mug 12oz Dishwasher and Microwave Safe",
        "Throw Pillow Cover Machine Washable",
        "Baking Dish Oven Proof",
    ],
)
def test_how_goods_are_cared_for_names_no_product(description: str) -> None:
    query = build_query(description, None, default_lexicon())
    assert not {"dishwash", "microwav", "machin", "oven"} & set(query.weights)
    assert build_query("Microwave Oven 1000W", None, default_lexicon()).weights["microwav"] == 1.0


def test_an_adjective_is_not_the_noun_it_stems_to() -> None:
    query = build_query("Whiteboard Magnetic", None, default_lexicon())
    assert [m.entry.term for m in query.matches] == ["whiteboard"]


def test_acrylic_is_a_fibre_among_textiles_and_a_plastic_elsewhere() -> None:
    knitted = build_query("acrylic knit beanie", None, default_lexicon()).weights
    assert knitted["synthet"] > 0.5
    assert "plastic" not in knitted
    sheet = build_query("acrylic sheet 3mm clear", None, default_lexicon()).weights
    assert sheet["plastic"] > sheet.get("synthet", 0.0)


def test_fabric_is_explained(hs_engine: Engine) -> None:
    result = hs_engine.classify("Women's polyester jersey dress")
    assert result.code == "610443"
    assert any(n["note"] == "fabric" and "knitted" in n["text"] for n in result.rationale["notes"])


def test_category_names_the_product_among_title_nouns(hs_engine: Engine) -> None:
    title = "2 Slice Toaster Stainless Steel Extra Wide Slot Bagel Defrost"
    category = {"category": "Home & Kitchen > Kitchen & Dining > Small Appliances > Toasters"}
    assert hs_engine.classify(title, category).code == "851672"


def test_a_product_noun_before_another_qualifies_it(hs_engine: Engine) -> None:
    # "battery" alone is a battery (8506); before "drill" it says what drives the drill.
    assert hs_engine.classify("battery drill").code == "846721"
    assert hs_engine.classify("battery").alternatives[0].code.startswith("8506")
    # "lip balm" is one lexicon term: not qualified by the word after it.
    query = build_query("Lip Balm Beeswax", None, default_lexicon())
    balm = next(m for m in query.matches if m.text == "lip balm")
    assert balm.weight > 1.0


def test_the_heading_whose_book_text_names_the_product_comes_first(hs_engine: Engine) -> None:
    # The spices line of the lexicon lists 0905 (vanilla) to 0910; the book names turmeric
    # under 0910 only.
    assert hs_engine.classify("Organic Turmeric Powder 1 lb").code == "091030"


def test_the_gender_said_picks_the_heading(hs_engine: Engine) -> None:
    # Garments read women's by default (Note 9 to Chapters 61/62); "Men's" says otherwise.
    title = "Hooded Down Puffer Jacket Duck Down Woven Nylon Shell Winter Coat"
    assert hs_engine.classify(f"Men's {title}").code == "620140"
    assert hs_engine.classify(f"Women's {title}").code == "620240"


@pytest.mark.parametrize(
    ("description", "code"),
    [
        ("DJI Mini Camera Drone 4K", "8806"),  # unmanned aircraft, new in HS 2022
        ("Natural Rubber Dog Chew Toy", "4016"),  # pet toys go by material, not 9503
        ("Plastic squeaky dog toy", "3926"),
        ("Square D 20 Amp Single-Pole Circuit Breaker", "8536"),  # not over 1000 V
        ("Kerosene Hurricane Lantern", "9405"),  # non-electric: not a torch
        ("Arm & Hammer Pure Baking Soda 4 lb", "2836"),
        ("Bambu Lab A1 Mini 3D Printer", "8485"),  # additive manufacturing, HS 2022
        # a gemstone after the product is its shade; "battery operated" is how it runs
        ("MAC Matte Lipstick Ruby Woo", "3304"),
        ("Portable AM FM Transistor Radio Battery Operated Loud Speaker", "8527"),
        # a vehicle named: the lexicon's "car ..." reading, unless the plain one is finer
        ("Radiator Replacement for Honda Accord 2.4L Aluminum Core", "870891"),
        ("Double panel radiator for central heating 600x1000", "7322"),
        ("Alternator Replacement for Chevy Silverado 145 Amp", "851150"),
        # invoice lines: trade shorthand for materials, "w/" for "with"
        ("MS HEX NUT M12 GALVANISED", "731816"),
        ("HDPE BAGS 50 MICRON", "3923"),
        ("PP WOVEN SACKS 50KG", "630533"),
        ("ASSY, BRAKE PAD W/ SHIMS FOR TOYOTA", "870830"),
        # footwear goes by the upper, whatever the sole is made of
        ("Men's Leather Oxford Dress Shoes Lace Up Rubber Sole", "6403"),
        ("Women's Pointed Toe Pumps High Heels PU Leather Party Shoes", "6402"),
        ("Mesh running shoes breathable rubber sole", "6404"),
    ],
)
def test_lexicon_readings(hs_engine: Engine, description: str, code: str) -> None:
    result = hs_engine.classify(description)
    assert (result.code or "").startswith(code) or result.alternatives[0].code.startswith(code)


def test_words_written_without_vowels_are_read() -> None:
    lexicon = default_lexicon()
    query = build_query("Maybelline sky high mscr blk", None, lexicon)
    assert "mascara" in [w.text for w in query.words]
    assert [m.entry.codes[0][0] for m in query.matches] == ["330420"]
    # a real word is not an abbreviation of a longer one, nor a word the book knows
    assert "trims" not in [w.text for w in build_query("trams", None, lexicon).words]
    known = build_query("lpstck", None, lexicon, known=lambda s: s == "lpstck")
    assert [w.text for w in known.words] == ["lpstck"]


def test_category_path_narrows_the_chapters_when_the_title_does_not(hs_engine: Engine) -> None:
    title = "ZX-200 Premium Formula 15kg"
    assert hs_engine.classify(title).code is None
    result = hs_engine.classify(title, {"category": "Pet Supplies > Dogs > Food > Dry"})
    assert (result.code or "").startswith("23")
    assert any(n["note"] == "category" for n in result.rationale["notes"])


def test_department_nodes_name_no_product() -> None:
    query = build_query(
        "Floral maxi dress",
        {"category": "Clothing, Shoes & Jewelry > Women > Clothing > Dresses"},
        default_lexicon(),
    )
    terms = {m.entry.term for m in query.matches}
    assert not terms & {"shoes", "jewellery", "jewelry"}
    assert query.category[-1] == "Dresses"


def test_sleeve_length_is_not_shorts() -> None:
    query = build_query("Women's Short Sleeve Cotton Dress", None, default_lexicon())
    assert all("short" not in m.text for m in query.matches)


def test_material_words_expand_to_the_book_wording() -> None:
    query = build_query("polyester blouse", None, default_lexicon())
    assert query.weights.get("synthet", 0.0) > 0.5


@pytest.mark.parametrize(
    ("description", "fabric"),
    [
        ("cotton jersey dress", "knitted"),
        ("denim jacket", "woven"),
        ("cotton dress", None),
        ("knitted denim-look jacket", None),  # both said: the words do not decide
    ],
)
def test_fabric_inference(description: str, fabric: str | None) -> None:
    assert build_query(description, None, default_lexicon()).fabric == fabric


def test_without_a_material_a_material_split_stops_at_the_heading(hs_engine: Engine) -> None:
    bare = hs_engine.classify("dress")
    assert bare.code == "6204"
    assert bare.questions[0].id.startswith("material")
    assert hs_engine.classify("cotton dress").code == "620442"


def test_material_families_parse_and_read() -> None:
    families = MaterialFamilies.parse(
        "household\t7323=steel iron; 7615=aluminium; 3924=plastic silicone\n"
    )
    assert families.reading("7323", {"aluminium": 0.8}) == ("7615", "aluminium")
    assert families.reading("732393", {"steel": 1.0}) is None  # its own material
    assert families.reading("7323", {"aluminium": 1.0, "plastic": 1.0}) is None  # two
    assert families.reading("7323", {"aluminium": 0.2}) is None  # too weak
    assert families.reading("9503", {"aluminium": 1.0}) is None  # no family


def test_taxonomy_reads_the_deepest_known_node() -> None:
    taxonomy = Taxonomy.parse("61 62\tclothing, dresses\n64\tshoes\n71\tjewelry\n")
    assert taxonomy.codes(("Clothing, Shoes & Jewelry",))[0] == ("61", "62", "64", "71")
    codes, node = taxonomy.codes(("Clothing, Shoes & Jewelry", "Women", "Dresses"))
    assert (codes, node) == (("61", "62"), "Dresses")
    assert taxonomy.codes(("Miscellaneous",)) == ((), "")


def test_ecommerce_benchmark_data_is_well_formed(hs_engine: Engine) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench import bench_ecommerce

    items = bench_ecommerce.load()
    dev, held = bench_ecommerce.split(items)
    assert len(items) >= 400
    assert len(dev) > 150
    assert len(held) > 150
    assert not {i.id for i in dev} & {i.id for i in held}
    assert all(i.code in hs_engine.book.lines and len(i.code) == 6 for i in items)
    assert all(i.attributes.get("category") for i in items)


def test_blind_benchmark_data_is_well_formed(hs_engine: Engine) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench import bench_ecommerce

    for path in (bench_ecommerce.BLIND, bench_ecommerce.BLIND2):
        items = bench_ecommerce.load(path)
        dev, held = bench_ecommerce.split(items)
        assert len(dev) >= 150
        assert len(held) >= 150
        assert len({i.id for i in items}) == len(items)
        assert {i.split for i in items} == {"dev", "heldout"}
        assert all(i.code in hs_engine.book.lines and len(i.code) == 6 for i in items)
    held_out_whole = bench_ecommerce.load(bench_ecommerce.BLIND3)
    assert len(held_out_whole) >= 300
    assert {i.split for i in held_out_whole} == {"heldout"}
    assert all(i.code in hs_engine.book.lines for i in held_out_whole)


def test_question_options_follow_the_book_order(hs_engine: Engine) -> None:
    options = [o.value for o in hs_engine.classify("t-shirt").questions[0].options]
    assert options == sorted(options)
    assert options[0] == "610910"


def test_leather_garment_goes_to_chapter_42(hs_engine: Engine) -> None:
    result = hs_engine.classify("Men's Genuine Leather Motorcycle Biker Jacket Lambskin")
    assert result.code == "420310"
