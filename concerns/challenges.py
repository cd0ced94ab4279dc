"""Challenging a decision on a case: the shared way to escalate professional disagreement.

Seed 001 (learning point 8): "All professionals need an opportunity to challenge each other in a respectful
way and if necessary escalate their concerns"; PROCEDURE.md counts the lack of one among what goes wrong
without a tool. Anyone on a case challenges one of its decisions with their reasons; the challenge is on the
record and an answer is owed by the chair, or, when the chair has already answered them, by the holder of the
pack's escalation role (Head of Service). The answer is owed as an action due within the pack's working days,
so the reminders, the overdue nudge and the escalation prompt every action has apply to it; answering
closes that action with the answer, on the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from concerns.actions import CaseAction, PlannedAction
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, Person
from concerns.casework import event, find_action, open_case, refuse, team_holders
from concerns.clock import Clock, uk_today
from concerns.errors import NotFound
from concerns.model import Actor
from concerns.packs import ProcedurePack
from concerns.permissions import Operation, require
from concerns.ports import UnitOfWork
from concerns.validation import FormErrors, check_names, named_on_a_shared_card
from concerns.votes import NotAllowed

SOURCE = "challenge"  # the answer's action: source "challenge:<step>", so it shows with the step's checklist
MAX_TEXT = 2000


class ChallengeAbout(StrEnum):
    LEVEL = "level"
    STEP = "step"
    SCREENING = "screening"
    COMMISSIONING = "commissioning"
    ACTIONS = "actions"
    CLOSURE = "closure"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "level": "the level of concern",
            "step": "the step or its timescales",
            "screening": "how a concern was screened",
            "commissioning": "the commissioning decision",
            "actions": "an action or who owns it",
            "closure": "closing (or not closing) the case",
            "other": "another decision",
        }[self.value]


class ChallengeAnswer(StrEnum):
    STANDS = "stands"
    REVIEWED = "reviewed"

    @property
    def label(self) -> str:
        return {"stands": "The decision stands", "reviewed": "The decision will be reviewed"}[self.value]


@dataclass(frozen=True)
class ChallengeForm:
    about: ChallengeAbout
    reason: str
    wanted: str
    to_senior: bool  # the chair has answered them already: the escalation role answers
    names_are_staff: bool


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""


def parse_challenge_form(values: dict[str, Any]) -> ChallengeForm:
    """The challenge card's values, checked; FormErrors names each field to fix. The reasons are posted in the
    case thread, so a name with a title is stopped unless the box says everyone named is staff."""
    from concerns.validation import says_names_are_staff

    errors: dict[str, str] = {}
    try:
        about = ChallengeAbout(values.get("about"))
    except ValueError:
        about = ChallengeAbout.OTHER
        errors["about"] = "Choose what you disagree with."
    reason, wanted = _text(values, "reason"), _text(values, "wanted")
    if not reason:
        errors["reason"] = "Say why you disagree: the answer is owed to your reasons."
    for name, text in (("reason", reason), ("wanted", wanted)):
        if len(text) > MAX_TEXT:
            errors[name] = f"Keep it under {MAX_TEXT} characters; link a longer note."
    staff = check_names(f"{reason}\n{wanted}", says_names_are_staff(values), errors)
    if errors:
        raise FormErrors(errors)
    return ChallengeForm(about, reason, wanted, values.get("to_senior") == "true", staff)


@dataclass(frozen=True)
class Challenge:
    """A challenge as the case thread shows it."""

    case: Case
    action: CaseAction  # the answer owed: its owner, its due date
    by: Person
    about: ChallengeAbout
    reason: str
    wanted: str
    to_senior: bool  # the pack's escalation role answers it
    chair_answered: bool = False  # ... because the member said the chair had answered them already


async def challenge_decision(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, pack: ProcedurePack, actor: Actor, reference: str,
    form: ChallengeForm, *, conversation_id: str,
) -> Challenge:
    """Record the challenge and owe its answer: an action for the chair (or the coordinator, with no chair), or
    for the holder of the pack's escalation role when the member says the chair has answered them already."""
    async with uow:
        case = await open_case(uow, actor.tenant_id, reference)
        try:
            require(case, actor.id, Operation.CHALLENGE)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "case.challenge", refusal, conversation_id)
        senior = pack.role(pack.notifications.escalation_role)
        chair = case.holder(CaseRole.CHAIR) or case.holder(CaseRole.COORDINATOR)
        chairs = chair is not None and chair.user_id == actor.id  # the chair's own challenge goes above them
        if form.to_senior or chairs:
            holder = (await team_holders(uow, actor.tenant_id, case.channel_id)).get(senior.id)
            if holder is None:
                unset = "(a team admin sets it with 'team roles')"
                if chair is not None and chairs:
                    raise FormErrors({"to_senior": f"You are the {chair.role.label.lower()} of {case.reference}, so "
                                                   f"the {senior.label} answers your challenge, and nobody holds "
                                                   f"that role in this team yet {unset}."})
                raise FormErrors({"to_senior": f"Nobody holds the {senior.label} role in this team yet {unset}. "
                                               "Challenge the chair first."})
            owner, owner_role = holder, senior.id
        elif chair is None:
            raise NotFound(f"{case.reference} has no chair or coordinator to answer; ask the {senior.label}.")
        else:
            owner, owner_role = Person(chair.user_id, chair.name), chair.role.value
        if owner.user_id == actor.id:
            raise FormErrors({"to_senior": "You would be answering your own challenge: record the decision "
                                           "again instead, with its reasons."})
        due = calendar.add_working_days(uk_today(clock), pack.timescales.challenge_response_working_days)
        title = f"Answer {actor.name}'s challenge about {form.about.label}"
        # No separate word to the owner: the challenge's card in the case thread @mentions them.
        [action_id] = await uow.cases.add_actions(case.id, [PlannedAction(
            f"{SOURCE}:{case.step}", SOURCE, title, owner_role, owner, due, False)], clock.now())
        await uow.audit.record(event(
            clock, actor, "case.challenged", "case", case.reference, conversation_id,
            action_id=action_id, about=form.about.value, reason=form.reason, wanted=form.wanted or None,
            answer_by=owner.name, answer_by_id=owner.user_id, due_on=due.isoformat(), to_senior=form.to_senior,
            senior=owner_role == senior.id, names_are_staff=form.names_are_staff,
        ))
        action = await uow.cases.action(actor.tenant_id, action_id)
        assert action is not None
        await uow.commit()
        return Challenge(case, action, Person(actor.id, actor.name), form.about, form.reason, form.wanted,
                         owner_role == senior.id, form.to_senior)


