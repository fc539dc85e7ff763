"""Email channel: from the inbound webhook to the reply handed to (fake) Mailgun.

Usage: ``python bench/bench_email.py [--emails 30] [--burst 100] [--concurrency 4]``

The API runs in this process (ASGI, signed Mailgun posts); ``sivug worker`` runs as a real
separate process against the same PostgreSQL (``DATABASE_URL``'s server, a scratch database
created and dropped; embedded PostgreSQL when unset); Mailgun is the fake HTTP server of the
tests on 127.0.0.1. Prints the latency of 10-item emails one at a time (p50, p95, max; the
target is p95 <= 2 s) and a burst of emails posted at once: all answered, none twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402
from tests.fakes.mailgun_server import FakeMailgun  # noqa: E402

from sivug.accounts.service import seed_demo  # noqa: E402
from sivug.app import create_app  # noqa: E402
from sivug.books.service import ensure_builtin_books  # noqa: E402
from sivug.channels.email.vendors import sign  # noqa: E402
from sivug.inbox.vendors import webhook_vendors  # noqa: E402
from sivug.platform import migrations  # noqa: E402
from sivug.platform.config import MailgunSettings, Settings  # noqa: E402
from sivug.platform.db import create_engine, libpq_url  # noqa: E402

SIGNING_KEY = "bench-mailgun-signing-key-7d1e"
API_KEY = "key-bench-0123456789abcdef"
PRODUCTS = [
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


def _env(url: str, requests_per_hour: int) -> dict[str, str]:
    return {
        "MAILGUN_REQUESTS_PER_HOUR": str(requests_per_hour),
        "SIVUG_ENV": "local",
        "MAILGUN_API_KEY": API_KEY,
        "MAILGUN_DOMAIN": "mg.sivug.bench",
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "MAILGUN_FROM_EMAIL": "classify@mg.sivug.bench",
        "MAILGUN_FROM_NAME": "Sivug",
        "MAILGUN_API_URL": url,
    }


def _fields(message_id: str, items: list[str]) -> dict[str, str]:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    return {
        "recipient": "classify@mg.sivug.bench",
        "sender": "demo@example.com",
        "from": "Dana Demo <demo@example.com>",
        "subject": "HS codes please",
        "body-plain": "Hi,\n\n" + "\n".join(items) + "\n\nThanks,\nDana\n",
        "Message-Id": message_id,
        "timestamp": timestamp,
        "token": token,
        "signature": sign(SIGNING_KEY, timestamp, token),
    }


def _replies(fake: FakeMailgun) -> dict[str, list[float]]:
    """In-Reply-To -> the times the fake received a reply to it."""
    out: dict[str, list[float]] = {}
    for message in list(fake.sent):
        out.setdefault(message.header("In-Reply-To"), []).append(message.received_at)
    return out


async def _wait_for(fake: FakeMailgun, message_ids: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = _replies(fake)
        if all(m in replies for m in message_ids):
            return
        await asyncio.sleep(0.005)
    raise TimeoutError(f"{sum(m not in _replies(fake) for m in message_ids)} emails unanswered")


def _start_worker(env: dict[str, str], url: str, concurrency: int) -> subprocess.Popen[bytes]:
    """``sivug worker``, a separate process, as in production."""
    return subprocess.Popen(
        [sys.executable, "-m", "sivug", "worker"],
        env={
            **os.environ,
            **env,
            "DATABASE_URL": url,
            "SIVUG_WORKER_CONCURRENCY": str(concurrency),
            "SIVUG_LOG_LEVEL": "warning",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run(emails: int, burst: int, concurrency: int, requests_per_hour: int) -> None:
    fake = FakeMailgun(API_KEY).start()
    env = _env(fake.url, requests_per_hour)
    settings = Settings(
        _env_file=None, SIVUG_ENV="local", mailgun=MailgunSettings.model_validate(env)
    )
    with scratch_database("sivug_bench_email") as url:
        migrations.upgrade(url)
        engine = create_engine(url)
        async with AsyncSession(engine) as session, session.begin():
            await ensure_builtin_books(session)
            await seed_demo(session)
        await engine.dispose()
        worker = _start_worker(env, url, concurrency)
        app = create_app(settings, database_url=url, webhook_vendors=webhook_vendors(settings))
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                    await _measure(c, fake, url, emails, burst)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            fake.stop()


async def _post(client: httpx.AsyncClient, message_id: str, items: list[str]) -> float:
    started = time.time()
    response = await client.post("/webhooks/mailgun/inbound", data=_fields(message_id, items))
    response.raise_for_status()
    return started


async def _queued(url: str) -> int:
    """Replies stored (classified, rendered, waiting for or past the send)."""
    async with await psycopg.AsyncConnection.connect(libpq_url(url)) as conn:
        cursor = await conn.execute("SELECT count(*) FROM email_messages")
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def _measure(
    client: httpx.AsyncClient, fake: FakeMailgun, url: str, emails: int, burst: int
) -> None:
    warm = f"<warm-{uuid.uuid4().hex}@bench>"
    await _post(client, warm, PRODUCTS[:10])
    await _wait_for(fake, [warm], seconds=120)  # the worker builds its engine once

    latencies: list[float] = []
    for i in range(emails):
        message_id = f"<seq-{i}-{uuid.uuid4().hex}@bench>"
        items = [PRODUCTS[(i + k) % len(PRODUCTS)] for k in range(10)]
        started = await _post(client, message_id, items)
        await _wait_for(fake, [message_id], seconds=60)
        latencies.append(_replies(fake)[message_id][0] - started)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"10-item email, webhook -> reply at Mailgun, {emails} emails one at a time:")
    print(
        f"  p50 {statistics.median(latencies) * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   "
        f"max {latencies[-1] * 1000:.0f} ms   (target p95 <= 2000 ms: "
        f"{'met' if p95 <= 2.0 else 'MISSED'})"
    )

    ids = [f"<burst-{i}-{uuid.uuid4().hex}@bench>" for i in range(burst)]
    started = time.time()
    await asyncio.gather(
        *(
            _post(client, m, [PRODUCTS[(i + k) % len(PRODUCTS)] for k in range(1 + i % 10)])
            for i, m in enumerate(ids)
        )
    )
    posted = time.time() - started
    before = emails + 1
    for _ in range(60_000):
        if await _queued(url) >= before + burst:
            break
        await asyncio.sleep(0.01)
    queued = time.time() - started
    await _wait_for(fake, ids, seconds=600)
    total = time.time() - started
    replies = _replies(fake)
    answered = sum(1 for m in ids if m in replies)
    twice = sum(1 for m in ids if len(replies.get(m, [])) > 1)
    last = max(replies[m][-1] for m in ids) - started
    print(f"burst of {burst} emails (1-10 items each) posted at once:")
    print(
        f"  all posted (acknowledged) in {posted:.2f} s; answered {answered}/{burst}, "
        f"answered twice {twice}; last reply after {last:.2f} s "
        f"({burst / max(total, 1e-9):.1f} emails/s)"
    )
    print(
        f"  all {burst} classified and their replies stored after {queued:.2f} s "
        f"({burst / max(queued, 1e-9):.1f} emails/s); sending is paced by the client-side "
        "limiter (MAILGUN_REQUESTS_PER_HOUR: bursts of 50, then per_hour/3600 per second)"
    )
    if answered != burst or twice:
        raise SystemExit("burst: not every email got exactly one reply")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=30)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests-per-hour", type=int, default=9000)
    args = parser.parse_args()
    asyncio.run(run(args.emails, args.burst, args.concurrency, args.requests_per_hour))


if __name__ == "__main__":
    main()
