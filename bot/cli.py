"""The `concerns-bot` command: serve, db, reminders preview, tick (dev), outbox, audit verify."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.settings import ConfigurationError, Settings
from concerns.clock import UK
from concerns.packs import PackError

log = logging.getLogger("concerns_bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="concerns-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bot (aiohttp app and scheduler)")
    serve.add_argument("--dev", action="store_true",
                       help="run without a Microsoft App ID, for the Agents Playground (127.0.0.1 only)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the migrations")
    db_commands.add_parser("current", help="print the applied migration")

    reminders = commands.add_parser("reminders", help="the reminder scheduler")
    reminder_commands = reminders.add_subparsers(dest="reminders_command", required=True)
    preview = reminder_commands.add_parser("preview", help="list what would be sent at a time, sending nothing")
    preview.add_argument("--at", required=True, type=_moment,
                         help="when, e.g. 2026-12-24T09:00 (UK local time unless an offset is given)")

    tick = commands.add_parser("tick", help="run one reminder sweep as of a time, and deliver (only with --dev)")
    tick.add_argument("--at", required=True, type=_moment, help="when, e.g. 2026-12-24T09:00 (UK local time)")
    tick.add_argument("--dev", action="store_true", help="required: moving time is for local testing only")

    outbox = commands.add_parser("outbox", help="messages the scheduler owes: list them, retry dead letters")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = outbox_commands.add_parser("list", help="the newest rows (dead letters with --status dead)")
    listing.add_argument("--status", choices=["pending", "sending", "sent", "dead"], default=None)
    listing.add_argument("--limit", type=int, default=50)
    retry = outbox_commands.add_parser("retry", help="give dead letters a fresh set of attempts")
    retry.add_argument("ids", nargs="*", type=int, help="outbox row ids")
    retry.add_argument("--all-dead", action="store_true", help="every dead letter")

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="recompute the audit trail's hash chain; exit 1 at the first break")
    return parser


def _moment(text: str) -> datetime:
    """An ISO time; without an offset it is UK local time, as people say deadlines."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date and time: {text!r} (e.g. 2026-12-24T09:00)") from None
    return moment.replace(tzinfo=UK) if moment.tzinfo is None else moment


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    from dotenv import load_dotenv

    load_dotenv()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin: noise
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # two lines a minute per sweep; ours say what was sent
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "db":
            return _db(args)
        if args.command == "reminders":
            return asyncio.run(_preview(args.at))
        if args.command == "tick":
            if not args.dev:
                print("concerns-bot: tick moves time, so it only runs with --dev (local testing)", file=sys.stderr)
                return 2
            return asyncio.run(_tick(args.at))
        if args.command == "outbox":
            return asyncio.run(_outbox(args))
        if args.command == "audit":
            return asyncio.run(_audit_verify())
    except (ConfigurationError, PackError) as error:
        print(f"concerns-bot: {error}", file=sys.stderr)
        return 2
    return 1


def _serve(args: argparse.Namespace) -> int:
    from bot.app import init_app

    settings = Settings.from_environment(dev=args.dev, host=args.host, port=args.port)
    settings.check()
    if not settings.app_id:
        log.warning("running without a Microsoft App ID: requests are NOT authenticated "
                    "(dev mode, listening on %s only)", settings.host)
    app = init_app(settings)
    log.info("concerns bot listening on http://%s:%d/api/messages (database %s)",
             settings.host, settings.port, settings.database_url.split("@")[-1])
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


def _db(args: argparse.Namespace) -> int:
    from storage.migrate import current_revision, upgrade

    settings = Settings.from_environment()
    if args.db_command == "upgrade":
        asyncio.run(upgrade(settings.database_url))
        print("database is up to date")
    else:
        print(asyncio.run(current_revision(settings.database_url)) or "no migrations applied")
    return 0


async def _database_ready(settings: Settings, *, migrate: bool) -> None:
    """Upgrade (dev) or insist the schema is current: an old schema is the operator's to fix, said plainly."""
    from storage.migrate import current_revision, head_revision, upgrade

    if migrate:
        await upgrade(settings.database_url)
        return
    current = await current_revision(settings.database_url)
    if current != head_revision():
        raise ConfigurationError(f"the database is at migration {current or 'none'}, not {head_revision()}: "
                                 "run 'concerns-bot db upgrade' first")


