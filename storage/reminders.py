"""Reads what the reminder rules need in a handful of queries: one per kind of deadline, not one per case."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member, Person
from concerns.clock import UK
from concerns.model import Actor, Provider
from concerns.reminders import CaseSnapshot, FeedbackOwed, KeyContacts, OpenVote, ReminderState, ReminderWindow
from concerns.vocabulary import CommissioningStatus, ServiceType
from storage.db import reading
from storage.meetings import _meeting
from storage.models import (
    AuditEventRow,
    BallotRow,
    CaseActionRow,
    CaseConcernRow,
    CaseMemberRow,
    CaseRow,
    ConcernRow,
    ConversationRow,
    KeyContactsReviewRow,
    MeetingRow,
    ProviderRow,
    ScreeningRow,
    TeamRoleRow,
    VoteRow,
)
from storage.repositories import _action

# What counts as activity on a case: anything people did, not refusals or someone reading a file.
_NOT_ACTIVITY = ("refused", "file.opened")
# Feedback owed for longer than this is history for the indicator, not something to remind about.
FEEDBACK_HORIZON = timedelta(days=90)


def _by_tenant(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for tenant_id, user_id in pairs:
        found.setdefault(tenant_id, set()).add(user_id)
    return found


def _chunks(items: Sequence[Any], size: int = 900) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


_ROLES = {role.value: role for role in CaseRole}  # a dict lookup per member, not an enum call: thousands of them
_CASES = CaseRow.__table__
_PROVIDERS = ProviderRow.__table__
_ACTIONS = CaseActionRow.__table__


async def _cases(session: Any, ids: Sequence[int]) -> list[Case]:
    """The cases with these ids, in id order, built from plain rows (as storage.repositories._case would).

    Rows are unpacked by position: the sweep may build thousands of cases, and looking columns up by name
    on each row cost more than the queries.
    """
    cases: list[Case] = []
    connection = await session.connection()  # Core, not the ORM's row-to-object machinery
    c, p = _CASES.c, _PROVIDERS.c
    for chunk in _chunks(ids):
        members: dict[int, list[Member]] = {}
        for case_id, user_id, name, role in await connection.execute(
                select(CaseMemberRow.case_id, CaseMemberRow.user_id, CaseMemberRow.name, CaseMemberRow.role)
                .where(CaseMemberRow.case_id.in_(chunk)).order_by(CaseMemberRow.case_id, CaseMemberRow.added_at)):
            members.setdefault(case_id, []).append(Member(user_id, name, _ROLES[role]))
        concerns: dict[int, list[str]] = {}
        for case_id, reference in await connection.execute(
                select(CaseConcernRow.case_id, ConcernRow.reference)
                .join(ConcernRow, ConcernRow.id == CaseConcernRow.concern_id)
                .where(CaseConcernRow.case_id.in_(chunk))
                .order_by(CaseConcernRow.case_id, ConcernRow.raised_at, ConcernRow.id)):
            concerns.setdefault(case_id, []).append(reference)
        rows = await connection.execute(
            select(c.id, c.tenant_id, c.reference, c.pack_id, c.pack_version, c.status, c.level, c.step,
                   c.lead_agency, c.opened_by_id, c.opened_by_name, c.opened_at, c.channel_id, c.card_conversation_id,
                   c.card_activity_id, c.checklist_activity_id, c.closed_at, c.closed_by_name,
                   c.closure_override_reason, c.closure_outcome, p.id, p.tenant_id, p.name, p.service_type,
                   p.commissioning_status, p.cqc_location_id, p.address)
            .join(_PROVIDERS, p.id == c.provider_id).where(c.id.in_(chunk)).order_by(c.id))
        for (case_id, tenant_id, reference, pack_id, pack_version, status, level, step, lead_agency, opened_by_id,
             opened_by_name, opened_at, channel_id, card_conversation_id, card_activity_id, checklist_activity_id,
             closed_at, closed_by_name, closure_override_reason, closure_outcome, provider_id, provider_tenant_id,
             provider_name, service_type, commissioning_status, cqc_location_id, address) in rows:
            provider = Provider(
                id=provider_id, tenant_id=provider_tenant_id, name=provider_name,
                service_type=ServiceType(service_type), commissioning_status=CommissioningStatus(commissioning_status),
                cqc_location_id=cqc_location_id, address=address)
            cases.append(Case(
                id=case_id, tenant_id=tenant_id, reference=reference, provider=provider, pack_id=pack_id,
                pack_version=pack_version, status=CaseStatus(status), level=level, step=step,
                lead_agency=LeadAgency(lead_agency),
                opened_by=Actor(id=opened_by_id, name=opened_by_name, tenant_id=tenant_id),
                opened_at=opened_at, members=tuple(members.get(case_id, ())),
                concerns=tuple(concerns.get(case_id, ())), channel_id=channel_id,
                card_conversation_id=card_conversation_id, card_activity_id=card_activity_id,
                checklist_activity_id=checklist_activity_id, closed_at=closed_at, closed_by=closed_by_name,
                closure_override_reason=closure_override_reason, closure_outcome=closure_outcome))
    return cases


class SqlReminderSource:
    """Reads the deadlines the reminder rules need at a moment: with a window, only those in it.

    With a `ReminderWindow` from the rules (concerns/reminders.py) the cases read are those with an
    action due within its horizon, a meeting about to come, no activity since its cut-off, or a chair
    whose digest is owed, each found through an index; the rules then decide as before. Without one,
    every open case is read with all its deadlines.
    """

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def chairs(self) -> set[tuple[str, str]]:
        """(tenant, user) of each open case's chair, or its coordinator when it has no chair."""
        chair = aliased(CaseMemberRow)
        has_chair = select(chair.user_id).where(chair.case_id == CaseRow.id, chair.role == "chair").exists()
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(CaseRow.tenant_id, CaseMemberRow.user_id).distinct()
                .join(CaseMemberRow, CaseMemberRow.case_id == CaseRow.id)
                .where(CaseRow.status == "open",
                       (CaseMemberRow.role == "chair") | ((CaseMemberRow.role == "coordinator") & ~has_chair)))
            return {(tenant, user) for tenant, user in rows.all()}

    async def state(self, at: datetime, window: ReminderWindow | None = None) -> ReminderState:
        window = window or ReminderWindow()
        if window.quiet:
            return ReminderState(digest_for=frozenset())
        async with reading(self._sessions) as session:
            case_ids = await self._case_ids(session, at, window)
            cases = await _cases(session, sorted(case_ids))
            connection = await session.connection()
            by_id = {case.id: case for case in cases}
            actions: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            meetings: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            last: dict[int, datetime] = {row.id: row.opened_at for row in cases}
            votes: dict[int, OpenVote] = {}
            horizon = window.action_horizon
            for chunk in _chunks(list(by_id)):
                # Plain rows, not ORM objects: the sweep may read thousands, and nothing here is changed.
                query = select(_ACTIONS).where(CaseActionRow.case_id.in_(chunk), CaseActionRow.status == "open")
                if horizon is not None:
                    # Undated actions have no deadline: no rule reads them.
                    dated = CaseActionRow.due_on <= horizon
                    if window.snoozed_by is not None:
                        dated = dated | (CaseActionRow.snoozed_until <= window.snoozed_by)
                    query = query.where(dated)
                for row in await connection.execute(query.order_by(CaseActionRow.id)):
                    case = by_id[row.case_id]
                    actions[row.case_id].append(_action(row, case.reference, case.provider.name))
                query = select(MeetingRow).where(MeetingRow.case_id.in_(chunk), MeetingRow.status == "scheduled",
                                                 MeetingRow.starts_at >= at - timedelta(days=1))
                if window.meetings_before is not None:
                    query = query.where(MeetingRow.starts_at < window.meetings_before)
                for row in await session.scalars(query.order_by(MeetingRow.starts_at)):
                    meetings[row.case_id].append(_meeting(row, by_id[row.case_id].reference))
                open_votes = list(await session.scalars(
                    select(VoteRow).where(VoteRow.case_id.in_(chunk), VoteRow.status == "open")))
                voters: dict[int, set[str]] = {vote.id: set() for vote in open_votes}
                if open_votes:
                    for vote_id, user_id in await session.execute(
                            select(BallotRow.vote_id, BallotRow.user_id).where(BallotRow.vote_id.in_(list(voters)))):
                        voters[vote_id].add(user_id)
                for vote in open_votes:
                    votes[vote.case_id] = OpenVote(vote.id, frozenset(voters[vote.id]))
            references = {(row.tenant_id, row.reference): row.id for row in cases}
            for chunk in _chunks(sorted({reference for _, reference in references})):
                activity = await session.execute(
                    select(AuditEventRow.tenant_id, AuditEventRow.subject_ref, func.max(AuditEventRow.occurred_at))
                    .where(AuditEventRow.subject_type == "case", AuditEventRow.subject_ref.in_(chunk),
                           AuditEventRow.action.not_in(_NOT_ACTIVITY))
                    .group_by(AuditEventRow.tenant_id, AuditEventRow.subject_ref))
                for tenant_id, reference, occurred in activity.all():
                    case_id = references.get((tenant_id, reference))
                    if case_id is not None and occurred:
                        last[case_id] = max(last[case_id], occurred)
            snapshots = tuple(
                CaseSnapshot(case=case, actions=tuple(actions[case.id]), meetings=tuple(meetings[case.id]),
                             last_activity=last[case.id], open_vote=votes.get(case.id))
                for case in cases
            )
            return ReminderState(cases=snapshots, feedback=await self._feedback(session, at, window.feedback_due_by),
                                 key_contacts=await self._key_contacts(session), digest_for=window.digest_for)

    async def _case_ids(self, session: Any, at: datetime, window: ReminderWindow) -> set[int]:
        """The open cases the window lets in, each kind of deadline found through its own index."""
        is_open = CaseRow.status == "open"
        if window.inactive_since is None or window.action_horizon is None or window.meetings_before is None or \
                (window.digests and window.digest_for is None):
            return set(await session.scalars(select(CaseRow.id).where(is_open)))
        found: set[int] = set(await session.scalars(
            select(CaseActionRow.case_id).join(CaseRow, CaseRow.id == CaseActionRow.case_id)
            .where(CaseActionRow.status == "open", CaseActionRow.due_on <= window.action_horizon, is_open)))
        if window.snoozed_by is not None:
            found.update(await session.scalars(
                select(CaseActionRow.case_id).join(CaseRow, CaseRow.id == CaseActionRow.case_id)
                .where(CaseActionRow.status == "open", CaseActionRow.snoozed_until <= window.snoozed_by, is_open)))
        found.update(await session.scalars(
            select(MeetingRow.case_id).join(CaseRow, CaseRow.id == MeetingRow.case_id)
            .where(MeetingRow.status == "scheduled", MeetingRow.starts_at >= at - timedelta(days=1),
                   MeetingRow.starts_at < window.meetings_before, is_open)))
        # Stale: open cases opened before the cut-off (a range of the status index), each then probed in the
        # audit index for activity since it.
        since = window.inactive_since
        found.update(await session.scalars(
            select(CaseRow.id).where(is_open, CaseRow.opened_at < since, ~select(AuditEventRow.id).where(
                AuditEventRow.subject_type == "case", AuditEventRow.subject_ref == CaseRow.reference,
                AuditEventRow.occurred_at >= since, AuditEventRow.tenant_id == CaseRow.tenant_id,
                AuditEventRow.action.not_in(_NOT_ACTIVITY)).exists())))
        if window.digests and window.digest_for:
            # Every open case with one of these as chair or coordinator: a superset of the cases they chair.
            for tenant_id, users in _by_tenant(window.digest_for).items():
                for chunk in _chunks(sorted(users)):
                    found.update(await session.scalars(
                        select(CaseMemberRow.case_id).join(CaseRow, CaseRow.id == CaseMemberRow.case_id)
                        .where(is_open, CaseRow.tenant_id == tenant_id, CaseMemberRow.user_id.in_(chunk),
                               CaseMemberRow.role.in_(("chair", "coordinator")))))
        return found

    async def _feedback(self, session: Any, at: datetime, due_by: date | None) -> tuple[FeedbackOwed, ...]:
        later = aliased(ScreeningRow)
        query = select(ScreeningRow, ConcernRow.reference).join(ConcernRow, ConcernRow.id == ScreeningRow.concern_id)
        if due_by is not None:
            query = query.where(ScreeningRow.feedback_due_on <= due_by)
        rows = await session.execute(
            query
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
