"""A case's timeline in the procedure's words: one sentence per audit event a member would want to read.

The audit trail keeps every event with its raw details (the case file export has them all); the timeline is
what people read in the channel, often on a phone, so each line says what happened, to what, by whom, with
labels rather than ids and dates as people write them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from concerns.cases import CaseRole
from concerns.challenges import ChallengeAbout, ChallengeAnswer
from concerns.handovers import what_moves
from concerns.meetings import MeetingKind
from concerns.model import AuditEvent
from concerns.packs import ProcedurePack
from concerns.vocabulary import CommissioningStatus, ScreeningOutcome, counted


def describe(event: AuditEvent, pack: ProcedurePack) -> str:
    """One line of the timeline."""
    line = _LINES.get(event.action)
    if line is not None:
        try:
            return line(_Event(event, pack))
        except (KeyError, ValueError, TypeError):
            pass  # an event written by an older version with other details: the plain form below still reads
    return f"{event.actor_name}: {event.action.replace('.', ' ').replace('_', ' ')} ({event.subject_ref})."


class _Event:
    """An event's details, read through the pack's and the vocabulary's labels."""

    def __init__(self, event: AuditEvent, pack: ProcedurePack) -> None:
        self.who = event.actor_name
        self.ref = event.subject_ref
        self.d = event.details
        self.pack = pack

    def get(self, key: str) -> Any:
        return self.d.get(key)

    def level(self, key: str = "level") -> str:
        value = str(self.d.get(key))
        try:
            return self.pack.level(value).label
        except KeyError:
            return value

    def step(self, key: str = "step") -> str:
        value = str(self.d.get(key))
        try:
            return self.pack.step(value).name
        except KeyError:
            return value.replace("_", " ")

    def document(self) -> str:
        title = self.d.get("title")
        if title:
            return f"'{title}'"
        try:
            return self.pack.document_kind(str(self.d.get("kind"))).title
        except KeyError:
            return "a document"

    def day(self, key: str) -> str:
        value = self.d.get(key)
        return f"{date.fromisoformat(str(value)[:10]):%a %-d %b %Y}" if value else "no date"

    def outcome(self) -> str:
        return ScreeningOutcome(str(self.d["outcome"])).label

    def role(self, key: str) -> str | None:
        value = self.d.get(key)
        return CaseRole(value).label.lower() if value else None

    def status(self, key: str) -> str:
        return CommissioningStatus(str(self.d[key])).value.replace("_", " ")

    def then(self, key: str, lead: str) -> str:
        """' {lead} {value}' when the detail is there, else nothing."""
        value = self.d.get(key)
        return f" {lead} {value}" if value else ""


def _role_changed(e: _Event) -> str:
    role, previous = e.role("role"), e.role("previous")
    if role is None:
        return f"{e.who} removed {e.get('name')} from the case" + (f" (was {previous})." if previous else ".")
    if previous is None:
        return f"{e.who} added {e.get('name')} to the case as {role}."
    return f"{e.who} made {e.get('name')} {role} (was {previous})."


def _action_closed(said: str) -> Callable[[_Event], str]:
    def line(e: _Event) -> str:
        return f"{e.who} marked '{e.get('title')}' {said}" + (f": {e.get('note')}" if e.get("note") else "") + "."
    return line


def _step_changed(e: _Event) -> str:
    moved = f"{e.who} moved the case from {e.step('previous')} to {e.step()}"
    if e.get("target_agreed"):
        moved += f", its target {e.day('step_due_on')} as agreed"
    open_required = e.get("open_required") or []
    if not open_required:
        return moved + "."
    return f"{moved} with {counted(len(open_required), 'required action')} open: {e.get('override_reason')}"


def _document_updated(e: _Event) -> str:
    changes = e.get("changes") or {}
    what = ", ".join(str(key).replace("_", " ") for key in changes) if isinstance(changes, dict) else ""
    return f"{e.who} updated {e.document()}" + (f" ({what})." if what else ".")


def _communication_checked(e: _Event) -> str:
    answers = e.get("answers") or []
    return (f"{e.who} reviewed the communication strategy checklist at the {e.step()} step "
            f"({counted(len(answers), 'item')} answered).")


