"""Meetings against real databases: scheduling with its dated checks, refusals on the record, minutes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from concerns import services
from concerns.cases import Person
from concerns.meetings import (
    MeetingKind,
    MeetingStatus,
    ProviderAttends,
    case_meetings,
    parse_meeting_form,
    parse_minutes_form,
    record_minutes,
    schedule_meeting,
)
from concerns.model import Actor
from concerns.validation import FormErrors
from concerns.votes import NotAllowed
from tests.storage.test_cases import HELEN, TOM, open_one
from tests.storage.test_screening import CROYDON, ENGLAND
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

SAM = Person("aad-sam", "Sam Reid")
ROSTER = [HELEN, TOM, Person(PRIYA.id, PRIYA.name), SAM]
AS_HELEN = Actor(HELEN.user_id, HELEN.name, TENANT)
AS_TOM = Actor(TOM.user_id, TOM.name, TENANT)
AS_SAM = Actor(SAM.user_id, SAM.name, TENANT)


def meeting_form(clock: FixedClock, **overrides: str) -> Any:
    values = {"kind": "initial", "date": "2026-12-02", "starts": "10:00", "ends": "12:30",
              "venue": "Bernard Weatherill House, room 6.01", "online_link": "https://teams.microsoft.com/l/x",
              "chair": HELEN.user_id, "minute_taker": PRIYA.id, "attendees": f"{TOM.user_id},{SAM.user_id}",
              "provider_attends": "second_part"} | overrides
    return parse_meeting_form(values, ROSTER, clock.now(), ENGLAND)


async def a_case(uow: Any, clock: FixedClock) -> Any:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    await services.change_role(uow(), clock, AS_HELEN, case.reference, SAM, "observer", conversation_id="c")
    return case


async def schedule(uow: Any, clock: FixedClock, actor: Actor = AS_TOM, **overrides: str) -> Any:
    return await schedule_meeting(uow(), clock, ENGLAND, CROYDON, actor, "PC-2026-0001",
                                  meeting_form(clock, **overrides), conversation_id="19:general;messageid=1")


async def test_a_scheduled_meeting_round_trips_with_its_dated_checks(uow: Any, clock: FixedClock) -> None:
    case = await a_case(uow, clock)
    scheduled = await schedule(uow, clock)
    meeting = scheduled.meeting
    async with uow() as tx:
        stored = await tx.meetings.get(TENANT, meeting.id)
        assert await tx.meetings.get("another-tenant", meeting.id) is None
        actions = [a for a in await tx.cases.actions(case.id) if a.source == f"meeting:{meeting.id}"]
        events = await tx.audit.for_subject("case", case.reference)
    assert stored == meeting
    assert stored.kind is MeetingKind.INITIAL and stored.status is MeetingStatus.SCHEDULED
    assert stored.starts_at == datetime(2026, 12, 2, 10, tzinfo=UTC) and stored.ends_at.tzinfo is not None
    assert stored.chair == HELEN and stored.minute_taker == Person(PRIYA.id, PRIYA.name)
    assert [p.name for p in stored.attendees] == ["Tom Okafor", "Sam Reid"]
    assert stored.provider_attends is ProviderAttends.SECOND_PART and stored.created_by == "Tom Okafor"
    # Wednesday 2 December: tell the provider 5 working days before (Wed 25 Nov), minutes 5 after (Wed 9 Dec).
    assert [(a.title.split(" before")[0].split(" of")[0], a.owner.name, a.due_on) for a in actions] == [
        ("Tell the provider the concerns", "Tom Okafor", date(2026, 11, 25)),
        ("Record the minutes and decisions", "Priya Shah", date(2026, 12, 9))]
    scheduled_event = next(e for e in events if e.action == "meeting.scheduled")
    assert scheduled_event.details["meeting"] == meeting.id and scheduled_event.details["late_reason"] is None

    async with uow() as tx:
        await tx.meetings.set_card(meeting.id, "19:general;messageid=5", "5")
        await tx.commit()
    async with uow() as tx:
        assert (await tx.meetings.get(TENANT, meeting.id)).card_activity_id == "5"


async def test_a_member_cannot_schedule_and_the_refusal_is_on_the_record(uow: Any, clock: FixedClock) -> None:
    case = await a_case(uow, clock)
    with pytest.raises(NotAllowed, match="Only the chair or the coordinator"):
        await schedule(uow, clock, actor=PRIYA)
    async with uow() as tx:
        assert await tx.meetings.for_case(case.id) == []
        refused = [e for e in await tx.audit.for_subject("case", case.reference) if e.action == "refused"]
    assert refused[-1].details["attempted"] == "meeting.schedule" and refused[-1].actor_name == "Priya Shah"


async def test_a_provider_meeting_after_ten_days_needs_a_recorded_reason(uow: Any, clock: FixedClock) -> None:
    case = await a_case(uow, clock)
    with pytest.raises(FormErrors) as caught:
        await schedule(uow, clock, date="2026-12-04")
    assert "by Thursday 3 December 2026" in caught.value.errors["late_reason"]
    async with uow() as tx:
        assert await tx.meetings.for_case(case.id) == []
    reason = "The provider's registered manager is in court until 4 December."
    scheduled = await schedule(uow, clock, date="2026-12-04", late_reason=reason)
    async with uow() as tx:
        events = [e for e in await tx.audit.for_subject("case", case.reference) if e.action == "meeting.scheduled"]
    assert scheduled.meeting.day == date(2026, 12, 4) and events[-1].details["late_reason"] == reason


async def test_minutes_hold_the_meeting_close_its_minutes_action_and_create_decision_actions(
    uow: Any, clock: FixedClock,
) -> None:
    case = await a_case(uow, clock)
    scheduled = await schedule(uow, clock, kind="findings", date="2026-11-23", starts="14:00", ends="15:00",
                               provider_attends="no")
    link = "https://council.sharepoint.com/sites/safeguarding/Findings%20minutes.docx"
    minutes = parse_minutes_form({"minutes_link": link,
                                  "decisions": "Findings agreed\nService improvement plan updated by Friday",
                                  "act_2": "true", "owner_2": TOM.user_id, "due_2": "2026-11-27"},
                                 ROSTER, date(2026, 11, 23), ENGLAND)
    with pytest.raises(FormErrors, match="record its minutes after it"):
        await record_minutes(uow(), clock, AS_HELEN, scheduled.meeting.id, minutes, conversation_id="c")
    clock.advance(hours=5)
    with pytest.raises(NotAllowed):  # an observer
        await record_minutes(uow(), clock, AS_SAM, scheduled.meeting.id, minutes, conversation_id="c")
    recorded = await record_minutes(uow(), clock, Actor(PRIYA.id, PRIYA.name, TENANT), scheduled.meeting.id, minutes,
                                    conversation_id="c")
    assert recorded.meeting.status is MeetingStatus.HELD and recorded.meeting.minutes_link == link
    assert recorded.meeting.decisions == ("Findings agreed", "Service improvement plan updated by Friday")
    assert recorded.meeting.minutes_by == "Priya Shah"
    async with uow() as tx:
        actions = [a for a in await tx.cases.actions(case.id) if a.source == f"meeting:{scheduled.meeting.id}"]
        events = await tx.audit.for_subject("case", case.reference)
    by_title = {a.title.split(" of the")[0].split(" before")[0]: a for a in actions}
    assert by_title["Record the minutes and decisions"].status == "done"
    assert by_title["Record the minutes and decisions"].note == link
    assert by_title["Share the enquiry and monitoring reports with the provider"].status == "open"
    decision = by_title["Service improvement plan updated by Friday"]
    assert (decision.owner, decision.due_on, decision.status) == (Person(TOM.user_id, TOM.name), date(2026, 11, 27),
                                                                  "open")
    assert [e.details["attempted"] for e in events if e.action == "refused"] == ["meeting.minutes"]
    assert any(e.action == "meeting.minutes_recorded" and e.details["decisions"] == list(recorded.meeting.decisions)
               for e in events)
    with pytest.raises(NotAllowed, match="already recorded by Priya Shah"):
        await record_minutes(uow(), clock, AS_HELEN, scheduled.meeting.id, minutes, conversation_id="c")


async def test_meetings_are_listed_upcoming_first_then_the_latest_past(uow: Any, clock: FixedClock) -> None:
    await a_case(uow, clock)
    await schedule(uow, clock, kind="update", date="2026-12-10", provider_attends="no")
    await schedule(uow, clock, kind="decision", date="2026-11-23", starts="11:00", ends="12:00", provider_attends="no")
    await schedule(uow, clock, kind="initial", date="2026-11-30")
    clock.advance(days=1)
    _, meetings = await case_meetings(uow(), clock, TENANT, "pc-2026-0001")
    assert [m.kind for m in meetings] == [MeetingKind.INITIAL, MeetingKind.UPDATE, MeetingKind.DECISION]


async def test_a_closed_or_unknown_case_has_no_meetings_scheduled(uow: Any, clock: FixedClock) -> None:
    from concerns.errors import NotFound

    await a_case(uow, clock)
    with pytest.raises(NotFound):
        await schedule_meeting(uow(), clock, ENGLAND, CROYDON, AS_TOM, "PC-2026-0099", meeting_form(clock),
                               conversation_id="c")
