"""The reminder rules: from the deadlines in the case record, what is due to be said, to whom, now.

The deadlines themselves stay where they are (action rows, meetings, screenings, team roles); these
rules only read them. Each reminder has a key naming (rule, subject, occurrence), so however often
the sweep runs, and however many schedulers run it, one occurrence is one message. Nothing is due
on a non-working day or outside the pack's working hours: what falls in quiet time is simply due at
the next working start, when the rules run again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from concerns.actions import CaseAction
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, CaseStatus, Person
from concerns.documents import PROVIDER_ROLE, CaseDocument, kind_of, owner_label
from concerns.meetings import Meeting
from concerns.packs import ProcedurePack, Reminders

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

__all__ = [
    "CaseSnapshot",
    "DigestCase",
    "FeedbackOwed",
    "KeyContacts",
    "OpenVote",
    "OutboxMessage",
    "Reminder",
    "ReminderKind",
    "ReminderState",
    "ReminderWindow",
    "Target",
    "action_facts",
    "assignment_notices",
    "digest_key",
    "document_facts",
    "due_reminders",
    "is_quiet",
    "next_working_start",
    "reminder_window",
    "snooze_choices",
]


class ReminderKind(StrEnum):
    ACTION_BEFORE = "action.before"  # to the owner, the pack's working days before the due date
    ACTION_DUE = "action.due"  # to the owner, on the due day (or when first seen past it)
    ACTION_SNOOZED = "action.snoozed"  # to the owner, on the working day they snoozed to
    CASE_OVERDUE = "case.overdue"  # to the chair, each working day while a case has overdue actions
    ACTION_ESCALATE = "action.escalate"  # in the case thread, once an action is overdue by the pack's limit
    DIGEST = "digest"  # to each chair at the pack's digest time on working days
    MEETING_TOMORROW = "meeting.tomorrow"  # to each attendee, the working day before the meeting
    REFERRER_FEEDBACK = "referrer.feedback"  # to the screener, before feedback to the referrer is due
    CASE_STALE = "case.stale"  # in the case thread, after the pack's stale period without activity
    KEY_CONTACTS = "key_contacts.review"  # in the team's channel, when the key contacts are a year old
    DEAD_LETTER = "outbox.dead"  # to the admin channel, when a message could not be delivered
    ACTION_ASSIGNED = "action.assigned"  # to a new owner, when someone else gives them actions (not a deadline)
    DOCUMENT_REVIEW = "document.review"  # to a register entry's keeper, before and when its review is due
    DOCUMENT_REVIEW_OVERDUE = "document.review_overdue"  # to the chair, once a review is the pack's limit overdue
    STEP_DUE = "step.due"  # to the chair, before the current step's target and on the day
    STEP_OVERDUE = "step.overdue"  # in the case thread @mentioning the chair, once a step is the pack's limit past it


class Target(StrEnum):
    PERSONAL = "personal"  # the recipient's 1:1 chat with the bot
    THREAD = "thread"  # a reply in the case's thread
    CHANNEL = "channel"  # a new post in a channel


@dataclass(frozen=True)
class OpenVote:
    id: int
    voters: frozenset[str]


@dataclass(frozen=True)
class CaseSnapshot:
    """An open case with what the rules read: its open actions, meetings to come, last activity."""

    case: Case
    actions: tuple[CaseAction, ...]
    meetings: tuple[Meeting, ...]
    last_activity: datetime
    open_vote: OpenVote | None = None
    # Register entries whose next review falls within the window (all of them with a next review, without one).
    documents: tuple[CaseDocument, ...] = ()


@dataclass(frozen=True)
class DigestCase:
    """An open case read only for its chair's digest, because no other rule can find anything due for it.

    Only what the digest says of it: a whole `Case` for each of the thousands a morning's digests list
    cost more than everything that was due. It has no actions: the window lets in every case with an
    action due in the digest's week (`ReminderWindow.action_horizon`), so none of its own is listed.
    """

    id: int
    tenant_id: str
    reference: str
    provider: str  # the provider's name
    pack_id: str
    step: str
    level: str | None
    chair: Person | None  # its chair, or its coordinator when it has no chair
    open_vote: OpenVote | None = None
    step_due_on: date | None = None  # its step's target


@dataclass(frozen=True)
class FeedbackOwed:
    """A screening whose referrer has not yet been told the outcome."""

    screening_id: int
    tenant_id: str
    concern_reference: str
    provider: str
    screener: Person
    due_on: date


@dataclass(frozen=True)
class KeyContacts:
    """A team's key contacts (who holds the pack's roles) and when they were last set or confirmed."""

    tenant_id: str
    team_id: str
    channel_id: str | None
    holders: tuple[tuple[str, str], ...]  # (role id, name)
    last_reviewed: date


@dataclass(frozen=True)
class ReminderState:
    cases: tuple[CaseSnapshot, ...] = ()
    feedback: tuple[FeedbackOwed, ...] = ()
    key_contacts: tuple[KeyContacts, ...] = ()
    # The (tenant, chair) pairs whose digest to compute: `cases` and `digest_cases` then hold every open case
    # they chair. None: every chair in `cases` (which then holds every open case).
    digest_for: frozenset[tuple[str, str]] | None = None
    # Open cases read for the digests alone, none of them also in `cases`.
    digest_cases: tuple[DigestCase, ...] = ()


@dataclass(frozen=True)
class ReminderWindow:
    """What the rules could find due at one moment, so that storage reads that and not every deadline.

    Each bound is generous (it may let in rows nothing is due for, never keeps out one that is): the
    rules below still decide what is due. A bound left None lets everything in, so `ReminderWindow()`
    is every open case with all its deadlines. Built by `reminder_window`.
    """

    quiet: bool = False  # quiet time under every pack: nothing can be due, nothing need be read
    # Open actions due, register entries' reviews and open cases' step targets, on or before this day.
    actions_due_by: date | None = None
    snoozed_by: date | None = None  # ... and open actions snoozed until this day or earlier
    meetings_before: datetime | None = None  # scheduled meetings starting before this
    inactive_since: datetime | None = None  # open cases with no activity since this (for the stale prompt)
    feedback_due_by: date | None = None  # feedback to referrers due on or before this day
    digest_day: date | None = None  # chairs' digests are due today (this day), once each
    digest_actions_by: date | None = None  # what a digest lists: actions due on or before this day
    digest_for: frozenset[tuple[str, str]] | None = None  # (tenant, chair) whose digest is owed; None: all
    # Sources of actions still reminded once their case has closed: each pack's closing step, whose actions
    # (written notice to the provider and the CQC, the report to the Safeguarding Adults Board) are made as it closes.
    follow_ups: frozenset[str] = frozenset()

    def owing_digests(self, chairs: Iterable[tuple[str, str]], sent: Iterable[str]) -> ReminderWindow:
        """This window with the digests narrowed to `chairs` whose digest key for the day is not in `sent`."""
        if self.digest_day is None:
            return self
        day, done = self.digest_day, set(sent)
        return replace(self, digest_for=frozenset(
            (tenant, user) for tenant, user in chairs if digest_key(tenant, user, day) not in done))

    @property
    def digests(self) -> bool:
        return self.digest_day is not None and (self.digest_for is None or bool(self.digest_for))

    @property
    def action_horizon(self) -> date | None:
        """The latest due date of an action any rule (digests included) could need; None: all of them."""
        if self.actions_due_by is None or (self.digests and self.digest_actions_by is None):
            return None
        if self.digests:
            assert self.digest_actions_by is not None
            return max(self.actions_due_by, self.digest_actions_by)
        return self.actions_due_by


def digest_key(tenant_id: str, user_id: str, day: date) -> str:
    return f"{ReminderKind.DIGEST}:{tenant_id}:{user_id}:{day.isoformat()}"


@dataclass(frozen=True)
class Reminder:
    """One message that is due: its key makes it one outbox row however often it is computed."""

    key: str
    kind: ReminderKind
    tenant_id: str
    target: Target
    summary: str  # one line, for previews and logs
    facts: dict[str, Any] = field(default_factory=dict)  # JSON-safe; the card is rendered from these
    recipient: Person | None = None  # for PERSONAL
    conversation_id: str | None = None  # for THREAD and CHANNEL
    case_reference: str | None = None
    # Reminders this one's message stands for (a case thread's prompt listing several actions, a chair's nudge about
    # several cases): each is still recorded under its own key, so none is computed as new again; only this is sent.
    covers: tuple[Reminder, ...] = ()

    @property
    def lane(self) -> str:
        """The conversation it goes to: messages in one lane are sent in order and rate-limited together."""
        if self.target is Target.PERSONAL:
            assert self.recipient is not None
            return f"user:{self.tenant_id}:{self.recipient.user_id}"
        return f"conversation:{self.conversation_id}"


@dataclass(frozen=True)
class OutboxMessage:
    """A reminder as the outbox holds it: delivered from these facts, so a redelivery is the same message."""

    id: int
    key: str
    kind: ReminderKind
    tenant_id: str
    target: Target
    lane: str
    summary: str
    facts: dict[str, Any]
    recipient: Person | None
    conversation_id: str | None
    case_reference: str | None
    status: str
    attempts: int
    send_after: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None = None
    activity_id: str | None = None
    claimed_by: str | None = None


def local_now(hours: Reminders, at: datetime) -> datetime:
    return at.astimezone(hours.zone)


def is_quiet(hours: Reminders, calendar: WorkingCalendar, at: datetime) -> bool:
    """True on weekends, bank holidays and outside working hours, when nothing is sent."""
    local = local_now(hours, at)
    if not calendar.is_working_day(local.date()):
        return True
    return not hours.working_hours_start <= local.time().replace(tzinfo=None) < hours.working_hours_end


def next_working_start(hours: Reminders, calendar: WorkingCalendar, at: datetime) -> datetime:
    """`at` itself when it is working time, else the start of the next working period."""
    if not is_quiet(hours, calendar, at):
        return at
    local = local_now(hours, at)
    day = local.date()
    if not (calendar.is_working_day(day) and local.time().replace(tzinfo=None) < hours.working_hours_start):
        day = calendar.next_working_day(day)
    return datetime.combine(day, hours.working_hours_start, tzinfo=hours.zone)


def snooze_choices(calendar: WorkingCalendar, today: date, count: int = 10) -> list[date]:
    """The working days one may snooze a reminder to: the next `count` of them."""
    days, day = [], today
    for _ in range(count):
        day = calendar.next_working_day(day)
        days.append(day)
    return days


def _person(person: Person) -> dict[str, str]:
    return {"user_id": person.user_id, "name": person.name}


def _chair(case: Case) -> Person | None:
    member = case.holder(CaseRole.CHAIR) or case.holder(CaseRole.COORDINATOR)
    return Person(member.user_id, member.name) if member else None


def _case_facts(case: Case, pack: ProcedurePack) -> dict[str, Any]:
    return _facts_of(case.reference, case.provider.name, pack, case.step, case.level)


def _facts_of(reference: str, provider: str, pack: ProcedurePack, step: str, level: str | None) -> dict[str, Any]:
    return {
        "case": reference,
        "provider": provider,
        "step": pack.step(step).name,
        "level": pack.level(level).label if level else "Not yet agreed",
    }


def action_facts(action: CaseAction, today: date, calendar: WorkingCalendar) -> dict[str, Any]:
    """What a reminder about an action says, as JSON-safe facts (kept in the outbox row)."""
    assert action.due_on is not None
    late = calendar.working_days_between(action.due_on, today) if action.due_on < today else 0
    return {
        "action_id": action.id,
        "title": action.title,
        "case": action.case_reference,
        "provider": action.provider,
        "owner": action.owner.name if action.owner else None,
        "due_on": action.due_on.isoformat(),
        "working_days_overdue": late,
        "meeting": action.source.startswith("meeting:"),
        "challenge": action.source.startswith("challenge:"),  # answered on its own card, not with Done
    }


def review_keeper(case: Case, document: CaseDocument) -> Person | None:
    """Who is reminded of an entry's review: its owner; for the provider's own plans (the provider is not in Teams)
    and entries nobody owns yet, the coordinator who keeps the register and is the provider's point of contact."""
    if document.owner is not None:
        return document.owner
    member = case.holder(CaseRole.COORDINATOR) or case.holder(CaseRole.CHAIR)
    return Person(member.user_id, member.name) if member else None