def _meeting_kind(e: _Event) -> str:
    kind = MeetingKind(str(e.get("kind"))).label if e.get("kind") else "Meeting"
    return kind[0].lower() + kind[1:]


def _meeting_scheduled(e: _Event) -> str:
    return f"{e.who} scheduled the {_meeting_kind(e)} for {e.day('starts_at')}, chaired by {e.get('chair')}."


def _meeting_moved(e: _Event) -> str:
    return f"{e.who} moved the {_meeting_kind(e)} from {e.day('previous')} to {e.day('starts_at')}: {e.get('reason')}"


def _meeting_cancelled(e: _Event) -> str:
    return f"{e.who} cancelled the {_meeting_kind(e)} of {e.day('starts_at')}: {e.get('reason')}"


def _minutes(e: _Event) -> str:
    decisions = e.get("decisions") or []
    actions = e.get("actions") or []
    return (f"{e.who} recorded a meeting's minutes: {len(decisions)} decision{'s' if len(decisions) != 1 else ''}, "
            f"{len(actions)} new action{'s' if len(actions) != 1 else ''}.")


def _commissioning(e: _Event) -> str:
    return (f"{e.who} changed {e.get('provider')}'s commissioning status from {e.status('previous')} to "
            f"{e.status('status')}: {e.get('reason')}")


def _challenged(e: _Event) -> str:
    about = ChallengeAbout(str(e.get("about"))).label
    wanted = f" Instead: {e.get('wanted')}" if e.get("wanted") else ""
    return (f"{e.who} challenged {about}: {e.get('reason')}{wanted} {e.get('answer_by')} to answer by "
            f"{e.day('due_on')}" + (" (the chair had answered already)." if e.get("to_senior") else "."))


def _handed_over(e: _Event) -> str:
    # The reason stays on the record only: whether someone left or is off sick is not the channel's business.
    moved = what_moves(str(e.get("incoming")), e.get("role"), e.get("incoming_role"),
                       len(e.get("actions") or []), len(e.get("documents") or []))
    whose = "their" if e.who == e.get("outgoing") else f"{e.get('outgoing')}'s"
    return f"{e.who} handed {whose} work on the case to {e.get('incoming')}: {moved}."


def _handed_back(e: _Event) -> str:
    moved = what_moves(str(e.get("outgoing")), e.get("role"), e.get("role"), len(e.get("actions") or []),
                       len(e.get("documents") or []))
    if e.who == e.get("outgoing"):
        return f"{e.who} took their work on the case back from {e.get('incoming')}: {moved}."
    return f"{e.who} handed {e.get('outgoing')}'s work on the case back from {e.get('incoming')}: {moved}."


