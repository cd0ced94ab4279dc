"""The reminder rules, without a database: what is due, to whom, and under which key, at a given instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from concerns.actions import CaseAction
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member, Person
from concerns.meetings import Meeting, MeetingKind, MeetingStatus, ProviderAttends
from concerns.model import Actor, Provider
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import (
    CaseSnapshot,
    DigestCase,
    FeedbackOwed,
    KeyContacts,
    OpenVote,
    Reminder,
    ReminderKind,
    ReminderState,
    Target,
    due_reminders,
    is_quiet,
    next_working_start,
    snooze_choices,
)
from concerns.vocabulary import ServiceType

PACKS = load_packs(default_packs_dir())
CROYDON = PACKS["croydon-provider-concerns"]
HOURS = CROYDON.reminders
ENGLAND = WorkingCalendar("england")
LONDON = ZoneInfo("Europe/London")

HELEN = Person("helen", "Helen Ward")  # chair
TOM = Person("tom", "Tom Okafor")  # coordinator, owns most actions
PRIYA = Person("priya", "Priya Shah")  # minute taker
SAM = Person("sam", "Sam Reid")  # observer
GRACE = Person("grace", "Grace Adeyemi")  # chairs another case
AMARA = Person("amara", "Amara Nwosu")  # safeguarding social worker, screens concerns

THREAD = "19:oakwood-lodge-case@thread.tacv2"
CHANNEL = "19:provider-concerns@thread.tacv2"
TEAM_CHANNEL = "19:croydon-asc-general@thread.tacv2"

CASE = Case(
    id=7, tenant_id="t", reference="PC-2026-0007",
    provider=Provider(3, "t", "Oakwood Lodge Nursing Home", ServiceType.NURSING), pack_id=CROYDON.id,
    pack_version=CROYDON.version, status=CaseStatus.OPEN, level="moderate", step="decision",
    lead_agency=LeadAgency.COUNCIL, opened_by=Actor("priya", "Priya Shah", "t"),
    opened_at=datetime(2026, 10, 5, 9, 15, tzinfo=UTC),
    members=(Member("helen", "Helen Ward", CaseRole.CHAIR), Member("tom", "Tom Okafor", CaseRole.COORDINATOR),
             Member("priya", "Priya Shah", CaseRole.MINUTE_TAKER), Member("sam", "Sam Reid", CaseRole.OBSERVER)),
    concerns=("CN-2026-0031", "CN-2026-0034"), channel_id=CHANNEL, card_conversation_id=THREAD,
)
RIVERSIDE = replace(
    CASE, id=8, reference="PC-2026-0008",
    provider=Provider(4, "t", "Riverside Court Care Home", ServiceType.RESIDENTIAL), level=None,
    card_conversation_id="19:riverside-court-case@thread.tacv2",
)
BRAMBLE = replace(
    CASE, id=9, reference="PC-2026-0009",
    provider=Provider(5, "t", "Bramble House", ServiceType.SUPPORTED_LIVING), level=None,
    members=(Member("grace", "Grace Adeyemi", CaseRole.CHAIR), Member("tom", "Tom Okafor", CaseRole.COORDINATOR)),
    card_conversation_id="19:bramble-house-case@thread.tacv2",
)


def london(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def calendar_for(nation: str) -> WorkingCalendar:
    return WorkingCalendar(nation)


def action(**overrides: Any) -> CaseAction:
    values: dict[str, Any] = {
        "id": 41, "case_reference": CASE.reference, "provider": CASE.provider.name, "source": "step:decision",
        "title": "Share the safeguarding plan with the provider", "owner_role": "coordinator", "owner": TOM,
        "due_on": date(2026, 11, 20), "required": True, "status": "open", "case_id": CASE.id,
    }
    return CaseAction(**(values | overrides))


def snapshot(*actions: CaseAction, case: Case = CASE, meetings: tuple[Meeting, ...] = (),
             last_activity: datetime | None = None, open_vote: OpenVote | None = None) -> CaseSnapshot:
    # By default the case had activity yesterday, so it is not stale unless a test says so.
    return CaseSnapshot(case=case, actions=actions, meetings=meetings, open_vote=open_vote,
                        last_activity=last_activity or datetime(2026, 11, 16, 15, tzinfo=UTC))


def due(state: ReminderState | CaseSnapshot, at: datetime) -> list[Reminder]:
    if isinstance(state, CaseSnapshot):
        state = ReminderState(cases=(state,))
    return due_reminders(state, at, PACKS, CROYDON, calendar_for)


def of(kind: ReminderKind, reminders: list[Reminder]) -> list[Reminder]:
    return [r for r in reminders if r.kind is kind]


def owner_reminders(reminders: list[Reminder], owner: Person = TOM) -> list[Reminder]:
    kinds = {ReminderKind.ACTION_BEFORE, ReminderKind.ACTION_DUE, ReminderKind.ACTION_SNOOZED}
    return [r for r in reminders if r.kind in kinds and r.recipient == owner]


def only(reminders: list[Reminder]) -> Reminder:
    assert len(reminders) == 1, [r.key for r in reminders]
    return reminders[0]


# -- the owner: before and on the due date ---------------------------------------------------------


def test_the_owner_is_reminded_two_working_days_before_from_eight_and_on_the_due_day() -> None:
    state = snapshot(action(due_on=date(2026, 11, 20)))  # due Friday 20 November 2026 (GMT)

    assert owner_reminders(due(state, london(2026, 11, 17, 17, 59))) == []  # Tuesday: three working days before
    assert due(state, london(2026, 11, 18, 7, 59)) == []  # Wednesday, before working hours: nothing at all

    first = only(owner_reminders(due(state, london(2026, 11, 18, 8, 0))))
    assert first.kind is ReminderKind.ACTION_BEFORE
    assert first.key == "action.before:41:2026-11-18:2026-11-20"
    assert first.target is Target.PERSONAL and first.recipient == TOM and first.lane == "user:t:tom"
    assert first.case_reference == "PC-2026-0007"
    assert first.facts["due_on"] == "2026-11-20" and first.facts["owner"] == "Tom Okafor"
    assert first.facts["kind"] == "action.before" and first.facts["working_days_overdue"] == 0
    assert "due soon Fri 20 Nov" in first.summary

    # The same occurrence however often the sweep runs that day, and the next day: one message.
    assert only(owner_reminders(due(state, london(2026, 11, 18, 9, 0)))).key == first.key
    assert only(owner_reminders(due(state, london(2026, 11, 18, 15, 0)))).key == first.key
    assert only(owner_reminders(due(state, london(2026, 11, 19, 11, 0)))).key == first.key

    on_the_day = only(owner_reminders(due(state, london(2026, 11, 20, 8, 0))))
    assert on_the_day.kind is ReminderKind.ACTION_DUE
    assert on_the_day.key == "action.due:41:2026-11-20:2026-11-20" != first.key
    assert only(owner_reminders(due(state, london(2026, 11, 20, 16, 45)))).key == on_the_day.key
    # Past the due date it is still that one occurrence, not a new message each day.
    assert only(owner_reminders(due(state, london(2026, 11, 23, 9, 0)))).key == on_the_day.key


def test_a_redated_action_is_a_new_occurrence() -> None:
    before = only(owner_reminders(due(snapshot(action(due_on=date(2026, 11, 20))), london(2026, 11, 18))))
    redated = only(owner_reminders(due(snapshot(action(due_on=date(2026, 11, 23))), london(2026, 11, 19))))
    assert before.key == "action.before:41:2026-11-18:2026-11-20"
    assert redated.key == "action.before:41:2026-11-19:2026-11-23"


def test_done_and_not_applicable_actions_remind_nobody() -> None:
    for status in ("done", "not_applicable"):
        state = snapshot(action(status=status, due_on=date(2026, 11, 2)))
        reminders = due(state, london(2026, 11, 23, 8, 15))
        assert reminders == [], [r.key for r in reminders]


# -- bank holidays, weekends and quiet hours -------------------------------------------------------


def test_the_calendar_puts_christmas_and_easter_where_the_expectations_assume() -> None:
    for holiday in (date(2026, 12, 25), date(2026, 12, 28), date(2027, 3, 26), date(2027, 3, 29)):
        assert not ENGLAND.is_working_day(holiday)
    assert ENGLAND.add_working_days(date(2026, 12, 29), -2) == date(2026, 12, 23)
    assert ENGLAND.add_working_days(date(2027, 3, 31), -2) == date(2027, 3, 25)
    assert ENGLAND.add_working_days(date(2027, 3, 30), -2) == date(2027, 3, 24)


def test_an_action_due_after_christmas_is_flagged_on_wednesday_23_december() -> None:
    # Due Tuesday 29 December 2026: 28 (Boxing Day, substitute), 27, 26 and 25 December are not working
    # days, so two working days before is Wednesday 23 December.
    state = snapshot(action(due_on=date(2026, 12, 29)), last_activity=datetime(2026, 12, 22, 11, tzinfo=UTC))
    assert owner_reminders(due(state, london(2026, 12, 22, 16))) == []
    before = only(owner_reminders(due(state, london(2026, 12, 23, 8))))
    assert before.kind is ReminderKind.ACTION_BEFORE and before.key == "action.before:41:2026-12-23:2026-12-29"
    assert only(owner_reminders(due(state, london(2026, 12, 24, 12)))).key == before.key
    for holiday in (london(2026, 12, 25), london(2026, 12, 28)):
        assert due(state, holiday) == []
    on_the_day = only(owner_reminders(due(state, london(2026, 12, 29, 8))))
    assert on_the_day.key == "action.due:41:2026-12-29:2026-12-29"


def test_an_action_due_after_easter_2027_is_flagged_before_good_friday() -> None:
    # Good Friday 26 March and Easter Monday 29 March 2027 are bank holidays in England.
    wednesday = snapshot(action(id=52, due_on=date(2027, 3, 31)), last_activity=datetime(2027, 3, 24, tzinfo=UTC))
    tuesday = snapshot(action(id=53, due_on=date(2027, 3, 30)), last_activity=datetime(2027, 3, 24, tzinfo=UTC))
    assert owner_reminders(due(wednesday, london(2027, 3, 24))) == []
    assert only(owner_reminders(due(wednesday, london(2027, 3, 25)))).key == "action.before:52:2027-03-25:2027-03-31"
    assert only(owner_reminders(due(tuesday, london(2027, 3, 24)))).key == "action.before:53:2027-03-24:2027-03-30"
    for holiday in (london(2027, 3, 26), london(2027, 3, 29)):
        assert due(wednesday, holiday) == [] and due(tuesday, holiday) == []
    # Tuesday 30 March 2027 is in BST: 08:00 London is 07:00 UTC.
    assert only(owner_reminders(due(tuesday, datetime(2027, 3, 30, 7, 0, tzinfo=UTC)))).kind is ReminderKind.ACTION_DUE
    assert due(tuesday, datetime(2027, 3, 30, 6, 59, tzinfo=UTC)) == []


def busy_state(meeting_day: date | None = None) -> ReminderState:
    """A state that, at any working time from 2026 to 2028, has something due under every rule."""
    long_overdue = action(id=61, due_on=date(2025, 12, 1))
    meetings = (scheduled_meeting(meeting_day),) if meeting_day else ()
    return ReminderState(
        cases=(snapshot(long_overdue, meetings=meetings, last_activity=datetime(2025, 12, 1, 10, tzinfo=UTC),
                        open_vote=OpenVote(5, frozenset({"tom"}))),),
        feedback=(FeedbackOwed(12, "t", "CN-2025-0412", "Oakwood Lodge Nursing Home", AMARA, date(2025, 12, 5)),),
        key_contacts=(KeyContacts("t", "team-croydon-asc", TEAM_CHANNEL, (("head_of_service", "Ruth Mensah"),),
                                  date(2024, 6, 3)),),
    )


def test_at_a_working_time_every_rule_fires_for_the_busy_state() -> None:
    reminders = due(busy_state(meeting_day=date(2026, 11, 24)), london(2026, 11, 23, 10))
    assert {r.kind for r in reminders} == {
        ReminderKind.ACTION_DUE, ReminderKind.CASE_OVERDUE, ReminderKind.ACTION_ESCALATE, ReminderKind.DIGEST,
        ReminderKind.MEETING_TOMORROW, ReminderKind.REFERRER_FEEDBACK, ReminderKind.CASE_STALE,
        ReminderKind.KEY_CONTACTS,
    }
    assert [r.key for r in reminders] == sorted(r.key for r in reminders)
    assert len({r.key for r in reminders}) == len(reminders)


@pytest.mark.parametrize("at", [
    london(2026, 12, 25, 10),  # Christmas Day, a Friday
    london(2026, 12, 26, 10),  # Boxing Day, a Saturday
    london(2026, 12, 28, 10),  # Monday 28 December: the substitute Boxing Day bank holiday
    london(2027, 3, 26, 10),  # Good Friday 2027
    london(2027, 3, 29, 10),  # Easter Monday 2027
    london(2026, 11, 21, 10),  # a Saturday
    london(2026, 11, 22, 14),  # a Sunday
    london(2026, 11, 23, 18, 0),  # a Monday, at the end of working hours
    london(2026, 11, 23, 7, 59),  # a Monday, a minute before working hours
    london(2026, 11, 23, 0, 0),  # a Monday, at midnight
    london(2026, 7, 15, 7, 59),  # a summer Wednesday, a minute before working hours (BST)
], ids=lambda at: f"{at:%a-%Y-%m-%d-%H%M}")
def test_nothing_is_due_in_quiet_time(at: datetime) -> None:
    assert is_quiet(HOURS, ENGLAND, at)
    assert due(busy_state(meeting_day=at.date() + timedelta(days=1)), at) == []


def test_working_hours_start_at_eight_and_end_before_six_london_time() -> None:
    assert not is_quiet(HOURS, ENGLAND, london(2026, 11, 23, 8, 0))
    assert not is_quiet(HOURS, ENGLAND, london(2026, 11, 23, 17, 59))
    assert is_quiet(HOURS, ENGLAND, london(2026, 11, 23, 18, 0))
    assert is_quiet(HOURS, ENGLAND, london(2026, 11, 23, 7, 59))
    assert not is_quiet(HOURS, ENGLAND, london(2026, 12, 24, 17, 59))  # Christmas Eve is a working day
    assert is_quiet(HOURS, ENGLAND, london(2026, 12, 28, 12))


@pytest.mark.parametrize(("at", "expected"), [
    # Christmas Eve after hours: Fri 25 (Christmas), the weekend, Mon 28 (substitute Boxing Day) are all off.
    (london(2026, 12, 24, 18, 30), london(2026, 12, 29, 8)),
    (london(2026, 12, 25, 9), london(2026, 12, 29, 8)),
    (london(2026, 12, 28, 23, 59), london(2026, 12, 29, 8)),
    (london(2026, 12, 29, 7, 59), london(2026, 12, 29, 8)),
    (london(2026, 12, 31, 18), london(2027, 1, 4, 8)),  # New Year's Day is a Friday
    # Maundy Thursday after hours: Good Friday, the weekend and Easter Monday are off; Tuesday is in BST.
    (london(2027, 3, 25, 18), london(2027, 3, 30, 8)),
    (london(2026, 11, 21, 10), london(2026, 11, 23, 8)),  # a Saturday
], ids=lambda value: f"{value:%a-%Y-%m-%d-%H%M}")
def test_quiet_time_waits_for_the_next_working_start(at: datetime, expected: datetime) -> None:
    start = next_working_start(HOURS, ENGLAND, at)
    assert start == expected
    assert start.astimezone(LONDON).time().isoformat() == "08:00:00"
    assert not is_quiet(HOURS, ENGLAND, start)


def test_the_next_working_start_is_given_in_utc_across_the_clock_change() -> None:
    assert next_working_start(HOURS, ENGLAND, london(2026, 12, 24, 18, 30)) == datetime(2026, 12, 29, 8, tzinfo=UTC)
    assert next_working_start(HOURS, ENGLAND, london(2027, 3, 25, 18)) == datetime(2027, 3, 30, 7, tzinfo=UTC)


def test_working_time_is_its_own_next_working_start() -> None:
    at = london(2026, 12, 24, 12, 0)
    assert next_working_start(HOURS, ENGLAND, at) is at


def test_seven_thirty_utc_is_working_time_in_summer_and_quiet_in_winter() -> None:
    summer = datetime(2026, 7, 15, 7, 30, tzinfo=UTC)  # 08:30 BST, a Wednesday
    winter = datetime(2026, 11, 18, 7, 30, tzinfo=UTC)  # 07:30 GMT, a Wednesday
    assert not is_quiet(HOURS, ENGLAND, summer)
    assert is_quiet(HOURS, ENGLAND, winter)
    assert ReminderKind.DIGEST in {r.kind for r in due(busy_state(), summer)}
    assert due(busy_state(), winter) == []
    # And at the other end of the day: 17:30 UTC is 18:30 BST (quiet) but 17:30 GMT (working).
    assert due(busy_state(), datetime(2026, 7, 15, 17, 30, tzinfo=UTC)) == []
    assert due(busy_state(), datetime(2026, 11, 18, 17, 30, tzinfo=UTC)) != []


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)))
def test_for_any_instant_nothing_is_due_exactly_when_it_is_quiet(at: datetime) -> None:
    reminders = due(busy_state(), at)
    local = at.astimezone(LONDON)
    if is_quiet(HOURS, ENGLAND, at):
        assert reminders == []
        start = next_working_start(HOURS, ENGLAND, at)
        assert start > at and not is_quiet(HOURS, ENGLAND, start)
        assert start.astimezone(LONDON).time().isoformat() == "08:00:00"
        assert start - at < timedelta(days=6)  # the longest UK break (Christmas to New Year) is shorter
    else:
        assert ENGLAND.is_working_day(local.date()) and 8 <= local.hour < 18
        kinds = {r.kind for r in reminders}
        assert {ReminderKind.ACTION_DUE, ReminderKind.CASE_OVERDUE, ReminderKind.ACTION_ESCALATE,
                ReminderKind.CASE_STALE, ReminderKind.REFERRER_FEEDBACK, ReminderKind.KEY_CONTACTS} <= kinds
        assert (ReminderKind.DIGEST in kinds) == ((local.hour, local.minute) >= (8, 30))


# -- the chair: overdue actions and escalation -----------------------------------------------------


def test_the_chair_is_told_once_a_working_day_while_a_case_has_overdue_actions() -> None:
    state = snapshot(action(due_on=date(2026, 11, 18)), action(id=42, title="Arrange a monitoring visit",
                                                                 due_on=date(2026, 11, 27)))
    assert of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 18, 17))) == []  # due today: not yet late

    thursday = only(of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 19, 9))))
    assert thursday.key == "case.overdue:7:2026-11-19"
    assert thursday.recipient == HELEN and thursday.target is Target.PERSONAL
    assert [a["action_id"] for a in thursday.facts["actions"]] == [41]  # the one due next week is not late
    assert thursday.facts["actions"][0]["working_days_overdue"] == 1
    assert thursday.facts["provider"] == "Oakwood Lodge Nursing Home" and thursday.facts["level"] == "Moderate"
    assert only(of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 19, 16)))).key == thursday.key

    assert only(of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 20, 9)))).key == "case.overdue:7:2026-11-20"
    assert due(state, london(2026, 11, 21, 9)) == [] and due(state, london(2026, 11, 22, 9)) == []  # weekend
    monday = only(of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 23, 9))))
    assert monday.key == "case.overdue:7:2026-11-23"
    assert monday.facts["actions"][0]["working_days_overdue"] == 3


def test_without_a_chair_the_coordinator_is_told_of_overdue_actions() -> None:
    no_chair = replace(CASE, members=tuple(m for m in CASE.members if m.role is not CaseRole.CHAIR))
    overdue = only(of(ReminderKind.CASE_OVERDUE, due(snapshot(action(due_on=date(2026, 11, 18)), case=no_chair),
                                                     london(2026, 11, 19))))
    assert overdue.recipient == TOM


def test_an_action_three_working_days_overdue_is_escalated_once_in_the_case_thread() -> None:
    state = snapshot(action(due_on=date(2026, 11, 18)))  # due Wednesday
    assert of(ReminderKind.ACTION_ESCALATE, due(state, london(2026, 11, 20, 17))) == []  # Friday: 2 days late

    escalation = only(of(ReminderKind.ACTION_ESCALATE, due(state, london(2026, 11, 23, 8))))  # Monday: 3 days
    assert escalation.key == "action.escalate:41:2026-11-18"
    assert escalation.target is Target.THREAD and escalation.conversation_id == THREAD
    assert escalation.lane == f"conversation:{THREAD}"
    assert escalation.facts["chair"] == {"user_id": "helen", "name": "Helen Ward"}
    assert escalation.facts["escalate_to"] == CROYDON.role("head_of_service").label
    assert escalation.facts["limit"] == 3 and escalation.facts["working_days_overdue"] == 3
    assert {m["user_id"] for m in escalation.facts["members"]} == {"helen", "tom", "priya"}  # not the observer
    assert "3 working days overdue" in escalation.summary and "Helen Ward" in escalation.summary

    # Later sweeps compute the same key, so the outbox holds one escalation.
    for later in (london(2026, 11, 24, 9), london(2026, 11, 30, 15), london(2027, 1, 11, 9)):
        assert only(of(ReminderKind.ACTION_ESCALATE, due(state, later))).key == escalation.key


def test_reminders_landing_together_are_one_message_that_covers_the_others() -> None:
    from concerns.reminders import combine_reminders

    other_case = replace(CASE, id=8, reference="PC-2026-0002", card_conversation_id="19:other-thread")
    late = [action(id=41, due_on=date(2026, 11, 18)), action(id=40, due_on=date(2026, 11, 18), title="Visit"),
            action(id=39, due_on=date(2026, 11, 16), owner=None)]
    here = due(snapshot(*late), london(2026, 11, 23, 9))
    there = due(snapshot(action(id=50, due_on=date(2026, 11, 18)), case=other_case), london(2026, 11, 23, 9))
    every = sorted(here + there, key=lambda r: r.key)
    combined = combine_reminders(every)

    [shared, alone] = of(ReminderKind.ACTION_ESCALATE, combined)
    # The longest overdue leads, under its own key; the other two are covered by it, each under its own key.
    assert shared.key == "action.escalate:39:2026-11-16" and shared.conversation_id == THREAD
    assert [c.key for c in shared.covers] == ["action.escalate:40:2026-11-18", "action.escalate:41:2026-11-18"]
    assert [a["action_id"] for a in shared.facts["actions"]] == [39, 40, 41]
    assert [a["owner"] for a in shared.facts["actions"]] == [None, "Tom Okafor", "Tom Okafor"]
    assert shared.facts["actions"][0]["working_days_overdue"] == 5
    assert "action_id" not in shared.facts and shared.facts["chair"] == {"user_id": "helen", "name": "Helen Ward"}
    assert shared.summary == f"{CASE.reference} thread: 3 actions past the limit; escalation prompt to Helen Ward"
    # Another case's prompt, alone in its thread, is as it was.
    assert alone == only(of(ReminderKind.ACTION_ESCALATE, there)) and alone.covers == ()
    assert alone.case_reference == "PC-2026-0002"
    assert combine_reminders([shared]) == [shared]

    # Helen chairs both: one nudge about the two, led by the case with the longest overdue action.
    [nudge] = of(ReminderKind.CASE_OVERDUE, combined)
    assert nudge.key == f"case.overdue:{CASE.id}:2026-11-23" and nudge.recipient == HELEN
    assert [c.key for c in nudge.covers] == ["case.overdue:8:2026-11-23"]
    assert [(c["case"], len(c["actions"])) for c in nudge.facts["cases"]] == [(CASE.reference, 3), ("PC-2026-0002", 1)]
    assert nudge.summary == "Helen Ward: 4 overdue actions on 2 cases"
    # Nothing else is combined: the owners' own reminders pass through untouched.
    kinds = (ReminderKind.ACTION_ESCALATE, ReminderKind.CASE_OVERDUE)
    assert [r for r in combined if r.kind not in kinds] == [r for r in every if r.kind not in kinds]
    assert of(ReminderKind.ACTION_DUE, combined)


def test_escalation_counts_working_days_across_christmas() -> None:
    state = snapshot(action(due_on=date(2026, 12, 23)), last_activity=datetime(2026, 12, 22, tzinfo=UTC))
    # 24 December is one working day late; 29 December two; 30 December three.
    assert of(ReminderKind.ACTION_ESCALATE, due(state, london(2026, 12, 29, 12))) == []
    assert only(of(ReminderKind.ACTION_ESCALATE, due(state, london(2026, 12, 30, 8)))).key == \
        "action.escalate:41:2026-12-23"


def test_escalation_goes_to_the_channel_without_a_case_thread_and_nowhere_without_either() -> None:
    late = action(due_on=date(2026, 11, 2))
    in_channel = only(of(ReminderKind.ACTION_ESCALATE,
                         due(snapshot(late, case=replace(CASE, card_conversation_id=None)), london(2026, 11, 23))))
    assert in_channel.target is Target.CHANNEL and in_channel.conversation_id == CHANNEL
    nowhere = replace(CASE, card_conversation_id=None, channel_id=None)
    assert of(ReminderKind.ACTION_ESCALATE, due(snapshot(late, case=nowhere), london(2026, 11, 23))) == []


# -- snoozing --------------------------------------------------------------------------------------


def test_a_snooze_holds_back_the_reminders_it_covers_and_reminds_once_on_the_day() -> None:
    # Due Friday 20 November (before-reminder Wednesday 18); snoozed until Thursday 19.
    state = snapshot(action(due_on=date(2026, 11, 20), snoozed_until=date(2026, 11, 19)))
    assert owner_reminders(due(state, london(2026, 11, 18, 10))) == []

    snoozed = only(owner_reminders(due(state, london(2026, 11, 19, 8))))
    assert snoozed.kind is ReminderKind.ACTION_SNOOZED
    assert snoozed.key == "action.snoozed:41:2026-11-19"
    assert snoozed.facts["kind"] == "action.snoozed" and "snoozed until today" in snoozed.summary
    assert only(owner_reminders(due(state, london(2026, 11, 19, 17)))).key == snoozed.key

    # The due day is after the snooze day, so it still reminds.
    assert only(owner_reminders(due(state, london(2026, 11, 20, 9)))).key == "action.due:41:2026-11-20:2026-11-20"


def test_a_snooze_past_the_due_date_replaces_the_due_reminder() -> None:
    state = snapshot(action(due_on=date(2026, 11, 20), snoozed_until=date(2026, 11, 24)))
    for day in (18, 19, 20, 23):
        assert owner_reminders(due(state, london(2026, 11, day, 11))) == [], day
    on_the_day = only(owner_reminders(due(state, london(2026, 11, 24, 8))))
    assert on_the_day.kind is ReminderKind.ACTION_SNOOZED
    assert on_the_day.key == "action.snoozed:41:2026-11-24"
    assert only(owner_reminders(due(state, london(2026, 11, 25, 8)))).key == on_the_day.key
    # The chair still hears about the overdue action meanwhile: a snooze is the owner's, not the case's.
    assert of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 23, 11)))


def test_a_snooze_to_the_due_day_reminds_once_as_snoozed() -> None:
    state = snapshot(action(due_on=date(2026, 11, 20), snoozed_until=date(2026, 11, 20)))
    assert owner_reminders(due(state, london(2026, 11, 18, 11))) == []
    assert only(owner_reminders(due(state, london(2026, 11, 20, 11)))).kind is ReminderKind.ACTION_SNOOZED
    assert only(owner_reminders(due(state, london(2026, 11, 23, 11)))).kind is ReminderKind.ACTION_SNOOZED


def test_a_snooze_that_ended_before_the_reminder_day_does_not_hold_it_back() -> None:
    state = snapshot(action(due_on=date(2026, 11, 20), snoozed_until=date(2026, 11, 17)))
    assert only(owner_reminders(due(state, london(2026, 11, 17, 10)))).kind is ReminderKind.ACTION_SNOOZED
    assert only(owner_reminders(due(state, london(2026, 11, 18, 10)))).key == "action.before:41:2026-11-18:2026-11-20"


def test_redating_an_action_after_its_snooze_day_does_not_repeat_the_snoozed_reminder() -> None:
    # Tom snoozed the action (due Fri 20 Nov) until Mon 16 Nov and was reminded that day. On Tue 17 Nov the chair
    # moves the due date to Fri 27 Nov. Storage clears the snooze when re-dating (tests/storage); even where a
    # snooze day is still set, the snoozed reminder's key names only the snooze, so the outbox sends it once.
    first = only(owner_reminders(due(snapshot(action(due_on=date(2026, 11, 20), snoozed_until=date(2026, 11, 16))),
                                     london(2026, 11, 16, 9))))
    assert first.key == "action.snoozed:41:2026-11-16"
    redated = snapshot(action(due_on=date(2026, 11, 27), snoozed_until=date(2026, 11, 16)))
    tuesday = owner_reminders(due(redated, london(2026, 11, 17, 9)))
    assert [r.key for r in tuesday] == [first.key]
    cleared = snapshot(action(due_on=date(2026, 11, 27), snoozed_until=None))
    assert owner_reminders(due(cleared, london(2026, 11, 17, 9))) == []


def test_snooze_choices_are_the_next_ten_working_days() -> None:
    assert snooze_choices(ENGLAND, date(2026, 12, 23)) == [
        date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 4),
        date(2027, 1, 5), date(2027, 1, 6), date(2027, 1, 7), date(2027, 1, 8), date(2027, 1, 11),
    ]


# -- the chairs' digest ----------------------------------------------------------------------------


def digest_state() -> ReminderState:
    oakwood = snapshot(
        action(id=41, due_on=date(2026, 11, 18), title="Share the safeguarding plan with the provider"),  # overdue
        action(id=43, due_on=date(2026, 11, 30), title="Request the service user register"),  # 5 working days
        action(id=44, due_on=date(2026, 12, 1), title="Book the findings meeting"),  # beyond the week
        action(id=45, due_on=date(2026, 11, 10), status="done"),
        action(id=46, due_on=None, title="Agree the communications plan"),
        open_vote=OpenVote(5, frozenset({"helen", "tom"})),
    )
    riverside = snapshot(
        action(id=51, case_reference=RIVERSIDE.reference, provider=RIVERSIDE.provider.name, case_id=RIVERSIDE.id,
               due_on=date(2026, 11, 23), title="Send the concerns letter"),  # due today
        case=RIVERSIDE, open_vote=OpenVote(6, frozenset({"tom"})),
    )
    bramble = snapshot(case=BRAMBLE)
    return ReminderState(cases=(oakwood, riverside, bramble))


def as_digest_case(snapshot: CaseSnapshot) -> DigestCase:
    """What storage reads of a case that only its chair's digest lists."""
    case = snapshot.case
    chair = case.holder(CaseRole.CHAIR) or case.holder(CaseRole.COORDINATOR)
    return DigestCase(id=case.id, tenant_id=case.tenant_id, reference=case.reference, provider=case.provider.name,
                      pack_id=case.pack_id, step=case.step, level=case.level,
                      chair=Person(chair.user_id, chair.name) if chair else None, open_vote=snapshot.open_vote)


