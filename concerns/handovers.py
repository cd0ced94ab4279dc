"""Handing over someone's work on a team's cases, when they leave, change jobs or are away for a while.

Seed 001 found concerns raised for years without anyone knowing what became of them; work tied to a person who
has moved on is how that happens. A case's chair can change its roles and reassign its actions one at a time,
but a chair who leaves can change nothing, and whoever is left would have to find each of the leaver's actions
across every case. A handover moves one person's case roles, open actions and documents register entries to a
colleague in one change, case by case: on the cases its maker may hand over (the chair on their own case; a team
admin or the holder of the pack's escalation role, the Head of Service, on any of the team's cases), and on no
other, saying why. Each case records what moved as one audit event; the new owner is told of the actions.

Meetings still to come keep their invitations (a Teams meeting's attendees are changed in its invitation), and
the team's own roles are changed with `team roles`: the plan says when either applies.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from concerns.actions import CaseAction
from concerns.cases import Case, CaseRole, CaseStatus, Member, Person
from concerns.casework import event, find_case, refuse, tell_new_owners
from concerns.clock import Clock, uk_today
from concerns.documents import CaseDocument
from concerns.meetings import Meeting, MeetingStatus
from concerns.model import Actor
from concerns.packs import ProcedurePack
from concerns.permissions import Operation, allowed
from concerns.validation import FormErrors
from concerns.vocabulary import counted
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

# Most senior first: someone already on a case keeps the more senior of their role and the one handed to them.
SENIORITY = (CaseRole.CHAIR, CaseRole.COORDINATOR, CaseRole.MINUTE_TAKER, CaseRole.MEMBER, CaseRole.OBSERVER)


class HandoverReason(StrEnum):
    """Why, as a choice: typed reasons would put staff's leave or health on a multi-agency record."""

    LEFT = "left"
    AWAY = "away"
    WORKLOAD = "workload"
    CORRECTION = "correction"

    @property
    def label(self) -> str:
        return {"left": "They have left the organisation or this work",
                "away": "They are away for a while",
                "workload": "Sharing out the work",
                "correction": "Putting right who does what"}[self.value]


@dataclass(frozen=True)
class CaseHandover:
    """What moves on one case."""

    case: Case
    role: CaseRole | None  # the outgoing person's role on the case, if they have one
    incoming_role: CaseRole | None  # the incoming person's role on it before
    new_role: CaseRole | None  # ... and after (None: not on the case, and not made a member by this)
    actions: tuple[CaseAction, ...]
    documents: tuple[CaseDocument, ...]


@dataclass(frozen=True)
class NotHandedOver:
    case: Case
    why: str


@dataclass(frozen=True)
class HandoverPlan:
    outgoing: Person
    incoming: Person
    reason: HandoverReason
    cases: tuple[CaseHandover, ...]
    not_handed_over: tuple[NotHandedOver, ...]
    team_roles: tuple[str, ...]  # labels of the pack roles the outgoing person holds in the team
    meetings: tuple[Meeting, ...]  # meetings still to come they are invited to (left as they are)
    team_admin: bool = False  # the outgoing person is one of the team's admins (left as they are)
    handover_id: str | None = None  # once made: names its audit events, so it can be handed back

    @property
    def fingerprint(self) -> str:
        """What the plan would change: a confirmation applies only the plan its maker saw."""
        shape = [[h.case.id, h.role, h.new_role, [a.id for a in h.actions], [d.id for d in h.documents]]
                 for h in self.cases]
        shape.append([n.case.id for n in self.not_handed_over])
        return hashlib.sha256(json.dumps([self.outgoing.user_id, self.incoming.user_id, shape]).encode()).hexdigest()


@dataclass(frozen=True)
class HandoverForm:
    outgoing_id: str
    incoming: Person
    reason: HandoverReason


