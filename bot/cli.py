"""The `concerns-bot` command: serve, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from bot.settings import ConfigurationError, Settings
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    from dotenv import load_dotenv

    load_dotenv()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin: noise
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "db":
            return _db(args)
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


if __name__ == "__main__":
    sys.exit(main())