def test_a_case_read_only_for_its_digest_is_listed_as_when_read_whole() -> None:
    """Cases with no action in the digest's week come as DigestCases: the digests say exactly the same."""
    whole = digest_state()
    oakwood, riverside, bramble = whole.cases
    level = PACKS[riverside.case.pack_id].levels_in_order()[1].id  # a level's label, not "Not yet agreed"
    riverside = replace(riverside, actions=(), case=replace(riverside.case, level=level))
    whole = replace(whole, cases=(oakwood, riverside, bramble))
    narrow = replace(whole, cases=(oakwood,), digest_cases=(as_digest_case(riverside), as_digest_case(bramble)))
    at = london(2026, 11, 23, 8, 30)
    digests = of(ReminderKind.DIGEST, due(whole, at))
    assert len(digests) >= 2 and any(d.facts["votes"] for d in digests)
    assert [(d.key, d.recipient, d.summary, d.facts) for d in of(ReminderKind.DIGEST, due(narrow, at))] == [
        (d.key, d.recipient, d.summary, d.facts) for d in digests]
    # A digest already sent is left out, whichever way its cases were read.
    only = frozenset({(digests[0].tenant_id, digests[0].recipient.user_id)})
    assert [d.key for d in of(ReminderKind.DIGEST, due(replace(narrow, digest_for=only), at))] == [digests[0].key]