def parse_handover_form(values: dict[str, object], roster: Sequence[Person]) -> HandoverForm:
    """The form's choices: whose work (a user id from the plan's list), to whom (someone in the team now), why."""
    errors: dict[str, str] = {}
    outgoing = values.get("outgoing")
    if not isinstance(outgoing, str) or not outgoing:
        errors["outgoing"] = "Choose whose work to hand over."
    people = {p.user_id: p for p in roster}
    incoming = people.get(values["incoming"]) if isinstance(values.get("incoming"), str) else None
    if incoming is None:
        errors["incoming"] = "Choose who takes it over, from the team's members."
    elif incoming.user_id == outgoing:
        errors["incoming"] = "Choose someone else to take the work over."
    try:
        reason = HandoverReason(values.get("reason"))
    except ValueError:
        reason = HandoverReason.LEFT
        errors["reason"] = "Choose why the work is handed over."
    if errors:
        raise FormErrors(errors)
    assert isinstance(outgoing, str) and incoming is not None
    return HandoverForm(outgoing, incoming, reason)


@dataclass(frozen=True)
class _Above:
    """Who stands above a team's cases: its admins and the holders of the pack's roles in it, read once."""

    admin_ids: frozenset[str]
    holders: dict[str, Person]  # by pack role id

    def may(self, case: Case, actor_id: str, pack_for: Callable[[str], ProcedurePack]) -> bool:
        senior = self.holders.get(pack_for(case.pack_id).notifications.escalation_role)
        return may_hand_over(case, actor_id, team_admin=actor_id in self.admin_ids,
                             senior=senior is not None and senior.user_id == actor_id)


async def _above(uow: UnitOfWork, actor: Actor, team_id: str) -> _Above:
    return _Above(frozenset(a.person.user_id for a in await uow.team_admins.admins(actor.tenant_id, team_id)),
                  {h.role_id: h.person for h in await uow.team_roles.holders(actor.tenant_id, team_id)})


@dataclass(frozen=True)
class _TeamWork:
    """The team's open cases and their outstanding work, read once."""

    cases: list[Case]  # open cases of the team, and closed ones where an open follow-up remains
    actions: dict[int, list[CaseAction]]  # open actions by case id
    documents: dict[int, list[CaseDocument]]  # register entries by case id
    above: _Above


async def _team_work(uow: UnitOfWork, actor: Actor, team_id: str, outgoing_id: str | None,
                     pack_for: Callable[[str], ProcedurePack]) -> _TeamWork:
    teams: dict[str, str | None] = {}

    async def team_of(case: Case) -> str | None:
        if case.channel_id is None:
            return None
        if case.channel_id not in teams:
            channel = await uow.conversations.get(case.channel_id)
            teams[case.channel_id] = channel.team_id if channel else None
        return teams[case.channel_id]

    cases = [c for c in await uow.cases.open_cases(actor.tenant_id) if await team_of(c) == team_id]
    actions: dict[int, list[CaseAction]] = {}
    for case in cases:
        actions[case.id] = [a for a in await uow.cases.actions(case.id) if a.status == "open"]
    if outgoing_id is not None:  # a closed case's follow-ups are theirs to hand over too
        for action in await uow.cases.open_actions_of(actor.tenant_id, outgoing_id):
            if action.case_id in actions:
                continue
            closed = await uow.cases.get(actor.tenant_id, action.case_id)
            if closed is not None and await team_of(closed) == team_id:
                cases.append(closed)
                actions[closed.id] = [a for a in await uow.cases.actions(closed.id) if a.status == "open"]
    documents = {c.id: await uow.documents.for_case(c.id) for c in cases if c.status is CaseStatus.OPEN}
    return _TeamWork(cases, actions, documents, await _above(uow, actor, team_id))


def _people(work: _TeamWork) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for case in work.cases:
        for member in case.members:
            people.setdefault(member.user_id, Person(member.user_id, member.name))
        for action in work.actions.get(case.id, []):
            if action.owner is not None:
                people.setdefault(action.owner.user_id, Person(action.owner.user_id, action.owner.name))
        for document in work.documents.get(case.id, []):
            if document.owner is not None:
                people.setdefault(document.owner.user_id, Person(document.owner.user_id, document.owner.name))
    return people


async def people_with_work(uow: UnitOfWork, actor: Actor, team_id: str,
                           pack_for: Callable[[str], ProcedurePack]) -> list[Person]:
    """Everyone with a role, an open action or a documents register entry on the team's open cases, by name: the
    person leaving may no longer be in the team's roster."""
    async with uow:
        work = await _team_work(uow, actor, team_id, None, pack_for)
    return sorted(_people(work).values(), key=lambda p: p.name.casefold())


