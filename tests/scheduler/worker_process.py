"""A scheduler in its own process, for the exactly-once tests: sweeps or delivers the outbox as of given instants.

    python -m tests.scheduler.worker_process DATABASE_URL WORKER_ID RESULT_FILE [--at ISO] [--serve]
                                             [--deliver-only] [--hang-after-claim]

Every delivery appends one JSON line (outbox id, key, lane, worker, pid) to RESULT_FILE, opened with
O_APPEND and fsync'd per line, so lines from several processes never interleave and survive a SIGKILL.
Time is never read from the wall clock: `--at` gives the instant of one run; with `--serve` the process
reads one ISO instant per line on stdin, runs once as of each and answers one JSON line on stdout, so a
test can keep two schedulers on the same simulated instant. `--hang-after-claim` makes the sender print
"claimed <id>" and block forever, so the test can SIGKILL the process between the claim and the send.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from dataclasses import replace
from datetime import datetime
from typing import Any

from concerns.calendar import WorkingCalendar
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import OutboxMessage
from scheduler.delivery import Delivered, Deliverer, DeliveryPolicy
from scheduler.ratelimit import RateLimiter
from scheduler.sweep import Sweeper
from storage.db import create_engine, session_factory
from storage.outbox import SqlOutbox
from storage.reminders import SqlReminderSource
from tests.support.clock import FixedClock

PACK_ID = "croydon-provider-concerns"
CLAIMED = "claimed"
# Teams' send limits are real-time windows; simulated time makes them meaningless here, so they are opened wide.
UNLIMITED = ((10**9, 1.0),)


class RecordingSender:
    """Delivers by appending a line to the result file: the line is the proof of one delivery."""

    def __init__(self, path: str, worker: str) -> None:
        self.path = path
        self.worker = worker

    async def send(self, message: OutboxMessage) -> Delivered:
        line = json.dumps({"id": message.id, "key": message.key, "lane": message.lane, "worker": self.worker,
                           "pid": os.getpid()}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return Delivered(activity_id=f"{self.worker}:{message.id}", conversation_id=message.conversation_id)


class HangingSender:
    """Says which row it claimed, then never sends: the process is to be killed here."""

    async def send(self, message: OutboxMessage) -> Delivered:
        sys.stdout.write(f"{CLAIMED} {message.id}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.scheduler.worker_process")
    parser.add_argument("database_url")
    parser.add_argument("worker_id")
    parser.add_argument("result_file")
    parser.add_argument("--at", help="the instant to run as of (ISO 8601 with offset)")
    parser.add_argument("--serve", action="store_true", help="read instants from stdin, one per line")
    parser.add_argument("--deliver-only", action="store_true", help="deliver the outbox without sweeping")
    parser.add_argument("--hang-after-claim", action="store_true", help="block in the send after the claim")
    options = parser.parse_args(argv)
    if not options.serve and not options.at:
        parser.error("give --at or --serve")
    return options


async def run_once(sweeper: Sweeper, clock: FixedClock, deliver_only: bool, at: datetime) -> dict[str, Any]:
    assert sweeper.deliverer is not None
    clock.at = at
    if deliver_only:
        enqueued: list[str] = []
        delivery = await sweeper.deliverer.deliver_due(at)
    else:
        report = await sweeper.sweep(at)
        enqueued, delivery = report.enqueued, report.delivery
    return {"at": at.isoformat(), "enqueued": len(enqueued), "sent": delivery.sent, "retried": delivery.retried,
            "deferred": delivery.deferred, "dead": delivery.dead, "lost_lease": delivery.lost_lease}


async def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s {options.worker_id} %(levelname)s %(name)s: %(message)s")
    packs = load_packs(default_packs_dir())
    pack = packs[PACK_ID]
    clock = FixedClock(options.at or "2026-11-23T10:30:00+00:00")
    policy = DeliveryPolicy()
    if options.hang_after_claim:
        sender: Any = HangingSender()
        policy = replace(policy, send_timeout=24 * 3600.0)  # hang until killed, not until the send times out
    else:
        sender = RecordingSender(options.result_file, options.worker_id)
    engine = create_engine(options.database_url)
    sessions = session_factory(engine)
    outbox = SqlOutbox(sessions)
    calendars: dict[str, WorkingCalendar] = {}

    def calendar_for(nation: str) -> WorkingCalendar:
        return calendars.setdefault(nation, WorkingCalendar(nation))

    deliverer = Deliverer(outbox, sender, clock, pack, calendar_for(pack.nation), options.worker_id,
                          limiter=RateLimiter(UNLIMITED, UNLIMITED), policy=policy)
    sweeper = Sweeper(SqlReminderSource(sessions), outbox, clock, packs, pack, calendar_for, deliverer)
    try:
        if options.serve:
            loop = asyncio.get_running_loop()
            while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
                answer = await run_once(sweeper, clock, options.deliver_only, datetime.fromisoformat(line))
                sys.stdout.write(json.dumps(answer) + "\n")
                sys.stdout.flush()
        else:
            answer = await run_once(sweeper, clock, options.deliver_only, datetime.fromisoformat(options.at))
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
