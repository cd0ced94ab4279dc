"""Who may do what on a case: the role matrix, written once.

Identity always comes from the activity (the AAD object id), never from card data; the role is the
person's role on the case, read from the database when the request is handled. Some operations also
let the action's or entry's owner act (completing their own action): those checks say so where they
are made, on top of this matrix. Team-level operations (commissioning status, team roles) are checked
against the pack's named roles in their own use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from concerns.cases import Case, CaseRole

CHAIR, COORDINATOR, MEMBER, OBSERVER, MINUTE_TAKER = (
    CaseRole.CHAIR, CaseRole.COORDINATOR, CaseRole.MEMBER, CaseRole.OBSERVER, CaseRole.MINUTE_TAKER)


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


@dataclass(frozen=True)
class Rule:
    roles: frozenset[CaseRole]
    why: str  # where the procedure says so


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
}

_ORDER = (CHAIR, COORDINATOR, MINUTE_TAKER, MEMBER, OBSERVER)


def _who(roles: frozenset[CaseRole]) -> str:
    if roles == frozenset(CaseRole):
        return "members"
    if roles == frozenset(CaseRole) - {OBSERVER}:
        return "members (not observers)"
    names = [f"the {role.label.lower()}" for role in _ORDER if role in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def allowed(case: Case, user_id: str, operation: Operation) -> bool:
    role = case.role_of(user_id)
    return role is not None and role in MATRIX[operation].roles


def require(case: Case, user_id: str, operation: Operation) -> None:
    """Refuse, saying who may, unless the user's role on the case allows the operation."""
    from concerns.votes import NotAllowed

    if not allowed(case, user_id, operation):
        raise NotAllowed(f"Only {_who(MATRIX[operation].roles)} of {case.reference} can {operation.value}.")


def matrix_table() -> str:
    """The matrix as a Markdown table, for SECURITY.md (a test keeps the two the same)."""
    header = "| operation | " + " | ".join(role.label.lower() for role in _ORDER) + " |"
    lines = [header, "| --- |" + " --- |" * len(_ORDER)]
    for operation, rule in MATRIX.items():
        cells = " | ".join("yes" if role in rule.roles else "" for role in _ORDER)
        lines.append(f"| {operation.value} | {cells} |")
    return "\n".join(lines)
