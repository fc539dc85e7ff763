"""Background jobs on procrastinate, in the same PostgreSQL as the data.

- ``registry`` holds the task definitions (domains decorate their ``tasks.py`` functions with
  ``@registry.task(name="domain.action", ...)``); it has no connection until a worker connects
  it with :func:`open_job_app`.
- :func:`defer` enqueues a job inside the caller's SQLAlchemy transaction: if the request rolls
  back, the job is gone too.
- Jobs reach the database through :class:`JobResources`, handed to every task via the worker's
  ``additional_context`` (tasks declared with ``pass_context=True``).
- A job whose worker died mid-way (no heartbeat) is retried by :func:`retry_stalled_jobs`, at
  worker start and then every half stall period.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import JobContext, RetryStrategy
from procrastinate.app import WorkerOptions
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sivug.platform.config import Settings
from sivug.platform.db import create_engine, libpq_url, session_factory, session_scope
from sivug.platform.logging import get_logger
from sivug.platform.ratelimit import prune_counters

if TYPE_CHECKING:
    from sivug.inbox.vendor import WebhookVendor

log = get_logger(__name__)

#: Task definitions only. Connected to the database by `open_job_app`.
registry = procrastinate.App(connector=procrastinate.PsycopgConnector())

#: Modules whose tasks a worker must know. Each domain with a tasks.py adds itself here.
TASK_MODULES: tuple[str, ...] = (
    "sivug.platform.jobs",
    "sivug.inbox.tasks",
    "sivug.books.tasks",
    "sivug.classification.tasks",
    "sivug.channels.email.tasks",
    "sivug.llm.tasks",
)

#: The default policy for jobs that talk to the outside world: 1 s, 2 s, 4 s ... up to ~17 min.
BACKOFF = RetryStrategy(max_attempts=10, exponential_wait=2)


@asynccontextmanager
async def open_job_app(database_url: str) -> AsyncIterator[procrastinate.App]:
    """The task registry, connected to ``database_url`` for the duration of the block."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    connector = procrastinate.PsycopgConnector(conninfo=libpq_url(database_url))
    with registry.replace_connector(connector) as app:
        async with app.open_async():
            yield app


@dataclass
class JobResources:
    """What a running job may use: settings, the database, the webhook vendors' handlers.

    One per worker process, created when the worker starts.
    """

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    webhook_vendors: Mapping[str, WebhookVendor]
    #: Per-process objects domains create on first use (e.g. the classification engines).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        settings: Settings,
        database_url: str,
        webhook_vendors: Mapping[str, WebhookVendor],
    ) -> JobResources:
        engine = create_engine(database_url, pool_size=settings.jobs.concurrency, max_overflow=2)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            webhook_vendors=webhook_vendors,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with session_scope(self.sessions) as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


def resources(context: JobContext) -> JobResources:
    found = context.additional_context.get("resources")
    if not isinstance(found, JobResources):
        raise RuntimeError("job started without JobResources in the worker context")
    return found


_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    ":queue, :task_name, :priority, :lock, :queueing_lock, CAST(:args AS jsonb), :scheduled_at"
    ")::procrastinate_job_to_defer_v1])) AS id"
)


async def defer(
    session: AsyncSession,
    task: procrastinate.tasks.Task[Any, Any, Any],
    *,
    scheduled_at: datetime | None = None,
    **kwargs: Any,
) -> int:
    """Enqueue ``task(**kwargs)`` in the session's transaction; returns the job id."""
    result = await session.execute(
        _DEFER,
        {
            "queue": task.queue,
            "task_name": task.name,
            "priority": task.priority,
            "lock": task.lock,
            "queueing_lock": task.queueing_lock,
            "args": json.dumps(kwargs),
            "scheduled_at": scheduled_at,
        },
    )
    job_id: int = result.scalar_one()
    return job_id


async def retry_stalled_jobs(app: procrastinate.App, *, stalled_after_seconds: float) -> int:
    """Put back in the queue the jobs whose worker stopped sending heartbeats."""
    await app.job_manager.prune_stalled_workers(stalled_after_seconds)
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_seconds)
    )
    for job in stalled:
        await app.job_manager.retry_job(job)
        log.warning("jobs.stalled_retried", job_id=job.id, task=job.task_name)
    return len(stalled)


@registry.periodic(cron="17 3 * * *", periodic_id="jobs.cleanup")
@registry.task(name="jobs.cleanup", pass_context=True, queueing_lock="jobs.cleanup")
async def cleanup(context: JobContext, timestamp: int) -> None:
    """Daily: forget finished jobs after 30 days (failed ones stay for inspection)."""
    await context.app.job_manager.delete_old_jobs(nb_hours=24 * 30, include_failed=False)


@registry.periodic(cron="*/5 * * * *", periodic_id="ratelimit.prune")
@registry.task(name="ratelimit.prune", pass_context=True, queueing_lock="ratelimit.prune")
async def prune_rate_limits(context: JobContext, timestamp: int) -> None:
    """Every five minutes: drop rate-limit windows that have passed."""
    async with resources(context).session() as session:
        await prune_counters(session)


async def _watch_stalled_jobs(app: procrastinate.App, settings: Settings) -> None:
    """Every half stall period, requeue jobs whose worker died (another process may have)."""
    interval = max(settings.jobs.stalled_after_seconds / 2, 0.5)
    while True:
        await asyncio.sleep(interval)
        try:
            await retry_stalled_jobs(app, stalled_after_seconds=settings.jobs.stalled_after_seconds)
        except Exception:
            log.exception("jobs.stalled_check_failed")


async def run_worker(
    settings: Settings,
    database_url: str,
    webhook_vendors: Mapping[str, WebhookVendor],
    *,
    queues: list[str] | None = None,
) -> None:
    """`sivug worker`: recover stalled jobs, then process jobs until SIGINT/SIGTERM."""
    res = JobResources.create(settings, database_url, webhook_vendors)
    async with open_job_app(database_url) as app:
        recovered = await retry_stalled_jobs(
            app, stalled_after_seconds=settings.jobs.stalled_after_seconds
        )
        log.info("worker.started", recovered_stalled_jobs=recovered)
        watchdog = asyncio.create_task(_watch_stalled_jobs(app, settings))
        try:
            options: WorkerOptions = {
                "concurrency": settings.jobs.concurrency,
                "update_heartbeat_interval": settings.jobs.heartbeat_seconds,
                "stalled_worker_timeout": settings.jobs.stalled_after_seconds,
                "additional_context": {"resources": res},
            }
            if queues:  # unset means every queue
                options["queues"] = queues
            await app.run_worker_async(**options)
        finally:
            watchdog.cancel()
            await res.close()
            log.info("worker.stopped")