_LINES: dict[str, Callable[[_Event], str]] = {
    "concern.raised": lambda e: f"{e.who} raised {e.ref}.",
    "concern.screened": lambda e: f"{e.who} screened {e.ref}: {e.outcome()}, threshold {e.level('threshold')}. "
                                  f"Rationale: {e.get('rationale')}",
    "concern.rescreened": lambda e: f"{e.who} screened {e.ref} again ({e.get('rescreen_reason')}): {e.outcome()}, "
                                    f"threshold {e.level('threshold')}.",
    "concern.s42_enquiry_started": lambda e: f"{e.who} started a Care Act s42 enquiry from {e.ref}.",
    # What it recorded is individual-level: the timeline is read in the channel, the matrix only in personal chat.
    "enquiry.outcome_recorded": lambda e: f"{e.who} updated the s42 enquiry matrix for {e.ref}.",
    "concern.referrer_told": lambda e: f"{e.who} recorded that the referrer of {e.ref} was told the outcome.",
    "subject.erased": lambda e: f"{e.who} erased an individual's details from {e.ref} (a data protection request).",
    "case.opened": lambda e: f"{e.who} opened the case.",
    "case.concern_linked": lambda e: f"{e.who} raised {e.get('concern')} about the provider: it joined the case.",
    "case.role_changed": _role_changed,
    "case.handed_over": _handed_over,
    "meeting.moved": _meeting_moved,
    "meeting.cancelled": _meeting_cancelled,
    "case.handed_back": _handed_back,
    "documents.seeded": lambda e: f"{e.who} started the documents register with the "
                                  f"{len(e.get('documents') or [])} documents the procedure expects.",
    "document.added": lambda e: f"{e.who} added {e.document()} to the documents register"
                                + e.then("owner", "(owner") + (")." if e.get("owner") else "."),
    "document.updated": _document_updated,
    "communication.checked": _communication_checked,
    "vote.started": lambda e: f"{e.who} started a vote on the level.",
    "vote.cast": lambda e: f"{e.who} voted {e.level()}" + (f" ({e.get('reason')})" if e.get("reason") else "")
                           + (f", dissenting: {e.get('dissent')}" if e.get("dissent") else "") + ".",
    "vote.changed": lambda e: f"{e.who} changed their vote from {e.level('previous')} to {e.level()}.",
    "level.confirmed": lambda e: f"{e.who} closed the vote and confirmed the level as {e.level()}"
                                 + (f". Rationale: {e.get('rationale')}" if e.get("rationale") else "")
                                 + (f". Justification: {e.get('justification')}" if e.get("justification") else "")
                                 + ".",
    "step.changed": _step_changed,
    "step.target_moved": lambda e: f"{e.who} gave the {e.step()} step until {e.day('due_on')}"
                                   + (f" (its target was {e.day('previous')})" if e.get("previous") else "")
                                   + f": {e.get('reason')}",
    "step.target_set": lambda e: f"{e.who} set the {e.step()} step's target: {e.day('due_on')}"
                                 + (f" ({e.get('reason')})." if e.get("reason") else "."),
    "action.added": lambda e: f"{e.who} added the action '{e.get('title')}'"
                              + e.then("owner", "for") + (f", due {e.day('due_on')}" if e.get("due_on") else "") + ".",
    "action.done": _action_closed("done"),
    "action.not_applicable": _action_closed("not applicable"),
    "action.reassigned": lambda e: f"{e.who} gave '{e.get('title')}' to {e.get('owner')}"
                                   + (f" (was {e.get('previous')})." if e.get("previous") else "."),
    "action.redated": lambda e: f"{e.who} moved '{e.get('title')}' from {e.day('previous')} to {e.day('due_on')}: "
                                f"{e.get('reason')}",
    "action.snoozed": lambda e: f"{e.who} snoozed the reminders for '{e.get('title')}' until {e.day('until')}.",
    "action.disowned": lambda e: f"{e.who} said '{e.get('title')}' is not theirs; it waits for the chair to assign "
                                 "it.",
    "action.escalated": lambda e: f"{e.who} escalated the overdue action '{e.get('title')}' to "
                                  f"{e.get('to') or str(e.get('to_role') or 'the head of service').replace('_', ' ')}.",
    "meeting.scheduled": _meeting_scheduled,
    "meeting.online_created": lambda e: f"{e.who} created the online meeting's Teams link.",
    "meeting.minutes_recorded": _minutes,
    "provider.commissioning_status": _commissioning,
    "refused": lambda e: f"{e.who} was refused ({e.get('attempted')}): {e.get('reason')}",
    "case.closed": lambda e: f"{e.who} closed the case. Outcome: {e.get('outcome')}"
                             + (f" Closed before quality assurance was complete: {e.get('override_reason')}"
                                if e.get("override_reason") else "")
                             + (f" {counted(len(e.get('closed_with_case')), 'action')} still open closed with it."
                                if e.get("closed_with_case") else ""),
    "case.challenged": _challenged,
    "case.challenge_answered": lambda e: f"{e.who} answered {e.get('challenger')}'s challenge: "
                                         f"{ChallengeAnswer(str(e.get('answer'))).label.lower()}. {e.get('text')}",
    "lessons.given": lambda e: f"{e.who} gave lessons-learned feedback.",
    "lessons.revised": lambda e: f"{e.who} revised their lessons-learned feedback.",
    "file.opened": lambda e: f"{e.who} opened the {str(e.get('file') or 'file').replace('-', ' ')}.",
}

DESCRIBED = frozenset(_LINES)
