"""The documents register and communication checklist rules, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member, Person
from concerns.documents import (
    CURRENT,
    EXPECTED,
    REQUESTED,
    CaseDocument,
    CommunicationAnswer,
    CommunicationCheck,
    DocumentState,
    changes,
    check_link,
    may_add,
    may_record_communication,
    may_update,
    next_state,
    owner_label,
    parse_communication_form,
    parse_document_form,
    plan_register,
)
from concerns.model import Actor, Provider
from concerns.packs import default_packs_dir, load_packs
from concerns.validation import FormErrors
from concerns.vocabulary import ServiceType
from concerns.votes import NotAllowed

PACKS = load_packs(default_packs_dir())
CROYDON = PACKS["croydon-provider-concerns"]
WEST_MIDLANDS = PACKS["west-midlands-escalating-concerns"]
ENGLAND = WorkingCalendar("england")
AT = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
TODAY = date(2026, 11, 23)
HELEN, TOM, PRIYA, SAM = (Person("helen", "Helen Ward"), Person("tom", "Tom Okafor"), Person("priya", "Priya Shah"),
                          Person("sam", "Sam Reid"))

CASE = Case(
    id=1, tenant_id="t", reference="PC-2026-0001",
    provider=Provider(1, "t", "Oakwood Lodge Nursing Home", ServiceType.NURSING), pack_id=CROYDON.id,
    pack_version=2, status=CaseStatus.OPEN, level=None, step="decision", lead_agency=LeadAgency.COUNCIL,
    opened_by=Actor("priya", "Priya Shah", "t"), opened_at=AT,
    members=(Member("helen", "Helen Ward", CaseRole.CHAIR), Member("tom", "Tom Okafor", CaseRole.COORDINATOR),
             Member("priya", "Priya Shah", CaseRole.MEMBER), Member("sam", "Sam Reid", CaseRole.OBSERVER)),
    concerns=(),
)


def document(**overrides: Any) -> CaseDocument:
    values: dict[str, Any] = {
        "id": 3, "case_id": 1, "kind": "risk_management_plan", "title": "Risk management plan",
        "owner_role": "coordinator", "owner": TOM, "status": EXPECTED, "version": None, "link": None,
        "last_reviewed_on": None, "next_review_on": None, "updated_by": "Priya Shah", "updated_at": AT,
    }
    return CaseDocument(**(values | overrides))


def form(today: date = TODAY, **values: str) -> Any:
    return parse_document_form(values, today)


# -- seeding ---------------------------------------------------------------------------------------


def test_the_croydon_register_starts_with_owners_resolved_and_the_providers_plans_requested() -> None:
    planned = {p.kind: p for p in plan_register(CROYDON, CASE, {"safeguarding_manager": PRIYA})}
    assert list(planned) == [k.id for k in CROYDON.documents]
    assert planned["risk_management_plan"].owner == TOM  # the case's coordinator
    assert planned["risk_management_plan"].status == EXPECTED
    assert planned["enquiry_report"].owner == PRIYA  # the team's safeguarding manager
    assert planned["monitoring_report"].owner is None  # nobody holds that role in the team
    for kind in ("business_continuity_plan", "service_user_register"):
        assert planned[kind].status == REQUESTED and planned[kind].owner is None
    assert planned["service_improvement_plan"].status == EXPECTED
    assert owner_label(CROYDON, "provider", None) == "The provider"
    assert owner_label(CROYDON, "contracts_review_officer", None).startswith("Unassigned (")
    assert owner_label(CROYDON, "coordinator", TOM) == "Tom Okafor"


def test_the_west_midlands_register_goes_to_its_own_roles() -> None:
    planned = {p.kind: p for p in plan_register(WEST_MIDLANDS, CASE, {"communications_lead": HELEN})}
    assert planned["communication_strategy"].owner == HELEN and planned["communication_strategy"].owner_role == \
        "communications_lead"
    assert planned["service_improvement_plan"].title == "Provider action plan"
    assert {k for k, p in planned.items() if p.status == REQUESTED} == {"business_continuity_plan",
                                                                          "service_user_register"}


# -- the entry form --------------------------------------------------------------------------------


@pytest.mark.parametrize("link", [
    "ftp://council.example.gov.uk/plan.docx", "javascript:alert(1)", "file:///C:/plans/rmp.docx",
    "council.sharepoint.com/plan", "https://", "https://localhost/plan", "https://intranet/plan",
    "https://council.sharepoint.com/a plan.docx", "https://user:pw@council.sharepoint.com/plan",
    "https://council.sharepoint.com/" + "x" * 1000,
])
def test_only_full_web_links_are_accepted(link: str) -> None:
    with pytest.raises(ValueError):
        check_link(link)
    with pytest.raises(FormErrors) as caught:
        form(link=link)
    assert set(caught.value.errors) == {"link"}


def test_a_sharepoint_link_is_accepted_as_it_is() -> None:
    link = "https://croydon.sharepoint.com/sites/PC/Shared%20Documents/RMP%20v2.docx?web=1"
    assert check_link(link) == link and form(link=link).link == link
    assert check_link("http://intranet.croydon.gov.uk/plan") == "http://intranet.croydon.gov.uk/plan"


def test_bad_dates_and_a_long_version_are_all_reported_at_once() -> None:
    with pytest.raises(FormErrors) as caught:
        form(version="v" * 33, reviewed_on="23/11/2026", next_review_on="2026-02-30")
    assert set(caught.value.errors) == {"version", "reviewed_on", "next_review_on"}
    with pytest.raises(FormErrors) as caught:
        form(reviewed_on="2026-11-24")  # tomorrow
    assert "future" in caught.value.errors["reviewed_on"]
    with pytest.raises(FormErrors) as caught:
        form(next_review_on="2026-11-20")
    assert "past" in caught.value.errors["next_review_on"]
    with pytest.raises(FormErrors) as caught:
        form(today=date(2026, 12, 1), reviewed_on="2026-11-30", next_review_on="2026-11-27")
    assert set(caught.value.errors) == {"next_review_on"}


def test_fields_the_card_did_not_send_keep_their_values() -> None:
    stored = document(version="2", link="https://croydon.sharepoint.com/rmp.docx", status=CURRENT)
    after = next_state(stored.state, form(version="3"), CROYDON.document_kind(stored.kind), ENGLAND)
    assert (after.version, after.link) == ("3", stored.link)
    cleared = next_state(stored.state, form(version="3", link=""), CROYDON.document_kind(stored.kind), ENGLAND)
    assert cleared.link is None and cleared.status == CURRENT


def test_a_document_becomes_current_once_a_version_or_link_is_recorded() -> None:
    requested = document(kind="business_continuity_plan", owner_role="provider", owner=None, status=REQUESTED)
    kind = CROYDON.document_kind("business_continuity_plan")
    assert next_state(requested.state, form(reviewed_on="2026-11-20"), kind, ENGLAND).status == REQUESTED
    after = next_state(requested.state, form(link="https://provider.example.co.uk/bcp.pdf"), kind, ENGLAND)
    assert after.status == CURRENT
    assert changes(requested.state, after) == {
        "status": {"from": REQUESTED, "to": CURRENT},
        "link": {"from": None, "to": "https://provider.example.co.uk/bcp.pdf"}}


def test_the_next_review_is_twenty_working_days_after_a_review_across_christmas() -> None:
    kind = CROYDON.document_kind("risk_management_plan")
    assert kind.review_every_working_days == 20
    # Wednesday 23 December 2026: Christmas Day, Boxing Day (observed Monday 28th) and New Year's Day are not
    # working days, so twenty working days end on Monday 25 January 2027, not Wednesday 20 January.
    after = next_state(document().state, form(today=date(2027, 1, 4), reviewed_on="2026-12-23"), kind, ENGLAND)
    assert after.last_reviewed_on == date(2026, 12, 23)
    assert after.next_review_on == date(2027, 1, 25)


def test_a_given_next_review_wins_and_must_not_precede_the_last_review() -> None:
    kind = CROYDON.document_kind("risk_management_plan")
    reviewed = DocumentState(CURRENT, "2", None, date(2026, 11, 20), date(2026, 12, 18))
    after = next_state(reviewed, form(next_review_on="2026-12-01"), kind, ENGLAND)
    assert after.next_review_on == date(2026, 12, 1) and after.last_reviewed_on == date(2026, 11, 20)
    later = replace(reviewed, last_reviewed_on=date(2026, 11, 30))
    with pytest.raises(FormErrors) as caught:
        next_state(later, form(next_review_on="2026-11-27"), kind, ENGLAND)
    assert "before the last review" in caught.value.errors["next_review_on"]
    with pytest.raises(FormErrors) as caught:
        next_state(later, form(today=date(2026, 12, 1), reviewed_on="2026-11-25"), kind, ENGLAND)
    assert "last reviewed on 30 November 2026" in caught.value.errors["reviewed_on"]


def test_a_kind_without_a_review_cycle_gets_no_next_review_unless_given() -> None:
    kind = CROYDON.document_kind("service_user_register")
    after = next_state(document(kind=kind.id).state, form(reviewed_on="2026-11-20"), kind, ENGLAND)
    assert after.last_reviewed_on == date(2026, 11, 20) and after.next_review_on is None


def test_overdue_means_the_next_review_date_has_passed() -> None:
    assert document(next_review_on=date(2026, 11, 20)).overdue(TODAY)
    assert not document(next_review_on=TODAY).overdue(TODAY)
    assert not document().overdue(TODAY)


# -- who may do what -------------------------------------------------------------------------------


def test_the_chair_coordinator_or_owner_update_an_entry_and_observers_never() -> None:
    enquiry = document(kind="enquiry_report", owner_role="safeguarding_manager", owner=PRIYA)
    for user in ("helen", "tom", "priya"):
        may_update(CASE, enquiry, user)
    with pytest.raises(NotAllowed, match="Observers"):
        may_update(CASE, document(owner=SAM), "sam")  # even an observer named as owner
    with pytest.raises(NotAllowed, match="chair or coordinator"):
        may_update(CASE, document(), "priya")  # a member, but not this entry's owner
    with pytest.raises(NotAllowed):
        may_update(CASE, document(), "someone-else")


def test_members_but_not_observers_or_outsiders_add_reports() -> None:
    for user in ("helen", "tom", "priya"):
        may_add(CASE, user)
    for user in ("sam", "someone-else"):
        with pytest.raises(NotAllowed):
            may_add(CASE, user)


def test_only_the_chair_or_coordinator_record_the_communication_strategy() -> None:
    may_record_communication(CASE, "helen")
    may_record_communication(CASE, "tom")
    for user in ("priya", "sam", "someone-else"):
        with pytest.raises(NotAllowed):
            may_record_communication(CASE, user)


# -- the communication strategy checklist ---------------------------------------------------------------


def answer(item_id: str, value: str, note: str | None = None) -> CommunicationAnswer:
    return CommunicationAnswer(7, item_id, value, note, "Helen Ward", AT)


def test_only_changed_items_are_recorded() -> None:
    items = CROYDON.communication_checklist
    first, second, third = (item.id for item in items[:3])
    previous = {first: answer(first, "yes"), second: answer(second, "no", "Not yet: after the meeting")}
    values = {f"answer_{first}": "yes", f"note_{first}": "",  # unchanged
              f"answer_{second}": "yes", f"note_{second}": "Done at the strategy meeting",  # changed
              f"answer_{third}": "not_applicable"}  # new
    assert parse_communication_form(values, items, previous) == [
        CommunicationCheck(second, "yes", "Done at the strategy meeting"),
        CommunicationCheck(third, "not_applicable", None)]
    assert parse_communication_form({}, items, previous) == []  # nothing sent: nothing changes


def test_a_note_needs_an_answer_and_answers_come_from_the_list() -> None:
    items = CROYDON.communication_checklist
    first, second = items[0].id, items[1].id
    with pytest.raises(FormErrors) as caught:
        parse_communication_form({f"note_{first}": "Press office told", f"answer_{second}": "maybe"}, items, {})
    assert set(caught.value.errors) == {f"answer_{first}", f"answer_{second}"}
    with pytest.raises(FormErrors) as caught:
        parse_communication_form({f"answer_{first}": "yes", f"note_{first}": "n" * 1001}, items, {})
    assert set(caught.value.errors) == {f"note_{first}"}
