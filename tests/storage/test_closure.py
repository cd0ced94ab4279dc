"""Closing a case against real databases: the quality assurance rule, the closure step, lessons learned,
and the case file the notices and the board report are written from."""

from __future__ import annotations

from typing import Any

import pytest

from bot import reports
from concerns import closure, services
from concerns.calendar import WorkingCalendar
from concerns.model import Actor
from concerns.validation import FormErrors
from concerns.votes import BallotForm, Confirmation, NotAllowed
from tests.storage.test_cases import HELEN, TOM, open_one
from tests.storage.test_screening import CROYDON
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

ENGLAND = WorkingCalendar("england")
CHAIR = Actor(HELEN.user_id, HELEN.name, TENANT)
COORDINATOR = Actor(TOM.user_id, TOM.name, TENANT)


async def resolve_step(uow: Any, clock: FixedClock, reference: str, step: str) -> None:
    """The chair marks the step's open required actions not applicable (recorded with a reason)."""
    _, actions = await services.case_actions(uow(), TENANT, reference)
    for action in actions:
        if action.source == f"step:{step}" and action.status == "open":
            await services.close_action(uow(), clock, CHAIR, action.id, "not_applicable",
                                        "Covered by the joint visit.", conversation_id="c")


async def walk_to_quality_assurance(uow: Any, clock: FixedClock, reference: str) -> None:
    for step in ("initial_meeting", "findings_meeting", "quality_assurance"):
        clock.advance(days=7)
        await services.move_step(uow(), clock, ENGLAND, CROYDON, CHAIR, reference, step, "Moving on as agreed.",
                                 conversation_id="c")