def document_facts(case: Case, pack: ProcedurePack, document: CaseDocument, today: date,
                   calendar: WorkingCalendar) -> dict[str, Any]:
    """What a reminder about an entry's review says, as JSON-safe facts (kept in the outbox row)."""
    assert document.next_review_on is not None
    due = document.next_review_on
    kind = kind_of(pack, document.kind)
    return {
        "document_id": document.id, "title": document.title, "case": case.reference, "provider": case.provider.name,
        "owner": owner_label(pack, document.owner_role, document.owner),
        "owner_user_id": document.owner.user_id if document.owner else None,
        "provider_owned": document.owner is None and document.owner_role == PROVIDER_ROLE,
        "next_review_on": due.isoformat(),
        "last_reviewed_on": document.last_reviewed_on.isoformat() if document.last_reviewed_on else None,
        "working_days_overdue": calendar.working_days_between(due, today) if due < today else 0,
        "cycle": kind.review_every_working_days if kind else None,
    }


async def _review_gone(uow: UnitOfWork, message: OutboxMessage) -> str | None:
    document_id = message.facts.get("document_id")
    async with uow:
        document = await uow.documents.get(message.tenant_id, document_id) if isinstance(document_id, int) else None
        case = await uow.cases.get(message.tenant_id, document.case_id) if document is not None else None
    if document is None or case is None:
        return "the entry is no longer in the register"
    if case.status is not CaseStatus.OPEN:
        return f"{case.reference} was closed"
    if (document.next_review_on.isoformat() if document.next_review_on else None) != message.facts.get(
            "next_review_on"):
        return f"'{document.title}' was reviewed or its review re-dated"
    if (document.owner.user_id if document.owner else None) != message.facts.get("owner_user_id"):
        return f"'{document.title}' has a new owner"
    return None