def may_hand_over(case: Case, actor_id: str, *, team_admin: bool, senior: bool) -> bool:
    return senior or allowed(case, actor_id, Operation.HAND_OVER, team_admin=team_admin)


def _roles(case: Case, outgoing_id: str, incoming: Person) -> tuple[CaseRole | None, CaseRole | None, str | None]:
    """The incoming person's role on the case after the handover, and why it cannot be made, if it cannot."""
    role, theirs = case.role_of(outgoing_id), case.role_of(incoming.user_id)
    if role is None or case.status is not CaseStatus.OPEN:
        return None, theirs, None
    if theirs is None:
        return role, None, None
    if {role, theirs} == {CaseRole.CHAIR, CaseRole.COORDINATOR}:
        return None, theirs, (f"{incoming.name} is already its {theirs.label.lower()}, and the chair and the "
                              f"coordinator must be two people: first give one of the roles to someone else with "
                              f"'roles {case.reference}'.")
    return min(role, theirs, key=SENIORITY.index), theirs, None


def _label(pack: ProcedurePack, role_id: str) -> str:
    try:
        return pack.role(role_id).label
    except KeyError:
        return role_id.replace("_", " ")


def _plan(work: _TeamWork, actor: Actor, outgoing: Person, incoming: Person, reason: HandoverReason,
          team_roles: tuple[str, ...], meetings: tuple[Meeting, ...],
          pack_for: Callable[[str], ProcedurePack]) -> HandoverPlan:
    handed: list[CaseHandover] = []
    refused: list[NotHandedOver] = []
    for case in work.cases:
        role = case.role_of(outgoing.user_id) if case.status is CaseStatus.OPEN else None
        actions = tuple(a for a in work.actions.get(case.id, [])
                        if a.owner is not None and a.owner.user_id == outgoing.user_id)
        documents = tuple(d for d in work.documents.get(case.id, [])
                          if d.owner is not None and d.owner.user_id == outgoing.user_id)
        if role is None and not actions and not documents:
            continue
        if not work.above.may(case, actor.id, pack_for):
            chair = case.holder(CaseRole.CHAIR)
            ask = f"its chair, {chair.name}" if chair and chair.user_id != outgoing.user_id else "a team admin"
            refused.append(NotHandedOver(case, f"Only its chair, a team admin or the Head of Service can hand over "
                                               f"work on it: ask {ask}."))
            continue
        new_role, theirs, conflict = _roles(case, outgoing.user_id, incoming)
        if conflict is not None:
            refused.append(NotHandedOver(case, conflict))
            continue
        handed.append(CaseHandover(case, role, theirs, new_role, actions, documents))
    return HandoverPlan(outgoing, incoming, reason, tuple(handed), tuple(refused), team_roles, meetings)


async def _read_plan(uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, form: HandoverForm,
                     pack_for: Callable[[str], ProcedurePack]) -> HandoverPlan:
    work = await _team_work(uow, actor, team_id, form.outgoing_id, pack_for)
    outgoing = _people(work).get(form.outgoing_id)
    if outgoing is None:
        raise FormErrors({"outgoing": "They have no roles, open actions or documents on this team's cases now."})
    pack = pack_for(work.cases[0].pack_id if work.cases else "")  # the team's roles are named in its pack
    labels = tuple(_label(pack, role_id) for role_id, holder in work.above.holders.items()
                   if holder.user_id == outgoing.user_id)
    today = uk_today(clock)
    invited: list[Meeting] = []
    for case in work.cases:
        if case.status is CaseStatus.OPEN:
            invited += [m for m in await uow.meetings.for_case(case.id)
                        if m.status is MeetingStatus.SCHEDULED and m.day >= today
                        and outgoing.user_id in {p.user_id for p in (m.chair, m.minute_taker, *m.attendees) if p}]
    meetings = tuple(invited)
    return replace(_plan(work, actor, outgoing, form.incoming, form.reason, labels, meetings, pack_for),
                   team_admin=outgoing.user_id in work.above.admin_ids)


async def plan_handover(uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, form: HandoverForm,
                        pack_for: Callable[[str], ProcedurePack]) -> HandoverPlan:
    """What handing over would change, changing nothing: shown to its maker to confirm."""
    async with uow:
        return await _read_plan(uow, clock, actor, team_id, form, pack_for)


