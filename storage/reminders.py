"""Reads what the reminder rules need in a handful of queries: one per kind of deadline, not one per case."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from concerns.cases import Person
from concerns.clock import UK
from concerns.reminders import CaseSnapshot, FeedbackOwed, KeyContacts, OpenVote, ReminderState
from storage.meetings import _meeting
from storage.models import (
    AuditEventRow,
    BallotRow,
    CaseActionRow,
    CaseRow,
    ConcernRow,
    ConversationRow,
    KeyContactsReviewRow,
    MeetingRow,
    ScreeningRow,
    TeamRoleRow,
    VoteRow,
)
from storage.repositories import _action, _case

# What counts as activity on a case: anything people did, not refusals or someone reading a file.
_NOT_ACTIVITY = ("refused", "file.opened")
# Feedback owed for longer than this is history for the indicator, not something to remind about.
FEEDBACK_HORIZON = timedelta(days=90)


class SqlReminderSource:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def state(self, at: datetime) -> ReminderState:
        async with self._sessions() as session:
            cases = list(await session.scalars(select(CaseRow).where(CaseRow.status == "open").order_by(CaseRow.id)))
            by_id = {row.id: row for row in cases}
            references = {row.reference: row.id for row in cases}
            actions: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            meetings: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            last: dict[int, datetime] = {row.id: row.opened_at for row in cases}
            votes: dict[int, OpenVote] = {}
            if by_id:
                ids = list(by_id)
                for row in await session.scalars(select(CaseActionRow).where(
                        CaseActionRow.case_id.in_(ids), CaseActionRow.status == "open").order_by(CaseActionRow.id)):
                    case = by_id[row.case_id]
                    actions[row.case_id].append(_action(row, case.reference, case.provider.name))
                for row in await session.scalars(select(MeetingRow).where(
                        MeetingRow.case_id.in_(ids), MeetingRow.status == "scheduled",
                        MeetingRow.starts_at >= at - timedelta(days=1)).order_by(MeetingRow.starts_at)):
                    meetings[row.case_id].append(_meeting(row, by_id[row.case_id].reference))
                activity = await session.execute(
                    select(AuditEventRow.tenant_id, AuditEventRow.subject_ref, func.max(AuditEventRow.occurred_at))
                    .where(AuditEventRow.subject_type == "case", AuditEventRow.subject_ref.in_(list(references)),
                           AuditEventRow.action.not_in(_NOT_ACTIVITY))
                    .group_by(AuditEventRow.tenant_id, AuditEventRow.subject_ref))
                for tenant_id, reference, occurred in activity.all():
                    case_id = references.get(reference)
                    if case_id is not None and by_id[case_id].tenant_id == tenant_id and occurred:
                        last[case_id] = max(last[case_id], occurred)
                open_votes = list(await session.scalars(
                    select(VoteRow).where(VoteRow.case_id.in_(ids), VoteRow.status == "open")))
                for vote in open_votes:
                    voters = await session.scalars(select(BallotRow.user_id).where(BallotRow.vote_id == vote.id))
                    votes[vote.case_id] = OpenVote(vote.id, frozenset(voters))
            snapshots = tuple(
                CaseSnapshot(case=_case(row), actions=tuple(actions[row.id]), meetings=tuple(meetings[row.id]),
                             last_activity=last[row.id], open_vote=votes.get(row.id))
                for row in cases
            )
            return ReminderState(cases=snapshots, feedback=await self._feedback(session, at),
                                 key_contacts=await self._key_contacts(session))

    async def _feedback(self, session: Any, at: datetime) -> tuple[FeedbackOwed, ...]:
        later = aliased(ScreeningRow)
        rows = await session.execute(
            select(ScreeningRow, ConcernRow.reference)
            .join(ConcernRow, ConcernRow.id == ScreeningRow.concern_id)
            .where(ScreeningRow.feedback_given_at.is_(None),
                   ScreeningRow.feedback_due_on >= (at - FEEDBACK_HORIZON).date(),
                   # A re-screening owes its own feedback; the earlier one's is superseded.
                   ~select(later.id).where(later.concern_id == ScreeningRow.concern_id,
                                           later.sequence > ScreeningRow.sequence).exists())
            .order_by(ScreeningRow.id))
        return tuple(
            FeedbackOwed(screening_id=row.id, tenant_id=row.tenant_id, concern_reference=reference,
                         provider=row.concern.provider.name,
                         screener=Person(row.screened_by_id, row.screened_by_name), due_on=row.feedback_due_on)
            for row, reference in rows.all()
        )

    async def _key_contacts(self, session: Any) -> tuple[KeyContacts, ...]:
        teams: dict[tuple[str, str], list[TeamRoleRow]] = {}
        for row in await session.scalars(select(TeamRoleRow).order_by(TeamRoleRow.role_id)):
            teams.setdefault((row.tenant_id, row.team_id), []).append(row)
        reviews = dict(((tenant, team), at) for tenant, team, at in (await session.execute(
            select(KeyContactsReviewRow.tenant_id, KeyContactsReviewRow.team_id,
                   func.max(KeyContactsReviewRow.reviewed_at))
            .group_by(KeyContactsReviewRow.tenant_id, KeyContactsReviewRow.team_id))).all())
        found = []
        for (tenant_id, team_id), holders in sorted(teams.items()):
            channels = list(await session.scalars(
                select(ConversationRow).where(ConversationRow.tenant_id == tenant_id,
                                              ConversationRow.team_id == team_id,
                                              ConversationRow.kind == "channel", ConversationRow.installed)
                .order_by(ConversationRow.updated_at)))
            # The General channel shares the team's id in Teams; otherwise the one called General.
            general = next((c for c in channels if c.id == team_id), None) or \
                next((c for c in channels if (c.channel_name or "") == "General"), None) or \
                (channels[0] if channels else None)
            latest = max(row.set_at for row in holders)
            if (tenant_id, team_id) in reviews:
                latest = max(latest, reviews[(tenant_id, team_id)])
            found.append(KeyContacts(
                tenant_id=tenant_id, team_id=team_id, channel_id=general.id if general else None,
                holders=tuple((row.role_id, row.name) for row in holders),
                last_reviewed=latest.astimezone(UK).date(),
            ))
        return tuple(found)
