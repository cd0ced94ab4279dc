"""Who holds team admin for each team."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from concerns.cases import Person
from concerns.model import Actor, ConversationKind
from concerns.permissions import TeamAdmin
from storage.models import ConversationRow, TeamAdminRow
from storage.repositories import _Repository


def _admin(row: TeamAdminRow) -> TeamAdmin:
    return TeamAdmin(row.team_id, Person(row.user_id, row.name), row.granted_by_name, row.granted_at)


class SqlTeamAdminRepository(_Repository):
    async def admins(self, tenant_id: str, team_id: str) -> list[TeamAdmin]:
        rows = await self.session.scalars(
            select(TeamAdminRow)
            .where(TeamAdminRow.tenant_id == tenant_id, TeamAdminRow.team_id == team_id,
                   TeamAdminRow.revoked_at.is_(None))
            .order_by(TeamAdminRow.granted_at, TeamAdminRow.user_id))
        return [_admin(r) for r in rows]

    async def ever_had(self, tenant_id: str, team_id: str) -> bool:
        found = await self.session.scalar(
            select(TeamAdminRow.user_id)
            .where(TeamAdminRow.tenant_id == tenant_id, TeamAdminRow.team_id == team_id).limit(1))
        return found is not None

    async def grant(self, tenant_id: str, team_id: str, person: Person, by: Actor, at: datetime) -> bool:
        row = await self.session.get(TeamAdminRow, (tenant_id, team_id, person.user_id))
        if row is not None and row.revoked_at is None:
            return False
        if row is None:
            row = TeamAdminRow(tenant_id=tenant_id, team_id=team_id, user_id=person.user_id)
            self.session.add(row)
        row.name, row.granted_by_name, row.granted_at = person.name, by.name, at
        row.revoked_by_name, row.revoked_at = None, None
        await self.session.flush()
        return True

    async def revoke(self, tenant_id: str, team_id: str, user_id: str, by: Actor, at: datetime) -> bool:
        row = await self.session.get(TeamAdminRow, (tenant_id, team_id, user_id))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_by_name, row.revoked_at = by.name, at
        await self.session.flush()
        return True

    async def all_admins(self, tenant_id: str) -> list[TeamAdmin]:
        rows = await self.session.scalars(
            select(TeamAdminRow)
            .where(TeamAdminRow.tenant_id == tenant_id, TeamAdminRow.revoked_at.is_(None))
            .order_by(TeamAdminRow.team_id, TeamAdminRow.granted_at, TeamAdminRow.user_id))
        return [_admin(r) for r in rows]

    async def known_teams(self, tenant_id: str) -> dict[str, str | None]:
        rows = await self.session.execute(
            select(ConversationRow.team_id, ConversationRow.team_name)
            .where(ConversationRow.tenant_id == tenant_id, ConversationRow.kind == ConversationKind.CHANNEL.value,
                   ConversationRow.team_id.is_not(None))
            .order_by(ConversationRow.team_name, ConversationRow.team_id))
        teams: dict[str, str | None] = {}
        for team_id, team_name in rows:
            teams[team_id] = teams.get(team_id) or team_name
        return teams