class PlanChanged(Exception):
    """The cases changed between the plan shown and its confirmation: the new plan is shown instead."""

    def __init__(self, plan: HandoverPlan) -> None:
        super().__init__("What would be handed over has changed since you looked: check it again.")
        self.plan = plan


async def hand_over(
    uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, form: HandoverForm, fingerprint: str,
    pack_for: Callable[[str], ProcedurePack], *, conversation_id: str,
) -> HandoverPlan:
    """Apply the plan its maker confirmed, in one transaction: on each case the incoming person takes the outgoing
    person's role (keeping their own if it is more senior) and the outgoing person leaves the case, their open
    actions and register entries change owner, one audit event records it all, and the new owner is told."""
    async with uow:
        plan = await _read_plan(uow, clock, actor, team_id, form, pack_for)
        if not plan.cases:
            reasons = " ".join(f"{n.case.reference}: {n.why}" for n in plan.not_handed_over)
            await refuse(uow, clock, actor, team_id, "team.handover", NotAllowed(
                f"None of {plan.outgoing.name}'s work is yours to hand over. {reasons}".strip()),
                conversation_id, "team")
        if plan.fingerprint != fingerprint:
            raise PlanChanged(plan)
        now = clock.now()
        outgoing, incoming = plan.outgoing, plan.incoming
        handover_id = secrets.token_hex(8)
        for handed in plan.cases:
            case = handed.case
            if handed.role is not None:
                await uow.cases.set_member(case.id, Member(outgoing.user_id, outgoing.name, handed.role), None, now)
                assert handed.new_role is not None
                await uow.cases.set_member(case.id, Member(incoming.user_id, incoming.name, handed.new_role),
                                           handed.new_role, now)
            for action in handed.actions:
                await uow.cases.assign_action(action.id, incoming)
            for document in handed.documents:
                await uow.documents.set_owner(document.id, incoming)
            await uow.audit.record(event(
                clock, actor, "case.handed_over", "case", case.reference, conversation_id, handover=handover_id,
                outgoing=outgoing.name, outgoing_id=outgoing.user_id, incoming=incoming.name,
                incoming_id=incoming.user_id, reason=plan.reason.value,
                role=handed.role.value if handed.role else None,
                incoming_previous=handed.incoming_role.value if handed.incoming_role else None,
                incoming_role=handed.new_role.value if handed.new_role else None,
                actions=[{"id": a.id, "title": a.title} for a in handed.actions],
                documents=[{"id": d.id, "title": d.title} for d in handed.documents],
            ))
            await tell_new_owners(uow, clock, actor, case, [a.id for a in handed.actions])
        refreshed = []
        for handed in plan.cases:
            case = await uow.cases.get(actor.tenant_id, handed.case.id)
            assert case is not None
            refreshed.append(CaseHandover(case, handed.role, handed.incoming_role, handed.new_role,
                                          handed.actions, handed.documents))
        await uow.commit()
    return replace(plan, cases=tuple(refreshed), handover_id=handover_id)


def what_moves(incoming: str, role: str | None, new_role: str | None, actions: int, documents: int) -> str:
    """What a handover moves on one case, in words: for its plan, the case thread and the timeline alike."""
    parts = []
    if role is not None:
        label = CaseRole(role).label.lower()
        parts.append(f"the {label} role" if new_role in (None, role) else
                     f"the place as {label} ({incoming} stays {CaseRole(new_role).label.lower()})")
    if actions:
        parts.append(counted(actions, "open action"))
    if documents:
        parts.append(counted(documents, "documents register entry", "documents register entries"))
    if not parts:
        return "nothing"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# -- handing back ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseHandBack:
    """What went back on one case."""

    case: Case
    role: CaseRole | None  # the role given back
    incoming_role: CaseRole | None  # the role the person who covered keeps (None: they leave the case)
    actions: tuple[str, ...]  # titles
    documents: tuple[str, ...]


@dataclass(frozen=True)
class HandBack:
    outgoing: Person  # who is back
    incoming: Person  # who covered
    cases: tuple[CaseHandBack, ...]
    not_handed_back: tuple[NotHandedOver, ...]


