"""LLM tier benchmark against the local fake LLM server (the real OpenAI SDK talks to it).

Prints:
- the latency the LLM path adds to a classification (p50/p95), excluding the fake server's
  own scripted delay: (time with the LLM - time of the offline engine alone - fake delay);
- the cache hit rate when the same list is classified a second time;
- the prompt size per classification in tokens (system + user, about 4 characters a token;
  the fake counts the same way), which must stay under 4,000.

Run: `DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python
bench/bench_llm.py [N]` (a scratch database is created on that server and dropped; without
DATABASE_URL an embedded PostgreSQL is used). Descriptions come from
``../shared/data/uk-fpo/search_references.json`` when present, else a built-in list.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer, Reply, Request  # noqa: E402

from sivug.accounts.service import DEMO_ORGANIZATION_ID, seed_demo  # noqa: E402
from sivug.books.service import BookCache, ensure_builtin_books  # noqa: E402
from sivug.classification import service as classification  # noqa: E402
from sivug.classification.engines import EngineCache  # noqa: E402
from sivug.llm.catalog import load_catalog  # noqa: E402
from sivug.llm.prompts import MAX_PROMPT_TOKENS  # noqa: E402
from sivug.llm.service import LLMService  # noqa: E402
from sivug.platform import migrations  # noqa: E402
from sivug.platform.config import LLMSettings  # noqa: E402
from sivug.platform.db import create_engine, session_factory, session_scope  # noqa: E402
from sivug.platform.logging import configure_logging  # noqa: E402
from sivug.wrappers.llm_base import RetryPolicy  # noqa: E402
from sivug.wrappers.openai_wrapper import OpenAIWrapper  # noqa: E402

FAKE_DELAY = 0.05  # seconds the fake "thinks" per call (subtracted from the figures)
SHARED = ROOT.parent / "shared" / "data" / "uk-fpo" / "search_references.json"
FALLBACK = [
    "men's cotton t-shirts",
    "leather handbag",
    "plastic water bottles",
    "rubber tyres for cars",
    "extra virgin olive oil",
    "wooden dining chair",
    "stainless steel screws",
    "laptop computer",
    "frozen shrimp",
    "wool sweater for women",
    "glass flower vase",
    "ceramic dinner plates",
    "paper napkins",
    "insulated copper wire",
    "aluminium foil rolls",
    "silk scarf",
    "leather shoes",
    "plastic toy cars",
    "roasted coffee beans",
    "milk chocolate bars",
]


def descriptions(n: int) -> list[str]:
    if SHARED.exists():
        pairs = list(json.loads(SHARED.read_text()).keys())
        random.Random(7).shuffle(pairs)
        return pairs[:n]
    return (FALLBACK * (n // len(FALLBACK) + 1))[:n]


def answer(request: Request) -> Reply:
    """The fake picks the deepest candidate it is shown (a valid code, always)."""
    schema = request.body.get("response_format", {}).get("json_schema", {}).get("name")
    if schema == "VagueVerdict":
        return Reply(
            data={"vague": True, "reason": "names no product", "ask": "what it is"},
            delay=FAKE_DELAY,
        )
    if schema == "DescriptionAnalysis":
        return Reply(data={}, delay=FAKE_DELAY)
    codes = [
        line.split(" | ")[0].strip().replace(".", "")
        for line in request.prompt.splitlines()
        if " | " in line
    ]
    code = max(codes, key=len) if codes else None
    return Reply(
        data={
            "status": "classified" if code else "needs_info",
            "code": code,
            "confidence": 0.7,
            "reasoning": "GRI 1 and GRI 6 on the candidate lines",
            "rules": ["GRI 1", "GRI 6"],
        },
        delay=FAKE_DELAY,
    )


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(url: str, items: list[str]) -> None:
    engine = create_engine(url, pool_size=2, max_overflow=0)
    factory = session_factory(engine)
    async with session_scope(factory) as session:
        await ensure_builtin_books(session)
        await seed_demo(session)
    engines = EngineCache(BookCache())
    fake = FakeLLMServer().start()
    fake.responder = answer
    settings = LLMSettings(
        _env_file=None,
        SIVUG_LLM_REQUESTS_PER_MINUTE=1_000_000,
        SIVUG_LLM_MONTHLY_SPEND_LIMIT=1_000_000,
    )
    llm = LLMService(
        {
            "openai": OpenAIWrapper(
                api_key="sk-bench-0123456789",
                base_url=fake.base_url("openai"),
                timeout=10,
                retry=RetryPolicy(attempts=1),
            )
        },
        load_catalog(),
        settings,
    )

    async def one(description: str, with_llm: bool) -> tuple[float, float, str, list[bool]]:
        """Seconds taken, fake delay served, the engine, and which LLM calls were cache hits."""
        before = fake.delay_seconds
        started = time.perf_counter()
        async with session_scope(factory) as session:
            row = await classification.classify(
                session,
                engines,
                organization_id=DEMO_ORGANIZATION_ID,
                user_id=None,
                channel="api",
                description=description,
                llm=llm if with_llm else None,
            )
            calls = row.result.get("llm", {}).get("calls", [])
        hits = [bool(c["cache_hit"]) for c in calls]
        return time.perf_counter() - started, fake.delay_seconds - before, row.engine, hits

    # Warm up: engine built, connections open, SDK client ready.
    await one("warm-up cotton shirt", False)
    await one("warm-up cotton shirt", True)
    fake.requests.clear()

    added: list[float] = []
    answered_by: dict[str, int] = {}
    for description in items:
        offline, _, _, _ = await one(description, False)
        with_llm, delay, engine_name, _ = await one(description, True)
        kind = engine_name.split("/")[0]
        answered_by[kind] = answered_by.get(kind, 0) + 1
        if delay > 0:  # the LLM was called
            added.append((with_llm - offline - delay) * 1000)
    prompts = [(len(r.system) + len(r.prompt) + 3) // 4 for r in fake.requests if r.prompt]
    classify_prompts = [
        (len(r.system) + len(r.prompt) + 3) // 4
        for r in fake.requests
        if "<candidates>" in r.prompt
    ]
    calls_first = len(fake.requests)

    # The same list again: every LLM answer should come from the cache.
    second: list[bool] = []
    before = len(fake.requests)
    for description in items:
        *_, hits = await one(description, True)
        second.extend(hits)
    second_pass_calls = len(fake.requests) - before

    fake.stop()
    await llm.close()
    await engine.dispose()

    print(f"items: {len(items)}  (fake delay {FAKE_DELAY * 1000:.0f} ms per call, excluded)")
    print(f"answered by (first pass): {answered_by}")
    if added:
        print(
            f"added latency of the LLM path: p50 {statistics.median(added):.1f} ms, "
            f"p95 {pct(added, 0.95):.1f} ms, max {max(added):.1f} ms  ({len(added)} items)"
        )
    print(
        f"cache, repeated list: {sum(second)}/{len(second)} LLM calls answered from the cache "
        f"({sum(second) / max(len(second), 1):.0%}); provider calls: first pass {calls_first}, "
        f"second pass {second_pass_calls}"
    )
    if classify_prompts:
        print(
            f"prompt size per classification (tokens, system + user): "
            f"mean {statistics.mean(classify_prompts):.0f}, "
            f"p95 {pct(classify_prompts, 0.95)}, max {max(classify_prompts)} "
            f"(limit {MAX_PROMPT_TOKENS}); all calls max {max(prompts)}"
        )
        assert max(classify_prompts) < MAX_PROMPT_TOKENS


def main() -> None:
    configure_logging("warning", json=False)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    items = descriptions(n)
    with scratch_database("sivug_bench_llm") as url:
        migrations.upgrade(url)
        asyncio.run(run(url, items))


if __name__ == "__main__":
    main()