@dataclass(frozen=True)
class Answered:
    challenge: Challenge
    answer: ChallengeAnswer
    text: str


async def answer_challenge(
    uow: UnitOfWork, clock: Clock, actor: Actor, action_id: int, answer: str, text: str, *, conversation_id: str,
) -> Answered:
    """The person the answer is owed by (or the case's chair) answers: the decision stands, or will be reviewed,
    and why. It closes the answer's action with the answer as its evidence."""
    errors: dict[str, str] = {}
    try:
        chosen = ChallengeAnswer(answer)
    except ValueError:
        chosen = ChallengeAnswer.STANDS
        errors["answer"] = "Choose whether the decision stands or will be reviewed."
    text = " ".join(text.split())
    if not text:
        errors["text"] = "Give your answer: the challenge and its answer are on the record."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"Keep it under {MAX_TEXT} characters; link a longer note."
    elif named := named_on_a_shared_card(text):  # the answer is shown on the challenge's card in the thread
        errors["text"] = named
    if errors:
        raise FormErrors(errors)
    async with uow:
        case, action = await find_action(uow, actor.tenant_id, action_id)
        raised = await _raised(uow, case, action_id)
        if raised is None or not is_challenge(action):
            raise NotFound("That challenge is not on the record any more.")
        owner = action.owner.user_id if action.owner else None
        if actor.id == raised.actor_id:
            raise NotAllowed(f"You raised this challenge: {action.owner.name if action.owner else 'the chair'} "
                             "answers it.")
        if actor.id != owner and case.role_of(actor.id) is not CaseRole.CHAIR:
            await refuse(uow, clock, actor, case.reference, "case.challenge_answer",
                         NotAllowed(f"Only {action.owner.name if action.owner else 'the chair'} or the chair of "
                                    f"{case.reference} can answer this challenge."), conversation_id)
        if action.status != "open":
            raise NotAllowed("This challenge has been answered already.")
        note = f"{chosen.label}: {text}"
        if not await uow.cases.close_action(action_id, "done", note, actor, clock.now()):
            raise NotAllowed("This challenge was answered a moment ago.")
        await uow.audit.record(event(
            clock, actor, "case.challenge_answered", "case", case.reference, conversation_id,
            action_id=action_id, answer=chosen.value, text=text, challenger=raised.actor_name,
        ))
        closed = await uow.cases.action(actor.tenant_id, action_id)
        assert closed is not None
        await uow.commit()
    details = raised.details
    return Answered(Challenge(case, closed, Person(raised.actor_id, raised.actor_name),
                              ChallengeAbout(details["about"]), details["reason"], details.get("wanted") or "",
                              bool(details.get("senior")), bool(details.get("to_senior"))), chosen, text)


async def _raised(uow: UnitOfWork, case: Case, action_id: int) -> Any:
    """The challenge's own record: who raised it and why come from the audit trail, never from the card."""
    for recorded in await uow.audit.for_subject("case", case.reference):
        if recorded.action == "case.challenged" and recorded.details.get("action_id") == action_id:
            return recorded
    return None


def is_challenge(action: CaseAction) -> bool:
    return action.source.startswith(SOURCE + ":")
