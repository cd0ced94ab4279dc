"""Closing a case (seed 002 step 6), the lessons-learned feedback, and the case file behind the
closure notices, the Safeguarding Adults Board summary and the full export.

Only the chair closes a case. Closing follows evidence that improvement is real, which is what the
pack's `closure.requires_step` (Croydon: quality assurance) tests; closing before that step is done
needs the chair's recorded reason. Closing enters the closure step, so its follow-ups (written notice,
telling stakeholders, the lessons-learned exercise, the board report) stay on the case as actions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from concerns.actions import NOT_APPLICABLE, CaseAction, plan_step, step_due, unresolved_required
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseStatus, LessonsFeedback, StepEntry
from concerns.casework import event, find_case, open_case, refuse, team_holders, tell_new_owners
from concerns.challenges import ChallengeAbout, ChallengeAnswer, is_challenge
from concerns.clock import UK, Clock, uk_today
from concerns.documents import CaseDocument, CommunicationAnswer
from concerns.enquiries import EnquiryOutcome, EnquiryStatus
from concerns.meetings import Meeting
from concerns.model import Actor, AuditEvent, Concern
from concerns.packs import ProcedurePack
from concerns.permissions import Operation, require
from concerns.validation import FormErrors, check_names
from concerns.vocabulary import ScreeningOutcome, counted
from concerns.votes import NotAllowed, Vote

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

MAX_TEXT = 4000


@dataclass(frozen=True)
class Readiness:
    """Whether the case may close without an override, and if not, what is missing."""

    reached_required_step: bool
    open_required: tuple[str, ...]  # titles of the required step's actions still open

    @property
    def ready(self) -> bool:
        return self.reached_required_step and not self.open_required

    def explain(self, pack: ProcedurePack) -> str:
        step = pack.step(pack.closure.requires_step).name
        if not self.reached_required_step:
            return f"The case has not reached the {step} step."
        return (f"{counted(len(self.open_required), 'required action')} of the {step} step "
                f"{'is' if len(self.open_required) == 1 else 'are'} still open.")


def closure_readiness(pack: ProcedurePack, entries: list[StepEntry], actions: list[CaseAction]) -> Readiness:
    required = pack.closure.requires_step
    reached = any(entry.step == required for entry in entries)
    return Readiness(reached, tuple(a.title for a in unresolved_required(actions, required)) if reached else ())


# The note on an action still open when its case closed: not applicable, because the case closed.
CLOSED_WITH_CASE = "Still open when the case closed."


def may_close(case: Case, user_id: str) -> None:
    require(case, user_id, Operation.CLOSE_CASE)


def _text(value: str, field_name: str, errors: dict[str, str], required: str | None) -> str:
    value = value.strip()
    if required and not value:
        errors[field_name] = required
    elif len(value) > MAX_TEXT:
        errors[field_name] = f"Keep it under {MAX_TEXT} characters; link longer documents."
    return value


async def closure_check(uow: UnitOfWork, pack: ProcedurePack, tenant_id: str, reference: str
                        ) -> tuple[Case, Readiness]:
    async with uow:
        case = await open_case(uow, tenant_id, reference)
        return case, closure_readiness(pack, await uow.cases.step_entries(case.id), await uow.cases.actions(case.id))


async def close_case(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, pack: ProcedurePack, actor: Actor, reference: str,
    outcome: str, override_reason: str, *, conversation_id: str, names_are_staff: bool = False,
) -> Case:
    """Close the case (chair only) with the outcome that justifies it; the closure step's actions follow.

    `names_are_staff`: the form's box, that everyone the outcome and reason name by title is staff (both are
    shown on the closed case's card in the channel).
    """
    errors: dict[str, str] = {}
    outcome = _text(outcome, "outcome", errors,
                    "Say what improvement was evidenced: it goes in the closure notices and the board report.")
    override_reason = _text(override_reason, "override_reason", errors, None)
    if not errors:
        names_are_staff = check_names(f"{outcome}\n{override_reason}", names_are_staff, errors)
    if errors:
        raise FormErrors(errors)
    async with uow:
        case = await open_case(uow, actor.tenant_id, reference)
        try:
            may_close(case, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "case.close", refusal, conversation_id)
        readiness = closure_readiness(pack, await uow.cases.step_entries(case.id), await uow.cases.actions(case.id))
        if not readiness.ready and not override_reason:
            raise FormErrors({"override_reason": readiness.explain(pack) + " Finish it, or record why the case "
                                                                          "closes anyway."})
        now = clock.now()
        closure_step = pack.closing_step
        if case.step != closure_step.id:
            await uow.cases.enter_step(case.id, closure_step.id, now, actor, override_reason or None,
                                       step_due(pack, closure_step.id, uk_today(clock), calendar))
            moved = await uow.cases.get(actor.tenant_id, case.id)
            assert moved is not None
            await tell_new_owners(uow, clock, actor, moved, await uow.cases.add_actions(case.id, plan_step(
                pack, closure_step.id, uk_today(clock), calendar, moved,
                await team_holders(uow, actor.tenant_id, case.channel_id)), now))
        if not await uow.cases.close(case.id, actor, now, outcome, override_reason or None):
            raise NotAllowed(f"Case {case.reference} was closed a moment ago by someone else.")
        # What is still open of earlier steps (optional actions, required ones an override leaves) closes with the
        # case, saying so: nobody will do or chase it, and it would sit on its owner's list for good. The closing
        # step's follow-ups, and answers owed to challenges (one may be about the closure), stay open.
        closed_with_case = [a for a in await uow.cases.actions(case.id) if a.status == "open"
                            and a.source != pack.follow_up_source and not is_challenge(a)]
        for action in closed_with_case:
            await uow.cases.close_action(action.id, NOT_APPLICABLE, CLOSED_WITH_CASE, actor, now)
        await uow.audit.record(event(
            clock, actor, "case.closed", "case", case.reference, conversation_id,
            outcome=outcome, override_reason=override_reason or None, previous_step=case.step,
            open_required=list(readiness.open_required), reached_required_step=readiness.reached_required_step,
            level=case.level, names_are_staff=names_are_staff,
            closed_with_case=[{"id": a.id, "title": a.title, "owner": a.owner.name if a.owner else None}
                              for a in closed_with_case],
        ))
        await uow.commit()
        closed = await uow.cases.get(actor.tenant_id, case.id)
        assert closed is not None
        return closed


async def give_lessons(
    uow: UnitOfWork, clock: Clock, actor: Actor, reference: str, went_well: str, do_differently: str,
    *, conversation_id: str,
) -> tuple[Case, int]:
    """Record a member's lessons-learned feedback on a closed case; returns how many members have given it."""
    errors: dict[str, str] = {}
    went_well = _text(went_well, "went_well", errors, None)
    do_differently = _text(do_differently, "do_differently", errors, None)
    if not went_well and not do_differently:
        errors["went_well"] = "Say what went well, what to do differently, or both."
    if errors:
        raise FormErrors(errors)
    async with uow:
        case = await find_case(uow, actor.tenant_id, reference)
        try:
            require(case, actor.id, Operation.GIVE_LESSONS)
            if case.status is not CaseStatus.CLOSED:
                raise NotAllowed(f"Lessons-learned feedback on {case.reference} opens when it closes.")
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "lessons.give", refusal, conversation_id)
        first = await uow.cases.give_lessons(case.id, LessonsFeedback(
            actor.id, actor.name, went_well or None, do_differently or None, clock.now()))
        await uow.audit.record(event(clock, actor, "lessons.given" if first else "lessons.revised", "case",
                                     case.reference, conversation_id, went_well=went_well or None,
                                     do_differently=do_differently or None))
        await uow.commit()
        return case, len(await uow.cases.lessons(case.id))


