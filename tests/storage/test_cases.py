"""Opening provider concerns cases against real databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from concerns import services, team_admins
from concerns.cases import CaseRole, CaseStatus, LeadAgency, OpenCaseForm, Person, parse_open_case_form
from concerns.model import Actor
from concerns.validation import FormErrors
from tests.storage.test_patterns import check
from tests.storage.test_screening import CROYDON
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

HELEN = Person("aad-helen", "Helen Ward")
TOM = Person("aad-tom", "Tom Okafor")
ROSTER = [HELEN, TOM, Person(PRIYA.id, PRIYA.name)]


def form(provider_id: int, chair: Person = HELEN, coordinator: Person = TOM) -> OpenCaseForm:
    return OpenCaseForm(provider_id, chair, coordinator, LeadAgency.COUNCIL)


async def open_one(uow: Any, clock: FixedClock, provider_id: int, **kwargs: Any) -> Any:
    return await services.open_case(uow(), clock, CROYDON, PRIYA, form(provider_id), channel_id="19:general",
                                    conversation_id="19:general", **kwargs)


async def test_opening_a_case_sets_roles_step_and_links_recent_concerns(uow: Any, clock: FixedClock) -> None:
    first = await raise_one(uow, clock, "k1")
    clock.advance(days=400)
    await raise_one(uow, clock, "k2")
    await raise_one(uow, clock, "k3", provider_name="Riverside Domiciliary Care", service_type="domiciliary_care")
    case = await open_one(uow, clock, first.concern.provider.id)
    assert case.reference == "PC-2027-0001" and case.status is CaseStatus.OPEN
    assert case.step == "decision" and case.level is None and case.pack_id == "croydon-provider-concerns"
    assert {(m.name, m.role) for m in case.members} == {
        ("Helen Ward", CaseRole.CHAIR), ("Tom Okafor", CaseRole.COORDINATOR), ("Priya Shah", CaseRole.MEMBER)}
    assert case.concerns == ("C-2027-0001",)  # the 400-day-old concern and the other provider's are not linked
    async with uow() as tx:
        events = await tx.audit.for_subject("case", case.reference)
    assert events[0].action == "case.opened" and events[0].details["members"]["aad-helen"] == "chair"


async def test_a_provider_has_at_most_one_open_case(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    with pytest.raises(FormErrors) as caught:
        await open_one(uow, clock, raised.concern.provider.id)
    assert case.reference in caught.value.errors["provider_id"]


async def test_two_openings_at_once_make_one_case(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    results = await asyncio.gather(*(open_one(uow, clock, raised.concern.provider.id) for _ in range(3)),
                                   return_exceptions=True)
    opened = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, FormErrors)]
    assert len(opened) == 1 and len(refused) == 2
    assert opened[0].reference in refused[0].errors["provider_id"]


async def test_opening_from_a_prompt_closes_the_prompt(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    raised = await raise_one(uow, clock, "k2")
    prompt = (await check(uow, clock, raised.concern.provider.id))[0].prompt
    case = await open_one(uow, clock, raised.concern.provider.id, prompt_id=prompt.id)
    async with uow() as tx:
        stored = await tx.patterns.get(TENANT, prompt.id)
    assert stored.status == "case_opened" and stored.reason == case.reference


async def test_the_chair_and_coordinator_must_be_on_the_roster() -> None:
    with pytest.raises(FormErrors) as caught:
        parse_open_case_form({"provider_id": "1", "chair": "someone-else", "coordinator": "aad-tom",
                              "lead_agency": "council"}, ROSTER)
    assert set(caught.value.errors) == {"chair"}
    parsed = parse_open_case_form({"provider_id": "1", "chair": "aad-helen", "coordinator": "aad-helen",
                                   "lead_agency": "police"}, ROSTER)
    assert parsed.chair == parsed.coordinator == HELEN and parsed.lead_agency is LeadAgency.POLICE


async def test_the_chair_hands_over_roles_and_the_previous_holder_stays_a_member(uow: Any, clock: FixedClock) -> None:
    from concerns.votes import NotAllowed

    chair = Actor(HELEN.user_id, HELEN.name, TENANT)
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    sam = Person("aad-sam", "Sam Reid")
    case = await services.change_role(uow(), clock, chair, case.reference, sam, "observer", conversation_id="c")
    assert case.role_of("aad-sam") is CaseRole.OBSERVER
    case = await services.change_role(uow(), clock, chair, case.reference, Person(PRIYA.id, PRIYA.name), "chair",
                                      conversation_id="c")
    assert case.role_of(PRIYA.id) is CaseRole.CHAIR and case.role_of(HELEN.user_id) is CaseRole.MEMBER
    with pytest.raises(NotAllowed):  # Helen is no longer the chair
        await services.change_role(uow(), clock, chair, case.reference, sam, "member", conversation_id="c")
    new_chair = Actor(PRIYA.id, PRIYA.name, TENANT)
    with pytest.raises(Exception, match="give that role to someone else"):
        await services.change_role(uow(), clock, new_chair, case.reference, TOM, "remove", conversation_id="c")
    case = await services.change_role(uow(), clock, new_chair, case.reference, sam, "remove", conversation_id="c")
    assert case.role_of("aad-sam") is None
    async with uow() as tx:
        changes = [e for e in await tx.audit.for_subject("case", case.reference) if e.action == "case.role_changed"]
    assert [(e.details["name"], e.details["role"]) for e in changes] == [
        ("Sam Reid", "observer"), ("Helen Ward", "member"), ("Priya Shah", "chair"), ("Sam Reid", None)]


async def test_a_new_concern_about_a_provider_with_an_open_case_joins_it(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    await raise_one(uow, clock, "k2")
    context = await services.screening_context(uow(), clock, TENANT, "C-2026-0002")
    assert context.open_case is not None and context.open_case.concerns == ("C-2026-0001", "C-2026-0002")
    async with uow() as tx:
        actions = [e.action for e in await tx.audit.for_subject("case", case.reference)]
    assert "case.concern_linked" in actions



async def test_opening_a_case_creates_the_first_steps_actions_with_working_day_deadlines(
    uow: Any, clock: FixedClock
) -> None:
    from datetime import date

    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)  # Monday 23 November 2026
    async with uow() as tx:
        actions = await tx.cases.actions(case.id)
        next_due = await tx.cases.next_due(case.id)
    decision = CROYDON.step("decision")
    assert [a.title for a in actions] == [a.title for a in decision.actions]
    by_id = {a.title: a for a in actions}
    welfare = by_id[decision.action("welfare_checks").title]
    assert welfare.due_on == date(2026, 11, 24) and welfare.required  # 1 working day
    provider_meeting = by_id[decision.action("set_up_provider_meeting").title]
    assert provider_meeting.due_on == date(2026, 11, 30)  # 5 working days
    # Coordinator's actions go to Tom; roles nobody holds in the team stay unassigned.
    assert provider_meeting.owner == Person(TOM.user_id, TOM.name)
    assert welfare.owner is None
    assert next_due == date(2026, 11, 24)


async def test_my_actions_lists_a_persons_open_actions_soonest_first(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    await open_one(uow, clock, raised.concern.provider.id)
    mine = await services.my_actions(uow(), TENANT, TOM.user_id)
    assert mine and all(a.owner == Person(TOM.user_id, TOM.name) for a in mine)
    assert [a.due_on for a in mine] == sorted(a.due_on for a in mine)
    assert await services.my_actions(uow(), "other-tenant", TOM.user_id) == []


async def test_actions_to_assign_are_the_unowned_ones_where_the_person_chairs_or_coordinates(
        uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    async with uow() as tx:
        actions = await tx.cases.actions(case.id)
    unowned = sorted((a for a in actions if a.owner is None), key=lambda a: (a.due_on, a.id))
    assert unowned
    chair, coordinator = case.holder(CaseRole.CHAIR), case.holder(CaseRole.COORDINATOR)
    for person in (chair, coordinator):
        mine = await services.my_actions_and_to_assign(uow(), TENANT, person.user_id)
        assert [a.id for a in mine.to_assign] == [a.id for a in unowned]
        assert [a.id for a in mine.owned] == [a.id for a in await services.my_actions(uow(), TENANT, person.user_id)]
    # Given an owner, an action leaves the list; nobody else (a plain member, another tenant) has one.
    await services.reassign_action(uow(), clock, Actor(chair.user_id, chair.name, TENANT), unowned[0].id, TOM,
                                   conversation_id="19:general")
    after = await services.my_actions_and_to_assign(uow(), TENANT, chair.user_id)
    assert [a.id for a in after.to_assign] == [a.id for a in unowned[1:]]
    assert (await services.my_actions_and_to_assign(uow(), TENANT, "aad-nobody")).to_assign == []
    assert (await services.my_actions_and_to_assign(uow(), "other-tenant", chair.user_id)).to_assign == []


async def test_team_role_holders_receive_the_actions_for_their_role(uow: Any, clock: FixedClock) -> None:
    from concerns.model import Conversation, ConversationKind

    channel = Conversation(id="19:general", tenant_id=TENANT, kind=ConversationKind.CHANNEL, reference={},
                           team_id="19:team")
    await services.note_conversation(uow(), clock, PRIYA, channel, installing=True)
    priya = Person(PRIYA.id, PRIYA.name)
    await team_admins.bootstrap(uow(), clock, PRIYA, "19:team", conversation_id="c")
    await services.set_role_holder(uow(), clock, CROYDON, PRIYA, "19:team", "safeguarding_manager", priya,
                                   conversation_id="c")
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    async with uow() as tx:
        actions = await tx.cases.actions(case.id)
    welfare = next(a for a in actions if a.title == CROYDON.step("decision").action("welfare_checks").title)
    assert welfare.owner == priya


async def test_owners_complete_their_own_actions_and_others_are_refused(uow: Any, clock: FixedClock) -> None:
    from concerns.actions import DONE, NOT_APPLICABLE
    from concerns.votes import NotAllowed

    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    tom = Actor(TOM.user_id, TOM.name, TENANT)
    helen = Actor(HELEN.user_id, HELEN.name, TENANT)
    async with uow() as tx:
        actions = await tx.cases.actions(case.id)
    toms = next(a for a in actions if a.owner and a.owner.user_id == TOM.user_id)
    unassigned = next(a for a in actions if a.owner is None)

    with pytest.raises(NotAllowed, match="Tom Okafor's to confirm"):
        await services.close_action(uow(), clock, PRIYA, toms.id, DONE, "", conversation_id="c")
    with pytest.raises(FormErrors, match="Mrs Jones"):  # the note is on the checklist card in the channel
        await services.close_action(uow(), clock, tom, toms.id, DONE, "Told Mrs Jones's son", conversation_id="c")
    _, done = await services.close_action(uow(), clock, tom, toms.id, DONE, "Letter sent, see SharePoint link",
                                          conversation_id="c")
    assert done.status == "done" and done.note == "Letter sent, see SharePoint link"
    with pytest.raises(NotAllowed, match="already done"):
        await services.close_action(uow(), clock, tom, toms.id, DONE, "", conversation_id="c")

    with pytest.raises(NotAllowed, match="no owner yet"):
        await services.close_action(uow(), clock, tom, unassigned.id, DONE, "", conversation_id="c")
    with pytest.raises(FormErrors):
        await services.close_action(uow(), clock, helen, unassigned.id, NOT_APPLICABLE, " ", conversation_id="c")
    _, na = await services.close_action(uow(), clock, helen, unassigned.id, NOT_APPLICABLE,
                                        "No criminal matters: police consulted at the strategy meeting.",
                                        conversation_id="c")
    assert na.status == "not_applicable"

    other = next(a for a in actions if a.owner is None and a.id != unassigned.id)
    with pytest.raises(NotAllowed, match="Only the chair or the coordinator"):
        await services.reassign_action(uow(), clock, PRIYA, other.id, Person(PRIYA.id, PRIYA.name),
                                       conversation_id="c")
    _, reassigned = await services.reassign_action(uow(), clock, tom, other.id, Person(PRIYA.id, PRIYA.name),
                                                   conversation_id="c")
    assert reassigned.owner == Person(PRIYA.id, PRIYA.name)
    async with uow() as tx:
        log = [e.action for e in await tx.audit.for_subject("case", case.reference)]
    assert {"action.done", "action.not_applicable", "action.reassigned"} <= set(log)
    assert log.count("refused") == 4  # every refusal above is recorded


async def test_the_chair_moves_the_case_on_when_required_actions_are_resolved_or_says_why(
    uow: Any, clock: FixedClock
) -> None:
    from concerns.actions import step_targets
    from concerns.calendar import WorkingCalendar
    from concerns.votes import NotAllowed

    england = WorkingCalendar("england")
    chair = Actor(HELEN.user_id, HELEN.name, TENANT)
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    assert step_targets(CROYDON, "decision") == ["initial_meeting"]
    assert step_targets(CROYDON, "findings_meeting") == ["update_meeting", "quality_assurance"]  # optional step
    assert step_targets(CROYDON, "update_meeting") == ["update_meeting", "quality_assurance"]  # repeatable

    with pytest.raises(NotAllowed):
        await services.move_step(uow(), clock, england, CROYDON, PRIYA, case.reference, "initial_meeting", "",
                                 conversation_id="c")
    with pytest.raises(FormErrors) as caught:
        await services.move_step(uow(), clock, england, CROYDON, chair, case.reference, "initial_meeting", "",
                                 conversation_id="c")
    assert "still open" in caught.value.errors["override_reason"]
    with pytest.raises(FormErrors):
        await services.move_step(uow(), clock, england, CROYDON, chair, case.reference, "closure", "because",
                                 conversation_id="c")

    clock.advance(days=2)  # Wednesday 25 November
    moved = await services.move_step(uow(), clock, england, CROYDON, chair, case.reference, "initial_meeting",
                                     "Welfare checks done on the visit; recording follows.", conversation_id="c")
    assert moved.step == "initial_meeting"
    async with uow() as tx:
        actions = await tx.cases.actions(case.id)
        events = [e for e in await tx.audit.for_subject("case", case.reference) if e.action == "step.changed"]
    initial = [a for a in actions if a.source == "step:initial_meeting"]
    assert len(initial) == len(CROYDON.step("initial_meeting").actions)
    first = CROYDON.step("initial_meeting").actions[0]
    assert initial[0].due_on == england.add_working_days(clock.now().date(), first.due_working_days)
    assert events[0].details["override_reason"].startswith("Welfare checks done")
    assert events[0].details["open_required"]


def test_red_amber_green() -> None:
    from datetime import date

    from concerns.actions import CaseAction, rag_status
    from concerns.calendar import WorkingCalendar

    def action(due: date, status: str = "open") -> CaseAction:
        return CaseAction(1, "PC-2026-0001", "Oakwood", "step:decision", "t", "coordinator", None, due, True, status)

    england = WorkingCalendar("england")
    today = date(2026, 12, 23)  # Wednesday; the next two working days are 24 and 29 December
    assert rag_status([action(date(2026, 12, 22))], today, england) == "Red"
    assert rag_status([action(date(2026, 12, 22), "done")], today, england) == "Green"
    assert rag_status([action(date(2026, 12, 29))], today, england) == "Amber"  # two working days over Christmas
    assert rag_status([action(date(2026, 12, 30))], today, england) == "Green"
    # The step's target is a deadline too: the earlier of it and the actions decides.
    assert rag_status([action(date(2026, 12, 30))], today, england, step_due=date(2026, 12, 22)) == "Red"
    assert rag_status([], today, england, step_due=date(2026, 12, 24)) == "Amber"
    assert rag_status([action(date(2026, 12, 22))], today, england, step_due=date(2027, 1, 8)) == "Red"


async def test_re_dating_an_action_keeps_the_original_date_and_needs_a_reason(uow: Any, clock: FixedClock) -> None:
    from datetime import date

    from concerns.calendar import WorkingCalendar
    from concerns.votes import NotAllowed

    england = WorkingCalendar("england")
    coordinator = Actor(TOM.user_id, TOM.name, TENANT)
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    async with uow() as tx:
        action = (await tx.cases.actions(case.id))[0]
    with pytest.raises(FormErrors) as caught:
        await services.redate_action(uow(), clock, england, coordinator, action.id, "2026-12-25", "",
                                     conversation_id="c")
    assert set(caught.value.errors) == {"due_on", "reason"}  # Christmas Day, and no reason
    with pytest.raises(FormErrors) as caught:  # the reason is on the case's timeline in the channel
        await services.redate_action(uow(), clock, england, coordinator, action.id, "2026-12-01",
                                     "Mr Shah is in hospital", conversation_id="c")
    assert "\u201cMr Shah\u201d" in caught.value.errors["reason"]
    with pytest.raises(NotAllowed):
        await services.redate_action(uow(), clock, england, PRIYA, action.id, "2026-12-01", "Visit moved",
                                     conversation_id="c")
    _, moved = await services.redate_action(uow(), clock, england, coordinator, action.id, "2026-12-01",
                                            "Provider asked for the visit after the manager returns",
                                            conversation_id="c")
    assert moved.due_on == date(2026, 12, 1) and moved.original_due_on == action.due_on


async def test_ad_hoc_actions_from_the_chair_coordinator_or_minute_taker(uow: Any, clock: FixedClock) -> None:
    from datetime import date

    from concerns.calendar import WorkingCalendar
    from concerns.votes import NotAllowed

    england = WorkingCalendar("england")
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    chair = Actor(HELEN.user_id, HELEN.name, TENANT)
    with pytest.raises(NotAllowed):
        await services.add_action(uow(), clock, england, PRIYA, case.reference, "Ask for rota", None, "2026-11-27",
                                  conversation_id="c")
    with pytest.raises(FormErrors) as caught:
        await services.add_action(uow(), clock, england, chair, case.reference, " ", None, "2026-11-28",
                                  conversation_id="c")
    assert set(caught.value.errors) == {"title", "due_on"}  # and 28 November 2026 is a Saturday
    _, added = await services.add_action(uow(), clock, england, chair, case.reference,
                                         "Ask the provider for four weeks of staffing rotas", TOM, "2026-11-27",
                                         conversation_id="c")
    assert added.owner == TOM and added.due_on == date(2026, 11, 27) and added.source == "adhoc:decision"
    assert added in await services.my_actions(uow(), TENANT, TOM.user_id)


async def test_a_case_read_in_a_unit_of_work_sees_what_it_has_not_yet_flushed(uow: Any, clock: FixedClock) -> None:
    # Cases are read as plain rows, past the ORM's session: its pending changes must be flushed first.
    from storage.models import CaseMemberRow

    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    async with uow() as tx:
        tx._session.add(CaseMemberRow(case_id=case.id, user_id="aad-sam", name="Sam Reid", role="observer",
                                      added_at=clock.now()))
        seen = await tx.cases.get(TENANT, case.id)
        by_reference = await tx.cases.get_by_reference(TENANT, case.reference)
    assert seen is not None and seen.role_of("aad-sam") is CaseRole.OBSERVER
    assert by_reference == seen
    async with uow() as tx:  # rolled back: never committed
        again = await tx.cases.get(TENANT, case.id)
    assert again is not None and again.role_of("aad-sam") is None


async def test_actions_read_as_rows_carry_every_field_of_their_row(uow: Any, clock: FixedClock) -> None:
    # Actions are built from plain rows by column position; each field must be its own column's value.
    from datetime import date

    from sqlalchemy import select

    from concerns.actions import DONE
    from storage.models import CaseActionRow

    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    async with uow() as tx:
        first, second, *_ = [a for a in await tx.cases.actions(case.id) if a.owner]
    await services.close_action(uow(), clock, Actor(first.owner.user_id, first.owner.name, TENANT), first.id, DONE,
                                "Letter sent", conversation_id="c")
    async with uow() as tx:
        await tx.cases.redate_action(second.id, date(2027, 3, 1))
        await tx.cases.snooze_action(second.id, date(2027, 2, 1))
        await tx.commit()
    async with uow() as tx:
        listed = await tx.cases.actions(case.id)
        mine = await tx.cases.open_actions_of(TENANT, second.owner.user_id)
        one = await tx.cases.action(TENANT, second.id)
        rows = {r.id: r for r in (await tx._session.scalars(select(CaseActionRow))).all()}
        for row in rows.values():
            tx._session.expunge(row)  # read now, kept as read
    for action in listed:
        row = rows[action.id]
        assert (action.source, action.title, action.owner_role, action.due_on, action.required, action.status,
                action.case_id, action.note, action.original_due_on, action.closed_at, action.closed_by,
                action.snoozed_until) == (row.source, row.title, row.owner_role, row.due_on, row.required, row.status,
                                          row.case_id, row.note, row.original_due_on, row.closed_at,
                                          row.closed_by_name, row.snoozed_until)
        assert action.owner == (Person(row.owner_user_id, row.owner_name or "") if row.owner_user_id else None)
        assert (action.case_reference, action.provider) == (case.reference, case.provider.name)
    done = next(a for a in listed if a.id == first.id)
    assert done.status == DONE and done.note == "Letter sent" and done.closed_by == first.owner.name
    assert one is not None and one.due_on == date(2027, 3, 1) and one.snoozed_until == date(2027, 2, 1)
    assert one.original_due_on == second.due_on != one.due_on and one in mine
