"""One sweep: read the deadlines, write what is newly due to the outbox, deliver what the outbox owes."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from concerns.calendar import WorkingCalendar
from concerns.clock import Clock
from concerns.packs import ProcedurePack
from concerns.ports import Outbox, ReminderSource
from concerns.reminders import Reminder, combine_reminders, digest_key, due_reminders, reminder_window
from scheduler.delivery import Deliverer, DeliveryReport

log = logging.getLogger(__name__)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The sweep's read and rules build tens of thousands of short-lived objects, none in cycles: reference counting
    frees them, and the cycle collector's passes over them were a sixth of a steady sweep at 100,000 deadlines
    (bench/RESULTS.md). Whatever other turns leave in cycles meanwhile is collected once it is back on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@dataclass
class SweepReport:
    due: list[Reminder] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


@dataclass
class Sweeper:
    source: ReminderSource
    outbox: Outbox
    clock: Clock
    packs: Mapping[str, ProcedurePack]
    default_pack: ProcedurePack
    calendar_for: Callable[[str], WorkingCalendar]
    deliverer: Deliverer | None = None

    async def pending(self, at: datetime) -> list[Reminder]:
        """What is due at `at` and not yet in the outbox: what a sweep then would add (nothing is written)."""
        # The rules say which deadlines could be due, storage reads only those, and the rules decide.
        window = reminder_window(at, self.packs, self.default_pack, self.calendar_for)
        if window.digest_day is not None:
            chairs = await self.source.chairs()
            day = window.digest_day
            sent = await self.outbox.known_keys([digest_key(tenant, user, day) for tenant, user in chairs])
            window = window.owing_digests(chairs, sent)
        with _collector_paused():
            state = await self.source.state(at, window)
            due = due_reminders(state, at, self.packs, self.default_pack, self.calendar_for)
        known = await self.outbox.known_keys([r.key for r in due])
        return combine_reminders(r for r in due if r.key not in known)

    async def sweep(self, at: datetime | None = None) -> SweepReport:
        """Run once as of `at` (now by default). Safe to run anywhere, any number of times, concurrently."""
        moment = at or self.clock.now()
        report = SweepReport(due=await self.pending(moment))
        report.enqueued = await self.outbox.enqueue(report.due, moment)
        if report.enqueued:
            log.info("sweep at %s: %d reminder(s) added to the outbox", moment.isoformat(), len(report.enqueued))
        if self.deliverer is not None:
            report.delivery = await self.deliverer.deliver_due(at)
        return report
