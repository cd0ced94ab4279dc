"""`concerns-bot team-admin grant|revoke|list` as an operator runs it: a real process over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from concerns import services
from concerns.model import Actor, Conversation, ConversationKind
from tests.bot.test_cli import run
from tests.support.activities import TEAM_ID, TENANT
from tests.support.clock import FixedClock

HELEN = "a1f2c3d4-0003-4b5c-9d8e-000000000003"
TOM = "a1f2c3d4-0002-4b5c-9d8e-000000000002"


def team_admin(database_url: str, *args: str) -> Any:
    return run("team-admin", *args, env={"CONCERNS_DATABASE_URL": database_url})


async def bot_in_the_team(uow: Any, clock: FixedClock) -> None:
    """The bot was installed in the team's channel (before team admins existed, so nobody became one)."""
    channel = Conversation(id="19:general@thread.tacv2", tenant_id=TENANT, kind=ConversationKind.CHANNEL,
                           reference={}, team_id=TEAM_ID, team_name="Safeguarding Adults", channel_name="General")
    await services.note_conversation(uow(), clock, Actor("aad-priya", "Priya Shah", TENANT), channel,
                                     installing=True)


async def team_events(uow: Any) -> list[Any]:
    async with uow() as tx:
        return await tx.audit.for_subject("team", TEAM_ID)


async def admins(uow: Any) -> list[tuple[str, str, str]]:
    async with uow() as tx:
        return [(a.person.user_id, a.person.name, a.granted_by) for a in await tx.team_admins.admins(TENANT, TEAM_ID)]


async def test_an_operator_grants_lists_and_revokes_a_team_admin_audited(
    database_url: str, uow: Any, clock: FixedClock,
) -> None:
    await bot_in_the_team(uow, clock)
    granted = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", TENANT, "--team", TEAM_ID,
                                      "--user", HELEN, "--name", "Helen  Ward")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == f"Helen Ward ({HELEN}) is now a team admin of Safeguarding Adults ({TEAM_ID})"
    [(user_id, name, granted_by)] = await admins(uow)
    assert (user_id, name) == (HELEN, "Helen Ward") and granted_by.endswith("(concerns-bot command line)")
    [event] = await team_events(uow)
    assert (event.action, event.tenant_id, event.details["user"], event.details["how"]) == (
        "team.admin_granted", TENANT, HELEN, "operator")
    assert event.actor_id.startswith("cli:") and event.conversation_id is None

    again = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", TENANT, "--team", TEAM_ID,
                                    "--user", HELEN, "--name", "Helen Ward")
    assert again.returncode == 0 and "already a team admin" in again.stdout and "nothing changed" in again.stdout
    assert len(await team_events(uow)) == 1

    listing = await asyncio.to_thread(team_admin, database_url, "list", "--tenant", TENANT)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines() == [f"Safeguarding Adults ({TEAM_ID}): Helen Ward ({HELEN})"]

    revoked = await asyncio.to_thread(team_admin, database_url, "revoke", "--tenant", TENANT, "--team", TEAM_ID,
                                      "--user", HELEN)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.splitlines() == [
        f"Helen Ward ({HELEN}) is no longer a team admin of Safeguarding Adults ({TEAM_ID})",
        f"Safeguarding Adults ({TEAM_ID}) now has no team admin: its team roles cannot be changed until one is granted"]
    assert await admins(uow) == []
    assert [(e.action, e.details["user"]) for e in await team_events(uow)] == [
        ("team.admin_granted", HELEN), ("team.admin_revoked", HELEN)]
    listing = await asyncio.to_thread(team_admin, database_url, "list", "--tenant", TENANT, "--team", TEAM_ID)
    assert listing.stdout.splitlines() == [f"Safeguarding Adults ({TEAM_ID}): no team admin"]


async def test_mistakes_change_nothing_and_say_why(database_url: str, uow: Any, clock: FixedClock) -> None:
    await bot_in_the_team(uow, clock)
    unknown_team = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", TENANT, "--team",
                                           "19:typo@thread.tacv2", "--user", HELEN, "--name", "Helen Ward")
    assert unknown_team.returncode == 2
    assert "has not been installed in team 19:typo@thread.tacv2" in unknown_team.stderr
    assert f"concerns-bot team-admin list --tenant {TENANT}" in unknown_team.stderr
    other_tenant = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", "another-tenant",
                                           "--team", TEAM_ID, "--user", HELEN, "--name", "Helen Ward")
    assert other_tenant.returncode == 2
    blank = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", TENANT, "--team", TEAM_ID,
                                    "--user", HELEN, "--name", "  ")
    assert blank.returncode == 2 and "--name must not be empty" in blank.stderr
    too_long = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", TENANT, "--team", TEAM_ID,
                                       "--user", "x" * 129, "--name", "Helen Ward")
    assert too_long.returncode == 2 and "--user is not valid" in too_long.stderr
    not_admin = await asyncio.to_thread(team_admin, database_url, "revoke", "--tenant", TENANT, "--team", TEAM_ID,
                                        "--user", TOM)
    assert not_admin.returncode == 1 and f"{TOM} is not a team admin" in not_admin.stderr
    missing = await asyncio.to_thread(team_admin, database_url, "grant", "--tenant", TENANT, "--team", TEAM_ID)
    assert missing.returncode == 2 and "--user" in missing.stderr
    assert await admins(uow) == [] and await team_events(uow) == []


def test_a_database_not_migrated_is_refused(tmp_path: Any) -> None:
    result = run("team-admin", "list", "--tenant", TENANT, env={"CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2 and "concerns-bot db upgrade" in result.stderr
