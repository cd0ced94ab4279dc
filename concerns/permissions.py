"""Who may do what: the role matrix, written once.

Identity always comes from the activity (the AAD object id), never from card data; the role is the
person's role on the case, or team admin of the case's team, read from the database when the request
is handled. Some operations also let the action's or entry's owner act (completing their own action):
those checks say so where they are made, on top of this matrix. Seeing an individual's details also
follows a person's part in the record (who raised or screened the concern): the matrix says so in its
`also` column and `details_basis` applies it. Commissioning status is checked against the pack's named
roles in its own use case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from concerns.cases import Case, CaseRole, Person
from concerns.model import Concern
from concerns.screening import Screening

CHAIR, COORDINATOR, MEMBER, OBSERVER, MINUTE_TAKER = (
    CaseRole.CHAIR, CaseRole.COORDINATOR, CaseRole.MEMBER, CaseRole.OBSERVER, CaseRole.MINUTE_TAKER)


class TeamRole(StrEnum):
    """A role held for a whole team, not for one case."""

    TEAM_ADMIN = "team_admin"

    @property
    def label(self) -> str:
        return "Team admin"


TEAM_ADMIN = TeamRole.TEAM_ADMIN
Role = CaseRole | TeamRole


@dataclass(frozen=True)
class TeamAdmin:
    """Someone holding team admin for a team; a team may have several."""

    team_id: str
    person: Person
    granted_by: str  # the name of whoever granted it (an admin, the installer, an operator)
    granted_at: datetime



def grant_by_operator(tenant_id: str = "TENANT", team_id: str = "TEAM_ID") -> str:
    """How an operator gives a team an admin when nobody can be recorded as installing the bot."""
    return (f"An operator can grant one with: concerns-bot team-admin grant --tenant {tenant_id} --team {team_id} "
            "--user AAD_OBJECT_ID --name NAME")


class Operation(StrEnum):
    CHANGE_ROLES = "change roles"
    START_VOTE = "start a vote on the level"
    VOTE = "vote on the level"
    CONFIRM_LEVEL = "close the vote and confirm the level"
    MOVE_STEP = "move it to another step"
    ADD_ACTION = "add actions"
    REASSIGN_ACTION = "reassign or re-date actions"
    ESCALATE_ACTION = "escalate an action"
    MARK_NOT_APPLICABLE = "mark another person's action not applicable"
    SCHEDULE_MEETING = "schedule its meetings"
    RECORD_MINUTES = "record the minutes of its meetings"
    UPDATE_DOCUMENTS = "update any entry of its documents register"
    ADD_DOCUMENT = "add documents to its register"
    RECORD_COMMUNICATION = "record the communication strategy"
    EXPORT_CASE_FILE = "export its case file"
    CLOSE_CASE = "close it"
    GIVE_LESSONS = "give its lessons-learned feedback"
    CHALLENGE = "challenge one of its decisions"
    HAND_OVER = "hand over someone's roles, actions and documents on it"
    VIEW_INDIVIDUAL_DETAILS = "see its concerns' individual details (personal chat)"
    RECORD_ENQUIRY_OUTCOMES = "see and record its s42 enquiries' outcomes (personal chat)"
    READ_ACCESS_LOG = "read its access log (who saw individual details)"
    CHANGE_TEAM_ROLES = "change the team's roles (team roles)"
    GRANT_TEAM_ADMIN = "grant or revoke team admin"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    why: str  # where the procedure says so
    also: str = ""  # who else may, by their part in the record rather than by a role


MATRIX: dict[Operation, Rule] = {
    Operation.CHANGE_ROLES: Rule(frozenset({CHAIR}), "PROCEDURE.md Roles: the chair runs the case"),
    Operation.START_VOTE: Rule(frozenset({CHAIR, COORDINATOR}), "seed 002 step 1: the chair convenes the decision"),
    Operation.VOTE: Rule(frozenset({CHAIR, COORDINATOR, MEMBER, MINUTE_TAKER}),
                         "the decision team votes; observers read only"),
    Operation.CONFIRM_LEVEL: Rule(frozenset({CHAIR}), "PROCEDURE.md Roles: only the chair confirms a level"),
    Operation.MOVE_STEP: Rule(frozenset({CHAIR}), "PROCEDURE.md Roles: only the chair closes a step"),
    Operation.ADD_ACTION: Rule(frozenset({CHAIR, COORDINATOR, MINUTE_TAKER}), "actions are agreed in meetings"),
    Operation.REASSIGN_ACTION: Rule(frozenset({CHAIR, COORDINATOR}),
                                    "PROCEDURE.md Roles: the chair or coordinator can reassign"),
    Operation.ESCALATE_ACTION: Rule(frozenset({CHAIR, COORDINATOR}), "those who can reassign can escalate"),
    Operation.MARK_NOT_APPLICABLE: Rule(frozenset({CHAIR}), "owners for their own actions, else the chair"),
    Operation.SCHEDULE_MEETING: Rule(frozenset({CHAIR, COORDINATOR}), "seed 002: the coordinator organises"),
    Operation.RECORD_MINUTES: Rule(frozenset({CHAIR, COORDINATOR, MINUTE_TAKER}), "the minute taker minutes"),
    Operation.UPDATE_DOCUMENTS: Rule(frozenset({CHAIR, COORDINATOR}), "owners keep their own entries"),
    Operation.ADD_DOCUMENT: Rule(frozenset({CHAIR, COORDINATOR, MEMBER, MINUTE_TAKER}),
                                 "members add the reports they write; observers read only"),
    Operation.RECORD_COMMUNICATION: Rule(frozenset({CHAIR, COORDINATOR}), "seed 002 s4: oversight from the chair"),
    Operation.EXPORT_CASE_FILE: Rule(frozenset({CHAIR, COORDINATOR}), "need to know: whole-file exports"),
    Operation.CLOSE_CASE: Rule(frozenset({CHAIR}), "PROCEDURE.md Roles: only the chair closes the case"),
    Operation.GIVE_LESSONS: Rule(frozenset(CaseRole), "everyone on the case, seed 002 step 6"),
    Operation.CHALLENGE: Rule(frozenset(CaseRole), "seed 001 learning point 8: all professionals may challenge"),
    # Need to know (PROCEDURE.md Data protection; seed 002 s7): the chair answers for the case and the
    # coordinator plans the safeguarding enquiries and their interface with s42 (seed 002 step 2); the
    # person who raised the concern and whoever screened it knew the details already. Members, observers
    # and minute takers of the case do not need them to run the provider process, and team admins run
    # the team, not the casework.
    # A chair who leaves can change nothing on their case, so someone above the case must be able to: the team's
    # admins and the Head of Service, who appoints chairs (concerns/handovers.py).
    Operation.HAND_OVER: Rule(frozenset({CHAIR, TEAM_ADMIN}), "the chair runs the case; a leaver's cases need "
                              "someone above them", also="the holder of the pack's escalation role (Head of "
                              "Service) in its team; handing back, the two people it was between"),
    Operation.VIEW_INDIVIDUAL_DETAILS: Rule(frozenset({CHAIR, COORDINATOR}), "need to know, seed 002 s7",
                                            also="whoever raised or screened the concern"),
    # The findings meeting's matrix of individual s42 enquiries (seed 002 step 3): those who plan the enquiries'
    # interface with the provider process; the enquiry officers keep their own records in the case system.
    Operation.RECORD_ENQUIRY_OUTCOMES: Rule(frozenset({CHAIR, COORDINATOR}), "need to know, seed 002 step 3"),
    # Who looked at whom is itself personal: the chair answers for the case; team admins answer for the
    # team, so they can check the log without being able to see the details it is about.
    Operation.READ_ACCESS_LOG: Rule(frozenset({CHAIR, TEAM_ADMIN}), "issue 6: chair and team admins only"),
    Operation.CHANGE_TEAM_ROLES: Rule(frozenset({TEAM_ADMIN}),
                                      "role holders are @mentioned and may change commissioning status"),
    Operation.GRANT_TEAM_ADMIN: Rule(frozenset({TEAM_ADMIN}), "team admins keep their own number"),
}

_ORDER: tuple[Role, ...] = (CHAIR, COORDINATOR, MINUTE_TAKER, MEMBER, OBSERVER, TEAM_ADMIN)


def _who(roles: frozenset[Role]) -> str:
    if roles == frozenset(CaseRole):
        return "members"
    if roles == frozenset(CaseRole) - {OBSERVER}:
        return "members (not observers)"
    names = [f"the {role.label.lower()}" for role in _ORDER if role in roles and role is not TEAM_ADMIN]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def holds(roles: Iterable[Role | None], operation: Operation) -> bool:
    """Whether any of a person's roles (their case role, team admin) allows the operation."""
    return any(role in MATRIX[operation].roles for role in roles if role is not None)