async def _step_moved(uow: UnitOfWork, message: OutboxMessage) -> str | None:
    async with uow:
        case = await uow.cases.get_by_reference(message.tenant_id, message.case_reference or "")
    if case is None:
        return "the case is no longer on the record"
    if case.status is not CaseStatus.OPEN:
        return f"{case.reference} was closed"
    if case.step != message.facts.get("step_id"):
        return f"{case.reference} moved on to another step"
    if (case.step_due_on.isoformat() if case.step_due_on else None) != message.facts.get("step_due_on"):
        return f"the target of {case.reference}'s step was moved"
    return None


async def _meeting_gone(uow: UnitOfWork, message: OutboxMessage) -> str | None:
    meeting_id = message.facts.get("meeting_id")
    async with uow:
        meeting = await uow.meetings.get(message.tenant_id, meeting_id) if isinstance(meeting_id, int) else None
    if meeting is None:
        return "the meeting is no longer on the record"
    if meeting.status != "scheduled":
        return f"the meeting was {meeting.status.value}"
    if meeting.starts_at.isoformat() != message.facts.get("starts_at"):
        return "the meeting was moved"
    return None


# What an escalation prompt says of its action; the rest of its facts are the case's, the same for every action.
_ONE_ACTION_FACTS = ("action_id", "title", "owner", "due_on", "working_days_overdue", "meeting", "challenge")

# Messages about actions, and whose they are: the owner's own reminders, or the case thread's prompt.
_ABOUT_ONE_ACTION = {ReminderKind.ACTION_BEFORE: True, ReminderKind.ACTION_DUE: True,
                     ReminderKind.ACTION_SNOOZED: True, ReminderKind.ACTION_ESCALATE: False}


def owed_again_when_void(message: OutboxMessage) -> bool:
    """Whether the same occurrence may be owed to someone else once this message is voided: an owner's reminder
    voided because the action was given away is the new owner's to have (its key names no owner). The rules only
    compute it again for an open action's current owner, whom the check at sending lets through, so a voided
    reminder never comes back for the person it was voided for."""
    return _ABOUT_ONE_ACTION.get(message.kind, False)