def test_each_chair_gets_one_digest_from_half_past_eight_on_working_days() -> None:
    state = digest_state()
    assert of(ReminderKind.DIGEST, due(state, london(2026, 11, 23, 8, 29))) == []

    digests = of(ReminderKind.DIGEST, due(state, london(2026, 11, 23, 8, 30)))
    assert [(d.recipient, d.key) for d in digests] == [
        (GRACE, "digest:t:grace:2026-11-23"), (HELEN, "digest:t:helen:2026-11-23")]
    helen = digests[1].facts
    assert helen["date"] == "2026-11-23"
    assert [c["case"] for c in helen["cases"]] == ["PC-2026-0007", "PC-2026-0008"]
    assert [c["provider"] for c in helen["cases"]] == ["Oakwood Lodge Nursing Home", "Riverside Court Care Home"]
    assert [(a["action_id"], a["due_on"]) for a in helen["due"]] == [(51, "2026-11-23"), (43, "2026-11-30")]
    assert [(a["action_id"], a["working_days_overdue"]) for a in helen["overdue"]] == [(41, 3)]
    assert helen["votes"] == [
        {"case": "PC-2026-0007", "vote_id": 5, "ballots": 2, "voted": True},
        {"case": "PC-2026-0008", "vote_id": 6, "ballots": 1, "voted": False},
    ]
    assert "2 case(s), 2 due this week, 1 overdue, 2 open vote(s)" in digests[1].summary
    grace = digests[0].facts
    assert [c["case"] for c in grace["cases"]] == ["PC-2026-0009"] and grace["votes"] == []

    # Later the same day: the same keys; the next working day: new ones; never at the weekend or after hours.
    assert [d.key for d in of(ReminderKind.DIGEST, due(state, london(2026, 11, 23, 15)))] == [d.key for d in digests]
    assert [d.key for d in of(ReminderKind.DIGEST, due(state, london(2026, 11, 24, 8, 45)))] == [
        "digest:t:grace:2026-11-24", "digest:t:helen:2026-11-24"]
    assert of(ReminderKind.DIGEST, due(state, london(2026, 11, 28, 9))) == []
    assert of(ReminderKind.DIGEST, due(state, london(2026, 11, 23, 18, 0))) == []
    assert of(ReminderKind.DIGEST, due(state, london(2026, 12, 28, 9))) == []


