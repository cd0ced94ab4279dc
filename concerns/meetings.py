"""Meetings of a case: scheduling them, the pack's checks that come with them, and their minutes.

Each check the procedure asks for around a meeting (tell the provider the concerns in time, share the
reports before the findings meeting, write the minutes) becomes a dated action on the case, so the
reminders that follow actions follow meetings too. Times are entered and shown in UK time and
stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from concerns.actions import PlannedAction
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, CaseStatus, Person
from concerns.casework import event, find_case, open_case, refuse, tell_new_owners
from concerns.clock import UK, Clock, uk_today
from concerns.errors import NotFound
from concerns.model import Actor
from concerns.packs import ProcedurePack
from concerns.permissions import Operation, require
from concerns.validation import FormErrors, check_names, named_on_a_shared_card, says_names_are_staff
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

MAX_VENUE = 300
MAX_LINK = 2000
MAX_REASON = 2000
MAX_DECISION = 500
MAX_DECISIONS = 30
MAX_ATTENDEES = 60
# Decisions that can become actions on the minutes card: enough for a meeting's main outcomes while the card
# stays usable on a phone; more are added with `add action`.
DECISION_ACTIONS = 5
# A meeting of a case is a working meeting, not a conference.
LONGEST_MEETING = timedelta(hours=10)


TELL_PROVIDER = "tell_provider_concerns"
SHARE_REPORTS = "share_reports"
RECORD_MINUTES = "record_minutes"
DECISION = "decision"
MINUTES_TITLE = "Record the minutes and decisions"


class MeetingKind(StrEnum):
    DECISION = "decision"
    INITIAL = "initial"
    FINDINGS = "findings"
    UPDATE = "update"
    CONTINGENCY = "contingency"
    LESSONS_LEARNED = "lessons_learned"

    @property
    def label(self) -> str:
        return {
            "decision": "Concerns and decisions meeting",
            "initial": "Initial meeting with the provider",
            "findings": "Findings meeting",
            "update": "Update meeting",
            "contingency": "Commissioners' contingency meeting",
            "lessons_learned": "Lessons learned meeting",
        }[self.value]


class ProviderAttends(StrEnum):
    NO = "no"
    WHOLE = "whole"
    # Seed 001: professionals first, so that what may not be shared with the provider is discussed without them.
    SECOND_PART = "second_part"

    @property
    def label(self) -> str:
        return {"no": "No (professionals only)", "whole": "The whole meeting",
                "second_part": "Second part only, after a professionals-only part"}[self.value]


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class MeetingForm:
    """A validated schedule-a-meeting card."""

    kind: MeetingKind
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    venue: str | None
    online_link: str | None
    chair: Person
    minute_taker: Person | None
    attendees: tuple[Person, ...]
    provider_attends: ProviderAttends
    late_reason: str | None = None
    names_are_staff: bool = False  # the form's box: everyone the venue names by title is staff
    short_notice_reason: str | None = None


@dataclass(frozen=True)
class Meeting:
    id: int
    case_id: int
    case_reference: str
    kind: MeetingKind
    status: MeetingStatus
    starts_at: datetime
    ends_at: datetime | None
    venue: str | None
    online_link: str | None
    chair: Person
    minute_taker: Person | None
    attendees: tuple[Person, ...]
    provider_attends: ProviderAttends
    created_by: str
    created_at: datetime
    minutes_link: str | None = None
    decisions: tuple[str, ...] = ()
    minutes_by: str | None = None
    minutes_at: datetime | None = None
    graph_meeting_id: str | None = None
    card_conversation_id: str | None = None
    card_activity_id: str | None = None

    @property
    def day(self) -> date:
        """The meeting's date in the UK, which is what working-day rules count from."""
        return self.starts_at.astimezone(UK).date()

    @property
    def source(self) -> str:
        """The `source` of the actions this meeting creates, so they trace back to it."""
        return f"meeting:{self.id}"


