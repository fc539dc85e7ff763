"""Classifying a list in parallel: one engine per worker process, items in chunks, in order."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sivug.classification.lists import ListItem, output_row
from sivug.engine import Engine, Precedent
from sivug.engine.book import Book

_engine: Engine | None = None
CHUNK = 200


def _init(book: Book, precedents: list[Precedent]) -> None:
    global _engine
    _engine = Engine(book)
    _engine.add_precedents(precedents)


def _run(chunk: list[tuple[str, str, dict[str, str]]]) -> list[dict[str, Any]]:
    assert _engine is not None, "worker not initialised"
    return [
        output_row(item_id, _engine.classify(text, attrs or None).to_dict(), None)
        for item_id, text, attrs in chunk
    ]


def classify_items(
    book: Book,
    precedents: list[Precedent],
    items: Sequence[ListItem],
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Results in the order of ``items``; rows that could not be read carry their error."""
    rows: list[dict[str, Any] | None] = [None] * len(items)
    todo: list[tuple[int, tuple[str, str, dict[str, str]]]] = []
    for index, item in enumerate(items):
        if item.error:
            rows[index] = output_row(item.id, None, item.error)
        else:
            todo.append((index, (item.id, item.description, item.attributes)))
    if on_progress and len(todo) < len(items):
        on_progress(len(items) - len(todo))
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    count = workers or min(os.cpu_count() or 1, 4)
    if count <= 1 or len(chunks) <= 1:
        _init(book, precedents)
        results = (_run([payload for _, payload in chunk]) for chunk in chunks)
        for chunk, done in zip(chunks, results, strict=True):
            for (index, _), row in zip(chunk, done, strict=True):
                rows[index] = row
            if on_progress:
                on_progress(len(chunk))
    else:
        with ProcessPoolExecutor(count, initializer=_init, initargs=(book, precedents)) as pool:
            futures = [pool.submit(_run, [payload for _, payload in chunk]) for chunk in chunks]
            for chunk, future in zip(chunks, futures, strict=True):
                for (index, _), row in zip(chunk, future.result(), strict=True):
                    rows[index] = row
                if on_progress:
                    on_progress(len(chunk))
    return [row for row in rows if row is not None]