async def test_a_case_closes_without_override_once_quality_assurance_is_done(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    case, readiness = await closure.closure_check(uow(), CROYDON, TENANT, case.reference)
    assert not readiness.reached_required_step and not readiness.ready

    await walk_to_quality_assurance(uow, clock, case.reference)
    _, readiness = await closure.closure_check(uow(), CROYDON, TENANT, case.reference)
    assert readiness.reached_required_step and len(readiness.open_required) == 3  # QA's required actions
    with pytest.raises(FormErrors) as caught:
        await closure.close_case(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, "Improved.", "",
                                 conversation_id="c")
    assert "3 required actions of the Quality assurance step are still open" in caught.value.errors[
        "override_reason"]

    await resolve_step(uow, clock, case.reference, "quality_assurance")
    with pytest.raises(NotAllowed):
        await closure.close_case(uow(), clock, ENGLAND, CROYDON, COORDINATOR, case.reference, "Improved.", "",
                                 conversation_id="c")
    closed = await closure.close_case(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference,
                                      "Visits found improvements sustained.", "", conversation_id="c")
    assert closed.status.value == "closed" and closed.step == "closure" and closed.closed_by == "Helen Ward"
    assert closed.closure_override_reason is None
    async with uow() as tx:
        entries = await tx.cases.step_entries(case.id)
        actions = await tx.cases.actions(case.id)
        events = [e.action for e in await tx.audit.for_subject("case", case.reference)]
    assert [e.step for e in entries] == ["decision", "initial_meeting", "findings_meeting", "quality_assurance",
                                         "closure"]
    closure_actions = [a for a in actions if a.source == "step:closure"]
    assert len(closure_actions) == len(CROYDON.step("closure").actions)
    assert closure_actions[0].due_on == ENGLAND.add_working_days(clock.now().date(), 5)
    assert events.count("case.closed") == 1 and events.count("refused") == 1

    # A closed case changes no more: no second closing, no step moves; a new case can open for the provider.
    with pytest.raises(NotAllowed):
        await closure.close_case(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, "Again.", "",
                                 conversation_id="c")
    with pytest.raises(NotAllowed):
        await services.move_step(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, "closure", "x",
                                 conversation_id="c")
    second = await open_one(uow, clock, raised.concern.provider.id)
    assert second.reference != case.reference
    # The closure step's follow-ups stay on their owners' lists after the case has closed.
    mine = await services.my_actions(uow(), TENANT, TOM.user_id)
    assert any(a.case_reference == case.reference and a.source == "step:closure" for a in mine)


async def test_lessons_learned_from_members_once_the_case_is_closed(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    with pytest.raises(NotAllowed):
        await closure.give_lessons(uow(), clock, PRIYA, case.reference, "Good", "", conversation_id="c")
    await closure.close_case(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, "Improved.",
                             "Concerns not substantiated.", conversation_id="c")
    with pytest.raises(FormErrors):
        await closure.give_lessons(uow(), clock, PRIYA, case.reference, " ", "", conversation_id="c")
    _, count = await closure.give_lessons(uow(), clock, PRIYA, case.reference, "Quick visits", "", conversation_id="c")
    assert count == 1
    _, count = await closure.give_lessons(uow(), clock, PRIYA, case.reference, "Quick joint visits",
                                          "Earlier reports", conversation_id="c")
    assert count == 1  # revised, not doubled
    with pytest.raises(NotAllowed):
        await closure.give_lessons(uow(), clock, Actor("aad-x", "Outsider", TENANT), case.reference, "x", "",
                                   conversation_id="c")
    async with uow() as tx:
        lessons = await tx.cases.lessons(case.id)
        events = [e.action for e in await tx.audit.for_subject("case", case.reference)]
    assert [(f.name, f.went_well, f.do_differently) for f in lessons] == [
        ("Priya Shah", "Quick joint visits", "Earlier reports")]
    assert events.count("lessons.given") == 1 and events.count("lessons.revised") == 1
    assert events.count("refused") == 2


async def test_the_board_report_has_the_levels_over_time_and_how_timely_the_actions_were(
    uow: Any, clock: FixedClock
) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    _, vote = await services.start_vote(uow(), clock, CHAIR, case.reference, conversation_id="c")
    await services.cast_ballot(uow(), clock, CHAIR, vote.id, BallotForm("moderate", "Agency use high", None),
                               conversation_id="c")
    await services.confirm_level(uow(), clock, CROYDON, CHAIR, vote.id, Confirmation("moderate", None, None),
                                 conversation_id="c")
    from datetime import UTC, datetime

    from concerns.cases import Person
    from concerns.meetings import MeetingForm, MeetingKind, ProviderAttends, schedule_meeting

    await schedule_meeting(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, MeetingForm(
        MeetingKind.INITIAL, datetime(2026, 11, 30, 10, tzinfo=UTC), datetime(2026, 11, 30, 12, tzinfo=UTC),
        "Town Hall, room 4", None, Person(HELEN.user_id, HELEN.name), None, (), ProviderAttends.SECOND_PART),
        conversation_id="c")
    _, actions = await services.case_actions(uow(), TENANT, case.reference)
    toms = [a for a in actions if a.owner and a.owner.user_id == TOM.user_id and a.due_on is not None]
    await services.close_action(uow(), clock, COORDINATOR, toms[0].id, "done", "", conversation_id="c")  # on time
    clock.advance(days=10)  # Thursday 3 December: past every decision-step deadline
    await services.close_action(uow(), clock, COORDINATOR, toms[1].id, "done", "", conversation_id="c")  # late
    await closure.close_case(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, "Improved.",
                             "Provider deregistered; no residents remain.", conversation_id="c")

    file = await closure.case_file(uow(), clock, {CROYDON.id: CROYDON}, TENANT, case.reference)
    assert [level for _, level in file.levels_over_time] == ["moderate"]
    t = file.timeliness
    assert (t.on_time, t.late) == (1, 1)
    # What was still open of the decision step closed with the case, counted apart and saying so; the closing
    # step's follow-ups are open (and in time).
    left = [a for a in actions if a.status == "open" and a.id not in (toms[0].id, toms[1].id)]
    assert (t.closed_with_case, t.not_applicable, t.open_overdue) == (len(left), 0, 0)
    assert t.open_in_time == len(CROYDON.step("closure").actions)
    async with uow() as tx:
        after = {a.id: a for a in await tx.cases.actions(file.case.id)}
        [closed] = [e for e in await tx.audit.for_subject("case", case.reference) if e.action == "case.closed"]
    assert {(after[a.id].status, after[a.id].note) for a in left} == {("not_applicable", closure.CLOSED_WITH_CASE)}
    assert [c["id"] for c in closed.details["closed_with_case"]] == [a.id for a in left]
    # Off their owners' lists, but for the closing step's follow-ups; and said on the timeline.
    mine = await services.my_actions(uow(), TENANT, TOM.user_id)
    assert {a.source for a in mine if a.case_reference == case.reference} <= {"step:closure"}
    from bot.timeline import describe

    assert describe(closed, CROYDON).endswith(f" {len(left)} actions still open closed with it.")
    report = reports.board_report(file)
    assert "1 done on time, 1 done late" in report and "Done on time: 50%" in report
    assert f"{len(left)} still open when the case closed" in report
    assert "Moderate" in report and "Provider deregistered; no residents remain." in report
    # The meeting, the documents register and the communication strategy are in the report and the export.
    assert "Initial meeting with the provider" in report and "Second part only" in report
    assert "Risk management plan" in report and "Business continuity plan" in report
    exported = reports.case_file_data(file)
    assert [m["kind"] for m in exported["meetings"]] == ["initial"]
    assert len(exported["documents"]) == len(CROYDON.documents)
    assert "Town Hall, room 4" in reports.case_file_html(file)
    notice = reports.closure_notice(file, 0, "txt")
    assert "Highest level of concern during the process: Moderate" in notice
    assert "Concerns considered: 1" in notice
    with pytest.raises(KeyError):
        reports.closure_notice(file, 5, "txt")