def allowed(case: Case, user_id: str, operation: Operation, *, team_admin: bool = False) -> bool:
    """`team_admin`: the user is a team admin of the team the case belongs to."""
    return holds((case.role_of(user_id), TEAM_ADMIN if team_admin else None), operation)


def require(case: Case, user_id: str, operation: Operation, *, team_admin: bool = False) -> None:
    """Refuse, saying who may, unless the user's role on the case (or team admin) allows the operation."""
    from concerns.votes import NotAllowed

    if allowed(case, user_id, operation, team_admin=team_admin):
        return
    roles = MATRIX[operation].roles
    who = f"{_who(roles)} of {case.reference}" if roles - {TEAM_ADMIN} else ""
    if TEAM_ADMIN in roles:
        who = f"{who} or a team admin of its team" if who else "a team admin of its team"
    raise NotAllowed(f"Only {who} can {operation.value}.")


def require_team_admin(
    user_id: str, admins: Sequence[TeamAdmin], operation: Operation, *, tenant_id: str, team_id: str,
) -> None:
    """Refuse a team-level operation unless the user is one of the team's admins.

    A team with no admin cannot have one made from Teams (anyone could claim it): the refusal says
    how an operator grants one.
    """
    from concerns.votes import NotAllowed

    assert MATRIX[operation].roles == {TEAM_ADMIN}
    if any(admin.person.user_id == user_id for admin in admins):
        return
    if not admins:
        raise NotAllowed(f"Only a team admin can {operation.value}, and this team has none yet. "
                         f"{grant_by_operator(tenant_id, team_id)}")
    names = ", ".join(admin.person.name for admin in admins)
    raise NotAllowed(f"Only a team admin can {operation.value}. This team's admins: {names}.")


def details_basis(user_id: str, concern: Concern, screenings: Sequence[Screening], cases: Sequence[Case]) -> str | None:
    """Why the user may see a concern's individual details (for the access log), or None if they may not."""
    if concern.raised_by.id == user_id:
        return "raised it"
    if any(s.screened_by.id == user_id for s in screenings):
        return "screened it"
    for case in cases:
        role = case.role_of(user_id)
        if holds((role,), Operation.VIEW_INDIVIDUAL_DETAILS):
            assert role is not None
            return f"{role.label.lower()} of {case.reference}"
    return None


def matrix_table() -> str:
    """The matrix as a Markdown table, for SECURITY.md (a test keeps the two the same)."""
    header = "| operation | " + " | ".join(role.label.lower() for role in _ORDER) + " | also |"
    lines = [header, "| --- |" + " --- |" * (len(_ORDER) + 1)]
    for operation, rule in MATRIX.items():
        cells = " | ".join("yes" if role in rule.roles else "" for role in _ORDER)
        lines.append(f"| {operation.value} | {cells} | {rule.also} |")
    return "\n".join(lines)