async def no_longer_due(uow: UnitOfWork, message: OutboxMessage) -> str | None:
    """Why a queued message about actions should not be sent now, or None to send it.

    A reminder due at midnight waits for working hours, and one given out on a Friday evening for Monday: by then
    the action may be done, given to someone else (a handover, Not mine) or re-dated, and a reminder about it would
    send its old owner after work that is finished or no longer theirs. The sweep queues the new owner's or the new
    date's own reminder; this one is voided and says why in the outbox."""
    if message.kind is ReminderKind.MEETING_TOMORROW:
        return await _meeting_gone(uow, message)
    if message.kind in (ReminderKind.DOCUMENT_REVIEW, ReminderKind.DOCUMENT_REVIEW_OVERDUE):
        return await _review_gone(uow, message)
    if message.kind in (ReminderKind.STEP_DUE, ReminderKind.STEP_OVERDUE):
        return await _step_moved(uow, message)
    # The due date each action had when the message was made, where a new date makes the message wrong: a reminder
    # of the old date, or the chair's nudge listing it as overdue.
    dated: dict[Any, Any] = {}
    if message.kind is ReminderKind.ACTION_ASSIGNED:
        ids, personal = [a.get("action_id") for a in message.facts.get("actions") or []], True
    elif message.kind is ReminderKind.CASE_OVERDUE or (message.kind is ReminderKind.ACTION_ESCALATE
                                                       and "actions" in message.facts):
        # The chair's nudge (about one case or several), or a prompt listing several actions: wanted while one of
        # them is still overdue.
        listed = message.facts.get("actions") or [action for case in message.facts.get("cases") or []
                                                  for action in case.get("actions") or []]
        ids, personal = [a.get("action_id") for a in listed], False
        dated = {a.get("action_id"): a.get("due_on") for a in listed}
    elif message.kind in _ABOUT_ONE_ACTION:
        ids, personal = [message.facts.get("action_id")], _ABOUT_ONE_ACTION[message.kind]
        dated = {message.facts.get("action_id"): message.facts.get("due_on")}
    else:
        return None
    reasons = []
    async with uow:
        for action_id in ids:
            action = await uow.cases.action(message.tenant_id, action_id) if isinstance(action_id, int) else None
            if action is None:
                reasons.append("the action is no longer on the record")
            elif action.status != "open":
                reasons.append(f"'{action.title}' was marked {action.status.replace('_', ' ')}")
            elif personal and (action.owner is None or message.recipient is None
                               or action.owner.user_id != message.recipient.user_id):
                reasons.append(f"'{action.title}' is no longer theirs")
            elif action_id in dated and (action.due_on.isoformat() if action.due_on else None) != dated[action_id]:
                reasons.append(f"'{action.title}' was re-dated")
            else:
                return None  # one of the actions it is about still stands
    return "; ".join(reasons) or "it is about no action"


def assignment_notices(tenant: str, actions: Iterable[CaseAction], by: Person, at: datetime) -> list[Reminder]:
    """One message to each new owner of `actions`, a case at a time, from whoever gave them out: nobody should
    learn of a task from its first reminder. Owners who gave themselves the action are not told."""
    grouped: dict[tuple[str, str], list[CaseAction]] = {}
    for action in actions:
        if action.owner is not None and action.owner.user_id != by.user_id and action.status == "open":
            grouped.setdefault((action.case_reference, action.owner.user_id), []).append(action)
    notices = []
    for (case, _), given in grouped.items():
        owner, first = given[0].owner, given[0]
        assert owner is not None
        listed = [{"action_id": a.id, "title": a.title, "due_on": a.due_on.isoformat() if a.due_on else None,
                   "meeting": a.source.startswith("meeting:")} for a in given]
        notices.append(Reminder(
            # The moment and the actions make one occasion: the same action given to them again later is news.
            key=f"{ReminderKind.ACTION_ASSIGNED}:{tenant}:{owner.user_id}:{at.isoformat()}:"
                f"{','.join(str(a.id) for a in given)}"[:500],
            kind=ReminderKind.ACTION_ASSIGNED, tenant_id=tenant, target=Target.PERSONAL, recipient=owner,
            case_reference=case,
            facts={"case": case, "provider": first.provider, "by": by.name, "actions": listed},
            summary=f"{owner.name}: {len(given)} action{'s' if len(given) != 1 else ''} on {case} from {by.name}",
        ))
    return notices


