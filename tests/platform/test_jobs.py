from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.helpers import AppFactory, open_client
from tests.platform import crash_worker

from sivug.inbox.tasks import process_event
from sivug.models import AuditEntry
from sivug.platform.dependencies import DbSession
from sivug.platform.errors import Conflict
from sivug.platform.jobs import BACKOFF, defer, registry


async def _jobs_for(session: AsyncSession, event_id: int) -> int:
    result = await session.execute(
        text("SELECT count(*) FROM procrastinate_jobs WHERE (args->>'event_id')::int = :id"),
        {"id": event_id},
    )
    return int(result.scalar_one())


async def test_a_job_enqueued_by_a_rolled_back_request_does_not_exist(
    make_app: AppFactory, sessions: Callable[[], AsyncSession], session: AsyncSession
) -> None:
    app = make_app()

    @app.post("/orders/{order_id}")
    async def place(order_id: int, fail: bool, db: DbSession) -> dict[str, int]:
        db.add(AuditEntry(actor="t", action="order.placed", entity_type="o", entity_id="1"))
        job_id = await defer(db, process_event, event_id=order_id)
        if fail:
            raise Conflict("rejected after the write")
        return {"job": job_id}

    async for client in open_client(app, sessions):  # type: ignore[arg-type]
        ok = await client.post("/orders/1001", params={"fail": False})
        assert ok.status_code == 200
        refused = await client.post("/orders/1002", params={"fail": True})
        assert refused.status_code == 409

    assert await _jobs_for(session, 1001) == 1
    assert await _jobs_for(session, 1002) == 0
    audit = await session.execute(select(func.count()).select_from(AuditEntry))
    assert audit.scalar_one() == 1


def test_retries_back_off_exponentially() -> None:
    def decision(attempts: int) -> RetryDecision | None:
        job = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="t")
        return BACKOFF.get_retry_decision(
            exception=RuntimeError(), job=job.evolve(attempts=attempts)
        )

    waits = []
    for attempts in range(5):
        retry = decision(attempts)
        assert retry is not None
        assert retry.retry_at is not None
        waits.append(round((retry.retry_at - datetime.now(UTC)).total_seconds()))
    assert waits == [2, 4, 8, 16, 32]
    assert decision(10) is None  # gives up after ten attempts


def test_periodic_tasks_are_declared_in_code() -> None:
    periodic = {task.periodic_id for task in registry.periodic_registry.periodic_tasks.values()}
    assert {"inbox.sweep", "jobs.cleanup"} <= periodic


def _wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def _worker(database_url: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        SIVUG_WORKER_HEARTBEAT="0.2",
        SIVUG_WORKER_STALLED_AFTER="1",
        PYTHONPATH=os.pathsep.join([".", "src"]),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.platform.crash_worker", database_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_job_killed_mid_way_is_picked_up_after_the_worker_restarts(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    async with AsyncSession(committed_db) as session, session.begin():
        await defer(session, crash_worker.slow, marker_dir=str(tmp_path))

    first = _worker(database_url)
    try:
        assert _wait_for(tmp_path / "started-0", timeout=30), "first worker never started the job"
    finally:
        first.send_signal(signal.SIGKILL)  # dies mid-job: no cleanup, no status update
        first.wait()
    assert not (tmp_path / "done").exists()

    second = _worker(database_url)
    try:
        assert _wait_for(tmp_path / "done", timeout=30), "the stalled job was not picked up"
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert (tmp_path / "started-1").exists()
    async with committed_db.connect() as conn:
        status = await conn.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE task_name = 'tests.slow'")
        )
        assert status.scalar_one() == "succeeded"