# -- meetings --------------------------------------------------------------------------------------


def scheduled_meeting(day: date, status: MeetingStatus = MeetingStatus.SCHEDULED, **overrides: Any) -> Meeting:
    values: dict[str, Any] = {
        "id": 9, "case_id": CASE.id, "case_reference": CASE.reference, "kind": MeetingKind.INITIAL, "status": status,
        "starts_at": datetime(day.year, day.month, day.day, 10, tzinfo=UTC), "ends_at": None,
        "venue": "Bernard Weatherill House, room 6.01", "online_link": None, "chair": HELEN,
        "minute_taker": PRIYA, "attendees": (TOM, PRIYA, HELEN, SAM),
        "provider_attends": ProviderAttends.SECOND_PART, "created_by": "Tom Okafor",
        "created_at": datetime(2026, 11, 16, 12, tzinfo=UTC),
    }
    return Meeting(**(values | overrides))


def test_each_attendee_is_reminded_once_on_the_working_day_before_a_monday_meeting() -> None:
    state = snapshot(meetings=(scheduled_meeting(date(2026, 11, 30)),))  # Monday 30 November
    assert of(ReminderKind.MEETING_TOMORROW, due(state, london(2026, 11, 26, 16))) == []  # Thursday
    friday = of(ReminderKind.MEETING_TOMORROW, due(state, london(2026, 11, 27, 8)))
    assert sorted(r.recipient.user_id for r in friday if r.recipient) == ["helen", "priya", "sam", "tom"]
    assert {r.key for r in friday} == {f"meeting.tomorrow:9:{who}:2026-11-30" for who in ("helen", "priya", "sam",
                                                                                             "tom")}
    assert all(r.target is Target.PERSONAL for r in friday)
    assert friday[0].facts["kind"] == "Initial meeting with the provider"
    assert friday[0].facts["starts_at"] == "2026-11-30T10:00:00+00:00"
    assert "Mon 30 Nov" in friday[0].summary
    assert of(ReminderKind.MEETING_TOMORROW, due(state, london(2026, 11, 28, 10))) == []  # Saturday
    assert of(ReminderKind.MEETING_TOMORROW, due(state, london(2026, 11, 30, 8))) == []  # the day itself


