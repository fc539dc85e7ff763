"""The worker dies mid-email; after a restart the email is answered exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.email.conftest import Inbound, mailgun_env, post_inbound, sent_log
from tests.fakes.mailgun_server import FakeMailgun


def _worker(database_url: str, mailgun_url: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        SIVUG_ENV="local",
        SIVUG_WORKER_HEARTBEAT="0.2",
        SIVUG_WORKER_STALLED_AFTER="1",
        PYTHONPATH=os.pathsep.join([".", "src"]),
        **mailgun_env(mailgun_url),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.channels.email.crash_worker", database_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait(condition: object, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if callable(condition) and await condition():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_worker_killed_after_mailgun_accepted_the_reply_does_not_send_it_twice(
    webhook_client: httpx.AsyncClient,
    mailgun: FakeMailgun,
    seeded: AsyncEngine,
    database_url: str,
) -> None:
    release = mailgun.hold_sends()  # Mailgun records the reply, then the worker dies waiting
    email = Inbound(text="cotton t-shirts\nleather handbag\n")
    await post_inbound(webhook_client, email)

    first = _worker(database_url, mailgun.url)
    try:
        accepted = await asyncio.to_thread(mailgun.send_received.wait, 60)
        assert accepted, "the first worker never handed the reply to Mailgun"
    finally:
        first.send_signal(signal.SIGKILL)  # dies mid-email: no status update, no cleanup
        first.wait()
    release.set()
    [logged] = await sent_log(seeded)
    assert logged.status == "sending"  # the database does not know Mailgun took it

    second = _worker(database_url, mailgun.url)
    try:

        async def sent() -> bool:
            return [m.status for m in await sent_log(seeded)] == ["sent"]

        assert await _wait(sent, seconds=60), "the interrupted send was never settled"
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert len(mailgun.messages_to("demo@example.com")) == 1
    async with seeded.connect() as conn:
        statuses = await conn.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE task_name = 'email.send'")
        )
        assert [row[0] for row in statuses] == ["succeeded"]


async def test_a_worker_killed_while_classifying_answers_after_restart(
    webhook_client: httpx.AsyncClient,
    mailgun: FakeMailgun,
    seeded: AsyncEngine,
    database_url: str,
) -> None:
    """Killed before the reply was stored: nothing was committed, the inbox job runs again."""
    await post_inbound(webhook_client, Inbound(text="wooden chair\n"))
    first = _worker(database_url, mailgun.url)
    try:

        async def picked_up() -> bool:
            async with seeded.connect() as conn:
                result = await conn.execute(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs "
                        "WHERE task_name = 'inbox.process' AND status = 'doing'"
                    )
                )
                return int(result.scalar_one()) == 1

        assert await _wait(picked_up, seconds=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    second = _worker(database_url, mailgun.url)
    try:

        async def answered() -> bool:
            return [m.status for m in await sent_log(seeded)] == ["sent"]

        assert await _wait(answered, seconds=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert len(mailgun.messages_to("demo@example.com")) == 1