class _Remembering(WorkingCalendar):
    """A calendar that keeps its answers for one run of the rules: thousands of actions share a few due dates."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        super().__init__(calendar.nation)
        self._calendar = calendar
        self._working: dict[date, bool] = {}
        self._added: dict[tuple[date, int], date] = {}
        self._between: dict[tuple[date, date], int] = {}

    def is_working_day(self, day: date) -> bool:
        if day not in self._working:
            self._working[day] = self._calendar.is_working_day(day)
        return self._working[day]

    def add_working_days(self, start: date, n: int) -> date:
        if (start, n) not in self._added:
            self._added[(start, n)] = self._calendar.add_working_days(start, n)
        return self._added[(start, n)]

    def working_days_between(self, start: date, end: date) -> int:
        if (start, end) not in self._between:
            self._between[(start, end)] = self._calendar.working_days_between(start, end)
        return self._between[(start, end)]


@dataclass
class _Rules:
    at: datetime
    packs: Mapping[str, ProcedurePack]
    default_pack: ProcedurePack
    calendar_for: Callable[[str], WorkingCalendar]
    found: list[Reminder] = field(default_factory=list)
    calendars: dict[str, WorkingCalendar] = field(default_factory=dict)
    chairs: dict[int, Person | None] = field(default_factory=dict)

    def working_day(self, pack: ProcedurePack) -> tuple[date, WorkingCalendar] | None:
        """Today's date for this pack, or None when it is quiet time and nothing is due."""
        if pack.nation not in self.calendars:
            self.calendars[pack.nation] = _Remembering(self.calendar_for(pack.nation))
        calendar = self.calendars[pack.nation]
        if is_quiet(pack.reminders, calendar, self.at):
            return None
        return local_now(pack.reminders, self.at).date(), calendar

    def add(self, reminder: Reminder) -> None:
        self.found.append(reminder)

    def chair(self, case: Case) -> Person | None:
        """The case's chair (or coordinator), found once a run: several rules ask it of each of thousands of cases."""
        if case.id not in self.chairs:
            self.chairs[case.id] = _chair(case)
        return self.chairs[case.id]

    # -- per case -------------------------------------------------------------------------------

    def case(self, snapshot: CaseSnapshot) -> None:
        case = snapshot.case
        pack = self.packs.get(case.pack_id)
        if pack is None:
            return
        working = self.working_day(pack)
        if working is None:
            return
        today, calendar = working
        if case.status is not CaseStatus.OPEN:
            # A closed case's follow-ups are reminded to their owners, and the chair nudged while they are late;
            # nothing else: its earlier actions closed with it, and nothing on it can be escalated or voted on.
            follow_ups = [a for a in snapshot.actions if a.source == pack.follow_up_source]
            for action in follow_ups:
                self.action(case, pack, action, today, calendar, escalate=False)
            self.overdue(case, pack, follow_ups, today, calendar)
            return
        for action in snapshot.actions:
            self.action(case, pack, action, today, calendar)
        self.overdue(case, pack, snapshot.actions, today, calendar)
        for meeting in snapshot.meetings:
            self.meeting(case, meeting, today, calendar)
        for document in snapshot.documents:
            self.review(case, pack, document, today, calendar)
        self.step(case, pack, today, calendar)
        self.stale(case, pack, snapshot.last_activity, today, calendar)

    def action(self, case: Case, pack: ProcedurePack, action: CaseAction, today: date,
               calendar: WorkingCalendar, *, escalate: bool = True) -> None:
        if action.status != "open" or action.due_on is None:
            return  # an action with no due date has no deadline to remind anyone of
        due = action.due_on
        facts = action_facts(action, today, calendar)
        if action.owner is not None:
            snoozed = action.snoozed_until
            occurrences: list[tuple[ReminderKind, date]] = []
            before = pack.timescales.reminder_before_working_days
            if before:
                before_day = calendar.add_working_days(due, -before)
                if before_day <= today < due:
                    occurrences.append((ReminderKind.ACTION_BEFORE, before_day))
            if today >= due:
                occurrences.append((ReminderKind.ACTION_DUE, due))
            if snoozed is not None:
                # The owner asked for quiet until that day: one reminder then replaces those it covered.
                occurrences = [(kind, day) for kind, day in occurrences if day > snoozed]
                if today >= snoozed:
                    occurrences.insert(0, (ReminderKind.ACTION_SNOOZED, snoozed))
            for kind, day in occurrences[-1:]:
                word = {ReminderKind.ACTION_BEFORE: "due soon", ReminderKind.ACTION_DUE: "due",
                        ReminderKind.ACTION_SNOOZED: "snoozed until today"}[kind]
                # A snooze ends once, whatever happens to the due date after it; re-dating clears the snooze.
                occurrence = day.isoformat() if kind is ReminderKind.ACTION_SNOOZED else \
                    f"{day.isoformat()}:{due.isoformat()}"
                self.add(Reminder(
                    key=f"{kind}:{action.id}:{occurrence}",
                    kind=kind, tenant_id=case.tenant_id, target=Target.PERSONAL, recipient=action.owner,
                    case_reference=case.reference, facts={**facts, "kind": str(kind)},
                    summary=f"{action.owner.name}: {case.reference} action {word} {due:%a %-d %b}: {action.title}",
                ))
        late = calendar.working_days_between(due, today)
        limit = pack.timescales.overdue_escalation_working_days
        if escalate and due < today and late >= limit:
            chair = self.chair(case)
            conversation = case.card_conversation_id or case.channel_id
            if conversation is None:
                return
            escalate_to = pack.role(pack.notifications.escalation_role).label
            self.add(Reminder(
                key=f"{ReminderKind.ACTION_ESCALATE}:{action.id}:{due.isoformat()}",
                kind=ReminderKind.ACTION_ESCALATE, tenant_id=case.tenant_id,
                target=Target.THREAD if case.card_conversation_id else Target.CHANNEL,
                conversation_id=conversation, case_reference=case.reference,
                facts={**facts, **_case_facts(case, pack), "chair": _person(chair) if chair else None,
                       "escalate_to": escalate_to, "limit": limit,
                       "members": [{"user_id": m.user_id, "name": m.name} for m in case.members
                                   if m.role is not CaseRole.OBSERVER]},
                summary=f"{case.reference} thread: '{action.title}' is {late} working days overdue; "
                        f"escalation prompt to {chair.name if chair else 'the chair'}",
            ))

    def overdue(self, case: Case, pack: ProcedurePack, actions: Iterable[CaseAction], today: date,
                calendar: WorkingCalendar) -> None:
        late = [a for a in actions if a.overdue(today)]
        chair = self.chair(case)
        if not late or chair is None:
            return
        self.add(Reminder(
            key=f"{ReminderKind.CASE_OVERDUE}:{case.id}:{today.isoformat()}",
            kind=ReminderKind.CASE_OVERDUE, tenant_id=case.tenant_id, target=Target.PERSONAL, recipient=chair,
            case_reference=case.reference,
            facts={**_case_facts(case, pack), "actions": [action_facts(a, today, calendar) for a in late]},
            summary=f"{chair.name}: {case.reference} has {len(late)} overdue action(s)",
        ))

    def meeting(self, case: Case, meeting: Meeting, today: date, calendar: WorkingCalendar) -> None:
        if meeting.status != "scheduled":
            return
        day = meeting.day
        if not calendar.add_working_days(day, -1) <= today < day:
            return
        people: dict[str, Person] = {}
        for person in (meeting.chair, meeting.minute_taker, *meeting.attendees):
            if person is not None:
                people.setdefault(person.user_id, person)
        facts = {
            "meeting_id": meeting.id, "case": case.reference, "provider": case.provider.name,
            "kind": meeting.kind.label, "starts_at": meeting.starts_at.isoformat(),
            "venue": meeting.venue, "online_link": meeting.online_link,
            "provider_attends": meeting.provider_attends.label,
        }
        for person in people.values():
            self.add(Reminder(
                key=f"{ReminderKind.MEETING_TOMORROW}:{meeting.id}:{person.user_id}:{day.isoformat()}",
                kind=ReminderKind.MEETING_TOMORROW, tenant_id=case.tenant_id, target=Target.PERSONAL,
                recipient=person, case_reference=case.reference, facts=facts,
                summary=f"{person.name}: {meeting.kind.label} for {case.reference} on {day:%a %-d %b}",
            ))

    def step(self, case: Case, pack: ProcedurePack, today: date, calendar: WorkingCalendar) -> None:
        """The current step's target (seed 002: the decision within 5 working days, the initial meeting within 10):
        the chair before it and on the day, and the case thread once the step is the pack's limit past it, as for
        an action; seed 000 found strategy meetings with no agreed timeframe."""
        due, chair = case.step_due_on, self.chair(case)
        if due is None:
            return
        try:
            step = pack.step(case.step)
        except KeyError:
            return  # a step the pack no longer has: nothing to say of it
        late = calendar.working_days_between(due, today) if due < today else 0
        facts = {**_case_facts(case, pack), "step_id": step.id, "step_due_on": due.isoformat(),
                 "timescale": step.timescale_working_days, "working_days_overdue": late,
                 "chair": _person(chair) if chair else None}
        occurrence = _before_or_on_the_day(pack, due, today, calendar)
        if chair is not None and occurrence is not None:
            stage, day = occurrence
            self.add(Reminder(
                key=f"{ReminderKind.STEP_DUE}:{case.id}:{step.id}:{day.isoformat()}:{due.isoformat()}",
                kind=ReminderKind.STEP_DUE, tenant_id=case.tenant_id, target=Target.PERSONAL, recipient=chair,
                case_reference=case.reference, facts={**facts, "stage": stage},
                summary=f"{chair.name}: {case.reference} step '{step.name}' target {due:%a %-d %b}",
            ))
        conversation = case.card_conversation_id or case.channel_id
        if due < today and late >= pack.timescales.overdue_escalation_working_days and conversation is not None:
            self.add(Reminder(
                key=f"{ReminderKind.STEP_OVERDUE}:{case.id}:{step.id}:{due.isoformat()}",
                kind=ReminderKind.STEP_OVERDUE, tenant_id=case.tenant_id,
                target=Target.THREAD if case.card_conversation_id else Target.CHANNEL,
                conversation_id=conversation, case_reference=case.reference,
                facts={**facts, "stage": "overdue", "limit": pack.timescales.overdue_escalation_working_days},
                summary=f"{case.reference} thread: step '{step.name}' {late} working days past its target; "
                        f"prompt to {chair.name if chair else 'the chair'}",
            ))

    def review(self, case: Case, pack: ProcedurePack, document: CaseDocument, today: date,
               calendar: WorkingCalendar) -> None:
        """A register entry's review: its keeper before it is due and on the day; the chair once it is the
        pack's limit overdue, as for actions (a risk management plan left unreviewed is a missed deadline)."""
        due = document.next_review_on
        if due is None:
            return
        keeper = review_keeper(case, document)
        facts = document_facts(case, pack, document, today, calendar)
        occurrence = _before_or_on_the_day(pack, due, today, calendar)
        if keeper is not None and occurrence is not None:
            stage, day = occurrence
            self.add(Reminder(
                key=f"{ReminderKind.DOCUMENT_REVIEW}:{document.id}:{day.isoformat()}:{due.isoformat()}",
                kind=ReminderKind.DOCUMENT_REVIEW, tenant_id=case.tenant_id, target=Target.PERSONAL,
                recipient=keeper, case_reference=case.reference, facts={**facts, "stage": stage},
                summary=f"{keeper.name}: {case.reference} review of '{document.title}' "
                        f"{'due soon' if stage == 'before' else 'due'} {due:%a %-d %b}",
            ))
        chair = self.chair(case)
        limit = pack.timescales.overdue_escalation_working_days
        if due < today and facts["working_days_overdue"] >= limit and chair is not None and \
                (keeper is None or chair.user_id != keeper.user_id):
            self.add(Reminder(
                key=f"{ReminderKind.DOCUMENT_REVIEW_OVERDUE}:{document.id}:{due.isoformat()}",
                kind=ReminderKind.DOCUMENT_REVIEW_OVERDUE, tenant_id=case.tenant_id, target=Target.PERSONAL,
                recipient=chair, case_reference=case.reference,
                facts={**facts, "stage": "overdue", "keeper": keeper.name if keeper else None, "limit": limit},
                summary=f"{chair.name}: {case.reference} review of '{document.title}' "
                        f"{facts['working_days_overdue']} working days overdue",
            ))

    def stale(self, case: Case, pack: ProcedurePack, last_activity: datetime, today: date,
              calendar: WorkingCalendar) -> None:
        period = pack.timescales.stale_case_working_days
        last = local_now(pack.reminders, last_activity).date()
        quiet_days = calendar.working_days_between(last, today)
        conversation = case.card_conversation_id or case.channel_id
        if quiet_days < period or conversation is None:
            return
        chair = self.chair(case)
        self.add(Reminder(
            # One prompt per stale period: if nothing happens, the next comes a period later.
            key=f"{ReminderKind.CASE_STALE}:{case.id}:{last.isoformat()}:{quiet_days // period}",
            kind=ReminderKind.CASE_STALE, tenant_id=case.tenant_id,
            target=Target.THREAD if case.card_conversation_id else Target.CHANNEL,
            conversation_id=conversation, case_reference=case.reference,
            facts={**_case_facts(case, pack), "last_activity": last.isoformat(), "working_days": quiet_days,
                   "chair": _person(chair) if chair else None},
            summary=f"{case.reference} thread: no activity for {quiet_days} working days; review prompt",
        ))

    # -- per tenant -----------------------------------------------------------------------------

    def digests(self, snapshots: Iterable[CaseSnapshot], only: frozenset[tuple[str, str]] | None,
                digest_cases: Iterable[DigestCase] = ()) -> None:
        pack = self.default_pack
        working = self.working_day(pack)
        if working is None:
            return
        today, calendar = working
        if local_now(pack.reminders, self.at).time().replace(tzinfo=None) < pack.reminders.digest_at:
            return
        week_end = calendar.add_working_days(today, 5)
        # Each case as the digest sees it: (id, tenant, chair, reference, provider, pack, step, level, actions,
        # open vote, step target), from a whole case or from a DigestCase.
        entries: list[tuple[Any, ...]] = [
            (s.case.id, s.case.tenant_id, self.chair(s.case), s.case.reference, s.case.provider.name, s.case.pack_id,
             s.case.step, s.case.level, s.actions, s.open_vote, s.case.step_due_on) for s in snapshots]
        digest_cases = tuple(digest_cases)
        if digest_cases:
            entries.extend((d.id, d.tenant_id, d.chair, d.reference, d.provider, d.pack_id, d.step, d.level, (),
                            d.open_vote, d.step_due_on) for d in digest_cases)
            entries.sort(key=lambda entry: entry[0])  # in case order, as when every case was a snapshot
        by_chair: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        people: dict[tuple[str, str], Person] = {}
        for entry in entries:
            tenant_id, chair = entry[1], entry[2]
            if chair is not None:
                key = (tenant_id, chair.user_id)
                if only is not None and key not in only:
                    continue  # its digest was sent, or its cases were not all read
                by_chair.setdefault(key, []).append(entry)
                people[key] = chair
        named: dict[tuple[str, str, str | None], dict[str, Any]] = {}  # thousands of cases share a few steps
        for (tenant_id, user_id), mine in sorted(by_chair.items()):
            chair = people[(tenant_id, user_id)]
            cases, due, overdue, votes = [], [], [], []
            for _, _, _, reference, provider, pack_id, step, level, actions, open_vote, step_due in mine:
                if (pack_id, step, level) not in named:
                    named[(pack_id, step, level)] = _facts_of("", "", self.packs.get(pack_id, pack), step, level)
                cases.append({**named[(pack_id, step, level)], "case": reference, "provider": provider,
                              "step_due_on": step_due.isoformat() if step_due else None})
                for action in actions:
                    if action.status != "open" or action.due_on is None:
                        continue
                    if action.due_on < today:
                        overdue.append(action_facts(action, today, calendar))
                    elif action.due_on <= week_end:
                        due.append(action_facts(action, today, calendar))
                if open_vote is not None:
                    votes.append({"case": reference, "vote_id": open_vote.id, "ballots": len(open_vote.voters),
                                  "voted": user_id in open_vote.voters})
            due.sort(key=lambda item: (item["due_on"], item["case"]))
            overdue.sort(key=lambda item: (item["due_on"], item["case"]))
            self.add(Reminder(
                key=digest_key(tenant_id, user_id, today),
                kind=ReminderKind.DIGEST, tenant_id=tenant_id, target=Target.PERSONAL, recipient=chair,
                facts={"date": today.isoformat(), "cases": cases, "due": due, "overdue": overdue, "votes": votes},
                summary=f"{chair.name}: digest of {len(cases)} case(s), {len(due)} due this week, "
                        f"{len(overdue)} overdue, {len(votes)} open vote(s)",
            ))

    def feedback(self, owed: FeedbackOwed) -> None:
        pack = self.default_pack
        working = self.working_day(pack)
        if working is None:
            return
        today, calendar = working
        before = calendar.add_working_days(owed.due_on, -pack.timescales.reminder_before_working_days) \
            if pack.timescales.reminder_before_working_days else owed.due_on
        if today < before:
            return
        self.add(Reminder(
            key=f"{ReminderKind.REFERRER_FEEDBACK}:{owed.screening_id}:{owed.due_on.isoformat()}",
            kind=ReminderKind.REFERRER_FEEDBACK, tenant_id=owed.tenant_id, target=Target.PERSONAL,
            recipient=owed.screener,
            facts={"concern": owed.concern_reference, "provider": owed.provider, "due_on": owed.due_on.isoformat(),
                   "overdue": owed.due_on < today},
            summary=f"{owed.screener.name}: tell the referrer of {owed.concern_reference} the outcome by "
                    f"{owed.due_on:%a %-d %b}",
        ))

    def key_contacts(self, contacts: KeyContacts) -> None:
        pack = self.default_pack
        working = self.working_day(pack)
        if working is None or contacts.channel_id is None:
            return
        today, _ = working
        due = _add_months(contacts.last_reviewed, pack.timescales.key_contacts_review_months)
        if today < due:
            return
        self.add(Reminder(
            key=f"{ReminderKind.KEY_CONTACTS}:{contacts.tenant_id}:{contacts.team_id}:{due.isoformat()}",
            kind=ReminderKind.KEY_CONTACTS, tenant_id=contacts.tenant_id, target=Target.CHANNEL,
            conversation_id=contacts.channel_id,
            facts={"team_id": contacts.team_id, "last_reviewed": contacts.last_reviewed.isoformat(),
                   "holders": [{"role": _role_label(pack, role), "name": name} for role, name in contacts.holders]},
            summary=f"team {contacts.team_id}: key contacts last reviewed {contacts.last_reviewed:%-d %b %Y}; "
                    "review prompt",
        ))