def test_a_meeting_after_easter_is_reminded_on_maundy_thursday() -> None:
    state = snapshot(meetings=(scheduled_meeting(date(2027, 3, 30), attendees=()),),
                     last_activity=datetime(2027, 3, 24, tzinfo=UTC))
    assert of(ReminderKind.MEETING_TOMORROW, due(state, london(2027, 3, 24, 12))) == []
    thursday = of(ReminderKind.MEETING_TOMORROW, due(state, london(2027, 3, 25, 12)))
    assert sorted(r.recipient.user_id for r in thursday if r.recipient) == ["helen", "priya"]


@pytest.mark.parametrize("status", [MeetingStatus.HELD, MeetingStatus.CANCELLED])
def test_held_and_cancelled_meetings_remind_nobody(status: MeetingStatus) -> None:
    state = snapshot(meetings=(scheduled_meeting(date(2026, 11, 30), status),))
    assert of(ReminderKind.MEETING_TOMORROW, due(state, london(2026, 11, 27, 10))) == []


# -- referrer feedback, stale cases, key contacts --------------------------------------------------


def test_the_screener_is_reminded_to_tell_the_referrer_from_two_working_days_before() -> None:
    owed = FeedbackOwed(12, "t", "CN-2026-0418", "Riverside Court Care Home", AMARA, date(2026, 11, 27))
    state = ReminderState(feedback=(owed,))
    assert due(state, london(2026, 11, 24, 17)) == []  # Tuesday: three working days before
    wednesday = only(due(state, london(2026, 11, 25, 8)))
    assert wednesday.kind is ReminderKind.REFERRER_FEEDBACK
    assert wednesday.key == "referrer.feedback:12:2026-11-27"
    assert wednesday.recipient == AMARA and wednesday.target is Target.PERSONAL
    assert wednesday.facts == {"concern": "CN-2026-0418", "provider": "Riverside Court Care Home",
                               "due_on": "2026-11-27", "overdue": False}
    late = only(due(state, london(2026, 11, 30, 9)))
    assert late.key == wednesday.key and late.facts["overdue"] is True


