"""`concerns-bot team-admin grant|revoke|list`: an operator's way to give a team an admin.

A team gets its first admin when someone installs the bot in it. Where nobody can be (the bot was there
before team admins existed, or its only admin left), an operator grants one here. Every grant and revoke
is audited with the operator's login as the actor.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from concerns import team_admins
from concerns.cases import Person
from concerns.clock import SystemClock
from concerns.validation import FormErrors

LIMITS = {"tenant": team_admins.MAX_TENANT_ID, "team": team_admins.MAX_TEAM_ID, "user": team_admins.MAX_USER_ID,
          "name": team_admins.MAX_NAME}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("team-admin", help="grant, revoke or list a team's admins (audited)")
    actions = parser.add_subparsers(dest="team_admin_command", required=True)
    grant = actions.add_parser("grant", help="make someone a team admin")
    revoke = actions.add_parser("revoke", help="stop someone being a team admin")
    listing = actions.add_parser("list", help="the teams the bot is in, with their admins")
    for action in (grant, revoke, listing):
        action.add_argument("--tenant", required=True, help="the Microsoft Entra tenant id")
    for action in (grant, revoke):
        action.add_argument("--team", required=True, metavar="TEAM_ID", help="the team's id, as 'list' shows it")
        action.add_argument("--user", required=True, metavar="AAD_ID", help="the person's AAD object id")
    listing.add_argument("--team", metavar="TEAM_ID", help="only this team")
    grant.add_argument("--name", required=True, help="the person's name, as the bot should show it")


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers: still record that an operator did it
        return "unknown"


def _problem(args: argparse.Namespace) -> str | None:
    for field, limit in LIMITS.items():
        value = getattr(args, field, None)
        if value is None:
            continue
        if not value.strip():
            return f"--{field} must not be empty"
        if len(value) > limit or any(ord(c) < 32 for c in value):
            return f"--{field} is not valid (at most {limit} characters, no control characters)"
    return None


def _team_label(team_id: str, teams: dict[str, str | None]) -> str:
    name = teams.get(team_id)
    return f"{name} ({team_id})" if name else team_id


async def main(args: argparse.Namespace) -> int:
    """Run against the configured database, which must be at the current migration."""
    from bot.cli import _database_ready
    from bot.settings import Settings
    from storage.db import create_engine, session_factory
    from storage.uow import SqlUnitOfWork

    settings = Settings.from_environment()
    await _database_ready(settings, migrate=False)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        return await run(args, lambda: SqlUnitOfWork(sessions))
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace, uow: Any) -> int:
    """Carry out the subcommand over `uow` (a unit-of-work factory); returns the exit code."""
    problem = _problem(args)
    if problem:
        print(f"concerns-bot: {problem}", file=sys.stderr)
        return 2
    tenant, clock = args.tenant.strip(), SystemClock()
    async with uow() as tx:
        teams = await tx.team_admins.known_teams(tenant)
        admins = await tx.team_admins.all_admins(tenant)
    if args.team_admin_command == "list":
        return _list(tenant, args.team, teams, admins)
    team = args.team.strip()
    if team not in teams and not any(a.team_id == team for a in admins):
        print(f"concerns-bot: the bot has not been installed in team {team} of tenant {tenant}; "
              f"'concerns-bot team-admin list --tenant {tenant}' shows the teams it knows", file=sys.stderr)
        return 2
    actor = team_admins.operator(tenant, _login())
    label = _team_label(team, teams)
    if args.team_admin_command == "grant":
        person = Person(args.user.strip(), " ".join(args.name.split()))
        if await team_admins.grant(uow(), clock, actor, team, person, conversation_id=None, by_operator=True):
            print(f"{person.name} ({person.user_id}) is now a team admin of {label}")
        else:
            print(f"{person.name} ({person.user_id}) is already a team admin of {label}; nothing changed")
        return 0
    try:
        revoked = await team_admins.revoke(uow(), clock, actor, team, args.user.strip(), conversation_id=None,
                                           by_operator=True)
    except FormErrors:
        print(f"concerns-bot: {args.user.strip()} is not a team admin of {label}; nothing changed", file=sys.stderr)
        return 1
    print(f"{revoked.person.name} ({revoked.person.user_id}) is no longer a team admin of {label}")
    remaining = [a for a in admins if a.team_id == team and a.person.user_id != revoked.person.user_id]
    if not remaining:
        print(f"{label} now has no team admin: its team roles cannot be changed until one is granted")
    return 0


def _list(tenant: str, only: str | None, teams: dict[str, str | None], admins: list[Any]) -> int:
    team_ids = [only.strip()] if only else sorted({*teams, *(a.team_id for a in admins)},
                                                  key=lambda t: ((teams.get(t) or "").casefold(), t))
    if not team_ids:
        print(f"the bot knows no team in tenant {tenant}")
        return 0
    for team_id in team_ids:
        names = ", ".join(f"{a.person.name} ({a.person.user_id})" for a in admins if a.team_id == team_id)
        print(f"{_team_label(team_id, teams)}: {names or 'no team admin'}")
    return 0