async def hand_back(
    uow: UnitOfWork, clock: Clock, actor: Actor, team_id: str, handover_id: str, references: Sequence[str],
    pack_for: Callable[[str], ProcedurePack], *, conversation_id: str,
) -> HandBack:
    """Undo a handover for someone who is back: what is still as it was handed over goes back to them (the role,
    where the person who covered still holds it as given; the actions still open and still theirs; the register
    entries still theirs), and nothing else, so the work the person who covered had or was given since stays theirs.
    Who may is checked case by case as for a handover, and the two people it was between may too; each case records
    it as one audit event."""
    async with uow:
        above = await _above(uow, actor, team_id)
        back: list[CaseHandBack] = []
        refused: list[NotHandedOver] = []
        people: tuple[Person, Person] | None = None
        denied = False
        now = clock.now()
        for reference in references:
            case = await find_case(uow, actor.tenant_id, reference)
            recorded = await uow.audit.for_subject("case", case.reference)
            if any(e.action == "case.handed_back" and e.details.get("handover") == handover_id for e in recorded):
                continue
            made = next((e for e in recorded if e.action == "case.handed_over"
                         and e.details.get("handover") == handover_id), None)
            if made is None:
                continue
            d = made.details
            outgoing, incoming = Person(d["outgoing_id"], d["outgoing"]), Person(d["incoming_id"], d["incoming"])
            people = (outgoing, incoming)
            # The two people it was between may undo it too: the one back from leave takes back what was theirs.
            party = actor.id in (outgoing.user_id, incoming.user_id)
            if not party and not above.may(case, actor.id, pack_for):
                denied = True
                refused.append(NotHandedOver(case, f"Only {outgoing.name}, {incoming.name}, its chair, a team admin "
                                                   "or the Head of Service can hand work back on it."))
                continue
            role = CaseRole(d["role"]) if d.get("role") else None
            kept = CaseRole(d["incoming_previous"]) if d.get("incoming_previous") else None
            given = CaseRole(d["incoming_role"]) if d.get("incoming_role") else None
            if role is not None and (case.status is not CaseStatus.OPEN or case.role_of(outgoing.user_id) is not None
                                     or case.role_of(incoming.user_id) is not given):
                role = None  # the roles changed since: the chair puts them right with 'roles'
            ids = {a["id"] for a in d.get("actions") or []}
            actions = [a for a in await uow.cases.actions(case.id) if a.id in ids and a.status == "open"
                       and a.owner is not None and a.owner.user_id == incoming.user_id]
            document_ids = {x["id"] for x in d.get("documents") or []}
            documents = [x for x in await uow.documents.for_case(case.id) if x.id in document_ids
                         and x.owner is not None and x.owner.user_id == incoming.user_id]
            if role is None and not actions and not documents:
                refused.append(NotHandedOver(case, f"Nothing handed over on it is still with {incoming.name} as it "
                                                   "was handed over."))
                continue
            if role is not None:
                await uow.cases.set_member(case.id, Member(incoming.user_id, incoming.name, given or role), kept, now)
                await uow.cases.set_member(case.id, Member(outgoing.user_id, outgoing.name, role), role, now)
            for action in actions:
                await uow.cases.assign_action(action.id, outgoing)
            for document in documents:
                await uow.documents.set_owner(document.id, outgoing)
            await uow.audit.record(event(
                clock, actor, "case.handed_back", "case", case.reference, conversation_id, handover=handover_id,
                outgoing=outgoing.name, outgoing_id=outgoing.user_id, incoming=incoming.name,
                incoming_id=incoming.user_id, role=role.value if role else None,
                incoming_role=kept.value if role and kept else None,
                actions=[{"id": a.id, "title": a.title} for a in actions],
                documents=[{"id": x.id, "title": x.title} for x in documents],
            ))
            await tell_new_owners(uow, clock, actor, case, [a.id for a in actions])
            current = await uow.cases.get(actor.tenant_id, case.id)
            assert current is not None
            back.append(CaseHandBack(current, role, kept if role else None, tuple(a.title for a in actions),
                                     tuple(x.title for x in documents)))
        if people is None:
            raise NotAllowed("This handover has been handed back already.")
        if not back and denied:
            await refuse(uow, clock, actor, team_id, "team.hand_back", NotAllowed(
                f"None of {people[0].name}'s work is yours to hand back."), conversation_id, "team")
        await uow.commit()
    return HandBack(people[0], people[1], tuple(back), tuple(refused))
