"""Speed of the offline engine on the built-in HS 2022 book.

Usage: ``python bench/bench_engine_speed.py [--items 10000]``

Prints the index build time, one classification p50/p99 after warm-up, single-process
throughput on a list of items, and resident memory with the book loaded. The descriptions are
generated from a fixed vocabulary of e-commerce words (no data files needed).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from pathlib import Path

from sivug.books.importers.eu_cn import import_eu_cn
from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import Book, Engine, TariffLine

_NOUNS = (
    "t-shirt",
    "hoodie",
    "jeans",
    "dress",
    "sneakers",
    "handbag",
    "phone case",
    "usb cable",
    "charger",
    "earbuds",
    "water bottle",
    "coffee mug",
    "yoga mat",
    "led strip lights",
    "desk lamp",
    "office chair",
    "kitchen knife",
    "frying pan",
    "lipstick",
    "shampoo",
    "dog toy",
    "toy car",
    "necklace",
    "watch strap",
    "screwdriver set",
    "car floor mats",
    "protein powder",
    "green tea",
    "notebook",
    "backpack",
)
_MODIFIERS = (
    "cotton",
    "polyester",
    "leather",
    "stainless steel",
    "silicone",
    "wooden",
    "women's",
    "men's",
    "kids",
    "wireless",
    "",
)
_NOISE = ("2024 New", "Premium", "Free Shipping", "Black", "XL", "500ml", "2 Pcs", "ZENVY", "")


def descriptions(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            p
            for p in (
                rng.choice(_NOISE),
                rng.choice(_MODIFIERS),
                rng.choice(_NOUNS),
                rng.choice(_NOISE),
            )
            if p
        )
        for _ in range(n)
    ]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()

    before = rss_mb()
    started = time.perf_counter()
    book = load_hs2022()
    loaded = time.perf_counter()
    engine = Engine(book)
    built = time.perf_counter()
    print(f"book load      {loaded - started:6.2f} s  ({len(book)} lines)")
    print(f"index build    {built - loaded:6.2f} s  (target <= 3 s)")
    print(f"memory         {rss_mb():6.0f} MB resident ({rss_mb() - before:.0f} MB for book+index)")

    items = descriptions(args.items)
    for text in items[:200]:  # warm-up (stem cache, lexicon, allocations)
        engine.classify(text)

    timings: list[float] = []
    for text in items[:2000]:
        t0 = time.perf_counter()
        engine.classify(text)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"one item       p50 {p50:.2f} ms, p99 {p99:.2f} ms (targets 20 / 100 ms)")

    t0 = time.perf_counter()
    for text in items:
        engine.classify(text)
    elapsed = time.perf_counter() - t0
    print(
        f"throughput     {len(items) / elapsed:,.0f} items/s on {len(items):,} items "
        f"({elapsed:.1f} s, one process; target >= 300/s)"
    )

    # Three different books loaded at once: HS 2022, the EU CN 2026 (8 digits, when
    # ../shared/data is here) and a 10-digit book the size of a national tariff, derived from
    # the CN by giving every 8-digit line two statistical suffixes.
    cn = eu_cn_book()
    others: list[Engine] = []
    for other in (cn, ten_digit_book(cn)):
        t0 = time.perf_counter()
        others.append(Engine(other))
        print(f"index build    {time.perf_counter() - t0:6.2f} s  ({other.id}, {len(other)} lines)")
    print(
        f"memory         {rss_mb():6.0f} MB resident with three books loaded "
        f"({', '.join([book.id] + [e.book.id for e in others])}; target <= 1 GB)"
    )


def eu_cn_book() -> Book:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eu-cn-2026"
    if path.is_dir():
        return import_eu_cn(path)
    return load_hs2022()


def ten_digit_book(source: Book) -> Book:
    lines = dict(source.lines)
    for line in source.lines.values():
        if line.level == 8:
            for suffix, label in (("10", "New"), ("90", "Other")):
                code = line.code + suffix
                lines[code] = TariffLine(
                    code=code, parent=line.code, level=10, texts={"en": label}, section=line.section
                )
    return Book(
        id="SYNTH-10",
        name="10-digit test book",
        country="XX",
        version="1",
        digits=10,
        lines=lines,
        sections=source.sections,
    )


if __name__ == "__main__":
    main()
