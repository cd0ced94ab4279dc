"""The s42 enquiry matrix against real databases: who may see and record it, what the record keeps."""

from __future__ import annotations

from typing import Any

import pytest

from concerns import enquiries, services
from concerns.enquiries import EnquiryStatus, RiskOutcome, parse_enquiry_form
from concerns.errors import NotFound
from concerns.individuals import DETAILS_VIEWED
from concerns.model import Actor
from concerns.votes import NotAllowed
from tests.storage.test_cases import HELEN, TOM, open_one
from tests.storage.test_screening import screen
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

CHAIR = Actor(HELEN.user_id, HELEN.name, TENANT)
COORDINATOR = Actor(TOM.user_id, TOM.name, TENANT)
OPEN = {"categories": "neglect", "caused_by": "provider", "status": "open"}


async def a_case_with_one_s42_enquiry(uow: Any, clock: FixedClock) -> Any:
    """PC with C-2026-0001 (s42 enquiry, individual reference given) and C-2026-0002 (a quality concern)."""
    raised = await raise_one(uow, clock, "k1", individual_reference="LAS-123456")
    await raise_one(uow, clock, "k2")
    await screen(uow, clock, "C-2026-0001", outcome="s42_enquiry", s42_confirmed="true")
    await screen(uow, clock, "C-2026-0002")
    return await open_one(uow, clock, raised.concern.provider.id)


async def test_the_chair_sees_only_the_s42_enquiries_and_each_view_is_in_the_access_log(
        uow: Any, clock: FixedClock) -> None:
    case = await a_case_with_one_s42_enquiry(uow, clock)
    assert set(case.concerns) == {"C-2026-0001", "C-2026-0002"}
    matrix = await enquiries.enquiry_matrix(uow(), clock, CHAIR, case.reference, conversation_id="a:helen")
    assert [r.concern.reference for r in matrix.rows] == ["C-2026-0001"]
    assert matrix.rows[0].concern.individual_reference == "LAS-123456" and matrix.rows[0].outcome is None
    assert matrix.still_open == 1 and matrix.basis == f"chair of {case.reference}"
    async with uow() as tx:
        viewed = await tx.audit.for_subjects([("concern", "C-2026-0001")], only=(DETAILS_VIEWED,))
    assert [(e.actor_name, e.details["via"]) for e in viewed] == [("Helen Ward", "s42 matrix")]


async def test_outcomes_are_recorded_corrected_and_audited_with_what_they_replaced(
        uow: Any, clock: FixedClock) -> None:
    case = await a_case_with_one_s42_enquiry(uow, clock)
    await enquiries.record_enquiry_outcome(uow(), clock, COORDINATOR, case.reference, "C-2026-0001",
                                           parse_enquiry_form(OPEN), conversation_id="a:tom")
    concluded = parse_enquiry_form(OPEN | {"status": "concluded", "substantiated": "yes", "risk": "reduced"})
    matrix = await enquiries.record_enquiry_outcome(uow(), clock, CHAIR, case.reference, "c-2026-0001", concluded,
                                                    conversation_id="a:helen")
    outcome = matrix.rows[0].outcome
    assert outcome is not None and outcome.form == concluded and outcome.recorded_by == "Helen Ward"
    assert outcome.form.status is EnquiryStatus.CONCLUDED and outcome.form.risk is RiskOutcome.REDUCED
    assert matrix.still_open == 0
    async with uow() as tx:
        recorded = await tx.audit.for_subjects([("concern", "C-2026-0001")], only=("enquiry.outcome_recorded",))
    assert [e.details["status"] for e in recorded] == ["open", "concluded"]
    assert recorded[0].details["previous"] is None and recorded[1].details["previous"]["status"] == "open"
    assert recorded[1].details["case"] == case.reference


async def test_members_and_others_are_refused_and_the_refusal_is_recorded(uow: Any, clock: FixedClock) -> None:
    case = await a_case_with_one_s42_enquiry(uow, clock)
    member = PRIYA  # opened the case: a member, not its chair or coordinator
    with pytest.raises(NotAllowed, match="Only the chair or the coordinator"):
        await enquiries.enquiry_matrix(uow(), clock, member, case.reference, conversation_id="a:priya")
    with pytest.raises(NotAllowed):
        await enquiries.record_enquiry_outcome(uow(), clock, member, case.reference, "C-2026-0001",
                                               parse_enquiry_form(OPEN), conversation_id="a:priya")
    async with uow() as tx:
        events = await tx.audit.for_subject("case", case.reference)
        assert await tx.enquiries.outcome(1) is None
    assert [e.details["attempted"] for e in events if e.action == "refused"] == ["enquiry.matrix", "enquiry.record"]
    other_tenant = Actor(HELEN.user_id, HELEN.name, "another-tenant")
    with pytest.raises(NotFound):
        await enquiries.enquiry_matrix(uow(), clock, other_tenant, case.reference, conversation_id="a:helen")


async def test_only_the_cases_s42_enquiries_can_be_recorded(uow: Any, clock: FixedClock) -> None:
    case = await a_case_with_one_s42_enquiry(uow, clock)
    for reference in ("C-2026-0002", "C-2026-0099", "nonsense"):  # a quality concern, unknown, not a reference
        with pytest.raises(NotFound, match="is not an s42 enquiry of"):
            await enquiries.record_enquiry_outcome(uow(), clock, CHAIR, case.reference, reference,
                                                   parse_enquiry_form(OPEN), conversation_id="a:helen")
    assert (await services.get_case(uow(), TENANT, case.reference)).reference == case.reference


async def test_the_board_report_counts_the_enquiries_and_names_no_individual(uow: Any, clock: FixedClock) -> None:
    from bot.reports import board_report
    from concerns.closure import case_file
    from concerns.packs import default_packs_dir, load_packs

    case = await a_case_with_one_s42_enquiry(uow, clock)
    packs = load_packs(default_packs_dir())
    before = board_report(await case_file(uow(), clock, packs, TENANT, case.reference))
    assert "1 Care Act s42 enquiry started from the case's concerns: 0 concluded, 1 still open" in before
    await enquiries.record_enquiry_outcome(
        uow(), clock, CHAIR, case.reference, "C-2026-0001",
        parse_enquiry_form(OPEN | {"categories": "neglect,physical", "status": "concluded", "substantiated": "yes",
                                   "risk": "reduced"}), conversation_id="a:helen")
    report = board_report(await case_file(uow(), clock, packs, TENANT, case.reference))
    assert "1 concluded, 0 still open" in report
    for counted in ("<td>Neglect and acts of omission</td><td>1</td>", "<td>Physical</td><td>1</td>",
                    "<td>Substantiated</td><td>1</td>", "<td>Risk reduced</td><td>1</td>",
                    "<td>The provider (its systems, not one person)</td><td>1</td>"):
        assert counted in report, counted
    assert "LAS-123456" not in report
