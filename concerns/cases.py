"""The provider concerns case: one per provider while open, with a chair, a coordinator and members.

Roles are the case roles PROCEDURE.md names. What each role may do is checked on the server from
the acting user's identity (taken from the activity), never from anything a card sends back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from concerns.model import Actor, Provider
from concerns.validation import FormErrors


class CaseRole(StrEnum):
    CHAIR = "chair"
    COORDINATOR = "coordinator"
    MEMBER = "member"
    OBSERVER = "observer"
    MINUTE_TAKER = "minute_taker"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


CASE_ROLES = frozenset(role.value for role in CaseRole)


class LeadAgency(StrEnum):
    COUNCIL = "council"
    ICB_NHS = "icb_nhs"
    CQC = "cqc"
    POLICE = "police"

    @property
    def label(self) -> str:
        return {"council": "Council (adult social care)", "icb_nhs": "ICB / NHS", "cqc": "CQC",
                "police": "Police"}[self.value]


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str
    role: CaseRole


@dataclass(frozen=True)
class Case:
    id: int
    tenant_id: str
    reference: str
    provider: Provider
    pack_id: str
    pack_version: int
    status: CaseStatus
    level: str | None  # a level id of the pack, once a vote has been confirmed
    step: str
    lead_agency: LeadAgency
    opened_by: Actor
    opened_at: datetime
    members: tuple[Member, ...]
    concerns: tuple[str, ...]  # references of the linked concerns
    channel_id: str | None = None
    card_conversation_id: str | None = None
    card_activity_id: str | None = None
    checklist_activity_id: str | None = None  # the latest step checklist posted in the case thread
    closed_at: datetime | None = None
    closed_by: str | None = None
    closure_override_reason: str | None = None
    closure_outcome: str | None = None
    step_due_on: date | None = None  # the current step's target (concerns.actions.step_due); None: it has none

    def role_of(self, user_id: str) -> CaseRole | None:
        return next((m.role for m in self.members if m.user_id == user_id), None)

    def holder(self, role: CaseRole) -> Member | None:
        return next((m for m in self.members if m.role is role), None)

    def holder_name(self, role: str) -> str:
        member = self.holder(CaseRole(role))
        return member.name if member else "-"


@dataclass(frozen=True)
class StepEntry:
    """A case entering a step. A repeatable step (update meetings) can be entered many times."""

    id: int
    step: str
    entered_at: datetime
    entered_by: str
    override_reason: str | None = None


@dataclass(frozen=True)
class LessonsFeedback:
    """One member's lessons-learned feedback after closure (seed 002 step 6)."""

    user_id: str
    name: str
    went_well: str | None
    do_differently: str | None
    given_at: datetime


@dataclass(frozen=True)
class Person:
    """Someone from the team roster, as Teams names them."""

    user_id: str  # the AAD object id
    name: str
    account_id: str = ""  # the Teams account id ("29:..."), needed to @mention them


@dataclass(frozen=True)
class RoleHolder:
    """Who holds one of the pack's roles (not a case role) for a team."""

    role_id: str
    person: Person


@dataclass(frozen=True)
class OpenCaseForm:
    provider_id: int
    chair: Person
    coordinator: Person
    lead_agency: LeadAgency


def parse_open_case_form(values: dict[str, Any], roster: list[Person]) -> OpenCaseForm:
    """Check an open-a-case card: chair and coordinator must be people on the team's roster."""
    errors: dict[str, str] = {}
    people = {p.user_id: p for p in roster}

    def text(key: str) -> str:
        value = values.get(key)
        return value.strip() if isinstance(value, str) else ""

    provider = text("provider_id")
    if not provider.isdigit() or len(provider) > 12:
        errors["provider_id"] = "Choose the provider."
    chair = people.get(text("chair"))
    if chair is None:
        errors["chair"] = "Choose the chair from the team's members."
    coordinator = people.get(text("coordinator"))
    if coordinator is None:
        errors["coordinator"] = "Choose the coordinator from the team's members."
    try:
        lead = LeadAgency(text("lead_agency"))
    except ValueError:
        errors["lead_agency"] = "Choose the lead agency."
    if errors:
        raise FormErrors(errors)
    assert chair is not None and coordinator is not None
    return OpenCaseForm(int(provider), chair, coordinator, lead)


REMOVE = "remove"


class RoleChangeRefused(Exception):
    """The change would leave the case without its chair or coordinator; the message says what to do."""


def may_change_roles(case: Case, user_id: str) -> None:
    from concerns.permissions import Operation, require

    require(case, user_id, Operation.CHANGE_ROLES)


def plan_role_change(case: Case, person: Person, new_role: str) -> list[tuple[Member, CaseRole | None]]:
    """The member changes that give `person` `new_role` (or remove them): (member, role or None).

    A case always has one chair and one coordinator: handing over either role makes the previous
    holder a member, and neither can simply be removed.
    """
    current = case.role_of(person.user_id)
    if new_role == REMOVE:
        if current is None:
            return []
        if current in (CaseRole.CHAIR, CaseRole.COORDINATOR):
            raise RoleChangeRefused(f"{person.name} is the {current.label.lower()}: give that role to someone "
                                    "else first.")
        return [(Member(person.user_id, person.name, current), None)]
    role = CaseRole(new_role)
    if current is role:
        return []
    if current in (CaseRole.CHAIR, CaseRole.COORDINATOR) and role is not current:
        raise RoleChangeRefused(f"{person.name} is the {current.label.lower()}: give that role to someone else, "
                                "and they become a member.")
    changes: list[tuple[Member, CaseRole | None]] = []
    if role in (CaseRole.CHAIR, CaseRole.COORDINATOR):
        holder = case.holder(role)
        if holder is not None:
            changes.append((holder, CaseRole.MEMBER))
    changes.append((Member(person.user_id, person.name, role), role))
    return changes
