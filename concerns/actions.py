"""Actions on a case: the step checklists from the pack, with owners and working-day due dates.

The pack names an owner *role*; the action goes to the person holding that role on the case (chair,
coordinator, minute taker) or in the team (commissioning, head of service...). Where nobody holds
it the action is unassigned, and says so, until the chair assigns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from concerns.calendar import WorkingCalendar
from concerns.cases import CASE_ROLES, Case, CaseRole, Person
from concerns.packs import LevelAction, ProcedurePack
from concerns.permissions import Operation, allowed, require


@dataclass(frozen=True)
class PlannedAction:
    source: str  # "step:decision" or "level:major"
    action_id: str
    title: str
    owner_role: str
    owner: Person | None
    due_on: date | None
    required: bool


@dataclass(frozen=True)
class CaseAction:
    id: int
    case_reference: str
    provider: str
    source: str
    title: str
    owner_role: str
    owner: Person | None
    due_on: date | None
    required: bool
    status: str  # open, done, not_applicable
    case_id: int = 0
    note: str | None = None
    original_due_on: date | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    snoozed_until: date | None = None  # the owner's reminders are paused until this working day

    def overdue(self, today: date) -> bool:
        return self.status == "open" and self.due_on is not None and self.due_on < today


def owner_for(role_id: str, case: Case, team_holders: dict[str, Person]) -> Person | None:
    """The person an action for `role_id` goes to, if anyone holds that role."""
    if role_id in CASE_ROLES:
        member = case.holder(CaseRole(role_id))
        return Person(member.user_id, member.name) if member else None
    return team_holders.get(role_id)


def plan_step(
    pack: ProcedurePack, step_id: str, started_on: date, calendar: WorkingCalendar, case: Case,
    team_holders: dict[str, Person],
) -> list[PlannedAction]:
    """The step's checklist as actions due in working days from the day the step started."""
    step = pack.step(step_id)
    return [
        PlannedAction(
            source=f"step:{step.id}",
            action_id=action.id,
            title=action.title,
            owner_role=action.owner_role,
            owner=owner_for(action.owner_role, case, team_holders),
            due_on=calendar.add_working_days(started_on, action.due_working_days),
            required=action.required,
        )
        for action in step.actions
    ]


def step_due(pack: ProcedurePack, step_id: str, started_on: date, calendar: WorkingCalendar) -> date | None:
    """The day a step should be done by: its timescale in working days from the day it started (seed 002: the
    decision within 5, the initial meeting within 10, quality assurance 10); None for a step without one."""
    timescale = pack.step(step_id).timescale_working_days
    return calendar.add_working_days(started_on, timescale) if timescale else None


def plan_level(level_id: str, actions: tuple[LevelAction, ...], case: Case,
               team_holders: dict[str, Person]) -> list[PlannedAction]:
    """What a confirmed level requires; the pack gives these no timescale, so they are due at once."""
    return [
        PlannedAction(f"level:{level_id}", action.id, action.title, action.owner_role,
                      owner_for(action.owner_role, case, team_holders), None, True)
        for action in actions
    ]


DONE = "done"
NOT_APPLICABLE = "not_applicable"
MAX_NOTE = 2000


def may_complete(case: Case, action: CaseAction, user_id: str) -> None:
    """Owners complete their own actions (PROCEDURE.md, Roles)."""
    from concerns.votes import NotAllowed

    if action.status != "open":
        raise NotAllowed(f"That action is already {action.status.replace('_', ' ')}.")
    if action.owner is None:
        raise NotAllowed("That action has no owner yet: the chair assigns it first.")
    if action.owner.user_id != user_id:
        raise NotAllowed(f"That action is {action.owner.name}'s to confirm.")


def may_mark_not_applicable(case: Case, action: CaseAction, user_id: str) -> None:
    from concerns.votes import NotAllowed

    if action.status != "open":
        raise NotAllowed(f"That action is already {action.status.replace('_', ' ')}.")
    if not (action.owner and action.owner.user_id == user_id) and \
            not allowed(case, user_id, Operation.MARK_NOT_APPLICABLE):
        raise NotAllowed("Only the action's owner or the chair can mark it not applicable.")


def may_reassign(case: Case, user_id: str) -> None:
    """The chair or coordinator reassigns and re-dates actions."""
    require(case, user_id, Operation.REASSIGN_ACTION)


def step_targets(pack: ProcedurePack, current: str) -> list[str]:
    """Where the chair may move a case from `current`: the next step, past optional steps, or the
    same step again when it repeats (Croydon's update meetings)."""
    targets: list[str] = []
    if pack.step(current).repeatable:
        targets.append(current)
    following = pack.next_step(current)
    while following is not None:
        targets.append(following.id)
        if not following.optional:
            break
        following = pack.next_step(following.id)
    return targets


def unresolved_required(actions: list[CaseAction], step_id: str) -> list[CaseAction]:
    """The step's required actions that are still open."""
    return [a for a in actions if a.source == f"step:{step_id}" and a.required and a.status == "open"]


@dataclass(frozen=True)
class OpenActionCounts:
    """A case's open actions in brief, as the list of open cases shows them."""

    open: int = 0
    overdue: int = 0  # due before today
    next_due: date | None = None
    challenges: int = 0  # challenges to a decision awaiting an answer


def rag_status(actions: list[CaseAction], today: date, calendar: WorkingCalendar,
               step_due: date | None = None) -> str:
    """Red if anything is overdue, amber if something falls due within two working days, else green: an open
    action's due date or the current step's target (`step_due`), whichever comes first."""
    open_dated = [a.due_on for a in actions if a.status == "open" and a.due_on is not None]
    return rag_for(earliest(min(open_dated) if open_dated else None, step_due), today, calendar)


def earliest(*days: date | None) -> date | None:
    """The first of the deadlines given, or None if there is none."""
    known = [day for day in days if day is not None]
    return min(known) if known else None


def rag_for(next_due: date | None, today: date, calendar: WorkingCalendar) -> str:
    """The red/amber/green status from the earliest open deadline alone, which decides it."""
    if next_due is None:
        return "Green"
    if next_due < today:
        return "Red"
    if next_due <= calendar.add_working_days(today, 2):
        return "Amber"
    return "Green"


def may_add(case: Case, user_id: str) -> None:
    """Ad hoc actions are added in a meeting by the chair, the coordinator or the minute taker."""
    require(case, user_id, Operation.ADD_ACTION)