def _before_or_on_the_day(pack: ProcedurePack, due: date, today: date,
                          calendar: WorkingCalendar) -> tuple[str, date] | None:
    """Which reminder of a date is due today, as ("before", the day it falls) the pack's working days ahead, or
    ("due", the date) on the day and after; each keyed by its day, so each is sent once."""
    if today >= due:
        return "due", due
    before = pack.timescales.reminder_before_working_days
    if before and calendar.add_working_days(due, -before) <= today:
        return "before", calendar.add_working_days(due, -before)
    return None


def _role_label(pack: ProcedurePack, role_id: str) -> str:
    try:
        return pack.role(role_id).label
    except KeyError:
        return role_id


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def due_reminders(
    state: ReminderState,
    at: datetime,
    packs: Mapping[str, ProcedurePack],
    default_pack: ProcedurePack,
    calendar_for: Callable[[str], WorkingCalendar],
) -> list[Reminder]:
    """Every reminder due at `at`, sorted by key; the caller drops those already in the outbox."""
    rules = _Rules(at, packs, default_pack, calendar_for)
    for snapshot in state.cases:
        rules.case(snapshot)
    # A chair's digest lists their open cases; a closed case's follow-ups reach them as reminders instead.
    rules.digests([s for s in state.cases if s.case.status is CaseStatus.OPEN], state.digest_for, state.digest_cases)
    for owed in state.feedback:
        rules.feedback(owed)
    for contacts in state.key_contacts:
        rules.key_contacts(contacts)
    unique = {reminder.key: reminder for reminder in rules.found}
    return [unique[key] for key in sorted(unique)]



