"""Reads what the reminder rules need in a handful of queries: one per kind of deadline, not one per case."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from concerns.cases import Case, Person
from concerns.clock import UK
from concerns.reminders import (
    CaseSnapshot,
    DigestCase,
    FeedbackOwed,
    KeyContacts,
    OpenVote,
    ReminderState,
    ReminderWindow,
)
from storage.caseread import among as _among
from storage.caseread import batches as _batches
from storage.caseread import cases_where
from storage.caseread import chunks as _chunks
from storage.db import reading
from storage.documents import _document
from storage.meetings import _meeting
from storage.models import (
    AuditEventRow,
    BallotRow,
    CaseActionRow,
    CaseDocumentRow,
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
from storage.repositories import ACTION_CASE_ID, action_from

# What counts as activity on a case: anything people did, not refusals or someone reading a file.
_NOT_ACTIVITY = ("refused", "file.opened")
# Feedback owed for longer than this is history for the indicator, not something to remind about.
FEEDBACK_HORIZON = timedelta(days=90)


def _by_tenant(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for tenant_id, user_id in pairs:
        found.setdefault(tenant_id, set()).add(user_id)
    return found


_CASES = CaseRow.__table__
_PROVIDERS = ProviderRow.__table__
_ACTIONS = CaseActionRow.__table__
_MEMBERS = CaseMemberRow.__table__
_VOTES = VoteRow.__table__
_BALLOTS = BallotRow.__table__


async def _cases(session: Any, ids: Sequence[int]) -> list[Case]:
    """The cases with these ids, in id order, as plain rows (storage.caseread)."""
    cases: list[Case] = []
    for chunk in _batches(session, ids):
        cases += await cases_where(session, _among(session, _CASES.c.id, chunk))
    return cases


async def _open_votes(session: Any, ids: list[int]) -> dict[int, OpenVote]:
    """The open vote of each of these cases that has one, with who has voted (a batch of `_batches`)."""
    connection = await session.connection()
    votes = {vote_id: case_id for vote_id, case_id in await connection.execute(
        select(_VOTES.c.id, _VOTES.c.case_id).where(_among(session, _VOTES.c.case_id, ids),
                                                    _VOTES.c.status == "open"))}
    voters: dict[int, set[str]] = {vote_id: set() for vote_id in votes}
    if votes:
        for vote_id, user_id in await connection.execute(
                select(_BALLOTS.c.vote_id, _BALLOTS.c.user_id).where(_BALLOTS.c.vote_id.in_(list(votes)))):
            voters[vote_id].add(user_id)
    return {case_id: OpenVote(vote_id, frozenset(voters[vote_id])) for vote_id, case_id in votes.items()}


_HOLDS = ("chair", "coordinator")


async def _digest_cases(session: Any, chairs: frozenset[tuple[str, str]], skip: set[int]) -> list[DigestCase]:
    """What the digests of these (tenant, chair) pairs say of each open case they chair, in id order, but for
    the cases in `skip` (read whole): the case's facts, its chair and its open vote, not the whole case.

    Found from the chairs' side, up to 900 chairs a query, so that the thousands of cases a morning's digests
    list cost a query or two, not several per 900 case ids. None of them has an action the digest lists: the
    window's action horizon covers the digest's week, so a case with one is among those read whole.
    """
    found: list[DigestCase] = []
    votes: dict[int, set[str]] = {}
    connection = await session.connection()
    c, p, v = _CASES.c, _PROVIDERS.c, _VOTES.c
    holder, other = _MEMBERS.alias("holder"), _MEMBERS.alias("other")
    # The case's chair as Case.holder picks it: its first chair in member order, else its first coordinator.
    first = (select(other.c.user_id).where(other.c.case_id == holder.c.case_id, other.c.role.in_(_HOLDS))
             .order_by(case((other.c.role == "chair", 0), else_=1), other.c.added_at, other.c.user_id)
             .limit(1).scalar_subquery())
    for tenant_id, users in _by_tenant(chairs).items():
        for chunk in _chunks(sorted(users)):
            rows = await connection.execute(
                select(c.id, c.reference, c.pack_id, c.step, c.level, p.name, holder.c.user_id, holder.c.name, v.id,
                       c.step_due_on)
                .select_from(holder.join(_CASES, c.id == holder.c.case_id).join(_PROVIDERS, p.id == c.provider_id)
                             .outerjoin(_VOTES, (v.case_id == c.id) & (v.status == "open")))
                .where(c.status == "open", c.tenant_id == tenant_id, holder.c.user_id.in_(chunk),
                       holder.c.role.in_(_HOLDS), holder.c.user_id == first))
            for case_id, reference, pack_id, step, level, provider, user_id, name, vote_id, step_due in rows:
                if case_id not in skip:
                    found.append(DigestCase(
                        id=case_id, tenant_id=tenant_id, reference=reference, provider=provider, pack_id=pack_id,
                        step=step, level=level, chair=Person(user_id, name), step_due_on=step_due,
                        open_vote=OpenVote(vote_id, frozenset()) if vote_id is not None else None))
                    if vote_id is not None:
                        votes[vote_id] = set()
    for chunk in _chunks(sorted(votes)):
        for vote_id, user_id in await connection.execute(
                select(_BALLOTS.c.vote_id, _BALLOTS.c.user_id).where(_BALLOTS.c.vote_id.in_(chunk))):
            votes[vote_id].add(user_id)
    return sorted((replace(entry, open_vote=OpenVote(entry.open_vote.id, frozenset(votes[entry.open_vote.id])))
                   if entry.open_vote else entry for entry in found), key=lambda entry: entry.id)


class SqlReminderSource:
    """Reads the deadlines the reminder rules need at a moment: with a window, only those in it.

    With a `ReminderWindow` from the rules (concerns/reminders.py) the cases read are those with an
    action due within its horizon, a meeting about to come, no activity since its cut-off, or a chair
    whose digest is owed, each found through an index; the rules then decide as before. A case let in
    only by its chair's digest is read as the digest needs it (a `DigestCase`), not as a whole case.
    Without a window, every open case is read with all its deadlines.
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
            digest_cases = await _digest_cases(session, window.digest_for, case_ids) \
                if window.digests and window.digest_for else []
            connection = await session.connection()
            by_id = {case.id: case for case in cases}
            actions: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            meetings: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            documents: dict[int, list[Any]] = {case_id: [] for case_id in by_id}
            last: dict[int, datetime] = {row.id: row.opened_at for row in cases}
            votes: dict[int, OpenVote] = {}
            horizon = window.action_horizon
            for chunk in _batches(session, list(by_id)):
                # Plain rows, not ORM objects: the sweep may read thousands, and nothing here is changed.
                query = select(_ACTIONS).where(_among(session, CaseActionRow.case_id, chunk),
                                               CaseActionRow.status == "open")
                if horizon is not None:
                    # Undated actions have no deadline: no rule reads them.
                    dated = CaseActionRow.due_on <= horizon
                    if window.snoozed_by is not None:
                        dated = dated | (CaseActionRow.snoozed_until <= window.snoozed_by)
                    query = query.where(dated)
                for row in await connection.execute(query.order_by(CaseActionRow.id)):
                    values = tuple(row)
                    case = by_id[values[ACTION_CASE_ID]]
                    actions[case.id].append(action_from(values, case.reference, case.provider.name))
                query = select(MeetingRow).where(_among(session, MeetingRow.case_id, chunk),
                                                 MeetingRow.status == "scheduled",
                                                 MeetingRow.starts_at >= at - timedelta(days=1))
                if window.meetings_before is not None:
                    query = query.where(MeetingRow.starts_at < window.meetings_before)
                for row in await session.scalars(query.order_by(MeetingRow.starts_at)):
                    meetings[row.case_id].append(_meeting(row, by_id[row.case_id].reference))
                votes.update(await _open_votes(session, chunk))
                # Register entries with a review due within the actions' horizon (the same rule: before and on the day).
                query = select(CaseDocumentRow).where(_among(session, CaseDocumentRow.case_id, chunk),
                                                      CaseDocumentRow.next_review_on.is_not(None))
                if window.actions_due_by is not None:
                    query = query.where(CaseDocumentRow.next_review_on <= window.actions_due_by)
                for row in await session.scalars(query.order_by(CaseDocumentRow.id)):
                    documents[row.case_id].append(_document(row))
            references = {(row.tenant_id, row.reference): row.id for row in cases}
            for chunk in _batches(session, sorted({reference for _, reference in references})):
                activity = await session.execute(
                    select(AuditEventRow.tenant_id, AuditEventRow.subject_ref, func.max(AuditEventRow.occurred_at))
                    .where(AuditEventRow.subject_type == "case", _among(session, AuditEventRow.subject_ref, chunk),
                           AuditEventRow.action.not_in(_NOT_ACTIVITY))
                    .group_by(AuditEventRow.tenant_id, AuditEventRow.subject_ref))
                for tenant_id, reference, occurred in activity.all():
                    case_id = references.get((tenant_id, reference))
                    if case_id is not None and occurred:
                        last[case_id] = max(last[case_id], occurred)
            snapshots = tuple(
                CaseSnapshot(case=case, actions=tuple(actions[case.id]), meetings=tuple(meetings[case.id]),
                             last_activity=last[case.id], open_vote=votes.get(case.id),
                             documents=tuple(documents[case.id]))
                for case in cases
            )
            return ReminderState(cases=snapshots, feedback=await self._feedback(session, at, window.feedback_due_by),
                                 key_contacts=await self._key_contacts(session), digest_for=window.digest_for,
                                 digest_cases=tuple(digest_cases))

    async def _case_ids(self, session: Any, at: datetime, window: ReminderWindow) -> set[int]:
        """The open cases the window lets in, each kind of deadline found through its own index.

        With the window's bounds, only those a rule other than the digests could find something due for:
        the digests' other cases are read apart, as `DigestCase`s.
        """
        is_open = CaseRow.status == "open"
        # A closed case is read for its follow-ups only (the closing step's actions): see ReminderWindow.follow_ups.
        reminded = is_open | CaseActionRow.source.in_(sorted(window.follow_ups)) if window.follow_ups else is_open
        if window.inactive_since is None or window.action_horizon is None or window.meetings_before is None or \
                (window.digests and window.digest_for is None):
            found = set(await session.scalars(select(CaseRow.id).where(is_open)))
            if window.follow_ups:
                found.update(await session.scalars(
                    select(CaseActionRow.case_id).join(CaseRow, CaseRow.id == CaseActionRow.case_id)
                    .where(CaseActionRow.status == "open", reminded)))
            return found
        found = set(await session.scalars(
            select(CaseActionRow.case_id).join(CaseRow, CaseRow.id == CaseActionRow.case_id)
            .where(CaseActionRow.status == "open", CaseActionRow.due_on <= window.action_horizon, reminded)))
        if window.snoozed_by is not None:
            found.update(await session.scalars(
                select(CaseActionRow.case_id).join(CaseRow, CaseRow.id == CaseActionRow.case_id)
                .where(CaseActionRow.status == "open", CaseActionRow.snoozed_until <= window.snoozed_by, reminded)))
        # From the register's side, each entry's case then checked by its key: joined, SQLite (no statistics) would
        # rather read every open case by the status index.
        found.update(await session.scalars(
            select(CaseDocumentRow.case_id).where(
                CaseDocumentRow.next_review_on <= window.actions_due_by,
                select(CaseRow.id).where(CaseRow.id == CaseDocumentRow.case_id, is_open).exists())))
        found.update(await session.scalars(
            select(CaseRow.id).where(is_open, CaseRow.step_due_on <= window.actions_due_by)))
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
