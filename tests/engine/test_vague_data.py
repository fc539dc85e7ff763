"""Vague detection against the real UK parcel data (skipped when ../shared/data is absent)."""

from __future__ import annotations

import csv
import json

import pytest

from sivug.engine import Engine

from .conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "uk-fpo" / "vague_terms.csv").is_file(), reason="../shared/data absent"
)


def test_most_reference_descriptions_are_not_rejected(hs_engine: Engine) -> None:
    references = json.loads((SHARED_DATA / "uk-fpo" / "search_references.json").read_text())
    descriptions = list(references)[::4]
    rejected = [d for d in descriptions if hs_engine.classify(d).status == "rejected_vague"]
    assert len(rejected) / len(descriptions) < 0.03, rejected[:20]


def test_a_good_share_of_real_vague_descriptions_is_rejected(hs_engine: Engine) -> None:
    with (SHARED_DATA / "uk-fpo" / "vague_terms.csv").open(encoding="utf-8") as f:
        vague = [row[0] for row in csv.reader(f) if row][::4]
    caught = sum(1 for d in vague if hs_engine.classify(d).status == "rejected_vague")
    # Many "vague" rows name a garment or a brand line the engine cannot tell from a real
    # product; the detector is tuned to keep false rejections of real products low.
    assert caught / len(vague) > 0.1
