"""The `concerns-bot` command: serve, db, reminders preview, tick (dev), outbox, audit verify."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
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
    listing.add_argument("--status", choices=["pending", "sending", "sent", "dead", "void", "covered"], default=None)
    listing.add_argument("--limit", type=int, default=50)
    retry = outbox_commands.add_parser("retry", help="give dead letters a fresh set of attempts")
    retry.add_argument("ids", nargs="*", type=int, help="outbox row ids")
    retry.add_argument("--all-dead", action="store_true", help="every dead letter")

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="recompute the audit trail's hash chain; exit 1 at the first break")
    from bot import team_admin_cli

    team_admin_cli.add_parser(commands)

    retention = commands.add_parser("retention", help="anonymise personal data past the retention policy's periods")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    retention_run = retention_commands.add_parser(
        "run", help="anonymise what the pack's retention section says is due, and report per record type")
    retention_run.add_argument("--dry-run", action="store_true", help="list what would be done, changing nothing")
    retention_run.add_argument("--at", type=_moment, default=None,
                               help="as of this time instead of now (a real run cannot be dated in the future)")
    export = commands.add_parser("export", help="subject access requests")
    export_commands = export.add_subparsers(dest="export_command", required=True)
    export_subject = export_commands.add_parser(
        "subject", help="write subject-REFERENCE.json and .html: everything held about an individual reference")
    export_subject.add_argument("reference", help="the individual's pseudonymous reference, e.g. LAS-104233")
    export_subject.add_argument("--out", type=Path, default=Path("."), help="the folder to write to (default: here)")
    erase = commands.add_parser("erase", help="erasure requests")
    erase_commands = erase.add_subparsers(dest="erase_command", required=True)
    erase_subject = erase_commands.add_parser(
        "subject", help="remove an individual reference from its concerns and erase their free text")
    erase_subject.add_argument("reference", help="the individual's pseudonymous reference, e.g. LAS-104233")
    erase_subject.add_argument("--yes", action="store_true", help="do it (without: only show what would be done)")
    manifest = commands.add_parser("manifest", help="the Teams app package")
    manifest_commands = manifest.add_subparsers(dest="manifest_command", required=True)
    build = manifest_commands.add_parser("build", help="write the zip Teams admins upload (manifest.json and icons)")
    build.add_argument("--app-id", required=True, help="the bot's Microsoft App ID (a GUID), also the Teams app's id")
    build.add_argument("--bot-endpoint-domain", required=True, metavar="HOST",
                       help="the host Teams calls at https://HOST/api/messages (no scheme, port or path)")
    build.add_argument("--out", type=Path, default=Path("appPackage.zip"), help="default: appPackage.zip")
    build.add_argument("--name", help="the app's name in Teams (default: CONCERNS_BOT_NAME, else Concerns Bot)")
    build.add_argument("--version", help="X.Y.Z, raised for each upload (default: the bot's version)")
    build.add_argument("--developer-name", help="who publishes the app, e.g. your council")
    build.add_argument("--website-url", help="https:// page about the app (default: https://HOST/)")
    build.add_argument("--privacy-url", help="https:// privacy notice (default: the website URL)")
    build.add_argument("--terms-url", help="https:// terms of use (default: the website URL)")
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
        if args.command == "team-admin":
            from bot import team_admin_cli

            return asyncio.run(team_admin_cli.main(args))
        if args.command == "retention":
            return asyncio.run(_retention_run(args.at, dry_run=args.dry_run))
        if args.command == "export":
            return asyncio.run(_export_subject(args.reference, args.out))
        if args.command == "erase":
            return asyncio.run(_erase_subject(args.reference, confirmed=args.yes))
        if args.command == "manifest":
            from manifest.build import run_build

            return run_build(args)
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
    app = init_app(settings, settle_heap=True)
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
    from botbuilder.integration.aiohttp import CloudAdapter

    from bot.connector import ReusingBotFrameworkAuthentication, connector_session
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
    # The same connector path as the running bot: one token and one client per service URL for the whole tick.
    connector_http = connector_session()
    adapter = CloudAdapter(ReusingBotFrameworkAuthentication(BotFrameworkConfig(settings), connector_http))
    sweeper = build_sweeper(sessions=sessions, uow=lambda: SqlUnitOfWork(sessions), adapter=adapter,
                            app_id=settings.app_id, clock=Frozen(), packs=packs, pack=packs[settings.pack_id],
                            admin_channel=settings.admin_channel)
    if not deliver:
        sweeper.deliverer = None
    try:
        yield sweeper
    finally:
        await connector_http.close()
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
    from storage.db import create_engine, session_factory
    from storage.repositories import verify_audit_chain

    settings = Settings.from_environment()
    await _database_ready(settings, migrate=False)
    engine = create_engine(settings.database_url)
    try:
        report = await verify_audit_chain(session_factory(engine))
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



def _operator() -> Any:
    """Who runs a command line that changes or discloses personal data, as the audit trail records it."""
    import getpass

    from concerns.model import Actor

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return Actor(id=f"cli:{user}"[:128], name=f"{user} (concerns-bot command line)"[:200], tenant_id="")


@asynccontextmanager
async def _units_of_work() -> AsyncIterator[Any]:
    from storage.db import create_engine, session_factory
    from storage.uow import SqlUnitOfWork

    settings = Settings.from_environment()
    await _database_ready(settings, migrate=False)
    engine = create_engine(settings.database_url)
    try:
        yield SqlUnitOfWork(session_factory(engine))
    finally:
        await engine.dispose()


async def _retention_run(at: datetime | None, *, dry_run: bool) -> int:
    """Anonymise what is past the configured pack's retention periods, in batches; report per record type."""
    from concerns.packs import default_packs_dir, load_packs
    from concerns.retention import RetentionPolicy, describe, run_retention

    settings = Settings.from_environment()
    packs = load_packs(settings.packs_dir or default_packs_dir())
    if settings.pack_id not in packs:
        raise ConfigurationError(f"CONCERNS_PACK={settings.pack_id} is not one of the procedure packs")
    now = datetime.now(UTC)
    if at is not None and at > now and not dry_run:
        print("concerns-bot: a real retention run cannot be dated in the future (it would anonymise records "
              "early); preview with --dry-run", file=sys.stderr)
        return 2
    async with _units_of_work() as uow:
        report = await run_retention(uow, RetentionPolicy.of(packs[settings.pack_id]), (at or now).astimezone(UTC),
                                     _operator(), dry_run=dry_run)
    print("\n".join(describe(report)))
    return 0