def test_a_quiet_case_is_prompted_after_ten_working_days_and_once_each_period() -> None:
    state = snapshot(last_activity=datetime(2026, 11, 2, 14, tzinfo=UTC))  # Monday 2 November
    assert of(ReminderKind.CASE_STALE, due(state, london(2026, 11, 13, 17))) == []  # 9 working days
    first = only(of(ReminderKind.CASE_STALE, due(state, london(2026, 11, 16, 8))))  # 10 working days
    assert first.key == "case.stale:7:2026-11-02:1"
    assert first.target is Target.THREAD and first.conversation_id == THREAD
    assert first.facts["working_days"] == 10 and first.facts["last_activity"] == "2026-11-02"
    assert first.facts["chair"] == {"user_id": "helen", "name": "Helen Ward"}
    assert only(of(ReminderKind.CASE_STALE, due(state, london(2026, 11, 27, 9)))).key == first.key  # 19 days
    assert only(of(ReminderKind.CASE_STALE, due(state, london(2026, 11, 30, 9)))).key == "case.stale:7:2026-11-02:2"


def test_recent_activity_keeps_a_case_from_being_stale() -> None:
    state = snapshot(last_activity=datetime(2026, 11, 13, 16, tzinfo=UTC))
    assert of(ReminderKind.CASE_STALE, due(state, london(2026, 11, 16, 9))) == []