@dataclass(frozen=True)
class DecisionAction:
    """A decision in the minutes that becomes an action."""

    decision: int  # 1-based position in the decisions
    title: str
    owner: Person
    due_on: date


@dataclass(frozen=True)
class MinutesForm:
    link: str
    decisions: tuple[str, ...]
    actions: tuple[DecisionAction, ...]
    names_are_staff: bool = False  # the form's box: everyone the decisions name by title is staff


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def _is_web_link(link: str) -> bool:
    parts = urlsplit(link)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in link)


def _plain(text: str) -> bool:
    return "\x00" not in text


def _local_time(text: str) -> time | None:
    # Input.Time sends HH:MM; some clients add seconds.
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


def _utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=UK).astimezone(UTC)


def _parse_when(values: dict[str, Any], now: datetime, calendar: WorkingCalendar,
                errors: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    """The `date`, `starts` and `ends` of a meeting's card as UTC times, or the problems in `errors`."""
    today = now.astimezone(UK).date()
    day: date | None = None
    day_text = _text(values, "date")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        errors["date"] = "Give the date as YYYY-MM-DD." if day_text else "Give the date of the meeting."
    else:
        if day < today:
            errors["date"] = "The date has passed."
        elif not calendar.is_working_day(day):
            holiday = calendar.holiday_name(day)
            errors["date"] = f"{day:%A %-d %B %Y} is not a working day" + (f" ({holiday})." if holiday else ".")

    starts, ends = _local_time(_text(values, "starts")), _local_time(_text(values, "ends"))
    if starts is None:
        errors["starts"] = "Give the start time as HH:MM."
    if ends is None:
        errors["ends"] = "Give the end time as HH:MM."
    starts_at = ends_at = None
    if day is not None and starts is not None and ends is not None:
        starts_at, ends_at = _utc(day, starts), _utc(day, ends)
        if ends_at <= starts_at:
            errors["ends"] = "The meeting must end after it starts."
        elif ends_at - starts_at > LONGEST_MEETING:
            errors["ends"] = "Check the end time: that is more than ten hours."
        if "date" not in errors and starts_at <= now:
            errors["starts"] = "That time has already passed today."
    return starts_at, ends_at


def parse_meeting_form(values: dict[str, Any], roster: list[Person], now: datetime, calendar: WorkingCalendar,
                       *, link_will_be_created: bool = False) -> MeetingForm:
    """Check a schedule-a-meeting card; every problem is reported at once, keyed by its field.

    `link_will_be_created` is true when an online meeting will be set up for it (Microsoft Graph), so
    a meeting with neither venue nor link is still one people can join.
    """
    errors: dict[str, str] = {}
    people = {p.user_id: p for p in roster}

    kind: MeetingKind | None = None
    try:
        kind = MeetingKind(_text(values, "kind"))
    except ValueError:
        errors["kind"] = "Choose the type of meeting."

    starts_at, ends_at = _parse_when(values, now, calendar, errors)

    venue = " ".join(_text(values, "venue").split()) or None
    link = _text(values, "online_link") or None
    if venue is not None and (len(venue) > MAX_VENUE or not _plain(venue)):
        errors["venue"] = f"Keep the venue under {MAX_VENUE} characters of plain text."
    if link is not None and (len(link) > MAX_LINK or not _is_web_link(link)):
        errors["online_link"] = "Give the online meeting link as a web address starting https://."
    if venue is None and link is None and not link_will_be_created:
        errors["venue"] = "Give a venue, an online meeting link, or both."
    # The venue is on the meeting's card in the channel: "Mrs Jones's daughter's house" names her.
    names_are_staff = venue is not None and "venue" not in errors and check_names(
        venue, says_names_are_staff(values), errors)

    chair = people.get(_text(values, "chair"))
    if chair is None:
        errors["chair"] = "Choose the chair from the team's members."
    minute_taker: Person | None = None
    if _text(values, "minute_taker"):
        minute_taker = people.get(_text(values, "minute_taker"))
        if minute_taker is None:
            errors["minute_taker"] = "Choose the minute taker from the team's members."

    attendees: list[Person] = []
    for user_id in _text(values, "attendees").split(","):
        if not user_id.strip():
            continue
        person = people.get(user_id.strip())
        if person is None:
            errors["attendees"] = "Choose attendees from the team's members."
            break
        if person not in attendees:
            attendees.append(person)
    if len(attendees) > MAX_ATTENDEES:
        errors["attendees"] = f"Invite at most {MAX_ATTENDEES} people from here."

    attends: ProviderAttends | None = None
    try:
        attends = ProviderAttends(_text(values, "provider_attends") or ProviderAttends.NO.value)
    except ValueError:
        errors["provider_attends"] = "Say whether the provider attends, and for which part."

    late_reason = _text(values, "late_reason") or None
    if late_reason is not None and (len(late_reason) > MAX_REASON or not _plain(late_reason)):
        errors["late_reason"] = f"Keep the reason under {MAX_REASON} characters."
    short_notice_reason = _text(values, "short_notice_reason") or None
    if short_notice_reason is not None and (len(short_notice_reason) > MAX_REASON or not _plain(short_notice_reason)):
        errors["short_notice_reason"] = f"Keep the reason under {MAX_REASON} characters."

    if errors:
        raise FormErrors(errors)
    assert kind and starts_at and ends_at and chair and attends
    return MeetingForm(kind, starts_at, ends_at, venue, link, chair, minute_taker, tuple(attendees), attends,
                       late_reason, names_are_staff, short_notice_reason)


def provider_meeting_deadline(pack: ProcedurePack, case: Case) -> date:
    """The last day for the initial meeting with the provider: the pack's days from the decision (the opening)."""
    return case.opened_at.astimezone(UK).date() + timedelta(days=pack.timescales.provider_meeting_within_days)


def late_provider_meeting(pack: ProcedurePack, case: Case, form: MeetingForm) -> str | None:
    """Why the form needs a reason because the provider meeting is later than the pack allows, or None."""
    if form.kind is not MeetingKind.INITIAL:
        return None
    deadline = provider_meeting_deadline(pack, case)
    day = form.starts_at.astimezone(UK).date()
    if day <= deadline:
        return None
    return (f"The meeting with the provider should be by {deadline:%A %-d %B %Y} "
            f"({pack.timescales.provider_meeting_within_days} days from the decision): "
            "record why it is later.")


def notice_working_days(pack: ProcedurePack, kind: MeetingKind) -> int:
    """How many working days ahead a provider who attends must be told the concerns (and, for a findings meeting,
    sent the reports)."""
    rules = pack.meetings
    if kind is MeetingKind.FINDINGS:
        return max(rules.provider_told_concerns_working_days_before,
                   rules.papers_to_provider_working_days_before_findings)
    return rules.provider_told_concerns_working_days_before


def short_notice_for_provider(pack: ProcedurePack, calendar: WorkingCalendar, form: MeetingForm,
                              today: date) -> str | None:
    """Why the form needs a reason because the provider would have less notice than the pack gives, or None.

    Seed 000 and seed 001: providers were invited with no time to prepare; they must be told the perceived risks
    first. A meeting sooner than that may still be right (immediate risk), so it is not refused: it is recorded.
    """
    if form.provider_attends is ProviderAttends.NO:
        return None
    needed = notice_working_days(pack, form.kind)
    day = form.starts_at.astimezone(UK).date()
    told_by = calendar.add_working_days(day, -needed)
    if told_by >= today:
        return None
    left = max(calendar.working_days_between(today, day), 0)
    days = f"{left} working day{'s' if left != 1 else ''}"
    return (f"The provider should be told the concerns {needed} working days before the meeting (by "
            f"{told_by:%A %-d %B}), so they can prepare; this date leaves {days}. "
            "Choose a later date, or record why it cannot wait.")


def plan_meeting_checks(pack: ProcedurePack, calendar: WorkingCalendar, case: Case, meeting: Meeting,
                        today: date) -> list[PlannedAction]:
    """The dated actions a scheduled meeting brings with it (PROCEDURE.md, seed 000 and step 2).

    A check whose date has already passed (a meeting set at short notice) is due today: it still has
    to happen, and saying it was due last week would only hide that.
    """
    rules = pack.meetings
    day = meeting.day
    coordinator = case.holder(CaseRole.COORDINATOR)
    coordinator_person = Person(coordinator.user_id, coordinator.name) if coordinator else None
    when = f"the {meeting.kind.label.lower()} on {day:%a %-d %b %Y}"
    planned: list[PlannedAction] = []

    def before(working_days: int) -> date:
        # Due at once when its day has passed, but on a working day: nothing is due on a Saturday.
        return max(calendar.this_or_next_working_day(today), calendar.add_working_days(day, -working_days))

    if meeting.provider_attends is not ProviderAttends.NO:
        planned.append(PlannedAction(
            meeting.source, TELL_PROVIDER, f"Tell the provider the concerns before {when}, so they can prepare",
            CaseRole.COORDINATOR.value, coordinator_person, before(rules.provider_told_concerns_working_days_before),
            True))
    if meeting.kind is MeetingKind.FINDINGS:
        planned.append(PlannedAction(
            meeting.source, SHARE_REPORTS, f"Share the enquiry and monitoring reports with the provider before {when}",
            CaseRole.COORDINATOR.value, coordinator_person,
            before(rules.papers_to_provider_working_days_before_findings), True))
    minute_role = CaseRole.MINUTE_TAKER if meeting.minute_taker else CaseRole.CHAIR
    planned.append(PlannedAction(
        meeting.source, RECORD_MINUTES, f"{MINUTES_TITLE} of {when}", minute_role.value,
        meeting.minute_taker or meeting.chair,
        max(today, calendar.add_working_days(day, rules.minutes_due_working_days_after)), True))
    return planned


def parse_minutes_form(values: dict[str, Any], roster: list[Person], today: date,
                       calendar: WorkingCalendar) -> MinutesForm:
    """Check a minutes card: a link to the minutes, the decisions one per line, and which become actions."""
    errors: dict[str, str] = {}
    people = {p.user_id: p for p in roster}
    link = _text(values, "minutes_link")
    if not link:
        errors["minutes_link"] = "Give the link to the minutes."
    elif len(link) > MAX_LINK or not _is_web_link(link):
        errors["minutes_link"] = "Give the link to the minutes as a web address starting https://."

    decisions = tuple(" ".join(line.split()) for line in _text(values, "decisions").splitlines() if line.strip())
    if not decisions:
        errors["decisions"] = "Record at least one decision, one per line."
    elif len(decisions) > MAX_DECISIONS:
        errors["decisions"] = f"Record at most {MAX_DECISIONS} decisions here; the minutes hold the rest."
    elif any(len(d) > MAX_DECISION or not _plain(d) for d in decisions):
        errors["decisions"] = f"Keep each decision under {MAX_DECISION} characters of plain text."
    # Decisions are on the meeting's card in the channel, and those made actions on the case's checklist.
    names_are_staff = "decisions" not in errors and check_names("\n".join(decisions), says_names_are_staff(values),
                                                                errors)

    actions: list[DecisionAction] = []
    for n in range(1, DECISION_ACTIONS + 1):
        if _text(values, f"act_{n}").lower() != "true":
            continue
        if n > len(decisions):
            errors[f"act_{n}"] = f"There is no decision {n}: write the decisions one per line."
            continue
        owner = people.get(_text(values, f"owner_{n}"))
        if owner is None:
            errors[f"owner_{n}"] = f"Choose who owns the action for decision {n}."
        due_text = _text(values, f"due_{n}")
        due_on: date | None = None
        try:
            due_on = date.fromisoformat(due_text)
        except ValueError:
            errors[f"due_{n}"] = f"Give the due date for decision {n} as YYYY-MM-DD."
        else:
            if due_on < today:
                errors[f"due_{n}"] = f"The due date for decision {n} has passed."
            elif not calendar.is_working_day(due_on):
                errors[f"due_{n}"] = f"{due_on:%A %-d %B %Y} is not a working day."
        if owner is not None and due_on is not None and f"due_{n}" not in errors and n <= len(decisions):
            actions.append(DecisionAction(n, decisions[n - 1], owner, due_on))
    if errors:
        raise FormErrors(errors)
    return MinutesForm(link, decisions, tuple(actions), names_are_staff)


def may_schedule(case: Case, user_id: str) -> None:
    require(case, user_id, Operation.SCHEDULE_MEETING)


def may_record_minutes(case: Case, meeting: Meeting, user_id: str) -> None:
    """The chair, coordinator or minute taker of the case, or the meeting's own chair or minute taker."""
    named = {meeting.chair.user_id} | ({meeting.minute_taker.user_id} if meeting.minute_taker else set())
    if user_id not in named:
        require(case, user_id, Operation.RECORD_MINUTES)


# -- use cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledMeeting:
    case: Case
    meeting: Meeting
    actions: list[PlannedAction]


async def schedule_meeting(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, pack: ProcedurePack, actor: Actor,
    case_reference: str, form: MeetingForm, *, conversation_id: str,
) -> ScheduledMeeting:
    """Schedule a meeting of an open case (chair or coordinator) with the dated checks it brings."""
    async with uow:
        case = await open_case(uow, actor.tenant_id, case_reference)
        try:
            may_schedule(case, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "meeting.schedule", refusal, conversation_id)
        late = late_provider_meeting(pack, case, form)
        short = short_notice_for_provider(pack, calendar, form, uk_today(clock))
        missing = {**({"late_reason": late} if late and not form.late_reason else {}),
                   **({"short_notice_reason": short} if short and not form.short_notice_reason else {})}
        if missing:
            raise FormErrors(missing)
        now = clock.now()
        meeting = await uow.meetings.add(case, form, actor, now)
        planned = plan_meeting_checks(pack, calendar, case, meeting, uk_today(clock))
        await tell_new_owners(uow, clock, actor, case, await uow.cases.add_actions(case.id, planned, now))
        await uow.audit.record(event(
            clock, actor, "meeting.scheduled", "case", case.reference, conversation_id,
            meeting=meeting.id, kind=form.kind.value, starts_at=form.starts_at.isoformat(),
            ends_at=form.ends_at.isoformat(), venue=form.venue, online_link=form.online_link,
            chair=form.chair.name, minute_taker=form.minute_taker.name if form.minute_taker else None,
            attendees=[p.name for p in form.attendees], provider_attends=form.provider_attends.value,
            late_reason=form.late_reason if late else None, names_are_staff=form.names_are_staff,
            short_notice_reason=form.short_notice_reason if short else None,
            actions=[{"title": a.title, "owner": a.owner.name if a.owner else None,
                      "due_on": a.due_on.isoformat() if a.due_on else None} for a in planned],
        ))
        await uow.commit()
        return ScheduledMeeting(case, meeting, planned)


async def _meeting_and_case(uow: UnitOfWork, tenant_id: str, meeting_id: int) -> tuple[Case, Meeting]:
    meeting = await uow.meetings.get(tenant_id, meeting_id)
    case = await uow.cases.get(tenant_id, meeting.case_id) if meeting else None
    if meeting is None or case is None:
        raise NotFound("That meeting is not one I know.")
    return case, meeting


async def meeting_with_case(uow: UnitOfWork, tenant_id: str, meeting_id: int) -> tuple[Case, Meeting]:
    async with uow:
        return await _meeting_and_case(uow, tenant_id, meeting_id)


async def case_meetings(uow: UnitOfWork, clock: Clock, tenant_id: str, reference: str) -> tuple[Case, list[Meeting]]:
    """The case's meetings: those still to come first (soonest first), then past ones (latest first)."""
    async with uow:
        case = await find_case(uow, tenant_id, reference)
        meetings = await uow.meetings.for_case(case.id)
    now = clock.now()
    upcoming = sorted((m for m in meetings if m.starts_at >= now and m.status is MeetingStatus.SCHEDULED),
                      key=lambda m: m.starts_at)
    rest = sorted((m for m in meetings if m not in upcoming), key=lambda m: m.starts_at, reverse=True)
    return case, upcoming + rest


@dataclass(frozen=True)
class RecordedMinutes:
    case: Case
    meeting: Meeting
    actions: list[PlannedAction]


async def record_minutes(
    uow: UnitOfWork, clock: Clock, actor: Actor, meeting_id: int, form: MinutesForm, *, conversation_id: str,
) -> RecordedMinutes:
    """Record a meeting's minutes and decisions: the meeting is held, its minutes action done, and the
    decisions chosen become actions."""
    async with uow:
        case, meeting = await _meeting_and_case(uow, actor.tenant_id, meeting_id)
        try:
            may_record_minutes(case, meeting, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "meeting.minutes", refusal, conversation_id)
        if meeting.status is not MeetingStatus.SCHEDULED:
            raise NotAllowed(f"The minutes of this meeting were already recorded by {meeting.minutes_by}."
                             if meeting.status is MeetingStatus.HELD else "That meeting was cancelled.")
        now = clock.now()
        if meeting.starts_at > now:
            raise FormErrors({"form": f"The meeting starts {meeting.starts_at.astimezone(UK):%A %-d %B at %H:%M}: "
                                      "record its minutes after it."})
        if not await uow.meetings.record_minutes(meeting.id, form.link, list(form.decisions), actor, now):
            raise NotAllowed("Someone recorded these minutes a moment ago.")
        closed = []
        for action in await uow.cases.actions(case.id):
            if action.source == meeting.source and action.title.startswith(MINUTES_TITLE) \
                    and action.status == "open":
                await uow.cases.close_action(action.id, "done", form.link, actor, now)
                closed.append(action.id)
        planned = [PlannedAction(meeting.source, DECISION, a.title, CaseRole.MEMBER.value, a.owner, a.due_on, False)
                   for a in form.actions]
        await tell_new_owners(uow, clock, actor, case, await uow.cases.add_actions(case.id, planned, now))
        await uow.audit.record(event(
            clock, actor, "meeting.minutes_recorded", "case", case.reference, conversation_id,
            meeting=meeting.id, kind=meeting.kind.value, minutes_link=form.link, decisions=list(form.decisions),
            closed_actions=closed, names_are_staff=form.names_are_staff,
            actions=[{"decision": a.decision, "title": a.title, "owner": a.owner.name, "due_on": a.due_on.isoformat()}
                     for a in form.actions],
        ))
        await uow.commit()
        updated = await uow.meetings.get(actor.tenant_id, meeting.id)
        assert updated is not None
        return RecordedMinutes(case, updated, planned)


# -- moving or cancelling a meeting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveForm:
    """A meeting's new time, from its card."""

    starts_at: datetime  # UTC
    ends_at: datetime
    reason: str
    short_notice_reason: str | None = None


def _reason(values: dict[str, Any], key: str, errors: dict[str, str], what: str) -> str:
    # Shown in the case thread with the meeting: the same stop as every shared card's text.
    reason = " ".join(_text(values, key).split())
    if not reason:
        errors[key] = f"Say why the meeting is {what}: the case's record keeps it."
    elif len(reason) > MAX_REASON or not _plain(reason):
        errors[key] = f"Keep the reason under {MAX_REASON} characters of plain text."
    elif named := named_on_a_shared_card(reason):
        errors[key] = named
    return reason


def parse_move_form(values: dict[str, Any], now: datetime, calendar: WorkingCalendar) -> MoveForm:
    errors: dict[str, str] = {}
    starts_at, ends_at = _parse_when(values, now, calendar, errors)
    reason = _reason(values, "move_reason", errors, "moved")
    short_notice_reason = " ".join(_text(values, "short_notice_reason").split()) or None
    if short_notice_reason is not None and (len(short_notice_reason) > MAX_REASON or not _plain(short_notice_reason)):
        errors["short_notice_reason"] = f"Keep the reason under {MAX_REASON} characters."
    if errors:
        raise FormErrors(errors)
    assert starts_at is not None and ends_at is not None
    return MoveForm(starts_at, ends_at, reason, short_notice_reason)


def _as_form(meeting: Meeting) -> MeetingForm:
    return MeetingForm(meeting.kind, meeting.starts_at, meeting.ends_at or meeting.starts_at, meeting.venue,
                       meeting.online_link, meeting.chair, meeting.minute_taker, meeting.attendees,
                       meeting.provider_attends)


def _check_of(title: str) -> str | None:
    """Which of a meeting's checks an action is (plan_meeting_checks' ids), from its title."""
    for check, lead in ((TELL_PROVIDER, "Tell the provider the concerns before"),
                        (SHARE_REPORTS, "Share the enquiry and monitoring reports"), (RECORD_MINUTES, MINUTES_TITLE)):
        if title.startswith(lead):
            return check
    return None


async def _scheduled(uow: UnitOfWork, clock: Clock, actor: Actor, meeting_id: int, attempted: str,
                     conversation_id: str) -> tuple[Case, Meeting]:
    """The meeting, if the actor may change it and it is still to be held."""
    case, meeting = await _meeting_and_case(uow, actor.tenant_id, meeting_id)
    try:
        may_schedule(case, actor.id)
    except NotAllowed as refusal:
        await refuse(uow, clock, actor, case.reference, attempted, refusal, conversation_id)
    if case.status is not CaseStatus.OPEN:
        raise NotAllowed(f"Case {case.reference} is closed.")
    if meeting.status is not MeetingStatus.SCHEDULED:
        raise NotAllowed("Its minutes are recorded: it was held." if meeting.status is MeetingStatus.HELD
                         else "That meeting was cancelled.")
    return case, meeting


@dataclass(frozen=True)
class ChangedMeeting:
    case: Case
    meeting: Meeting  # as it is now
    previous: Meeting  # as it was
    reason: str


async def move_meeting(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, pack: ProcedurePack, actor: Actor, meeting_id: int,
    form: MoveForm, *, conversation_id: str,
) -> ChangedMeeting:
    """Move a meeting still to be held (chair or coordinator), with a reason: the checks it brought follow it (the
    provider told in time before the new date, the minutes after it), and a provider who attends given less notice
    than the pack's asks why, as when it was scheduled."""
    async with uow:
        case, meeting = await _scheduled(uow, clock, actor, meeting_id, "meeting.move", conversation_id)
        today = uk_today(clock)
        short = short_notice_for_provider(pack, calendar, replace(_as_form(meeting), starts_at=form.starts_at,
                                                                  ends_at=form.ends_at), today)
        if short and not form.short_notice_reason:
            raise FormErrors({"short_notice_reason": short})
        if not await uow.meetings.move(meeting.id, form.starts_at, form.ends_at):
            raise NotAllowed("The meeting changed a moment ago: look at its card again.")
        moved = await uow.meetings.get(actor.tenant_id, meeting.id)
        assert moved is not None
        planned = {p.action_id: p for p in plan_meeting_checks(pack, calendar, case, moved, today)}
        followed = []
        for action in await uow.cases.actions(case.id):
            plan = planned.get(_check_of(action.title) or "") if action.source == meeting.source else None
            if plan is None or action.status != "open" or (plan.title, plan.due_on) == (action.title, action.due_on):
                continue
            assert plan.due_on is not None
            await uow.cases.redate_action(action.id, plan.due_on)
            await uow.cases.retitle_action(action.id, plan.title)
            followed.append({"action_id": action.id, "title": plan.title, "due_on": plan.due_on.isoformat()})
        await uow.audit.record(event(
            clock, actor, "meeting.moved", "case", case.reference, conversation_id, meeting=meeting.id,
            kind=meeting.kind.value, previous=meeting.starts_at.isoformat(),
            previous_ends=meeting.ends_at.isoformat() if meeting.ends_at else None,
            starts_at=form.starts_at.isoformat(), ends_at=form.ends_at.isoformat(), reason=form.reason,
            short_notice_reason=form.short_notice_reason if short else None, actions=followed,
        ))
        await uow.commit()
        return ChangedMeeting(case, moved, meeting, form.reason)


async def cancel_meeting(
    uow: UnitOfWork, clock: Clock, actor: Actor, meeting_id: int, values: dict[str, Any], *, conversation_id: str,
) -> ChangedMeeting:
    """Cancel a meeting still to be held (chair or coordinator), with a reason: the checks it brought no longer
    apply, and are marked so with the reason rather than left to be reminded and escalated."""
    errors: dict[str, str] = {}
    reason = _reason(values, "cancel_reason", errors, "cancelled")
    if errors:
        raise FormErrors(errors)
    async with uow:
        case, meeting = await _scheduled(uow, clock, actor, meeting_id, "meeting.cancel", conversation_id)
        now = clock.now()
        if not await uow.meetings.cancel(meeting.id):
            raise NotAllowed("The meeting changed a moment ago: look at its card again.")
        closed = []
        for action in await uow.cases.actions(case.id):
            if action.source == meeting.source and action.status == "open":
                await uow.cases.close_action(action.id, "not_applicable", f"The meeting was cancelled: {reason}",
                                             actor, now)
                closed.append(action.id)
        await uow.audit.record(event(
            clock, actor, "meeting.cancelled", "case", case.reference, conversation_id, meeting=meeting.id,
            kind=meeting.kind.value, starts_at=meeting.starts_at.isoformat(), reason=reason, closed_actions=closed,
        ))
        await uow.commit()
        cancelled = await uow.meetings.get(actor.tenant_id, meeting.id)
        assert cancelled is not None
        return ChangedMeeting(case, cancelled, meeting, reason)


async def record_meeting_card(uow: UnitOfWork, meeting_id: int, conversation_id: str, activity_id: str) -> None:
    """Remember where the meeting's card is, so the minutes can update it in place."""
    async with uow:
        await uow.meetings.set_card(meeting_id, conversation_id, activity_id)
        await uow.commit()


async def attach_online_meeting(
    uow: UnitOfWork, clock: Clock, actor: Actor, meeting_id: int, join_url: str, online_meeting_id: str,
    *, conversation_id: str,
) -> Meeting:
    """Store the online meeting created for a meeting (through Microsoft Graph) and audit it."""
    if not _is_web_link(join_url) or len(join_url) > MAX_LINK:
        raise ValueError("the online meeting service returned no usable join link")
    async with uow:
        case, meeting = await _meeting_and_case(uow, actor.tenant_id, meeting_id)
        await uow.meetings.set_online_meeting(meeting.id, join_url, online_meeting_id[:400])
        await uow.audit.record(event(clock, actor, "meeting.online_created", "case", case.reference, conversation_id,
                                     meeting=meeting.id, online_link=join_url))
        await uow.commit()
        updated = await uow.meetings.get(actor.tenant_id, meeting.id)
        assert updated is not None
        return updated