# -- the case file ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeliness:
    on_time: int
    late: int
    not_applicable: int
    open_overdue: int
    open_in_time: int
    closed_with_case: int = 0  # still open when the case closed (and so not applicable), apart from the above

    @property
    def resolved(self) -> int:
        return self.on_time + self.late

    @property
    def share_on_time(self) -> float | None:
        return self.on_time / self.resolved if self.resolved else None


def timeliness(actions: list[CaseAction], today: date, closed_at: datetime | None = None) -> Timeliness:
    """How the case's dated actions went: done by their due date (as re-dated), done late, and so on; those still
    open when the case closed (at `closed_at`) are counted apart from those someone found not applicable."""
    counts: Counter[str] = Counter()
    for action in actions:
        if action.status == "not_applicable" and closed_at is not None and action.closed_at == closed_at \
                and action.note == CLOSED_WITH_CASE:
            counts["with_case"] += 1
        elif action.status == "not_applicable":
            counts["na"] += 1
        elif action.status == "open":
            counts["overdue" if action.overdue(today) else "open"] += 1
        elif action.due_on is None or action.closed_at is None:
            counts["on_time"] += 1
        elif action.closed_at.astimezone(UK).date() <= action.due_on:
            counts["on_time"] += 1
        else:
            counts["late"] += 1
    return Timeliness(counts["on_time"], counts["late"], counts["na"], counts["overdue"], counts["open"],
                      counts["with_case"])


