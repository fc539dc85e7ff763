"""Python's garbage collector, tuned for processes that hold large long-lived indexes.

A classification engine keeps millions of small objects for the life of the process. Left to
the defaults, every full collection walks all of them (about 200 ms on this hardware, every
few thousand requests: the slowest requests of a busy API); and the youngest generation is
collected every 700 net allocations, although almost everything a request allocates is freed
by reference counting already.
"""

from __future__ import annotations

import gc

#: Net allocations of container objects between collections of the youngest generation.
YOUNG_THRESHOLD = 50_000


def tune_collector() -> None:
    """At process start: collect the youngest generation less often (cycles are rare)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def settle_long_lived() -> None:
    """After building something that lives as long as the process (an engine): move every
    object alive now out of the collector's reach, so collections no longer walk them."""
    gc.collect()
    gc.freeze()
