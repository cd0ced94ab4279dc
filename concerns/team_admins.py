"""Team admins: who may change a team's roles, grant team admin and read its cases' access logs.

A team gets its first admin when the bot is first installed in it (the person who installed it), or
from an operator on the command line. After that only team admins grant and revoke. Every grant and
revoke is an audit event about the team.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from concerns.cases import Person
from concerns.casework import event, refuse
from concerns.clock import Clock
from concerns.errors import Conflict
from concerns.model import Actor
from concerns.permissions import Operation, TeamAdmin, require_team_admin
from concerns.validation import FormErrors
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

# The columns' sizes (storage/models.py TeamAdminRow).
MAX_TENANT_ID = 64
MAX_NAME = 200
MAX_USER_ID = 128
MAX_TEAM_ID = 400


def operator(tenant_id: str, login: str) -> Actor:
    """The actor recorded for an operator's command-line change: not a Teams user, and says so (the same
    form as the other operator commands' actor in bot/cli.py, but in the tenant whose team it is)."""
    login = login or "unknown"
    return Actor(id=f"cli:{login}"[:MAX_USER_ID], name=f"{login} (concerns-bot command line)"[:MAX_NAME],
                 tenant_id=tenant_id)


async def team_admins(uow: UnitOfWork, tenant_id: str, team_id: str) -> list[TeamAdmin]:
    async with uow:
        return await uow.team_admins.admins(tenant_id, team_id)


async def bootstrap(uow: UnitOfWork, clock: Clock, installer: Actor, team_id: str, *, conversation_id: str) -> bool:
    """Make whoever installed the bot in a team its first admin; True if they became one.

    Only a team that has never had an admin gets one this way: removing and re-adding the bot must not
    make the person who re-adds it an admin.
    """
    try:
        async with uow:
            if await uow.team_admins.ever_had(installer.tenant_id, team_id):
                return False
            await uow.team_admins.grant(installer.tenant_id, team_id, Person(installer.id, installer.name[:MAX_NAME]),
                                        installer, clock.now())
            await uow.audit.record(event(clock, installer, "team.admin_granted", "team", team_id, conversation_id,
                                         user=installer.id, name=installer.name, how="installed the bot"))
            await uow.commit()
            return True
    except Conflict:
        return False  # the same install arrived twice at once, and the other delivery recorded it


async def grant(
    uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, person: Person | None, *,
    conversation_id: str | None, by_operator: bool = False,
) -> bool:
    """Make someone a team admin (a team admin, or an operator); False if they already were one."""
    async with uow:
        if not by_operator:
            await require_admin(uow, clock, actor, team_id, Operation.GRANT_TEAM_ADMIN, "team.admin_grant",
                                conversation_id)
        if person is None:
            raise FormErrors({"admin": "Choose a person from the team."})
        person = replace(person, name=person.name[:MAX_NAME])
        if not await uow.team_admins.grant(actor.tenant_id, team_id, person, actor, clock.now()):
            return False
        await uow.audit.record(event(clock, actor, "team.admin_granted", "team", team_id, conversation_id,
                                     user=person.user_id, name=person.name,
                                     how="operator" if by_operator else "team admin"))
        await uow.commit()
        return True


async def revoke(
    uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, user_id: str, *,
    conversation_id: str | None, by_operator: bool = False,
) -> TeamAdmin:
    """Stop someone being a team admin; returns who they were. From Teams the last admin stays, so that
    the team is never left without one by accident (an operator can still revoke them)."""
    async with uow:
        if not by_operator:
            await require_admin(uow, clock, actor, team_id, Operation.GRANT_TEAM_ADMIN, "team.admin_revoke",
                                conversation_id)
        admins = await uow.team_admins.admins(actor.tenant_id, team_id)
        admin = next((a for a in admins if a.person.user_id == user_id), None)
        if admin is None:
            raise FormErrors({"admin": "That person is not a team admin here."})
        if len(admins) == 1 and not by_operator:
            raise FormErrors({"admin": f"{admin.person.name} is this team's only admin: grant another first."})
        await uow.team_admins.revoke(actor.tenant_id, team_id, user_id, actor, clock.now())
        await uow.audit.record(event(clock, actor, "team.admin_revoked", "team", team_id, conversation_id,
                                     user=user_id, name=admin.person.name,
                                     how="operator" if by_operator else "team admin"))
        await uow.commit()
        return admin


async def require_admin(
    uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, operation: Operation, attempted: str,
    conversation_id: str | None,
) -> None:
    """Inside a unit of work: refuse, and record the refusal, unless the actor is one of the team's admins."""
    try:
        require_team_admin(actor.id, await uow.team_admins.admins(actor.tenant_id, team_id), operation,
                           tenant_id=actor.tenant_id, team_id=team_id)
    except NotAllowed as refusal:
        await refuse(uow, clock, actor, team_id, attempted, refusal, conversation_id or "", "team")
