"""The reminder sweep at scale: compute and enqueue what is due, then deliver through the rate limiter.

The sweeper is built as the app builds it (bot.scheduling.build_sweeper: the SQL reminder source and
outbox, TeamsSender on botbuilder's CloudAdapter with the app's authentication: bot.connector's, or
botbuilder's own with BENCH_CONNECTOR=stock), over
a database generated with `--deadlines D` open dated actions, a share of them due. Timed:
- first sweep: read the deadlines, compute what is due, drop what the outbox already has, enqueue the rest;
- steady sweep: the same again a minute later, when nothing new is due (what the every-minute job costs);
- delivery: the deliverer sends the outbox to the connector stub for a fixed time; the rate limiter
  (Teams' per-thread windows and 50/s per app) decides the pace; messages per second are reported.
Time for the rules starts at --at (a working day at 10:30 in London) and runs on with the real clock.

Run: python -m bench.sweep --database-url URL --at ISO --delivery-seconds S   (prints one JSON object)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from sqlalchemy import func, select

from bot.connector import ReusingBotFrameworkAuthentication, connector_session
from bot.scheduling import build_sweeper
from bot.settings import BotFrameworkConfig, BotFrameworkEndpoints, Settings
from concerns.calendar import WorkingCalendar
from concerns.clock import UK
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import OutboxMessage
from scheduler.delivery import Delivered, Sender, SendFailed
from storage.db import create_engine, session_factory
from storage.models import CaseActionRow, OutboxRow
from storage.uow import SqlUnitOfWork


class _Until:
    """The app's sender until `deadline` (perf_counter), then a refusal that defers the row for an hour."""

    def __init__(self, sender: Sender, deadline: float) -> None:
        self.sender = sender
        self.deadline = deadline

    async def send(self, message: OutboxMessage) -> Delivered:
        if time.perf_counter() >= self.deadline:
            raise SendFailed("bench: delivery time is up", status=503, retry_after=3600)
        return await self.sender.send(message)


class RunningClock:
    """Starts at `at` and moves on with real time, so leases, backoff and rate limits behave as live."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.started = time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.started)


def working_moment(now: datetime, nation: str = "england") -> datetime:
    """The next working day after `now`, at 10:30 in London: reminders are only due in working hours."""
    calendar = WorkingCalendar(nation)
    day = calendar.next_working_day(now.astimezone(UK).date())
    return datetime(day.year, day.month, day.day, 10, 30, tzinfo=UK)


async def run(database_url: str, at: datetime, delivery_seconds: float) -> dict[str, Any]:
    metadata = os.environ["BENCH_OPENID_METADATA_URL"]
    settings = Settings.from_environment(env=dict(os.environ, CONCERNS_DATABASE_URL=database_url))
    settings = replace(settings, bot_framework=replace(BotFrameworkEndpoints(), channel_openid_metadata_url=metadata,
                                                       emulator_openid_metadata_url=metadata))
    packs = load_packs(default_packs_dir())
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    clock = RunningClock(at)
    connector_http = connector_session()
    if os.environ.get("BENCH_CONNECTOR") == "stock":
        adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(BotFrameworkConfig(settings)))
    else:
        adapter = CloudAdapter(ReusingBotFrameworkAuthentication(BotFrameworkConfig(settings), connector_http))
    sweeper = build_sweeper(sessions=sessions, uow=lambda: SqlUnitOfWork(sessions), adapter=adapter,
                            app_id=settings.app_id, clock=clock, packs=packs, pack=packs[settings.pack_id])
    deliverer, sweeper.deliverer = sweeper.deliverer, None
    try:
        async with engine.connect() as connection:
            deadlines = await connection.scalar(select(func.count()).select_from(CaseActionRow).where(
                CaseActionRow.status == "open", CaseActionRow.due_on.is_not(None)))
        started = time.perf_counter()
        first = await sweeper.sweep(at)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        steady = await sweeper.sweep(at + timedelta(minutes=1))
        steady_seconds = time.perf_counter() - started
        assert deliverer is not None

        async def owed() -> int:
            async with engine.connect() as connection:
                return int(await connection.scalar(select(func.count()).select_from(OutboxRow).where(
                    OutboxRow.status.in_(("pending", "sending")))) or 0)

        # At the time limit the sender stops sending (each row left is put back an hour ahead, untried), so the
        # deliverer's own loop ends by itself: cancelling it mid-send would be a test of something else.
        started = time.perf_counter()
        deliverer.sender = _Until(deliverer.sender, started + delivery_seconds)
        while time.perf_counter() - started < delivery_seconds and await owed():
            report = await deliverer.deliver_due()
            if not (report.sent or report.retried or report.dead):
                await asyncio.sleep(0.1)  # only rows deferred by the rate limiter left: wait for its windows
        elapsed = min(time.perf_counter() - started, delivery_seconds)
        async with engine.connect() as connection:
            statuses = dict((await connection.execute(
                select(OutboxRow.status, func.count()).group_by(OutboxRow.status))).all())
        sent, dead = statuses.get("sent", 0), statuses.get("dead", 0)
        return {
            "open_deadlines": deadlines, "at": at.isoformat(),
            # Every reminder due, those a combined message lists (Reminder.covers) among them; `messages` to send.
            "due": len(first.due) + sum(len(r.covers) for r in first.due), "messages": len(first.due),
            "enqueued": len(first.enqueued), "sweep_seconds": round(first_seconds, 3),
            "steady_due_new": len(steady.enqueued), "steady_sweep_seconds": round(steady_seconds, 3),
            "delivered": sent, "dead": dead, "left": await owed(), "delivery_seconds": round(elapsed, 2),
            "delivery_rate_per_s": round(sent / elapsed, 2) if elapsed else 0.0,
        }
    finally:
        await connector_http.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--at", type=datetime.fromisoformat, required=True)
    parser.add_argument("--delivery-seconds", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args.database_url, args.at, args.delivery_seconds))))


if __name__ == "__main__":
    main()