async def _held_about(uow: Any, reference: str) -> Any:
    """What is held under an individual reference, or None (said on stderr) when nothing is."""
    from concerns.clock import SystemClock
    from concerns.subjects import subject_file

    found = await subject_file(uow, SystemClock(), reference)
    if found.empty:
        print(f"concerns-bot: nothing is held under the individual reference {found.reference}: "
              "no concern names it and no form draft holds it", file=sys.stderr)
        return None
    return found


async def _export_subject(reference: str, out: Path) -> int:
    """Write subject-REFERENCE.json and .html, then audit the export; nothing is written for an unknown one."""
    from concerns.clock import SystemClock
    from concerns.subjects import BadReference, file_stem, record_export, subject_html, subject_json

    try:
        async with _units_of_work() as uow:
            found = await _held_about(uow, reference)
            if found is None:
                return 1
            stem = file_stem(found.reference)
            try:
                written = _write_files([(out / f"{stem}.json", subject_json(found)),
                                        (out / f"{stem}.html", subject_html(found))])
            except OSError as error:
                print(f"concerns-bot: cannot write the export to {out}: {error.strerror or error}", file=sys.stderr)
                return 1
            try:
                await record_export(uow, SystemClock(), _operator(), found)
            except BaseException:
                _remove_files(written)  # an export the audit trail does not show must not be left lying about
                raise
    except BadReference as error:
        print(f"concerns-bot: {error}", file=sys.stderr)
        return 2
    print(f"{len(found.concerns)} concern(s), {found.screening_count} screening(s) and {len(found.drafts)} form "
          f"draft(s) held under {found.reference}; written to:")
    for path in written:
        print(f"  {path}")
    return 0


def _write_files(files: list[tuple[Path, str]]) -> list[Path]:
    """Write each file whole (a partial file, then renamed), or none of them."""
    written: list[Path] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)
            written.append(path)
    except BaseException:
        _remove_files(written)
        raise
    return written


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def _erase_subject(reference: str, *, confirmed: bool) -> int:
    """Without --yes, say what erasure would change; with it, erase in one audited transaction."""
    from concerns.clock import SystemClock
    from concerns.subjects import BadReference, erase_subject, typed_audit_details

    try:
        async with _units_of_work() as uow:
            found = await _held_about(uow, reference)
            if found is None:
                return 1
            concerns = ", ".join(c.reference for c in found.concerns) or "none"
            typed = typed_audit_details(found)
            kept = (f" {len(typed)} audit event(s) about them keep typed text "
                    f"({', '.join(sorted({k for _, _, keys in typed for k in keys}))}): the audit trail is "
                    "append-only, so erasure cannot change it (SECURITY.md, retention and the audit trail)."
                    if typed else "")
            if not confirmed:
                print(f"Erasing {found.reference} would remove it from {len(found.concerns)} concern(s) ({concerns}), "
                      f"replace their descriptions and the rationale of their {found.screening_count} screening(s), "
                      f"and delete {len(found.drafts)} form draft(s) holding it.{kept} Run again with --yes to do it.")
                return 0
            erasure = await erase_subject(uow, SystemClock(), _operator(), found.reference)
    except BadReference as error:
        print(f"concerns-bot: {error}", file=sys.stderr)
        return 2
    print(f"Erased {found.reference}: removed from {len(erasure.concerns)} concern(s) "
          f"({', '.join(r for _, r in erasure.concerns) or 'none'}), {erasure.screenings} screening rationale(s) "
          f"replaced, {erasure.drafts} form draft(s) deleted. Recorded in the audit trail as subject.erased.{kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