def test_key_contacts_are_reviewed_in_the_team_channel_a_year_after_the_last_review() -> None:
    contacts = KeyContacts("t", "team-croydon-asc", TEAM_CHANNEL,
                           (("head_of_service", "Ruth Mensah"), ("safeguarding_manager", "Daniel Osei"),
                            ("retired_role", "Someone Else")), date(2025, 11, 24))
    state = ReminderState(key_contacts=(contacts,))
    assert due(state, london(2026, 11, 23, 16)) == []  # a day short of twelve months
    prompt = only(due(state, london(2026, 11, 24, 8)))
    assert prompt.kind is ReminderKind.KEY_CONTACTS
    assert prompt.key == "key_contacts.review:t:team-croydon-asc:2026-11-24"
    assert prompt.target is Target.CHANNEL and prompt.conversation_id == TEAM_CHANNEL
    assert prompt.facts["last_reviewed"] == "2025-11-24"
    assert prompt.facts["holders"] == [
        {"role": CROYDON.role("head_of_service").label, "name": "Ruth Mensah"},
        {"role": CROYDON.role("safeguarding_manager").label, "name": "Daniel Osei"},
        {"role": "retired_role", "name": "Someone Else"},
    ]
    assert only(due(state, london(2027, 2, 1, 9))).key == prompt.key
    assert due(ReminderState(key_contacts=(replace(contacts, channel_id=None),)), london(2026, 11, 24, 8)) == []


def test_a_review_falling_due_at_the_weekend_is_prompted_on_the_next_working_day() -> None:
    state = ReminderState(key_contacts=(KeyContacts("t", "team-croydon-asc", TEAM_CHANNEL, (), date(2025, 11, 28)),))
    assert due(state, london(2026, 11, 27, 17)) == []
    assert only(due(state, london(2026, 11, 30, 8))).key == "key_contacts.review:t:team-croydon-asc:2026-11-28"


# -- actions without an owner or a due date --------------------------------------------------------


def test_an_unassigned_action_reminds_nobody_personally_but_is_still_escalated() -> None:
    state = snapshot(action(owner=None, owner_role="contracts_review_officer", due_on=date(2026, 11, 18)))
    for at in (london(2026, 11, 16), london(2026, 11, 18), london(2026, 11, 23)):
        assert [r for r in due(state, at) if r.kind in {ReminderKind.ACTION_BEFORE, ReminderKind.ACTION_DUE,
                                                         ReminderKind.ACTION_SNOOZED}] == []
    escalation = only(of(ReminderKind.ACTION_ESCALATE, due(state, london(2026, 11, 23))))
    assert escalation.facts["owner"] is None and escalation.key == "action.escalate:41:2026-11-18"
    assert only(of(ReminderKind.CASE_OVERDUE, due(state, london(2026, 11, 23)))).recipient == HELEN


def test_an_action_without_a_due_date_reminds_nobody() -> None:
    state = snapshot(action(due_on=None), action(id=47, owner=None, due_on=None))
    for at in (london(2026, 11, 16), london(2026, 11, 23, 8, 45), london(2027, 6, 1)):
        reminders = due(state, at)
        assert [r.kind for r in reminders if r.kind not in {ReminderKind.DIGEST, ReminderKind.CASE_STALE}] == []
        for digest in of(ReminderKind.DIGEST, reminders):
            assert digest.facts["due"] == [] and digest.facts["overdue"] == []


# -- the documents register's reviews ---------------------------------------------------------------

def entry(**overrides: Any) -> Any:
    from concerns.documents import CaseDocument

    values: dict[str, Any] = {
        "id": 5, "case_id": CASE.id, "kind": "risk_management_plan", "title": "Risk management plan",
        "owner_role": "coordinator", "owner": TOM, "status": "current", "version": "2", "link": None,
        "last_reviewed_on": date(2026, 10, 26), "next_review_on": date(2026, 11, 24),  # a Tuesday
        "updated_by": "Tom Okafor", "updated_at": datetime(2026, 10, 26, 11, tzinfo=UTC),
    }
    return CaseDocument(**(values | overrides))


def reviews(*documents: Any, case: Case = CASE, at: datetime) -> list[Reminder]:
    return [r for r in due(replace(snapshot(case=case), documents=documents), at)
            if r.kind in (ReminderKind.DOCUMENT_REVIEW, ReminderKind.DOCUMENT_REVIEW_OVERDUE)]


