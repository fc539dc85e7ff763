"""Accuracy of the offline engine on the UK labelled data, HS 2022 book, first 6 digits.

Usage: ``python bench/bench_accuracy.py [--splits dev,held-out,noisy]``

For each split (dev: may be tuned on; held-out: never tuned on; noisy: held-out dressed as
e-commerce titles) and with and without precedents (dev references only), prints:

* ``code@k``: the returned code is at least k digits long and its first k digits are right
  (a code that stops at the heading counts as wrong at 6 digits);
* ``top1@k`` / ``top5@k``: the best / five best leaf candidates, whatever the stop level;
* ``stop<6``: share of items where the engine stopped above the subheading;
* ``rejected``: legitimate items wrongly rejected as vague;
* vague-detection precision and recall on ``vague_terms.csv`` (same split).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/

from bench import split

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import ClassificationResult, Engine, Precedent

LEVELS = (2, 4, 6)


@dataclass
class Tally:
    n: int = 0
    code: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    top1: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    top5: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    counted: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    short: int = 0
    rejected: int = 0

    def add(self, gold: str, result: ClassificationResult) -> None:
        self.n += 1
        if result.status == "rejected_vague":
            self.rejected += 1
        if result.code is None or len(result.code) < 6:
            self.short += 1
        ranked = [a.code for a in result.alternatives]
        for k in LEVELS:
            if len(gold) < k:
                continue
            self.counted[k] += 1
            if result.code and len(result.code) >= k and result.code[:k] == gold[:k]:
                self.code[k] += 1
            prefixes = list(dict.fromkeys(c[:k] for c in ranked))
            if prefixes[:1] == [gold[:k]]:
                self.top1[k] += 1
            if gold[:k] in prefixes[:5]:
                self.top5[k] += 1

    def row(self, label: str) -> str:
        def pct(part: int, whole: int) -> str:
            return f"{100.0 * part / whole:5.1f}" if whole else "  n/a"

        cells = [f"{label:<34}", f"{self.n:>5}"]
        cells += [pct(self.code[k], self.counted[k]) for k in LEVELS]
        cells += [pct(self.top1[k], self.counted[k]) for k in LEVELS]
        cells += [pct(self.top5[k], self.counted[k]) for k in LEVELS]
        cells += [pct(self.short, self.n), pct(self.rejected, self.n)]
        return " ".join(cells)


HEADER = (
    f"{'split / precedents':<34} {'n':>5} "
    + " ".join(f"{'code@' + str(k):>5}" for k in LEVELS)
    + " "
    + " ".join(f"{'top1@' + str(k):>5}" for k in LEVELS)
    + " "
    + " ".join(f"{'top5@' + str(k):>5}" for k in LEVELS)
    + f" {'stop<6':>5} {'rejct':>5}"
)


def run(engine: Engine, items: list[split.Item], transform: Callable[[str], str]) -> Tally:
    tally = Tally()
    for item in items:
        tally.add(item.code, engine.classify(transform(item.description)))
    return tally


def vague_rates(engine: Engine, vague: list[str], legit: list[split.Item]) -> tuple[float, float]:
    """(precision, recall) of rejecting as vague, legit items counted as negatives."""
    caught = sum(1 for d in vague if engine.classify(d).status == "rejected_vague")
    false = sum(1 for i in legit if engine.classify(i.description).status == "rejected_vague")
    precision = caught / (caught + false) if caught + false else 0.0
    recall = caught / len(vague) if vague else 0.0
    return precision, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="dev,held-out,noisy")
    args = parser.parse_args()
    wanted = set(args.splits.split(","))

    root = split.data_dir()
    dev, held = split.split(split.load_labelled(root))
    vague_dev, vague_held = split.split(split.load_vague(root))

    book = load_hs2022()
    started = time.perf_counter()
    plain = Engine(book)
    with_precedents = Engine(book)
    with_precedents.add_precedents(
        Precedent(i.description, i.code, "ruling" if i.source == "ruling" else "reference")
        for i in dev
    )
    print(
        f"book {book.id}: {len(book)} lines; engines built in {time.perf_counter() - started:.2f} s"
    )
    print(f"dev {len(dev)} items, held-out {len(held)} items; precedents = dev split only\n")
    print(HEADER)

    def same(text: str) -> str:
        return text

    runs: list[tuple[str, list[split.Item], Callable[[str], str]]] = [
        ("dev", dev, same),
        ("held-out", held, same),
        ("noisy", held, split.noisy),
    ]
    for name, items, transform in runs:
        if name not in wanted:
            continue
        for label, engine in (("no precedents", plain), ("with precedents", with_precedents)):
            if name == "dev" and label == "with precedents":
                continue  # dev items are their own precedents: meaningless
            tally = run(engine, items, transform)
            print(tally.row(f"{name} / {label}"))

    print("\nvague detection (rejected_vague on vague_terms.csv vs on the legit items):")
    for name, vague, legit in (("dev", vague_dev, dev), ("held-out", vague_held, held)):
        if name not in wanted and not (name == "held-out" and "noisy" in wanted):
            continue
        precision, recall = vague_rates(plain, vague, legit)
        print(f"  {name:<9} precision {100 * precision:5.1f}%  recall {100 * recall:5.1f}%")


if __name__ == "__main__":
    main()
