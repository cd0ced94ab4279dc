"""APScheduler wiring: a sweep every minute and at the digest time. Jobs get ids, never objects.

APScheduler 3 may pickle a job's arguments into its job store, so a job receives only the id of the
runtime it belongs to and looks the runtime up here. The digest schedule only makes the sweep run on
the dot at the digest time: the digest itself is one of the reminder rules, so a process that was
down at 08:30 still sends it at its next sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from concerns.packs import Reminders
from scheduler.sweep import Sweeper

log = logging.getLogger(__name__)

RUNTIMES: dict[str, Sweeper] = {}
SWEEP_EVERY = timedelta(minutes=1)


async def sweep_job(runtime_id: str) -> None:
    """One sweep; an error is logged and the next minute tries again (the outbox keeps what is owed)."""
    sweeper = RUNTIMES.get(runtime_id)
    if sweeper is None:
        log.warning("sweep for unknown runtime %s skipped", runtime_id)
        return
    try:
        await sweeper.sweep()
    except Exception:
        log.exception("reminder sweep failed; it runs again in a minute")


def start(runtime_id: str, sweeper: Sweeper, hours: Reminders, *, first_in: timedelta = timedelta(seconds=5),
          now: datetime | None = None) -> AsyncIOScheduler:
    """Start the scheduler in the running event loop."""
    RUNTIMES[runtime_id] = sweeper
    scheduler = AsyncIOScheduler(timezone=hours.time_zone)
    first = (now or datetime.now(hours.zone)) + first_in
    scheduler.add_job(sweep_job, IntervalTrigger(seconds=SWEEP_EVERY.total_seconds(), timezone=hours.time_zone),
                      id="reminder-sweep", args=[runtime_id], max_instances=1, coalesce=True,
                      next_run_time=first, misfire_grace_time=30)
    scheduler.add_job(sweep_job, CronTrigger(day_of_week="mon-fri", hour=hours.digest_at.hour,
                                             minute=hours.digest_at.minute, timezone=hours.time_zone),
                      id="chairs-digest", args=[runtime_id], max_instances=1, coalesce=True, misfire_grace_time=600)
    scheduler.start()
    return scheduler


def stop(runtime_id: str, scheduler: AsyncIOScheduler) -> None:
    scheduler.shutdown(wait=False)
    RUNTIMES.pop(runtime_id, None)