def combine_reminders(reminders: Iterable[Reminder]) -> list[Reminder]:
    """New messages that would land together as one: escalation prompts for the same case thread, and the chair's
    nudges about overdue actions on several cases.

    A step's actions are often due the same day, so a neglected step takes several past the limit in one morning:
    one prompt each @mentioned the chair that many times in the thread (eleven for a decision step, a hundred on a
    case left for months); a chair of ten cases behind got ten nudges a morning. Only reminders not yet in the
    outbox are combined, so an action is prompted once, as before, whether alone or listed with others, and a nudge
    is still once a working day; the others are recorded as covered by the one sent."""
    reminders = list(reminders)
    groups: dict[tuple[str | None, ...], list[Reminder]] = {}
    for reminder in reminders:
        if reminder.kind is ReminderKind.ACTION_ESCALATE:
            groups.setdefault((reminder.kind, reminder.tenant_id, reminder.case_reference, reminder.conversation_id),
                              []).append(reminder)
        elif reminder.kind is ReminderKind.CASE_OVERDUE and reminder.recipient is not None:
            groups.setdefault((reminder.kind, reminder.tenant_id, reminder.recipient.user_id), []).append(reminder)
    leads: dict[str, Reminder] = {}
    covered: set[str] = set()
    for group in groups.values():
        if len(group) < 2:
            continue
        lead = _prompt(group) if group[0].kind is ReminderKind.ACTION_ESCALATE else _nudge(group)
        leads[lead.key] = lead
        covered.update(r.key for r in lead.covers)
    return [leads.get(r.key, r) for r in reminders if r.key not in covered]


