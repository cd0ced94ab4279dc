"""The role matrix: one table in the domain, the same table in SECURITY.md, and refusals that say who may."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member, Person
from concerns.model import Actor, Concern, Provider
from concerns.permissions import (
    MATRIX,
    TEAM_ADMIN,
    Operation,
    TeamAdmin,
    allowed,
    details_basis,
    holds,
    matrix_table,
    require,
    require_team_admin,
)
from concerns.screening import Screening
from concerns.vocabulary import (
    Category,
    CommissioningStatus,
    ConcernStatus,
    ScreeningOutcome,
    ServiceType,
    SourceAgency,
)
from concerns.votes import NotAllowed

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = {role: f"aad-{role.value}" for role in CaseRole}
CASE = Case(
    id=1, tenant_id="t", reference="PC-2026-0007",
    provider=Provider(1, "t", "Oakwood Lodge", ServiceType.NURSING, CommissioningStatus.NORMAL),
    pack_id="croydon-provider-concerns", pack_version=3, status=CaseStatus.OPEN, level=None, step="decision",
    lead_agency=LeadAgency.COUNCIL, opened_by=Actor("aad-chair", "Helen Ward", "t"),
    opened_at=datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
    members=tuple(Member(user_id, role.value, role) for role, user_id in PEOPLE.items()), concerns=(),
)


TEAM_OPERATIONS = {Operation.CHANGE_TEAM_ROLES, Operation.GRANT_TEAM_ADMIN}


def test_every_operation_has_a_rule_and_the_chair_may_do_everything_on_the_case() -> None:
    assert set(MATRIX) == set(Operation)
    assert [op for op in Operation if not allowed(CASE, PEOPLE[CaseRole.CHAIR], op)] == [
        Operation.CHANGE_TEAM_ROLES, Operation.GRANT_TEAM_ADMIN]


def test_team_admin_runs_the_team_and_reads_access_logs_but_sees_no_individual_details() -> None:
    # Handing over a leaver's work is the one change to a case a team admin may make: a chair who has left
    # cannot hand over their own case.
    assert [op for op in Operation if holds([TEAM_ADMIN], op)] == [
        Operation.HAND_OVER, Operation.READ_ACCESS_LOG, Operation.CHANGE_TEAM_ROLES, Operation.GRANT_TEAM_ADMIN]
    assert [role for role in CaseRole if allowed(CASE, PEOPLE[role], Operation.HAND_OVER)] == [CaseRole.CHAIR]
    # Only team admins run the team: no case role may.
    assert all(MATRIX[op].roles == {TEAM_ADMIN} for op in TEAM_OPERATIONS)
    # A member who is also a team admin may read the log, not see the details it is about.
    member = PEOPLE[CaseRole.MEMBER]
    assert allowed(CASE, member, Operation.READ_ACCESS_LOG, team_admin=True)
    assert not allowed(CASE, member, Operation.READ_ACCESS_LOG)
    assert not allowed(CASE, member, Operation.VIEW_INDIVIDUAL_DETAILS, team_admin=True)


def test_only_the_chair_and_coordinator_of_the_case_see_individual_details_by_role() -> None:
    assert [role for role in CaseRole if allowed(CASE, PEOPLE[role], Operation.VIEW_INDIVIDUAL_DETAILS)] == [
        CaseRole.CHAIR, CaseRole.COORDINATOR]
    assert MATRIX[Operation.VIEW_INDIVIDUAL_DETAILS].also == "whoever raised or screened the concern"


def test_observers_only_read_give_lessons_and_challenge() -> None:
    # A challenge changes nothing on the case; every professional on it may disagree (seed 001, point 8).
    assert [op for op in Operation if allowed(CASE, PEOPLE[CaseRole.OBSERVER], op)] == [
        Operation.GIVE_LESSONS, Operation.CHALLENGE]


def test_someone_not_on_the_case_may_do_nothing() -> None:
    assert not any(allowed(CASE, "aad-stranger", op) for op in Operation)


@pytest.mark.parametrize(("operation", "user", "message"), [
    (Operation.CLOSE_CASE, CaseRole.COORDINATOR, "Only the chair of PC-2026-0007 can close it."),
    (Operation.REASSIGN_ACTION, CaseRole.MEMBER,
     "Only the chair or the coordinator of PC-2026-0007 can reassign or re-date actions."),
    (Operation.ADD_ACTION, CaseRole.OBSERVER,
     "Only the chair, the coordinator or the minute taker of PC-2026-0007 can add actions."),
    (Operation.ADD_DOCUMENT, CaseRole.OBSERVER,
     "Only members (not observers) of PC-2026-0007 can add documents to its register."),
])
def test_a_refusal_says_who_may(operation: Operation, user: CaseRole, message: str) -> None:
    with pytest.raises(NotAllowed) as refused:
        require(CASE, PEOPLE[user], operation)
    assert str(refused.value) == message


def test_the_access_log_refusal_names_the_chair_and_team_admins() -> None:
    with pytest.raises(NotAllowed) as refused:
        require(CASE, PEOPLE[CaseRole.COORDINATOR], Operation.READ_ACCESS_LOG)
    assert str(refused.value) == ("Only the chair of PC-2026-0007 or a team admin of its team can read its access "
                                  "log (who saw individual details).")


AT = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def admin(user_id: str, name: str) -> TeamAdmin:
    return TeamAdmin("19:team", Person(user_id, name), "Priya Shah", AT)


def test_team_operations_need_a_team_admin_and_say_who_they_are() -> None:
    admins = [admin("aad-helen", "Helen Ward"), admin("aad-priya", "Priya Shah")]
    require_team_admin("aad-priya", admins, Operation.CHANGE_TEAM_ROLES, tenant_id="t", team_id="19:team")
    with pytest.raises(NotAllowed) as refused:
        require_team_admin("aad-tom", admins, Operation.GRANT_TEAM_ADMIN, tenant_id="t", team_id="19:team")
    assert str(refused.value) == ("Only a team admin can grant or revoke team admin. "
                                  "This team's admins: Helen Ward, Priya Shah.")


def test_a_team_without_an_admin_is_told_how_an_operator_grants_one() -> None:
    with pytest.raises(NotAllowed) as refused:
        require_team_admin("aad-tom", [], Operation.CHANGE_TEAM_ROLES, tenant_id="t-1", team_id="19:team")
    assert str(refused.value) == (
        "Only a team admin can change the team's roles (team roles), and this team has none yet. An operator can "
        "grant one with: concerns-bot team-admin grant --tenant t-1 --team 19:team --user AAD_OBJECT_ID --name NAME")


def concern(raised_by: str) -> Concern:
    return Concern(
        id=1, tenant_id="t", reference="C-2026-0001", provider=CASE.provider, categories=(Category.MEDICATION,),
        source_agency=SourceAgency.CQC, description="Missed doses", occurred_on=AT.date(), immediate_risk=False,
        individual_reference="LAS-104233", status=ConcernStatus.SCREENED, raised_by=Actor(raised_by, "R", "t"),
        raised_at=AT, raised_in_conversation="c", submission_key="k")


def screening(by: str) -> Screening:
    return Screening(id=1, concern_reference="C-2026-0001", sequence=1, outcome=ScreeningOutcome.S42_ENQUIRY,
                     threshold="major", pack_id="p", pack_version=1, rationale="r", screened_by=Actor(by, "S", "t"),
                     screened_at=AT, feedback_due_on=AT.date(), feedback_given_at=None, rescreen_reason=None)


@pytest.mark.parametrize(("user", "basis"), [
    ("aad-raiser", "raised it"),
    ("aad-screener", "screened it"),
    (PEOPLE[CaseRole.CHAIR], "chair of PC-2026-0007"),
    (PEOPLE[CaseRole.COORDINATOR], "coordinator of PC-2026-0007"),
    (PEOPLE[CaseRole.MEMBER], None),
    (PEOPLE[CaseRole.MINUTE_TAKER], None),
    (PEOPLE[CaseRole.OBSERVER], None),
    ("aad-stranger", None),
])
def test_who_may_see_a_concerns_individual_details(user: str, basis: str | None) -> None:
    assert details_basis(user, concern("aad-raiser"), [screening("aad-screener")], [CASE]) == basis


def test_without_a_case_only_the_raiser_and_screener_see_individual_details() -> None:
    assert details_basis(PEOPLE[CaseRole.CHAIR], concern("aad-raiser"), [], []) is None
    assert details_basis("aad-raiser", concern("aad-raiser"), [], []) == "raised it"


def test_security_md_shows_the_matrix_the_code_enforces() -> None:
    assert matrix_table() in (ROOT / "SECURITY.md").read_text()
