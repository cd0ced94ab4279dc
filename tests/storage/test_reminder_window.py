"""The sweep reads what could be due, not every open deadline; and what it finds due is unchanged by that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from concerns.calendar import WorkingCalendar
from concerns.clock import UK
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import ReminderKind, ReminderState, ReminderWindow, due_reminders, reminder_window
from scheduler.sweep import Sweeper
from storage.models import AuditEventRow, BallotRow, CaseActionRow, CaseMemberRow, CaseRow, ProviderRow, VoteRow
from storage.outbox import SqlOutbox
from storage.reminders import SqlReminderSource
from tests.support.clock import FixedClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PACKS = load_packs(default_packs_dir())
CROYDON = PACKS["croydon-provider-concerns"]
CALENDAR = WorkingCalendar(CROYDON.nation)
MONDAY = date(2026, 11, 23)
RECENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the Friday before: no case is stale on the Monday
LONG_AGO = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
QUIET_CASES, ACTIONS_EACH = 60, 6


def london(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UK)


def calendar_for(_: str) -> WorkingCalendar:
    return CALENDAR


async def seed(sessions: Any) -> dict[str, int]:
    """60 open cases whose actions are weeks away, and three that something is due for on Monday 23 Nov."""
    ids: dict[str, int] = {}
    actions: list[CaseActionRow] = []
    async with sessions() as session:
        def case(n: int, name: str, opened: datetime, chair: str) -> int:
            session.add(ProviderRow(id=n, tenant_id=TENANT, name=name, name_key=name.lower(), service_type="nursing",
                                    created_at=opened))
            session.add(CaseRow(
                id=n, tenant_id=TENANT, reference=f"PC-2026-{n:04}", provider_id=n, pack_id=CROYDON.id,
                pack_version=CROYDON.version, status="open", step=CROYDON.first_step.id, lead_agency="council",
                opened_by_id="aad-priya", opened_by_name="Priya Shah", opened_at=opened,
                channel_id="19:general@thread.tacv2", card_conversation_id=f"19:general@thread.tacv2;messageid={n}"))
            session.add(CaseMemberRow(case_id=n, user_id=chair, name=chair.removeprefix("aad-").title(), role="chair",
                                      added_at=opened))
            session.add(CaseMemberRow(case_id=n, user_id="aad-tom", name="Tom Okafor", role="coordinator",
                                      added_at=opened))
            return n

        def action(case_id: int, due: date, title: str) -> None:
            actions.append(CaseActionRow(
                case_id=case_id, source="test", title=title, owner_role="member", owner_user_id="aad-helen",
                owner_name="Helen Ward", due_on=due, original_due_on=due, required=False, status="open",
                created_at=RECENT))

        for n in range(1, QUIET_CASES + 1):
            case(n, f"Quiet Lodge {n}", RECENT, f"aad-chair-{n % 4}")
            for k in range(ACTIONS_EACH):
                action(n, MONDAY + timedelta(days=21 + 7 * k), f"Review visit {k + 1}")
        ids["due_today"] = case(101, "Oakwood Nursing Home", RECENT, "aad-chair-0")
        action(101, MONDAY, "Send the provider the action plan")
        action(101, MONDAY + timedelta(days=40), "Follow-up visit")
        ids["overdue"] = case(102, "Riverside Care", RECENT, "aad-chair-1")
        action(102, date(2026, 11, 13), "Request the staffing rota")
        ids["stale"] = case(103, "Bramble House", LONG_AGO, "aad-chair-2")
        # A case with activity since the cut-off is not stale, however long ago it was opened.
        ids["active"] = case(104, "Willow Lodge", LONG_AGO, "aad-chair-3")
        session.add(AuditEventRow(
            id=1, occurred_at=RECENT, tenant_id=TENANT, actor_id="aad-priya", actor_name="Priya Shah",
            action="step.changed", subject_type="case", subject_ref="PC-2026-0104", conversation_id=None,
            details={}, prev_hash="0" * 64, hash="1" * 64))
        await session.flush()  # the cases before their actions: nothing tells the session one needs the other
        session.add_all(actions)
        await session.commit()
    return ids


@dataclass
class Counting:
    """The SQL source, counting the cases and actions each state holds."""

    source: SqlReminderSource
    read: list[tuple[int, int]] = field(default_factory=list)

    async def chairs(self) -> set[tuple[str, str]]:
        return await self.source.chairs()

    async def state(self, at: datetime, window: ReminderWindow | None = None) -> ReminderState:
        state = await self.source.state(at, window)
        self.read.append((len(state.cases) + len(state.digest_cases), sum(len(s.actions) for s in state.cases)))
        return state


def keys(state: ReminderState, at: datetime) -> set[str]:
    return {r.key for r in due_reminders(state, at, PACKS, CROYDON, calendar_for)}


def said(state: ReminderState, at: datetime) -> list[tuple[Any, ...]]:
    """Every reminder due, whole: what the outbox would hold of each."""
    return [(r.key, r.kind, r.tenant_id, r.target, r.summary, r.facts, r.recipient, r.conversation_id,
             r.case_reference) for r in due_reminders(state, at, PACKS, CROYDON, calendar_for)]


async def test_the_window_reads_only_the_cases_and_actions_something_is_due_for(sessions: Any) -> None:
    ids = await seed(sessions)
    source = SqlReminderSource(sessions)
    at = london(MONDAY, 8, 10)  # working time, before the digest
    window = reminder_window(at, PACKS, CROYDON, calendar_for)
    state = await source.state(at, window)
    assert {s.case.id for s in state.cases} == {ids["due_today"], ids["overdue"], ids["stale"]}
    # Rows, not time: the quiet cases' 360 actions and the follow-up due in 40 days are not read.
    assert sorted(a.title for s in state.cases for a in s.actions) == [
        "Request the staffing rota", "Send the provider the action plan"]
    full = await source.state(at)
    assert len(full.cases) == QUIET_CASES + 4
    assert keys(state, at) == keys(full, at)
    assert {k.split(":")[0] for k in keys(state, at)} == {
        ReminderKind.ACTION_DUE, ReminderKind.ACTION_ESCALATE, ReminderKind.CASE_OVERDUE, ReminderKind.CASE_STALE}


async def test_the_steady_sweep_reads_only_what_is_due_once_the_digests_are_sent(sessions: Any) -> None:
    ids = await seed(sessions)
    source = Counting(SqlReminderSource(sessions))
    at = london(MONDAY, 10, 30)
    sweeper = Sweeper(source, SqlOutbox(sessions), FixedClock(at.isoformat()), PACKS, CROYDON, calendar_for)
    first = await sweeper.sweep(at)
    # The first sweep after 08:30 sends each chair a digest of all their cases, so it reads them all ...
    assert source.read[-1][0] == QUIET_CASES + 4
    assert sum(1 for r in first.due if r.kind is ReminderKind.DIGEST) == 4
    digest = next(r for r in first.due if r.kind is ReminderKind.DIGEST and r.recipient.user_id == "aad-chair-0")
    assert len(digest.facts["cases"]) == QUIET_CASES // 4 + 1
    # ... and a minute later only the cases something is due for, with only their due actions.
    again = await sweeper.sweep(at + timedelta(minutes=1))
    assert again.enqueued == []
    assert source.read[-1] == (3, 2)
    assert {s.case.id for s in (await source.source.state(at, reminder_window(
        at, PACKS, CROYDON, calendar_for).owing_digests(await source.chairs(), {r.key for r in first.due}))).cases
            } == {ids["due_today"], ids["overdue"], ids["stale"]}


async def test_nothing_is_read_in_quiet_time(sessions: Any) -> None:
    await seed(sessions)
    saturday = london(date(2026, 11, 28), 10, 30)
    window = reminder_window(saturday, PACKS, CROYDON, calendar_for)
    assert window.quiet
    assert (await SqlReminderSource(sessions).state(saturday, window)).cases == ()


async def test_what_is_due_through_the_window_is_what_is_due_from_every_deadline(sessions: Any) -> None:
    """Over four weeks of sweeps the narrowed state and the whole one give the same reminders."""
    await seed(sessions)
    source = SqlReminderSource(sessions)
    full = await source.state(london(MONDAY, 8))
    chairs = await source.chairs()
    day, checked = MONDAY, 0
    while day < MONDAY + timedelta(days=28):
        for at in (london(day, 8, 10), london(day, 9)):
            window = reminder_window(at, PACKS, CROYDON, calendar_for)
            narrow = await source.state(at, window)
            assert keys(narrow, at) == keys(full, at), at
            # As the sweep reads once it knows whose digests are owed: the digests' cases as DigestCases.
            assert said(await source.state(at, window.owing_digests(chairs, ())), at) == said(full, at), at
            checked += bool(keys(full, at))
        day += timedelta(days=1)
    assert checked >= 30  # most of those sweeps had something due


async def test_the_digests_say_the_same_from_the_narrow_read_as_from_whole_cases(sessions: Any) -> None:
    """Cases read only for a digest come as DigestCases, and the digests (and all else) say exactly the same."""
    ids = await seed(sessions)
    async with sessions() as session:
        # A second chair after the first, a case led by its coordinator alone, and an open vote with a ballot.
        session.add(CaseMemberRow(case_id=5, user_id="aad-zoe", name="Zoe Late", role="chair",
                                  added_at=RECENT + timedelta(days=1)))
        await session.execute(delete(CaseMemberRow).where(CaseMemberRow.case_id == 6, CaseMemberRow.role == "chair"))
        session.add(VoteRow(id=1, case_id=7, status="open", started_by_id="aad-priya", started_by_name="Priya Shah",
                            started_at=RECENT))
        await session.flush()
        session.add(BallotRow(vote_id=1, user_id="aad-tom", name="Tom Okafor", level="2", cast_at=RECENT))
        await session.commit()
    source = SqlReminderSource(sessions)
    at = london(MONDAY, 10, 30)
    window = reminder_window(at, PACKS, CROYDON, calendar_for)
    chairs = await source.chairs()
    narrow = await source.state(at, window.owing_digests(chairs, ()))
    assert {s.case.id for s in narrow.cases} == {ids["due_today"], ids["overdue"], ids["stale"]}
    assert len(narrow.digest_cases) == QUIET_CASES + 1
    assert not {d.id for d in narrow.digest_cases} & {s.case.id for s in narrow.cases}
    full = await source.state(at)
    assert narrow.digest_cases and full.digest_cases == ()
    assert said(narrow, at) == said(full, at)
    digests = [r for r in due_reminders(narrow, at, PACKS, CROYDON, calendar_for) if r.kind is ReminderKind.DIGEST]
    assert {r.recipient.user_id for r in digests} == {f"aad-chair-{n}" for n in range(4)} | {"aad-tom"}
    voted = next(r for r in digests if r.recipient.user_id == "aad-chair-3")
    assert voted.facts["votes"] == [{"case": "PC-2026-0007", "vote_id": 1, "ballots": 1, "voted": False}]
    # Only the digests still owed are read, and only their cases.
    one = await source.state(at, window.owing_digests(chairs, [f"digest:{TENANT}:{user}:{MONDAY}" for _, user in chairs
                                                               if user != "aad-tom"]))
    assert [d.reference for d in one.digest_cases] == ["PC-2026-0006"]
    assert said(one, at) == [r for r in said(full, at) if r[1] is not ReminderKind.DIGEST or r[6].user_id == "aad-tom"]


async def test_the_sweep_turns_the_cycle_collector_back_on_even_when_its_read_fails(sessions: Any) -> None:
    """The sweep pauses the cycle collector while it builds its state (scheduler/sweep.py); it must never leave it
    off for the rest of the process, whatever happens."""
    import gc

    await seed(sessions)
    at = london(MONDAY, 10, 30)
    sweeper = Sweeper(SqlReminderSource(sessions), SqlOutbox(sessions), FixedClock(at.isoformat()), PACKS, CROYDON,
                      calendar_for)
    assert gc.isenabled()
    assert (await sweeper.sweep(at)).due
    assert gc.isenabled()

    class Failing(SqlReminderSource):
        async def state(self, at: datetime, window: ReminderWindow | None = None) -> ReminderState:
            assert not gc.isenabled()  # paused while it reads
            raise RuntimeError("the database went away")

    sweeper.source = Failing(sessions)
    with pytest.raises(RuntimeError):
        await sweeper.sweep(at + timedelta(minutes=1))
    assert gc.isenabled()
