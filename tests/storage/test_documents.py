"""The documents register and communication checklist against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from concerns import documents, services, team_admins
from concerns.calendar import WorkingCalendar
from concerns.cases import Person
from concerns.documents import CURRENT, EXPECTED, REQUESTED, CommunicationCheck, DocumentState, PlannedDocument
from concerns.errors import NotFound
from concerns.model import Actor, Conversation, ConversationKind
from concerns.validation import FormErrors
from concerns.votes import NotAllowed
from tests.storage.test_cases import HELEN, TOM, form, open_one
from tests.storage.test_screening import CROYDON, PACKS
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

WEST_MIDLANDS = PACKS["west-midlands-escalating-concerns"]
ENGLAND = WorkingCalendar("england")
CHAIR = Actor(HELEN.user_id, HELEN.name, TENANT)
COORDINATOR = Actor(TOM.user_id, TOM.name, TENANT)
SAM = Actor("aad-sam", "Sam Reid", TENANT)
RMP_LINK = "https://croydon.sharepoint.com/sites/ProviderConcerns/Oakwood/RMP%20v2.docx"


async def open_case(uow: Any, clock: FixedClock, *, observer: bool = False) -> Any:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    if observer:
        case = await services.change_role(uow(), clock, CHAIR, case.reference, Person(SAM.id, SAM.name), "observer",
                                          conversation_id="c")
    return case


async def make_priya_safeguarding_manager(uow: Any, clock: FixedClock) -> None:
    channel = Conversation(id="19:general", tenant_id=TENANT, kind=ConversationKind.CHANNEL, reference={},
                           team_id="19:team")
    await services.note_conversation(uow(), clock, PRIYA, channel, installing=True)
    await team_admins.bootstrap(uow(), clock, PRIYA, "19:team", conversation_id="c")
    await services.set_role_holder(uow(), clock, CROYDON, PRIYA, "19:team", "safeguarding_manager",
                                   Person(PRIYA.id, PRIYA.name), conversation_id="c")


async def entry(uow: Any, case: Any, kind: str) -> Any:
    _, register = await documents.document_register(uow(), TENANT, case.reference)
    return next(d for d in register if d.kind == kind)


async def case_events(uow: Any, case: Any) -> list[Any]:
    async with uow() as tx:
        return await tx.audit.for_subject("case", case.reference)


async def update(uow: Any, clock: FixedClock, actor: Actor, case: Any, document_id: int, **values: str) -> Any:
    return await documents.update_document(uow(), clock, CROYDON, actor, case.reference, document_id, values,
                                           conversation_id="19:general", calendar=ENGLAND)


# -- seeding ---------------------------------------------------------------------------------------


async def test_opening_a_case_seeds_its_register_in_the_same_transaction(uow: Any, clock: FixedClock) -> None:
    await make_priya_safeguarding_manager(uow, clock)
    case = await open_case(uow, clock)
    case_, register = await documents.document_register(uow(), TENANT, case.reference)
    assert case_.id == case.id
    by_kind = {d.kind: d for d in register}
    assert list(by_kind) == [k.id for k in CROYDON.documents]
    assert by_kind["risk_management_plan"].owner == Person(TOM.user_id, TOM.name)
    assert by_kind["enquiry_report"].owner == Person(PRIYA.id, PRIYA.name)
    assert by_kind["monitoring_report"].owner is None
    assert by_kind["business_continuity_plan"].status == REQUESTED
    assert by_kind["service_user_register"].status == REQUESTED
    assert by_kind["service_improvement_plan"].status == EXPECTED and by_kind["service_improvement_plan"].owner is None
    events = await case_events(uow, case)
    assert [e.action for e in events][:2] == ["case.opened", "documents.seeded"]
    assert {d["kind"] for d in events[1].details["documents"]} == {k.id for k in CROYDON.documents}


async def test_a_west_midlands_case_is_seeded_from_its_own_pack(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    case = await services.open_case(uow(), clock, WEST_MIDLANDS, PRIYA, form(raised.concern.provider.id),
                                    channel_id="19:general", conversation_id="19:general")
    _, register = await documents.document_register(uow(), TENANT, case.reference)
    assert [(d.title, d.status) for d in register] == [
        (k.title, REQUESTED if k.request_at_start else EXPECTED) for k in WEST_MIDLANDS.documents]
    assert next(d for d in register if d.kind == "communication_strategy").owner_role == "communications_lead"


async def test_an_unknown_case_has_no_register(uow: Any, clock: FixedClock) -> None:
    with pytest.raises(NotFound):
        await documents.document_register(uow(), TENANT, "PC-2026-0099")
    case = await open_case(uow, clock)
    with pytest.raises(NotFound):  # another tenant's case is as unknown as a made-up one
        await documents.document_register(uow(), "another-tenant", case.reference)


# -- updates ---------------------------------------------------------------------------------------


async def test_the_coordinator_records_a_new_version_and_the_review_is_scheduled(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    rmp = await entry(uow, case, "risk_management_plan")
    _, stored, changed = await update(uow, clock, COORDINATOR, case, rmp.id, version="2", link=RMP_LINK,
                                      reviewed_on="2026-11-23")
    assert (stored.status, stored.version, stored.link) == (CURRENT, "2", RMP_LINK)
    assert stored.last_reviewed_on == date(2026, 11, 23)
    assert stored.next_review_on == date(2026, 12, 21)  # 20 working days, no bank holiday in between
    assert stored.updated_by == "Tom Okafor"
    assert set(changed) == {"status", "version", "link", "last_reviewed_on", "next_review_on"}
    event = (await case_events(uow, case))[-1]
    assert event.action == "document.updated" and event.details["document_id"] == rmp.id
    assert event.details["changes"]["version"] == {"from": None, "to": "2"}

    # The same card sent again changes nothing and records nothing.
    _, _, changed = await update(uow, clock, COORDINATOR, case, rmp.id, version="2", link=RMP_LINK)
    assert changed == {}
    assert (await case_events(uow, case))[-1] == event


async def test_a_review_before_christmas_falls_due_twenty_working_days_later(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    rmp = await entry(uow, case, "risk_management_plan")
    clock.at = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    _, stored, _ = await update(uow, clock, CHAIR, case, rmp.id, reviewed_on="2026-12-23")
    assert stored.next_review_on == date(2027, 1, 25)  # not 20 January: 25 and 28 December and 1 January are off
    summary = await documents.register_summary(uow(), clock, CROYDON, TENANT, case.reference)
    assert summary.overdue_reviews == 0
    clock.at = datetime(2027, 1, 26, 9, 0, tzinfo=UTC)
    summary = await documents.register_summary(uow(), clock, CROYDON, TENANT, case.reference)
    assert summary.overdue_reviews == 1 and summary.awaiting_from_provider == 2 and summary.documents == 7


async def test_observers_and_other_members_are_refused_and_the_refusal_recorded(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock, observer=True)
    rmp = await entry(uow, case, "risk_management_plan")
    with pytest.raises(NotAllowed, match="Observers"):
        await update(uow, clock, SAM, case, rmp.id, version="9")
    with pytest.raises(NotAllowed, match="chair or coordinator"):
        await update(uow, clock, PRIYA, case, rmp.id, version="9")
    assert await entry(uow, case, "risk_management_plan") == rmp
    refusals = [e for e in await case_events(uow, case) if e.action == "refused"]
    assert [(e.actor_name, e.details["attempted"]) for e in refusals] == [
        ("Sam Reid", "document.update"), ("Priya Shah", "document.update")]


async def test_bad_input_changes_nothing(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    rmp = await entry(uow, case, "risk_management_plan")
    before = await case_events(uow, case)
    for values in ({"link": "javascript:alert(document.cookie)"}, {"reviewed_on": "2026-11-24"},
                   {"reviewed_on": "23 November"}, {"version": "x" * 33},
                   {"reviewed_on": "2026-11-20", "next_review_on": "2026-11-19"}):
        with pytest.raises(FormErrors):
            await update(uow, clock, COORDINATOR, case, rmp.id, **values)
    await update(uow, clock, COORDINATOR, case, rmp.id, reviewed_on="2026-11-20")
    with pytest.raises(FormErrors, match="last reviewed"):
        await update(uow, clock, COORDINATOR, case, rmp.id, reviewed_on="2026-11-19")
    after = await case_events(uow, case)
    assert [e.action for e in after[len(before):]] == ["document.updated"]


async def test_an_entry_of_another_case_is_not_found(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    with pytest.raises(NotFound):
        await update(uow, clock, CHAIR, case, 99_999, version="1")


async def test_the_owner_updates_their_own_entry(uow: Any, clock: FixedClock) -> None:
    await make_priya_safeguarding_manager(uow, clock)
    case = await open_case(uow, clock)
    enquiry = await entry(uow, case, "enquiry_report")
    assert enquiry.owner == Person(PRIYA.id, PRIYA.name)  # a member, but the entry is hers
    _, stored, _ = await update(uow, clock, PRIYA, case, enquiry.id, link="https://croydon.sharepoint.com/s42.pdf")
    assert stored.status == CURRENT
    with pytest.raises(NotAllowed):  # and only hers
        await update(uow, clock, PRIYA, case, (await entry(uow, case, "risk_management_plan")).id, version="3")


# -- added reports ---------------------------------------------------------------------------------


async def test_members_add_reports_of_kinds_a_case_holds_several_of(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock, observer=True)
    values = {"kind": "monitoring_report", "title": "Unannounced monitoring visit 20 November 2026",
              "link": "https://croydon.sharepoint.com/visit-2026-11-20.pdf", "reviewed_on": "2026-11-20"}
    _, added = await documents.add_document(uow(), clock, CROYDON, PRIYA, case.reference, values,
                                            conversation_id="c", calendar=ENGLAND)
    assert (added.kind, added.title, added.status, added.last_reviewed_on) == (
        "monitoring_report", values["title"], CURRENT, date(2026, 11, 20))
    _, register = await documents.document_register(uow(), TENANT, case.reference)
    assert len(register) == len(CROYDON.documents) + 1 and register[-1] == added
    event = (await case_events(uow, case))[-1]
    assert event.action == "document.added" and event.details["title"] == values["title"]

    with pytest.raises(NotAllowed):
        await documents.add_document(uow(), clock, CROYDON, SAM, case.reference, values, conversation_id="c")
    assert (await case_events(uow, case))[-1].action == "refused"
    with pytest.raises(FormErrors) as caught:  # one risk management plan per case
        await documents.add_document(uow(), clock, CROYDON, PRIYA, case.reference,
                                     {"kind": "risk_management_plan", "title": " ", "link": "ftp://x.example"},
                                     conversation_id="c")
    assert set(caught.value.errors) == {"kind", "title", "link"}
    with pytest.raises(FormErrors) as caught:  # the register is a card in the channel: a reference, never a name
        await documents.add_document(uow(), clock, CROYDON, PRIYA, case.reference,
                                     values | {"title": "Care plan of Mrs Jones"}, conversation_id="c")
    assert "\u201cMrs Jones\u201d" in caught.value.errors["title"]
    assert len((await documents.document_register(uow(), TENANT, case.reference))[1]) == len(CROYDON.documents) + 1


# -- the communication strategy checklist ---------------------------------------------------------------


def answers(*pairs: tuple[int, str]) -> dict[str, str]:
    items = CROYDON.communication_checklist
    return {f"answer_{items[index].id}": value for index, value in pairs}


async def record(uow: Any, clock: FixedClock, actor: Actor, case: Any, entry_id: int | None, values: dict[str, str]
                 ) -> Any:
    return await documents.record_communication(uow(), clock, CROYDON, actor, case.reference, entry_id, values,
                                                conversation_id="c")


async def move(uow: Any, clock: FixedClock, case: Any, step: str) -> None:
    await services.move_step(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, step,
                             "Agreed at the meeting; actions carried forward.", conversation_id="c")


async def test_answers_belong_to_the_step_entry_they_were_given_at(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    checklist = await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)
    assert checklist.entry.step == "decision" and checklist.considered == 0 and checklist.earlier == []
    decision_entry = checklist.entry.id

    checklist, checks = await record(uow, clock, CHAIR, case, decision_entry, answers((0, "yes"), (3, "no")))
    assert checklist.considered == 2 and len(checks) == 2
    checklist, checks = await record(uow, clock, COORDINATOR, case, decision_entry,
                                     answers((0, "yes"), (3, "yes"), (4, "not_applicable")))
    assert checklist.considered == 3 and [c.answer for c in checks] == ["yes", "not_applicable"]  # item 0 unchanged
    event = (await case_events(uow, case))[-1]
    assert event.action == "communication.checked" and event.details["step"] == "decision"
    assert [a["previous"] for a in event.details["answers"]] == ["no", None]
    item = CROYDON.communication_checklist[5]
    with pytest.raises(FormErrors) as caught:  # the checklist's notes are on its card in the case's thread
        await record(uow, clock, CHAIR, case, decision_entry,
                     answers((5, "yes")) | {f"note_{item.id}": "Told Mrs Jones's son by phone"})
    assert "\u201cMrs Jones\u201d" in caught.value.errors[f"note_{item.id}"]
    assert (await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)).considered == 3

    await move(uow, clock, case, "initial_meeting")
    checklist = await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)
    assert checklist.entry.step == "initial_meeting" and checklist.considered == 0 and checklist.answers == {}
    assert [(s.entry.step, s.considered, s.total) for s in checklist.earlier] == [("decision", 3, 8)]
    with pytest.raises(FormErrors) as caught:  # a card from the decision step saves nothing now
        await record(uow, clock, CHAIR, case, decision_entry, answers((1, "yes")))
    assert "moved to Initial" in caught.value.errors["form"]
    assert (await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)).considered == 0


async def test_a_repeated_update_meeting_considers_the_strategy_afresh(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    for step in ("initial_meeting", "findings_meeting", "update_meeting"):
        await move(uow, clock, case, step)
    first = await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)
    every = answers(*((i, "yes") for i in range(8)))
    done, _ = await record(uow, clock, CHAIR, case, first.entry.id, every)
    assert done.considered == 8
    await move(uow, clock, case, "update_meeting")
    second = await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)
    assert second.entry.step == "update_meeting" and second.entry.id != first.entry.id
    assert second.considered == 0
    assert [(s.entry.step, s.considered) for s in second.earlier] == [
        ("decision", 0), ("initial_meeting", 0), ("findings_meeting", 0), ("update_meeting", 8)]
    summary = await documents.register_summary(uow(), clock, CROYDON, TENANT, case.reference)
    assert (summary.communication_considered, summary.communication_items) == (0, 8)


async def test_only_the_chair_or_coordinator_record_answers(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock, observer=True)
    for actor in (PRIYA, SAM):
        with pytest.raises(NotAllowed):
            await record(uow, clock, actor, case, None, answers((0, "yes")))
    refusals = [e for e in await case_events(uow, case) if e.action == "refused"]
    assert {e.details["attempted"] for e in refusals} == {"communication.check"} and len(refusals) == 2
    assert (await documents.communication_checklist(uow(), CROYDON, TENANT, case.reference)).considered == 0


# -- the repository itself -----------------------------------------------------------------------------


async def test_the_repository_round_trips_entries_and_keeps_every_answer(uow: Any, clock: FixedClock) -> None:
    case = await open_case(uow, clock)
    now = clock.now()
    async with uow() as tx:
        entries = await tx.cases.step_entries(case.id)
        (added,) = await tx.documents.add(case.id, [PlannedDocument(
            "enquiry_report", "Enquiry report LAS-104233 (Ünïcödé ✓)", "safeguarding_manager",
            Person("aad-ade", "Ade Bello"), EXPECTED)], PRIYA, now)
        state = DocumentState(CURRENT, "1.2", "https://croydon.sharepoint.com/e.pdf", date(2026, 11, 20),
                              date(2026, 12, 18))
        await tx.documents.update(added.id, state, COORDINATOR, now)
        checks = [CommunicationCheck("heads_of_service_and_directors", "no", None),
                  CommunicationCheck("press_members_management", "not_applicable", "Low media interest")]
        await tx.documents.record_answers(case.id, entries[-1].id, checks, CHAIR, now)
        await tx.documents.record_answers(case.id, entries[-1].id,
                                          [CommunicationCheck("heads_of_service_and_directors", "yes", "Told")],
                                          COORDINATOR, now)
        await tx.commit()
    async with uow() as tx:
        stored = await tx.documents.get(TENANT, added.id)
        assert await tx.documents.get("another-tenant", added.id) is None
        latest = await tx.documents.answers(case.id)
    assert stored is not None and stored.state == state and stored.owner == Person("aad-ade", "Ade Bello")
    assert stored.title == "Enquiry report LAS-104233 (Ünïcödé ✓)" and stored.updated_by == "Tom Okafor"
    assert stored.updated_at == now
    assert {(a.item_id, a.answer, a.note, a.answered_by) for a in latest} == {
        ("heads_of_service_and_directors", "yes", "Told", "Tom Okafor"),
        ("press_members_management", "not_applicable", "Low media interest", "Helen Ward")}