def _prompt(group: list[Reminder]) -> Reminder:
    """One case thread's escalation prompts as one; the longest overdue leads the list and gives its key."""
    group = sorted(group, key=lambda r: (r.facts["due_on"], r.facts["action_id"]))
    lead = group[0]
    common = {name: value for name, value in lead.facts.items() if name not in _ONE_ACTION_FACTS}
    listed = [{name: r.facts[name] for name in _ONE_ACTION_FACTS if name in r.facts} for r in group]
    chair = lead.facts.get("chair")
    return replace(lead, facts={**common, "actions": listed}, covers=tuple(group[1:]),
                   summary=f"{lead.case_reference} thread: {len(group)} actions past the limit; escalation prompt "
                           f"to {chair['name'] if chair else 'the chair'}")


def _nudge(group: list[Reminder]) -> Reminder:
    """One chair's nudges about several cases as one; the case with the longest overdue action leads."""
    group = sorted(group, key=lambda r: (min(a["due_on"] for a in r.facts["actions"]), r.case_reference or ""))
    lead = group[0]
    assert lead.recipient is not None
    late = sum(len(r.facts["actions"]) for r in group)
    return replace(lead, facts={"cases": [r.facts for r in group]}, covers=tuple(group[1:]),
                   summary=f"{lead.recipient.name}: {late} overdue actions on {len(group)} cases")


def reminder_window(
    at: datetime,
    packs: Mapping[str, ProcedurePack],
    default_pack: ProcedurePack,
    calendar_for: Callable[[str], WorkingCalendar],
) -> ReminderWindow:
    """The window of deadlines the rules above could find due at `at`, under any of the packs.

    It mirrors each rule: an action reminded `before` working days ahead is due by the `before + 1`th
    working day from today; a meeting is reminded the working day before; a case is stale once its
    last activity falls before the `period - 1`th working day back. Digests, feedback and key contacts
    follow the default pack, as the rules do.
    """
    actions: list[date] = []
    snoozed: list[date] = []
    meetings: list[datetime] = []
    inactive: list[datetime] = []
    for pack in {default_pack.id: default_pack, **packs}.values():
        calendar = calendar_for(pack.nation)
        if is_quiet(pack.reminders, calendar, at):
            continue
        today = local_now(pack.reminders, at).date()
        zone = pack.reminders.zone
        actions.append(calendar.add_working_days(today, max(pack.timescales.reminder_before_working_days, 0) + 1))
        snoozed.append(today)
        meetings.append(datetime.combine(calendar.add_working_days(today, 2) + timedelta(days=2), time(), zone))
        quiet_from = calendar.add_working_days(today, -max(pack.timescales.stale_case_working_days - 1, 0))
        inactive.append(datetime.combine(quiet_from, time(), zone))
    if not actions:
        return ReminderWindow(quiet=True, digest_for=frozenset())
    window = ReminderWindow(actions_due_by=max(actions), snoozed_by=max(snoozed), meetings_before=max(meetings),
                            inactive_since=max(inactive), digest_for=frozenset(),
                            follow_ups=frozenset(p.follow_up_source for p in {default_pack.id: default_pack,
                                                                              **packs}.values()))
    calendar = calendar_for(default_pack.nation)
    if is_quiet(default_pack.reminders, calendar, at):
        return replace(window, feedback_due_by=date.min)
    hours = default_pack.reminders
    today = local_now(hours, at).date()
    window = replace(window, feedback_due_by=calendar.add_working_days(
        today, max(default_pack.timescales.reminder_before_working_days, 0) + 1))
    if local_now(hours, at).time().replace(tzinfo=None) >= hours.digest_at:
        window = replace(window, digest_day=today, digest_actions_by=calendar.add_working_days(today, 5),
                         digest_for=None)
    return window
