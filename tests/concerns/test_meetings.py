"""Meetings in the domain: the schedule form, the pack's dated checks, the within-10-days rule, minutes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member, Person
from concerns.meetings import (
    RECORD_MINUTES,
    SHARE_REPORTS,
    TELL_PROVIDER,
    Meeting,
    MeetingKind,
    MeetingStatus,
    ProviderAttends,
    late_provider_meeting,
    may_record_minutes,
    may_schedule,
    parse_meeting_form,
    parse_minutes_form,
    plan_meeting_checks,
    provider_meeting_deadline,
    short_notice_for_provider,
)
from concerns.model import Actor, Provider
from concerns.packs import default_packs_dir, load_packs
from concerns.validation import FormErrors
from concerns.vocabulary import ServiceType
from concerns.votes import NotAllowed

CROYDON = load_packs(default_packs_dir())["croydon-provider-concerns"]
ENGLAND = WorkingCalendar("england")
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # Monday 23 November 2026, 10:30 in London
HELEN = Person("aad-helen", "Helen Ward")
TOM = Person("aad-tom", "Tom Okafor")
PRIYA = Person("aad-priya", "Priya Shah")
SAM = Person("aad-sam", "Sam Reid")
ROSTER = [HELEN, TOM, PRIYA, SAM]

CASE = Case(
    id=1, tenant_id="t", reference="PC-2026-0001",
    provider=Provider(1, "t", "Oakwood Lodge Nursing Home", ServiceType.NURSING), pack_id=CROYDON.id,
    pack_version=CROYDON.version, status=CaseStatus.OPEN, level=None, step="decision", lead_agency=LeadAgency.COUNCIL,
    opened_by=Actor("aad-priya", "Priya Shah", "t"), opened_at=NOW,
    members=(Member(HELEN.user_id, HELEN.name, CaseRole.CHAIR), Member(TOM.user_id, TOM.name, CaseRole.COORDINATOR),
             Member(PRIYA.user_id, PRIYA.name, CaseRole.MEMBER), Member(SAM.user_id, SAM.name, CaseRole.OBSERVER)),
    concerns=("C-2026-0001",),
)


def values(**overrides: str) -> dict[str, Any]:
    return {"kind": "initial", "date": "2026-12-02", "starts": "10:00", "ends": "12:00",
            "venue": "Bernard Weatherill House, room 6.01", "online_link": "", "chair": HELEN.user_id,
            "minute_taker": PRIYA.user_id, "attendees": f"{TOM.user_id},{PRIYA.user_id}",
            "provider_attends": "second_part"} | overrides


def errors_of(**overrides: str) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        parse_meeting_form(values(**overrides), ROSTER, NOW, ENGLAND)
    return caught.value.errors


def meeting(kind: MeetingKind, day: date, attends: ProviderAttends = ProviderAttends.WHOLE,
            minute_taker: Person | None = PRIYA) -> Meeting:
    return Meeting(
        id=7, case_id=1, case_reference=CASE.reference, kind=kind, status=MeetingStatus.SCHEDULED,
        starts_at=datetime(day.year, day.month, day.day, 10, tzinfo=UTC), ends_at=None, venue="Room 6.01",
        online_link=None, chair=HELEN, minute_taker=minute_taker, attendees=(), provider_attends=attends,
        created_by="Tom Okafor", created_at=NOW,
    )


def test_a_good_form_is_stored_in_utc_with_people_from_the_roster() -> None:
    form = parse_meeting_form(values(), ROSTER, NOW, ENGLAND)
    assert form.kind is MeetingKind.INITIAL and form.provider_attends is ProviderAttends.SECOND_PART
    assert form.starts_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # GMT in December
    assert form.chair == HELEN and form.minute_taker == PRIYA and form.attendees == (TOM, PRIYA)


def test_british_summer_time_is_converted_to_utc() -> None:
    form = parse_meeting_form(values(date="2027-06-09"), ROSTER, NOW, ENGLAND)
    assert form.starts_at == datetime(2027, 6, 9, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"date": "2026-11-20"}, "date", "has passed"),
    ({"date": "2026-12-25"}, "date", "Christmas Day"),
    ({"date": "2026-11-28"}, "date", "not a working day"),
    ({"date": "23/11/2026"}, "date", "YYYY-MM-DD"),
    ({"date": "2026-11-23", "starts": "09:00", "ends": "10:00"}, "starts", "already passed"),
    ({"ends": "09:30"}, "ends", "end after it starts"),
    ({"ends": "10:00"}, "ends", "end after it starts"),
    ({"starts": "ten"}, "starts", "HH:MM"),
    ({"venue": "", "online_link": ""}, "venue", "venue, an online meeting link"),
    ({"online_link": "javascript:alert(1)"}, "online_link", "https://"),
    ({"online_link": "teams.microsoft.com/l/meetup-join/x"}, "online_link", "https://"),
    ({"chair": "aad-someone-outside-the-team"}, "chair", "team's members"),
    ({"minute_taker": "aad-forged"}, "minute_taker", "team's members"),
    ({"attendees": f"{TOM.user_id},aad-forged"}, "attendees", "team's members"),
    ({"provider_attends": "sometimes"}, "provider_attends", "which part"),
    ({"kind": "party"}, "kind", "type of meeting"),
])
def test_bad_input_is_reported_on_its_field(overrides: dict[str, str], field: str, message: str) -> None:
    assert message in errors_of(**overrides)[field]


def test_an_online_only_meeting_needs_no_venue_and_a_created_link_needs_neither() -> None:
    online = parse_meeting_form(values(venue="", online_link="https://teams.microsoft.com/l/meetup-join/19%3a"),
                                ROSTER, NOW, ENGLAND)
    assert online.venue is None and online.online_link
    created = parse_meeting_form(values(venue=""), ROSTER, NOW, ENGLAND, link_will_be_created=True)
    assert created.venue is None and created.online_link is None


def test_the_provider_meeting_must_be_within_ten_days_of_the_decision() -> None:
    assert provider_meeting_deadline(CROYDON, CASE) == date(2026, 12, 3)  # opened Monday 23 November
    on_time = parse_meeting_form(values(date="2026-12-03"), ROSTER, NOW, ENGLAND)
    assert late_provider_meeting(CROYDON, CASE, on_time) is None
    late = parse_meeting_form(values(date="2026-12-04"), ROSTER, NOW, ENGLAND)
    assert "by Thursday 3 December 2026" in (late_provider_meeting(CROYDON, CASE, late) or "")
    # The rule is about the meeting with the provider; a later findings meeting is not late.
    assert late_provider_meeting(CROYDON, CASE, replace(late, kind=MeetingKind.FINDINGS)) is None


def test_a_findings_meeting_after_new_year_counts_working_days_back_over_the_bank_holidays() -> None:
    # Monday 4 January 2027: 5 working days before skips the weekend, New Year's Day (Fri 1 Jan), Boxing Day
    # observed (Mon 28 Dec) and Christmas Day (Fri 25 Dec).
    planned = plan_meeting_checks(CROYDON, ENGLAND, CASE, meeting(MeetingKind.FINDINGS, date(2027, 1, 4)),
                                  date(2026, 11, 23))
    due = {p.action_id: p.due_on for p in planned}
    assert due == {TELL_PROVIDER: date(2026, 12, 23), SHARE_REPORTS: date(2026, 12, 23),
                   RECORD_MINUTES: date(2027, 1, 11)}
    owners = {p.action_id: (p.owner_role, p.owner) for p in planned}
    assert owners[SHARE_REPORTS] == ("coordinator", TOM) and owners[RECORD_MINUTES] == ("minute_taker", PRIYA)
    assert all(p.source == "meeting:7" and p.required for p in planned)


def test_minutes_after_christmas_skip_the_bank_holidays() -> None:
    planned = plan_meeting_checks(CROYDON, ENGLAND, CASE, meeting(MeetingKind.UPDATE, date(2026, 12, 22),
                                                                  ProviderAttends.NO, minute_taker=None),
                                  date(2026, 11, 23))
    assert [(p.action_id, p.due_on, p.owner) for p in planned] == [
        (RECORD_MINUTES, date(2026, 12, 31), HELEN)]  # 23, 24, 29, 30, 31 December: the chair, no minute taker


def test_checks_already_past_at_short_notice_are_due_today() -> None:
    planned = plan_meeting_checks(CROYDON, ENGLAND, CASE, meeting(MeetingKind.FINDINGS, date(2026, 11, 25)),
                                  date(2026, 11, 23))
    due = {p.action_id: p.due_on for p in planned}
    assert due[TELL_PROVIDER] == date(2026, 11, 23) and due[SHARE_REPORTS] == date(2026, 11, 23)


def test_a_check_already_past_falls_on_a_working_day_when_the_meeting_is_set_at_a_weekend() -> None:
    saturday = date(2026, 11, 28)
    planned = plan_meeting_checks(CROYDON, ENGLAND, CASE, meeting(MeetingKind.INITIAL, date(2026, 12, 2)), saturday)
    assert {p.action_id: p.due_on for p in planned}[TELL_PROVIDER] == date(2026, 11, 30)  # Monday, not Saturday


def test_a_provider_given_less_notice_than_the_pack_asks_needs_a_reason() -> None:
    today = date(2026, 11, 23)  # Monday; Croydon tells the provider the concerns 5 working days ahead

    def short(**overrides: str) -> str | None:
        return short_notice_for_provider(CROYDON, ENGLAND, parse_meeting_form(values(**overrides), ROSTER, NOW,
                                                                              ENGLAND), today)

    assert short(date="2026-11-30") is None  # told today, five working days ahead
    message = short(date="2026-11-27")
    assert message == ("The provider should be told the concerns 5 working days before the meeting (by Friday 20 "
                       "November), so they can prepare; this date leaves 4 working days. Choose a later date, or "
                       "record why it cannot wait.")
    assert short(date="2026-11-24", provider_attends="whole") is not None
    assert "leaves 1 working day." in str(short(date="2026-11-24"))
    assert short(date="2026-11-24", provider_attends="no") is None  # professionals only: nobody to prepare


def test_only_the_chair_or_coordinator_schedules() -> None:
    may_schedule(CASE, HELEN.user_id)
    may_schedule(CASE, TOM.user_id)
    for outsider in (PRIYA.user_id, SAM.user_id, "aad-stranger"):
        with pytest.raises(NotAllowed):
            may_schedule(CASE, outsider)


def test_an_observer_cannot_record_minutes_but_the_meetings_minute_taker_can() -> None:
    held = meeting(MeetingKind.INITIAL, date(2026, 11, 23))
    may_record_minutes(CASE, held, PRIYA.user_id)  # a member, but the meeting's minute taker
    may_record_minutes(CASE, held, TOM.user_id)
    with pytest.raises(NotAllowed):
        may_record_minutes(CASE, held, SAM.user_id)


def test_minutes_need_a_web_link_and_a_decision_and_ticked_decisions_become_actions() -> None:
    today = date(2026, 11, 23)
    with pytest.raises(FormErrors) as caught:
        parse_minutes_form({"minutes_link": "file://share/minutes.docx", "decisions": "  \n "}, ROSTER, today,
                           ENGLAND)
    assert set(caught.value.errors) == {"minutes_link", "decisions"}
    minutes = parse_minutes_form({
        "minutes_link": "https://council.sharepoint.com/sites/safeguarding/minutes-2026-11-23.docx",
        "decisions": "Provider to send its business continuity plan\n\nWeekly monitoring visits until January",
        "act_2": "true", "owner_2": TOM.user_id, "due_2": "2026-11-30", "act_1": "false",
    }, ROSTER, today, ENGLAND)
    assert minutes.decisions == ("Provider to send its business continuity plan",
                                 "Weekly monitoring visits until January")
    assert [(a.decision, a.title, a.owner, a.due_on) for a in minutes.actions] == [
        (2, "Weekly monitoring visits until January", TOM, date(2026, 11, 30))]


@pytest.mark.parametrize(("ticked", "field"), [
    ({"act_3": "true", "owner_3": "aad-tom", "due_3": "2026-11-30"}, "act_3"),  # only two decisions
    ({"act_1": "true", "owner_1": "aad-forged", "due_1": "2026-11-30"}, "owner_1"),
    ({"act_1": "true", "owner_1": "aad-tom", "due_1": "2026-12-28"}, "due_1"),  # Boxing Day (observed)
    ({"act_1": "true", "owner_1": "aad-tom", "due_1": "2026-11-20"}, "due_1"),
])
def test_decision_actions_need_an_owner_from_the_team_and_a_future_working_day(ticked: dict[str, str],
                                                                                field: str) -> None:
    with pytest.raises(FormErrors) as caught:
        parse_minutes_form({"minutes_link": "https://example.org/m", "decisions": "One\nTwo"} | ticked, ROSTER,
                           date(2026, 11, 23), ENGLAND)
    assert field in caught.value.errors


def test_a_venue_naming_someone_by_title_is_stopped_unless_they_are_staff() -> None:
    # The venue is on the meeting's card in the channel.
    assert "\u201cMrs Jones\u201d" in errors_of(venue="Mrs Jones's daughter's house")["names_are_staff"]
    vouched = parse_meeting_form(values(venue="Dr Okafor's surgery", names_are_staff="true"), ROSTER, NOW, ENGLAND)
    assert vouched.venue == "Dr Okafor's surgery" and vouched.names_are_staff
    assert parse_meeting_form(values(names_are_staff="true"), ROSTER, NOW, ENGLAND).names_are_staff is False


def test_decisions_naming_someone_by_title_are_stopped_unless_they_are_staff() -> None:
    minutes = {"minutes_link": "https://example.org/m", "decisions": "Suspend placements\nVisit Mrs Jones weekly",
               "act_2": "true", "owner_2": TOM.user_id, "due_2": "2026-11-30"}
    with pytest.raises(FormErrors) as caught:
        parse_minutes_form(minutes, ROSTER, date(2026, 11, 23), ENGLAND)
    assert set(caught.value.errors) == {"names_are_staff"} and "\u201cMrs Jones\u201d" in str(caught.value)
    vouched = parse_minutes_form(minutes | {"decisions": "Suspend placements\nDr Okafor to review the MAR charts",
                                            "names_are_staff": "true"}, ROSTER, date(2026, 11, 23), ENGLAND)
    assert vouched.names_are_staff and vouched.actions[0].title == "Dr Okafor to review the MAR charts"