@asynccontextmanager
async def _sweeper(settings: Settings, at: datetime, *, deliver: bool) -> AsyncIterator[Any]:
    """A sweeper on the configured database whose clock stands still at `at`."""
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    from bot.scheduling import build_sweeper
    from bot.settings import BotFrameworkConfig
    from concerns.packs import default_packs_dir, load_packs
    from storage.db import create_engine, session_factory
    from storage.uow import SqlUnitOfWork

    class Frozen:
        def now(self) -> datetime:
            return at.astimezone(UTC)

    packs = load_packs(settings.packs_dir or default_packs_dir())
    if settings.pack_id not in packs:
        raise ConfigurationError(f"CONCERNS_PACK={settings.pack_id} is not one of the procedure packs")
    await _database_ready(settings, migrate=settings.dev)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(BotFrameworkConfig(settings)))
    sweeper = build_sweeper(sessions=sessions, uow=lambda: SqlUnitOfWork(sessions), adapter=adapter,
                            app_id=settings.app_id, clock=Frozen(), packs=packs, pack=packs[settings.pack_id],
                            admin_channel=settings.admin_channel)
    if not deliver:
        sweeper.deliverer = None
    try:
        yield sweeper
    finally:
        await engine.dispose()


async def _preview(at: datetime) -> int:
    async with _sweeper(Settings.from_environment(), at, deliver=False) as sweeper:
        pending = await sweeper.pending(at)
    print(f"At {at.astimezone(UK):%a %-d %b %Y %H:%M} (UK), {len(pending)} message(s) would be sent:")
    for reminder in pending:
        print(f"  {reminder.kind:<20} {reminder.target:<8} {reminder.summary}")
    return 0


async def _tick(at: datetime) -> int:
    async with _sweeper(Settings.from_environment(dev=True), at, deliver=True) as sweeper:
        report = await sweeper.sweep(at)
    delivery = report.delivery
    print(f"Sweep at {at.astimezone(UK):%a %-d %b %Y %H:%M} (UK): {len(report.enqueued)} new, "
          f"{len(delivery.sent)} sent, {len(delivery.retried)} to retry, {len(delivery.deferred)} deferred, "
          f"{len(delivery.dead)} dead")
    for reminder in report.due:
        print(f"  {reminder.kind:<20} {reminder.target:<8} {reminder.summary}")
    return 0


async def _outbox(args: argparse.Namespace) -> int:
    from storage.db import create_engine, session_factory
    from storage.outbox import SqlOutbox

    settings = Settings.from_environment()
    await _database_ready(settings, migrate=False)
    engine = create_engine(settings.database_url)
    outbox = SqlOutbox(session_factory(engine))
    try:
        if args.outbox_command == "list":
            rows = await outbox.listing(args.status, args.limit)
            counts = await outbox.counts()
            print("outbox: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty"))
            for row in rows:
                error = f"  last error: {row.last_error}" if row.last_error else ""
                print(f"  {row.id:>6} {row.status:<8} {row.attempts} attempt(s) {row.kind:<20} {row.summary}{error}")
            return 0
        if not args.ids and not args.all_dead:
            print("concerns-bot: name the outbox rows to retry, or pass --all-dead", file=sys.stderr)
            return 2
        retried = await outbox.retry_dead(None if args.all_dead else args.ids, datetime.now(UTC))
        missing = sorted(set(args.ids) - set(retried)) if args.ids else []
        print(f"{len(retried)} dead letter(s) will be retried at the next sweep" +
              (f"; not dead letters (or unknown): {', '.join(map(str, missing))}" if missing else ""))
        return 1 if missing else 0
    finally:
        await engine.dispose()


async def _audit_verify() -> int:
    """Walk the audit chain over the configured database: intact (0), or the first broken event (1)."""
    from concerns.audit import ChainedEvent, verify_log
    from storage.db import create_engine, session_factory
    from storage.repositories import SqlAuditLog

    settings = Settings.from_environment()
    await _database_ready(settings, migrate=False)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)

    async def read(after_id: int, limit: int) -> list[ChainedEvent]:
        # A short transaction per batch: on SQLite each one holds the write lock (BEGIN IMMEDIATE).
        async with sessions() as session:
            return await SqlAuditLog(session).chained(after_id, limit)

    try:
        report = await verify_log(read)
    finally:
        await engine.dispose()
    if report.broken is not None:
        print(f"audit chain broken: {report.broken} ({report.count} event(s) before it are intact)",
              file=sys.stderr)
        return 1
    print(f"audit chain intact: {report.count} events")
    if report.last is not None:
        # A chain cannot show that its newest events were removed; a hash kept elsewhere can.
        print(f"last event {report.last.id}, hash {report.last.hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