@dataclass(frozen=True)
class CaseFile:
    """Everything recorded about a case, for the closure notices, the board report and the export."""

    case: Case
    pack: ProcedurePack
    concerns: tuple[Concern, ...]
    steps: tuple[StepEntry, ...]
    votes: tuple[Vote, ...]
    actions: tuple[CaseAction, ...]
    lessons: tuple[LessonsFeedback, ...]
    events: tuple[AuditEvent, ...]
    today: date
    meetings: tuple[Meeting, ...] = ()
    documents: tuple[CaseDocument, ...] = ()
    communication: tuple[CommunicationAnswer, ...] = ()
    # One per concern that started an s42 enquiry: its matrix row, or None if nothing was recorded. Counted only:
    # the board report and the export are read by people not entitled to individual details.
    enquiries: tuple[EnquiryOutcome | None, ...] = ()

    @property
    def levels_over_time(self) -> list[tuple[datetime, str]]:
        return [(v.closed_at, v.confirmed_level) for v in self.votes if v.closed_at and v.confirmed_level]

    @property
    def timeliness(self) -> Timeliness:
        return timeliness(list(self.actions), self.today, self.case.closed_at)

    def categories(self) -> Counter[str]:
        return Counter(c.value for concern in self.concerns for c in concern.categories)

    def sources(self) -> Counter[str]:
        return Counter(concern.source_agency.value for concern in self.concerns)

    def challenges(self) -> list[ChallengeRecord]:
        """Each challenge to a decision on the case, oldest first, with its answer and whether it came in time:
        for the board, how disagreement was raised and settled (seed 001, learning point 8)."""
        answers = {e.details.get("action_id"): e for e in self.events if e.action == "case.challenge_answered"}
        found = []
        for raised in (e for e in self.events if e.action == "case.challenged"):
            details = raised.details
            answer = answers.get(details.get("action_id"))
            due = date.fromisoformat(details["due_on"])
            found.append(ChallengeRecord(
                raised_at=raised.occurred_at, by=raised.actor_name, about=ChallengeAbout(details["about"]).label,
                answer_by=str(details.get("answer_by")), due_on=due, to_senior=bool(details.get("senior")),
                answered_at=answer.occurred_at if answer else None,
                answer=ChallengeAnswer(answer.details["answer"]).label if answer else None,
                in_time=answer.occurred_at.astimezone(UK).date() <= due if answer else None))
        return sorted(found, key=lambda c: c.raised_at)

    def enquiry_counts(self) -> EnquiryCounts:
        recorded = [e.form for e in self.enquiries if e is not None]
        concluded = [f for f in recorded if f.status is EnquiryStatus.CONCLUDED]
        return EnquiryCounts(
            started=len(self.enquiries),
            concluded=len(concluded),
            categories=Counter(c.label for f in recorded for c in f.categories),
            caused_by=Counter(f.caused_by.label for f in recorded),
            substantiated=Counter(f.substantiated.label for f in concluded if f.substantiated),
            risk=Counter(f.risk.label for f in concluded if f.risk),
        )


@dataclass(frozen=True)
class ChallengeRecord:
    raised_at: datetime
    by: str
    about: str
    answer_by: str
    due_on: date
    to_senior: bool  # owed by the pack's escalation role rather than the chair
    answered_at: datetime | None
    answer: str | None
    in_time: bool | None  # None while unanswered


@dataclass(frozen=True)
class EnquiryCounts:
    """The s42 enquiries of a case, as numbers: what the board hears about individual enquiries."""

    started: int
    concluded: int
    categories: Counter[str]
    caused_by: Counter[str]
    substantiated: Counter[str]
    risk: Counter[str]


async def case_file(uow: UnitOfWork, clock: Clock, packs: dict[str, ProcedurePack], tenant_id: str,
                    reference: str) -> CaseFile:
    async with uow:
        case = await find_case(uow, tenant_id, reference)
        concerns = [c for ref in case.concerns if (c := await uow.concerns.get_by_reference(tenant_id, ref))]
        subjects = [("case", case.reference), *(("concern", ref) for ref in case.concerns)]
        return CaseFile(
            case=case, pack=packs[case.pack_id], concerns=tuple(concerns),
            steps=tuple(await uow.cases.step_entries(case.id)), votes=tuple(await uow.votes.for_case(case.id)),
            actions=tuple(await uow.cases.actions(case.id)), lessons=tuple(await uow.cases.lessons(case.id)),
            events=tuple(await uow.audit.for_subjects(subjects)), today=uk_today(clock),
            meetings=tuple(await uow.meetings.for_case(case.id)),
            documents=tuple(await uow.documents.for_case(case.id)),
            communication=tuple(await uow.documents.answers(case.id)),
            enquiries=tuple([await uow.enquiries.outcome(c.id) for c in concerns
                             if any(s.outcome is ScreeningOutcome.S42_ENQUIRY
                                    for s in await uow.screenings.for_concern(c.id))]),
        )


def may_export(case: Case, user_id: str) -> None:
    """The full case file is for the chair and the coordinator (need to know, seed 002 section 7)."""
    require(case, user_id, Operation.EXPORT_CASE_FILE)


async def record_file_access(uow: UnitOfWork, clock: Clock, actor: Actor, reference: str, kind: str) -> None:
    """Who opened which rendered file, for the audit trail: reading a case file is a disclosure."""
    async with uow:
        await uow.audit.record(event(clock, actor, "file.opened", "case", reference, None, file=kind))
        await uow.commit()
