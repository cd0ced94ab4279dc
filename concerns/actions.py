"""Actions on a case: the step checklists from the pack, with owners and working-day due dates.

The pack names an owner *role*; the action goes to the person holding that role on the case (chair,
coordinator, minute taker) or in the team (commissioning, head of service...). Where nobody holds
it the action is unassigned, and says so, until the chair assigns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from concerns.calendar import WorkingCalendar
from concerns.cases import CASE_ROLES, Case, CaseRole, Person
from concerns.packs import LevelAction, ProcedurePack


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


def plan_level(level_id: str, actions: tuple[LevelAction, ...], case: Case,
               team_holders: dict[str, Person]) -> list[PlannedAction]:
    """What a confirmed level requires; the pack gives these no timescale, so they are due at once."""
    return [
        PlannedAction(f"level:{level_id}", action.id, action.title, action.owner_role,
                      owner_for(action.owner_role, case, team_holders), None, True)
        for action in actions
    ]
