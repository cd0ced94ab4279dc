"""The role matrix: one table in the domain, the same table in SECURITY.md, and refusals that say who may."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member
from concerns.model import Actor, Provider
from concerns.permissions import MATRIX, Operation, allowed, matrix_table, require
from concerns.vocabulary import CommissioningStatus, ServiceType
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


def test_every_operation_has_a_rule_and_the_chair_may_do_everything() -> None:
    assert set(MATRIX) == set(Operation)
    assert all(allowed(CASE, PEOPLE[CaseRole.CHAIR], op) for op in Operation)


def test_observers_only_read_and_give_lessons() -> None:
    assert [op for op in Operation if allowed(CASE, PEOPLE[CaseRole.OBSERVER], op)] == [Operation.GIVE_LESSONS]


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


def test_security_md_shows_the_matrix_the_code_enforces() -> None:
    assert matrix_table() in (ROOT / "SECURITY.md").read_text()
