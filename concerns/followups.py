"""What people do from a reminder: snooze it, say it is not theirs, escalate, confirm the key contacts.

Each acts on the case itself (the action's owner or reminder pause, an escalation on the record),
not just on the message, and each is in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from concerns.actions import CaseAction, may_complete
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, Person
from concerns.casework import event, find_action, refuse, team_holders
from concerns.clock import Clock, uk_today
from concerns.errors import NotFound
from concerns.model import Actor
from concerns.packs import ProcedurePack
from concerns.permissions import Operation, require
from concerns.ports import UnitOfWork
from concerns.validation import FormErrors
from concerns.votes import NotAllowed

# Long enough to cover a fortnight's leave; longer than that, the action wants a new owner or date.
MAX_SNOOZE_WORKING_DAYS = 10


def parse_snooze(calendar: WorkingCalendar, today: date, text: str) -> date:
    """The working day a reminder is snoozed to: after today, at most MAX_SNOOZE_WORKING_DAYS ahead."""
    try:
        until = date.fromisoformat(text.strip())
    except ValueError:
        raise FormErrors({"until": "Choose the working day to be reminded again."}) from None
    if until <= today:
        raise FormErrors({"until": "Choose a day after today."})
    if not calendar.is_working_day(until):
        raise FormErrors({"until": f"{until:%A %-d %B %Y} is not a working day."})
    if calendar.working_days_between(today, until) > MAX_SNOOZE_WORKING_DAYS:
        raise FormErrors({"until": f"Snooze for at most {MAX_SNOOZE_WORKING_DAYS} working days; "
                                   "for longer, ask the chair to re-date or reassign the action."})
    return until


async def snooze_action(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, actor: Actor, action_id: int, until_text: str,
    *, conversation_id: str,
) -> tuple[Case, CaseAction]:
    """Pause the owner's reminders for an action until a working day; the due date and the chair's view stay."""
    until = parse_snooze(calendar, uk_today(clock), until_text)
    async with uow:
        case, action = await find_action(uow, actor.tenant_id, action_id)
        try:
            may_complete(case, action, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "action.snooze", refusal, conversation_id)
        await uow.cases.snooze_action(action_id, until)
        await uow.audit.record(event(
            clock, actor, "action.snoozed", "case", case.reference, conversation_id, action_id=action_id,
            title=action.title, until=until.isoformat(),
            due_on=action.due_on.isoformat() if action.due_on else None,
        ))
        await uow.commit()
        updated = await uow.cases.action(actor.tenant_id, action_id)
        assert updated is not None
        return case, updated


@dataclass(frozen=True)
class Disowned:
    case: Case
    action: CaseAction
    chair: Person | None


async def disown_action(
    uow: UnitOfWork, clock: Clock, actor: Actor, action_id: int, *, conversation_id: str,
) -> Disowned:
    """The owner says the action is not theirs: it goes back to the chair to assign."""
    async with uow:
        case, action = await find_action(uow, actor.tenant_id, action_id)
        try:
            may_complete(case, action, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "action.disown", refusal, conversation_id)
        await uow.cases.unassign_action(action_id)
        await uow.audit.record(event(
            clock, actor, "action.disowned", "case", case.reference, conversation_id, action_id=action_id,
            title=action.title,
        ))
        await uow.commit()
        updated = await uow.cases.action(actor.tenant_id, action_id)
        assert updated is not None
        chair = case.holder(CaseRole.CHAIR)
        return Disowned(case, updated, Person(chair.user_id, chair.name) if chair else None)


@dataclass(frozen=True)
class Escalation:
    case: Case
    actions: tuple[CaseAction, ...]  # escalated, as they stood
    skipped: tuple[CaseAction, ...]  # closed by the time the button was pressed: not escalated
    role_label: str
    holder: Person | None  # None when nobody holds the role in the team: say so, and how to fix it

    @property
    def action(self) -> CaseAction:
        return self.actions[0]


ESCALATED_AT_ONCE = 100  # more than a prompt lists (40); a card asking for thousands is not one the bot sent


async def escalate_action(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, action_id: int, *, conversation_id: str,
) -> Escalation:
    """Escalate an overdue action to the pack's escalation role (the head of service), on the record."""
    return await escalate_actions(uow, clock, pack, actor, [action_id], conversation_id=conversation_id)


async def escalate_actions(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, action_ids: list[int], *,
    conversation_id: str,
) -> Escalation:
    """Escalate overdue actions of one case to the pack's escalation role, each on the record; those closed
    meanwhile are left out and said, and if all are, nothing is escalated."""
    role = pack.role(pack.notifications.escalation_role)
    ids = list(dict.fromkeys(action_ids))
    if not ids or len(ids) > ESCALATED_AT_ONCE:
        raise NotFound("Choose the actions to escalate from the prompt in the case's thread.")
    async with uow:
        found = [await find_action(uow, actor.tenant_id, action_id) for action_id in ids]
        case = found[0][0]
        if any(other.id != case.id for other, _ in found):
            raise NotFound("Those actions are not all on one case: escalate them from each case's own prompt.")
        actions = [action for _, action in found]
        escalated = tuple(action for action in actions if action.status == "open")
        try:
            require(case, actor.id, Operation.ESCALATE_ACTION)
            if not escalated:
                closed = actions[0].status.replace("_", " ")
                raise NotAllowed(f"That action is already {closed}." if len(actions) == 1
                                 else "Those actions are all closed already: nothing was escalated.")
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "action.escalate", refusal, conversation_id)
        holder = (await team_holders(uow, actor.tenant_id, case.channel_id)).get(role.id)
        for action in escalated:
            await uow.audit.record(event(
                clock, actor, "action.escalated", "case", case.reference, conversation_id, action_id=action.id,
                title=action.title, to_role=role.id, to=holder.name if holder else None,
                due_on=action.due_on.isoformat() if action.due_on else None,
            ))
        await uow.commit()
        return Escalation(case, escalated, tuple(a for a in actions if a.status != "open"), role.label, holder)


async def review_key_contacts(uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, *,
                              conversation_id: str) -> None:
    """Record that the team's key contacts were reviewed and are still right; the next prompt is a year on."""
    async with uow:
        if not await uow.team_roles.holders(actor.tenant_id, team_id):
            raise NotFound("This team has no key contacts recorded yet: use 'team roles' to record them.")
        await uow.team_roles.record_review(actor.tenant_id, team_id, actor, clock.now())
        await uow.audit.record(event(clock, actor, "key_contacts.reviewed", "team", team_id, conversation_id))
        await uow.commit()