def test_an_entrys_owner_is_reminded_of_its_review_before_it_and_on_the_day() -> None:
    plan = entry()
    # Two working days ahead (Friday 20th for Tuesday 24th), then on the day; the days between say nothing new.
    assert reviews(plan, at=london(2026, 11, 19)) == []
    [before] = reviews(plan, at=london(2026, 11, 20))
    assert (before.recipient, before.target, before.facts["stage"]) == (TOM, Target.PERSONAL, "before")
    assert before.key == "document.review:5:2026-11-20:2026-11-24"
    assert before.facts | {"stage": None} == {
        "document_id": 5, "title": "Risk management plan", "case": CASE.reference, "provider": CASE.provider.name,
        "owner": "Tom Okafor", "owner_user_id": "tom", "provider_owned": False, "next_review_on": "2026-11-24",
        "last_reviewed_on": "2026-10-26", "working_days_overdue": 0, "cycle": 20, "stage": None}
    assert [r.key for r in reviews(plan, at=london(2026, 11, 23))] == [before.key]
    [on_the_day] = reviews(plan, at=london(2026, 11, 24))
    assert on_the_day.key == "document.review:5:2026-11-24:2026-11-24" and on_the_day.facts["stage"] == "due"
    # A review recorded moves the date on, and with it the reminders: a new date is a new occurrence.
    assert reviews(entry(next_review_on=date(2026, 12, 22)), at=london(2026, 11, 24)) == []
    # An entry with no next review has nothing to remind anyone of.
    assert reviews(entry(next_review_on=None), at=london(2026, 11, 24)) == []


def test_the_providers_plan_is_reminded_to_the_coordinator_and_the_chair_is_told_once_it_is_well_overdue() -> None:
    plan = entry(id=6, kind="service_improvement_plan", title="Service improvement plan", owner_role="provider",
                 owner=None)
    [due_today] = reviews(plan, at=london(2026, 11, 24))
    assert due_today.recipient == TOM and due_today.facts["provider_owned"] is True
    assert due_today.facts["owner"] == "The provider" and due_today.facts["owner_user_id"] is None
    # Two working days late: still the coordinator's on-the-day reminder alone (already sent: the same key).
    assert [r.key for r in reviews(plan, at=london(2026, 11, 26))] == [due_today.key]
    # Three (the pack's limit): the chair is told, once.
    late = reviews(plan, at=london(2026, 11, 27))
    [nudge] = [r for r in late if r.kind is ReminderKind.DOCUMENT_REVIEW_OVERDUE]
    assert (nudge.recipient, nudge.key) == (HELEN, "document.review_overdue:6:2026-11-24")
    assert nudge.facts["keeper"] == "Tom Okafor" and nudge.facts["working_days_overdue"] == 3
    assert [r.key for r in reviews(plan, at=london(2026, 12, 8)) if r.kind is ReminderKind.DOCUMENT_REVIEW_OVERDUE
            ] == [nudge.key]
    # The chair's own entry: they were reminded on the day, so nobody else is told.
    chairs = entry(id=7, owner=HELEN)
    assert [r.kind for r in reviews(chairs, at=london(2026, 11, 27))] == [ReminderKind.DOCUMENT_REVIEW]


def test_a_closed_case_or_quiet_time_reminds_nobody_of_a_review() -> None:
    closed = replace(CASE, status=CaseStatus.CLOSED)
    assert reviews(entry(), case=closed, at=london(2026, 11, 24)) == []
    assert reviews(entry(), at=london(2026, 11, 28)) == []  # a Saturday
    assert reviews(entry(), at=london(2026, 11, 24, 7)) == []  # before working hours


# -- the current step's target -----------------------------------------------------------------------

def test_a_steps_target_is_its_timescale_in_working_days_from_its_start() -> None:
    from concerns.actions import step_due

    # Opened Friday 27 November: the decision within 5 working days is Friday 4 December; the initial
    # meeting 10 working days from Monday 21 December is 7 January, over Christmas and New Year's Day.
    assert step_due(CROYDON, "decision", date(2026, 11, 27), ENGLAND) == date(2026, 12, 4)
    assert step_due(CROYDON, "initial_meeting", date(2026, 12, 21), ENGLAND) == date(2027, 1, 7)
    assert step_due(CROYDON, "update_meeting", date(2026, 12, 21), ENGLAND) is None  # frequency follows risk


def steps(case: Case, at: datetime) -> list[Reminder]:
    return [r for r in due(snapshot(case=case), at) if r.kind in (ReminderKind.STEP_DUE, ReminderKind.STEP_OVERDUE)]


def test_the_chair_is_reminded_of_the_steps_target_and_the_thread_prompted_once_it_is_well_past() -> None:
    case = replace(CASE, step_due_on=date(2026, 11, 27))  # the decision step, due Friday 27th
    assert steps(case, london(2026, 11, 24)) == []
    [before] = steps(case, london(2026, 11, 25))  # two working days ahead
    assert (before.recipient, before.target) == (HELEN, Target.PERSONAL)
    assert before.key == "step.due:7:decision:2026-11-25:2026-11-27"
    assert {k: before.facts[k] for k in ("step_id", "step_due_on", "timescale", "stage", "working_days_overdue")} \
        == {"step_id": "decision", "step_due_on": "2026-11-27", "timescale": 5, "stage": "before",
            "working_days_overdue": 0}
    [on_the_day] = steps(case, london(2026, 11, 27))
    assert on_the_day.facts["stage"] == "due" and on_the_day.key == "step.due:7:decision:2026-11-27:2026-11-27"
    assert [r.kind for r in steps(case, london(2026, 12, 1))] == [ReminderKind.STEP_DUE]  # two working days late
    prompt = [r for r in steps(case, london(2026, 12, 2)) if r.kind is ReminderKind.STEP_OVERDUE]
    assert [(r.target, r.conversation_id, r.key) for r in prompt] == [
        (Target.THREAD, THREAD, "step.overdue:7:decision:2026-11-27")]
    assert prompt[0].facts["chair"] == {"user_id": "helen", "name": "Helen Ward"}
    assert prompt[0].facts["working_days_overdue"] == 3 and prompt[0].facts["limit"] == 3
    # The same prompt a week on (one key: sent once); a step moved on has a new target and new keys.
    assert {r.key for r in steps(case, london(2026, 12, 9))} >= {prompt[0].key}
    moved = replace(case, step="initial_meeting", step_due_on=date(2026, 12, 11))
    assert steps(moved, london(2026, 12, 2)) == []


def test_no_target_no_open_case_or_no_chair_means_no_step_reminder() -> None:
    assert steps(replace(CASE, step_due_on=None), london(2026, 12, 2)) == []
    assert steps(replace(CASE, step_due_on=date(2026, 11, 27), status=CaseStatus.CLOSED), london(2026, 12, 2)) == []
    chairless = replace(CASE, step_due_on=date(2026, 11, 27), members=(Member("sam", "Sam Reid", CaseRole.OBSERVER),))
    # Nobody to remind, but the thread still hears it once it is well past.
    assert [r.kind for r in steps(chairless, london(2026, 12, 2))] == [ReminderKind.STEP_OVERDUE]
