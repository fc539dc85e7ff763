"""Jobs of the inbox: handle one stored event, once; sweep up events whose job was lost."""

from __future__ import annotations

from datetime import timedelta

from procrastinate import JobContext

from sivug.inbox import repository
from sivug.models.base import utcnow
from sivug.platform.jobs import BACKOFF, defer, registry, resources
from sivug.platform.logging import get_logger

log = get_logger(__name__)


class HandlerFailed(Exception):
    """Raised after a handler's error was recorded on the event, so the job is retried."""


@registry.task(name="inbox.process", pass_context=True, retry=BACKOFF)
async def process_event(context: JobContext, event_id: int) -> None:
    res = resources(context)
    failure: str | None = None
    async with res.session() as session:
        event = await repository.lock(session, event_id)
        if event is None:
            log.warning("inbox.missing", event_id=event_id)
            return
        if event.handled_at is not None:
            log.info("inbox.already_handled", event_id=event_id)
            return
        vendor = res.webhook_vendors.get(event.source)
        event.attempts += 1
        if vendor is None:
            failure = f"no handler for source {event.source!r}"
        else:
            try:
                async with session.begin_nested():
                    await vendor.handle(session, event, res)
            except Exception as exc:
                failure = f"{type(exc).__name__}: {exc}"[:2000]
                log.exception("inbox.handler_failed", event_id=event_id, source=event.source)
        if failure is None:
            event.handled_at = utcnow()
            event.last_error = None
        else:
            event.last_error = failure
    if failure is not None:
        raise HandlerFailed(failure)
    log.info("inbox.handled", event_id=event_id)


@registry.periodic(cron="*/5 * * * *", periodic_id="inbox.sweep")
@registry.task(name="inbox.sweep", pass_context=True, queueing_lock="inbox.sweep")
async def sweep(context: JobContext, timestamp: int) -> None:
    """Re-enqueue events left unhandled for an hour with no job in the queue for them."""
    res = resources(context)
    async with res.session() as session:
        stale = await repository.unhandled_older_than(session, timedelta(hours=1), limit=500)
        pending = await repository.event_ids_with_live_jobs(session, stale)
        for event_id in stale:
            if event_id not in pending:
                await defer(session, process_event, event_id=event_id)
                log.warning("inbox.requeued", event_id=event_id)
