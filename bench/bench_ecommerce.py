"""Accuracy of the offline engine on e-commerce listings (title, category path, attributes).

Usage: ``python bench/bench_ecommerce.py [--failures N]``

The listings are in ``bench/data/ecommerce_eval.jsonl`` (written by hand for this benchmark:
realistic marketplace titles with a category path and attributes, each labelled with the HS
2022 subheading a broker would give). They are split 50/50 by a stable hash of the title into
``ecommerce-dev`` (may be looked at and tuned on) and ``ecommerce-heldout`` (never looked at
item by item: only its totals are printed). Each item is classified the way the CLI's JSONL
input sends it: ``classify(description=title, attributes={"category": ..., ...})``.

``bench/data/listings_blind.jsonl`` holds listings written blind: by helper sessions that
never saw the engine, its lexicon or this project's data (marketplace titles, invoice lines,
short phrases; about half with a category path), labelled by them. Each row names its split:
``blind-dev`` rows were looked at while improving the engine, ``blind-heldout`` rows never.
``bench/data/listings_blind2.jsonl`` is a second blind set, written later the same way by two
more helper sessions (300 consumer listings, ids ``c…``, and 300 B2B invoice and marketplace
lines, ids ``i…``), each labelled with the broker's confidence; split 50/50 by a stable hash.
``blind2-dev`` rows were looked at while improving the engine, ``blind2-heldout`` rows never.
``bench/data/listings_blind3.jsonl`` (400 listings in four styles: marketplace titles, invoice
lines, short courier declarations, listings with attributes) was written last, by a helper
session that saw neither the engine nor the other sets; every row is held out: only its totals
are ever printed.

Printed per split: ``code@k`` (the returned code has at least k digits and they are right; a
code that stops at the heading counts as wrong at 6 digits), ``top5@6`` (the right subheading
is among the five alternatives) and ``rejct`` (real products wrongly rejected as vague).
``--failures N`` lists up to N dev failures at 6 digits (never held-out ones).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import ClassificationResult, Engine

DATA = Path(__file__).resolve().parent / "data" / "ecommerce_eval.jsonl"
#: Listings written blind: by a helper session that never saw the engine, its lexicon or
#: this project's data. Each says its split; the held-out ones were never looked at.
BLIND = Path(__file__).resolve().parent / "data" / "listings_blind.jsonl"
#: The second blind set (consumer and B2B), written after the first.
BLIND2 = Path(__file__).resolve().parent / "data" / "listings_blind2.jsonl"
#: The third blind set: held out whole.
BLIND3 = Path(__file__).resolve().parent / "data" / "listings_blind3.jsonl"
LEVELS = (2, 4, 6)


@dataclass(frozen=True, slots=True)
class Listing:
    id: str
    description: str
    attributes: dict[str, str]
    code: str
    split: str | None = None  # "dev" or "heldout" when the file says; else by hash


def load(path: Path = DATA) -> list[Listing]:
    items: list[Listing] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            attributes = {str(k): str(v) for k, v in raw.get("attributes", {}).items()}
            items.append(
                Listing(raw["id"], raw["description"], attributes, raw["code"], raw.get("split"))
            )
    return items


def is_held_out(listing: Listing) -> bool:
    if listing.split is not None:
        return listing.split == "heldout"
    digest = hashlib.sha256(listing.description.strip().lower().encode("utf-8")).digest()
    return digest[0] % 2 == 1


def split(items: list[Listing]) -> tuple[list[Listing], list[Listing]]:
    dev = [i for i in items if not is_held_out(i)]
    held = [i for i in items if is_held_out(i)]
    return dev, held


@dataclass
class Tally:
    n: int = 0
    code: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    top5: int = 0
    rejected: int = 0
    stopped: int = 0

    def add(self, gold: str, result: ClassificationResult) -> bool:
        """Count one result; True when it is right at 6 digits."""
        self.n += 1
        if result.status == "rejected_vague":
            self.rejected += 1
        code = result.code or ""
        if len(code) < 6:
            self.stopped += 1
        for k in LEVELS:
            if len(code) >= k and code[:k] == gold[:k]:
                self.code[k] += 1
        if gold[:6] in [a.code[:6] for a in result.alternatives[:5]]:
            self.top5 += 1
        return code[:6] == gold[:6]

    def row(self, label: str) -> str:
        def pct(part: int) -> str:
            return f"{100.0 * part / self.n:6.1f}" if self.n else "   n/a"

        cells = [f"{label:<20}", f"{self.n:>4}"]
        cells += [pct(self.code[k]) for k in LEVELS]
        cells += [pct(self.top5), pct(self.stopped), pct(self.rejected)]
        return " ".join(cells)


HEADER = (
    f"{'split':<20} {'n':>4} "
    + " ".join(f"{'code@' + str(k):>6}" for k in LEVELS)
    + f" {'top5@6':>6} {'stop<6':>6} {'rejct':>6}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=0, help="list N dev failures")
    args = parser.parse_args()

    started = time.perf_counter()
    engine = Engine(load_hs2022())
    print(
        f"engine built in {time.perf_counter() - started:.2f} s;"
        f" {DATA.name}, {BLIND.name}, {BLIND2.name}, {BLIND3.name}"
    )
    print(HEADER)
    failures: list[tuple[Listing, ClassificationResult]] = []
    dev, held = split(load(DATA))
    blind_dev, blind_held = split(load(BLIND))
    blind2_dev, blind2_held = split(load(BLIND2))
    _, blind3_held = split(load(BLIND3))
    for name, items in (
        ("ecommerce-dev", dev),
        ("ecommerce-heldout", held),
        ("blind-dev", blind_dev),
        ("blind-heldout", blind_held),
        ("blind2-dev", blind2_dev),
        ("blind2-heldout", blind2_held),
        ("blind3-heldout", blind3_held),
    ):
        tally = Tally()
        t0 = time.perf_counter()
        for item in items:
            result = engine.classify(item.description, item.attributes)
            if not tally.add(item.code, result) and name.endswith("-dev"):
                failures.append((item, result))
        elapsed = time.perf_counter() - t0
        print(tally.row(name) + f"   ({1000 * elapsed / max(len(items), 1):.1f} ms/item)")
    for item, result in failures[: args.failures]:
        alternatives = " ".join(a.code for a in result.alternatives[:5])
        print(
            f"{item.id} gold {item.code} got {result.code} [{result.status}] alt {alternatives}"
            f" | {item.description[:70]} | {item.attributes.get('category', '')[-50:]}"
        )


if __name__ == "__main__":
    main()
