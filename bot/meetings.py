"""Meetings of a case in Teams: the schedule card, the meeting card in the case thread, the minutes card."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from bot import graph
from bot.cards import renderer
from bot.reminders import mention
from bot.roster import find_values, form_people, team_roster
from bot.turn import Turn
from concerns import meetings as use_cases
from concerns import services
from concerns.actions import CaseAction
from concerns.cases import Case, CaseRole
from concerns.clock import UK, uk_today
from concerns.errors import NotFound
from concerns.meetings import (
    DECISION_ACTIONS,
    Meeting,
    MeetingKind,
    MeetingStatus,
    ProviderAttends,
    may_record_minutes,
    may_schedule,
    parse_meeting_form,
    parse_minutes_form,
    provider_meeting_deadline,
)
from concerns.model import ConversationKind
from concerns.permissions import Operation, allowed
from concerns.validation import NAMES_ARE_STAFF, FormErrors, parse_id
from concerns.vocabulary import counted
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

MEETING_FORM = "meeting_schedule"
MINUTES_FORM = "meeting_minutes"
MEETING_FIELDS = ("kind", "date", "starts", "ends", "venue", "online_link", "chair", "minute_taker", "attendees",
                  "provider_attends", "late_reason", "short_notice_reason", NAMES_ARE_STAFF)
MINUTES_FIELDS = ("minutes_link", "decisions", NAMES_ARE_STAFF, *(f"{field}_{n}" for n in range(1, DECISION_ACTIONS + 1)
                                                                   for field in ("act", "owner", "due")))
# What a case's step suggests for the type of its next meeting; the chair can choose another.
KIND_FOR_STEP = {"initial_meeting": MeetingKind.INITIAL, "findings_meeting": MeetingKind.FINDINGS,
                 "update_meeting": MeetingKind.UPDATE, "closure": MeetingKind.LESSONS_LEARNED}
NOT_CONFIGURED = "Online meeting link: add it yourself (Microsoft Graph is not configured)."


def _people(people: list[Any]) -> list[dict[str, str]]:
    return [{"user_id": p.user_id, "name": p.name} for p in people]


async def _people_on_form(turn: Turn, case: Case, record: Any, ask: str, picked: tuple[str, ...]) -> dict[str, Any]:
    found = await form_people(turn, record.values, ask, case.members, picked)
    return {"people": _people(found.people), "people_note": found.note}


def _when(meeting: Meeting, *, short: bool = False) -> str:
    starts = meeting.starts_at.astimezone(UK)
    ends = f" to {meeting.ends_at.astimezone(UK):%H:%M}" if meeting.ends_at else ""
    return f"{starts:%A %-d %B, %H:%M}{ends}" if short else f"{starts:%A %-d %B %Y, %H:%M}{ends} (UK time)"


def _kept(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in fields:
        value = data.get(name)
        if isinstance(value, bool):
            value = str(value).lower()
        if isinstance(value, str):
            kept[name] = value[:20_000]
    return kept


def _pack(turn: Turn, case: Case) -> Any:
    return turn.services.packs.get(case.pack_id, turn.services.pack)


# -- scheduling --------------------------------------------------------------------------------------


async def _schedule_values(turn: Turn, case: Case, record: Any, errors: dict[str, str]) -> dict[str, Any]:
    pack = _pack(turn, case)
    deadline = provider_meeting_deadline(pack, case)
    _, meetings = await use_cases.case_meetings(turn.reader(), turn.services.clock, turn.actor.tenant_id,
                                                case.reference)
    # Once the initial meeting is arranged its deadline is history: a case a year in was still told it.
    initial_due = not any(m.kind is MeetingKind.INITIAL and m.status is not MeetingStatus.CANCELLED for m in meetings)
    online = graph.online_meetings()
    return {
        "form_key": record.key, "reference": case.reference, "provider": case.provider.name,
        "kinds": [{"value": k.value, "title": k.label} for k in MeetingKind],
        "attends": [{"value": a.value, "title": a.label} for a in ProviderAttends],
        **await _people_on_form(turn, case, record, f"meeting {case.reference}", ("chair", "minute_taker",
                                                                                     "attendees")),
        "today": uk_today(turn.services.clock).isoformat(),
        "rule_note": (f"The initial meeting with the provider should be by {deadline:%A %-d %B %Y} "
                      f"({pack.timescales.provider_meeting_within_days} days from the decision). "
                      if initial_due else "") + "When the provider "
                     f"attends, they are told the concerns {pack.meetings.provider_told_concerns_working_days_before} "
                     "working days before; the reports reach them "
                     f"{pack.meetings.papers_to_provider_working_days_before_findings} working days before a "
                     "findings meeting.",
        "link_note": "Leave the link empty and I will create a Teams meeting through Microsoft Graph."
                     if online else NOT_CONFIGURED,
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)}, "errors": errors,
    }


async def offer_schedule(turn: Turn, reference: str, find: dict[str, str] | None = None) -> None:
    """The schedule card, for the chair or coordinator of an open case (others are told privately)."""
    from bot.commands import issue_form
    from bot.votes import tell_privately

    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
        may_schedule(case, turn.actor.id)
        if case.status.value != "open":
            raise NotAllowed(f"Case {case.reference} is closed.")
    except NotFound as missing:
        await turn.reply_text(f"{missing} For example: meeting PC-2026-0001.")
        return
    except NotAllowed as refusal:
        await tell_privately(turn, str(refusal))
        return
    if turn.conversation.kind is not ConversationKind.CHANNEL:
        await turn.reply_text("Meetings are scheduled in the team channel, where the case and its members are.")
        return
    chair = case.holder(CaseRole.CHAIR)
    minute_taker = case.holder(CaseRole.MINUTE_TAKER)
    suggested = KIND_FOR_STEP.get(case.step)
    defaults = {"chair": chair.user_id if chair else "", "minute_taker": minute_taker.user_id if minute_taker else "",
                "kind": suggested.value if suggested else "", "provider_attends": ProviderAttends.NO.value}
    record = await issue_form(turn, MEETING_FORM, values=defaults | (find or {}), subject=case.reference)
    await turn.reply_card("meeting_form", **await _schedule_values(turn, case, record, {}))


async def meeting_command(turn: Turn, args: str) -> None:
    """`meeting PC-2026-0001`: schedule a meeting of the case."""
    if not args:
        await turn.reply_text("Tell me which case: for example, meeting PC-2026-0001.")
        return
    await offer_schedule(turn, args.split()[0], find_values(args))


async def offer_schedule_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("case")
    await offer_schedule(turn, reference if isinstance(reference, str) else "")


async def submit_schedule(turn: Turn, data: dict[str, Any]) -> None:
    """Store the meeting and its dated checks, post its card in the case thread, and confirm on the form."""
    from bot.commands import form_refused, submitted_form
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, MEETING_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    if record.result:
        await turn.reply_text("This form already scheduled its meeting; nothing more was saved.")
        return
    values = _kept(data, MEETING_FIELDS)
    online = graph.online_meetings()
    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, record.subject)
        pack = _pack(turn, case)
        form = parse_meeting_form(values, await team_roster(turn.context), turn.services.clock.now(),
                                  turn.services.calendar, link_will_be_created=online is not None)
        scheduled = await use_cases.schedule_meeting(
            turn.uow(), turn.services.clock, turn.services.calendar, pack, turn.actor, case.reference, form,
            conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        await turn.replace_card("meeting_form", **await _schedule_values(turn, case, record, invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    meeting = scheduled.meeting
    record.result = str(meeting.id)
    await turn.services.forms.save(record)
    online_note = None
    if online is not None and meeting.online_link is None:
        meeting, online_note = await _create_online(turn, online, scheduled.case, meeting)
    where = await _post_meeting_card(turn, scheduled.case, meeting, online_note)
    await turn.replace_card("notice", title=f"{meeting.kind.label} of {case.reference} scheduled",
                            text=f"{_when(meeting)}. {where} " + " ".join(
                                f"{a.title} ({a.owner.name if a.owner else 'unassigned'}, due {a.due_on:%a %-d %b})."
                                for a in scheduled.actions if a.due_on), color="Good")
    await _refresh_case(turn, scheduled.case)


async def _create_online(turn: Turn, online: graph.OnlineMeetings, case: Case, meeting: Meeting
                         ) -> tuple[Meeting, str | None]:
    """Create the Teams meeting through Graph; a failure leaves the meeting scheduled and the card says so."""
    subject = f"{case.reference}: {meeting.kind.label}"
    try:
        created = await online.create(subject, meeting.starts_at, meeting.ends_at or meeting.starts_at)
        updated = await use_cases.attach_online_meeting(turn.uow(), turn.services.clock, turn.actor, meeting.id,
                                                        created.join_url, created.id,
                                                        conversation_id=turn.conversation.id)
    except Exception as error:
        log.warning("could not create the online meeting for meeting %s of %s", meeting.id, case.reference,
                    exc_info=True)
        return meeting, (f"Microsoft Graph could not create the online meeting ({graph.describe(error)}): "
                         "the meeting is scheduled; add a link yourself.")
    return updated, None


async def meeting_card_values(turn: Turn, case: Case, meeting: Meeting, online_note: str | None = None
                              ) -> dict[str, Any]:
    """The meeting card, with the checks it brought as they stand on the case's actions."""
    _, actions = await services.case_actions(turn.reader(), turn.actor.tenant_id, case.reference)
    checks: list[CaseAction] = [a for a in actions if a.source == meeting.source]
    if meeting.online_link is None and online_note is None:
        online_note = NOT_CONFIGURED if graph.online_meetings() is None else "No online meeting link."
    status, colour = {
        MeetingStatus.SCHEDULED: ("Scheduled", "Accent"),
        MeetingStatus.HELD: ("Held", "Good"),
        MeetingStatus.CANCELLED: ("Cancelled", "Attention"),
    }[meeting.status]
    minutes_by = ""
    if meeting.minutes_at is not None:
        recorded_on = f"{meeting.minutes_at.astimezone(UK):%-d %b %Y}"
        minutes_by = f"Decisions (minutes recorded by {meeting.minutes_by}, {recorded_on})"
    return {
        "title": f"{meeting.kind.label}: {case.reference}", "status": status, "status_colour": colour,
        "provider": case.provider.name, "when": _when(meeting), "venue": meeting.venue,
        "online_link": meeting.online_link, "online_note": online_note,
        "online_note_colour": "Warning" if online_note and "could not" in online_note else "Default",
        "chair": meeting.chair.name,
        "minute_taker": meeting.minute_taker.name if meeting.minute_taker else "None (the chair records the minutes)",
        "attendees": ", ".join(p.name for p in meeting.attendees) or "None named",
        "provider_attends": meeting.provider_attends.label,
        "checks_title": "Before and after the meeting (on the case's actions)",
        "checks": [f"{a.title}: {a.owner.name if a.owner else 'unassigned'}, "
                   + (f"due {a.due_on:%a %-d %b %Y}" if a.status == "open" and a.due_on else a.status.replace("_", " "))
                   for a in checks],
        "minutes_by": minutes_by, "decisions": list(meeting.decisions), "minutes_link": meeting.minutes_link,
        "can_minute": meeting.status is MeetingStatus.SCHEDULED, "meeting_id": meeting.id,
        "can_change": meeting.status is MeetingStatus.SCHEDULED and case.status.value == "open",
        "today": uk_today(turn.services.clock).isoformat(),
        "move": {"date": meeting.day.isoformat(), "starts": f"{meeting.starts_at.astimezone(UK):%H:%M}",
                 "ends": f"{(meeting.ends_at or meeting.starts_at).astimezone(UK):%H:%M}",
                 "short_label": "If the provider attends and gets less notice than the procedure gives: why"
                 if meeting.provider_attends is not ProviderAttends.NO else "Anything else to record (optional)"},
    }


async def _post_meeting_card(turn: Turn, case: Case, meeting: Meeting, online_note: str | None) -> str:
    """Post the meeting's card in the case thread and remember where, for the minutes to update it; say where."""
    activity = renderer.card_activity("meeting", **await meeting_card_values(turn, case, meeting, online_note))
    target = case.card_conversation_id or turn.activity.conversation.id
    posted: dict[str, str] = {}

    async def send(context: Any) -> None:
        response = await context.send_activity(activity)
        posted["conversation"], posted["activity"] = context.activity.conversation.id, response.id if response else ""

    try:
        await turn.in_conversation(target, send)
    except Exception:
        log.warning("could not post the card of meeting %s of %s", meeting.id, case.reference, exc_info=True)
        if target == turn.activity.conversation.id:
            return "I could not post its card."
        # The case's thread is gone (deleted in Teams): the card goes here, where its minutes can still be recorded.
        try:
            await send(turn.context)
        except Exception:
            log.warning("could not post the card of meeting %s here either", meeting.id, exc_info=True)
            return "I could not post its card: open it from 'meetings' later."
    if posted.get("activity"):
        await use_cases.record_meeting_card(turn.uow(), meeting.id, posted["conversation"], posted["activity"])
    if posted.get("conversation") == target or target == turn.activity.conversation.id:
        return "Its card is in the case thread."
    return "Its card is here: the case's thread could not be reached."


async def _refresh_case(turn: Turn, case: Case) -> None:
    """The case card's next deadline follows the new actions."""
    from bot.cases import case_card

    current = await services.get_case(turn.reader(), turn.actor.tenant_id, case.reference)
    if current.card_conversation_id and current.card_activity_id:
        try:
            await turn.update_card_in(current.card_conversation_id, current.card_activity_id, "case",
                                      **await case_card(turn, current))
        except Exception:
            log.warning("could not update the card of %s", case.reference, exc_info=True)


# -- the list ------------------------------------------------------------------------------------------


LISTED = 20  # meetings on the list: those to come, then the latest held; a year-old case has more


async def meetings_command(turn: Turn, args: str) -> None:
    """`meetings PC-2026-0001`: the case's meetings, those to come first."""
    try:
        case, found = await use_cases.case_meetings(turn.reader(), turn.services.clock, turn.actor.tenant_id,
                                                    args.split()[0] if args else "")
    except NotFound as missing:
        await turn.reply_text(f"{missing} For example: meetings PC-2026-0001.")
        return
    now = turn.services.clock.now()
    rows = []
    for meeting in found:
        if meeting.status is MeetingStatus.HELD:
            state, colour = "Held", "Good"
            detail = f"Minutes recorded by {meeting.minutes_by}: {counted(len(meeting.decisions), 'decision')}."
        elif meeting.status is MeetingStatus.CANCELLED:
            state, colour, detail = "Cancelled", "Default", ""
        elif meeting.starts_at < now:
            state, colour, detail = "Minutes due", "Warning", "It has taken place: record its minutes on its card."
        else:
            state, colour, detail = "Upcoming", "Accent", ""
        where = " · ".join(x for x in (meeting.venue, "online" if meeting.online_link else None) if x)
        rows.append({"kind": meeting.kind.label, "state": state, "colour": colour, "when": _when(meeting),
                     "meeting_id": meeting.id if meeting.status is MeetingStatus.SCHEDULED else None,
                     "detail": " ".join(x for x in (f"Chair {meeting.chair.name}.",
                                                    f"{where}." if where else "",
                                                    f"Provider: {meeting.provider_attends.label.lower()}.",
                                                    detail) if x)})
    await turn.reply_card(
        "meeting_list", title=f"Meetings of {case.reference}", reference=case.reference,
        subtitle=f"{case.provider.name}: {counted(len(found), 'meeting')}, those to come first."
                 + (f" The {len(rows) - LISTED} oldest are in the case file ('case {case.reference} export')."
                    if len(rows) > LISTED else ""), rows=rows[:LISTED],
        can_schedule=case.status.value == "open" and allowed(case, turn.actor.id, Operation.SCHEDULE_MEETING),
    )


# -- minutes -------------------------------------------------------------------------------------------


def _meeting_id(data: dict[str, Any]) -> int | None:
    return parse_id(data.get("meeting"))


async def _minutes_values(turn: Turn, case: Case, meeting: Meeting, record: Any,
                          errors: dict[str, str]) -> dict[str, Any]:
    return {
        "form_key": record.key, "meeting_title": f"{meeting.kind.label.lower()} of {case.reference}",
        "subtitle": f"{case.provider.name} · {_when(meeting)}",
        "slots": list(range(1, DECISION_ACTIONS + 1)),
        **await _people_on_form(turn, case, record, "", tuple(f"owner_{n}" for n in range(1, DECISION_ACTIONS + 1))),
        "today": uk_today(turn.services.clock).isoformat(),
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)}, "errors": errors,
    }


async def offer_minutes_verb(turn: Turn, data: dict[str, Any]) -> None:
    """The minutes card, for the chair, coordinator or minute taker (others are told privately)."""
    from bot.commands import issue_form
    from bot.votes import tell_privately

    meeting_id = _meeting_id(data)
    try:
        if meeting_id is None:
            raise NotFound("That meeting button is not valid.")
        case, meeting = await use_cases.meeting_with_case(turn.reader(), turn.actor.tenant_id, meeting_id)
        may_record_minutes(case, meeting, turn.actor.id)
        if meeting.status is not MeetingStatus.SCHEDULED:
            raise NotAllowed(f"The minutes of this meeting were already recorded by {meeting.minutes_by}."
                             if meeting.status is MeetingStatus.HELD else "That meeting was cancelled.")
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record = await issue_form(turn, MINUTES_FORM, subject=str(meeting.id))
    await turn.reply_card("minutes_form", **await _minutes_values(turn, case, meeting, record, {}))


async def submit_minutes(turn: Turn, data: dict[str, Any]) -> None:
    """Record the minutes; the meeting card updates in place and the decisions' actions join the case."""
    from bot.commands import form_refused, submitted_form
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, MINUTES_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = _kept(data, MINUTES_FIELDS)
    try:
        case, meeting = await use_cases.meeting_with_case(turn.reader(), turn.actor.tenant_id, int(record.subject))
        form = parse_minutes_form(values, await team_roster(turn.context), uk_today(turn.services.clock),
                                  turn.services.calendar)
        recorded = await use_cases.record_minutes(turn.uow(), turn.services.clock, turn.actor, meeting.id, form,
                                                  conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        await turn.replace_card("minutes_form", **await _minutes_values(turn, case, meeting, record, invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = str(meeting.id)
    await turn.services.forms.save(record)
    made = "; ".join(f"{a.title} ({a.owner.name if a.owner else 'unassigned'}, due {a.due_on:%a %-d %b})"
                     for a in recorded.actions)
    await turn.replace_card("notice", title=f"Minutes recorded: {meeting.kind.label.lower()} of {case.reference}",
                            text=f"{counted(len(form.decisions), 'decision')}. " + (f"New actions: {made}." if made else
                                                                            "No decision was made an action."),
                            color="Good")
    held = recorded.meeting
    if held.card_conversation_id and held.card_activity_id:
        try:
            await turn.update_card_in(held.card_conversation_id, held.card_activity_id, "meeting",
                                      **await meeting_card_values(turn, recorded.case, held))
        except Exception:
            log.warning("could not update the card of meeting %s", held.id, exc_info=True)
    await _refresh_case(turn, recorded.case)


# -- moving or cancelling ------------------------------------------------------------------------------


def _people_of(meeting: Meeting) -> list[dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for person in (meeting.chair, meeting.minute_taker, *meeting.attendees):
        if person is not None:
            found.setdefault(person.user_id, {"user_id": person.user_id, "name": person.name})
    return list(found.values())


async def _after_change(turn: Turn, changed: use_cases.ChangedMeeting, said: str) -> None:
    """The card shows the meeting as it now is, and those invited are @mentioned under it, so Teams tells them."""
    from bot.actions import refresh_case_cards

    case, meeting = changed.case, changed.meeting
    await turn.replace_card("meeting", **await meeting_card_values(turn, case, meeting))
    tags, entities = [], []
    for person in _people_of(meeting):
        tag, found = mention(person)
        tags.append(tag)
        entities += found
    text = f"{' '.join(tags)}: {said}" if tags else said[:1].upper() + said[1:]
    await turn.context.send_activity(Activity(type=ActivityTypes.message, entities=entities, text=text))
    await refresh_case_cards(turn, case)


async def move_verb(turn: Turn, data: dict[str, Any]) -> None:
    """'Move the meeting' on its card (chair or coordinator, checked on the server): new date and times, and why."""
    from bot.votes import tell_privately

    meeting_id = _meeting_id(data)
    values = {k: data[k] for k in ("date", "starts", "ends", "move_reason", "short_notice_reason")
              if isinstance(data.get(k), str)}
    try:
        if meeting_id is None:
            raise NotFound("That meeting button is not valid.")
        case, _ = await use_cases.meeting_with_case(turn.reader(), turn.actor.tenant_id, meeting_id)
        pack = turn.services.packs.get(case.pack_id, turn.services.pack)
        form = use_cases.parse_move_form(values, turn.services.clock.now(), turn.services.calendar)
        changed = await use_cases.move_meeting(turn.uow(), turn.services.clock, turn.services.calendar, pack,
                                               turn.actor, meeting_id, form, conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await tell_privately(turn, "The meeting was not moved. " + " ".join(invalid.errors.values()))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    await _after_change(turn, changed, f"the {changed.meeting.kind.label.lower()} of {changed.case.reference} has "
                                       f"moved from {_when(changed.previous, short=True)} to "
                                       f"{_when(changed.meeting, short=True)} (UK time). Why: {changed.reason}")


async def cancel_verb(turn: Turn, data: dict[str, Any]) -> None:
    """'Cancel the meeting' on its card (chair or coordinator): why; the checks it brought no longer apply."""
    from bot.votes import tell_privately

    meeting_id = _meeting_id(data)
    try:
        if meeting_id is None:
            raise NotFound("That meeting button is not valid.")
        changed = await use_cases.cancel_meeting(
            turn.uow(), turn.services.clock, turn.actor, meeting_id,
            {"cancel_reason": data.get("cancel_reason") if isinstance(data.get("cancel_reason"), str) else ""},
            conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await tell_privately(turn, "The meeting was not cancelled. " + " ".join(invalid.errors.values()))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    await _after_change(turn, changed, f"the {changed.meeting.kind.label.lower()} of {changed.case.reference} on "
                                       f"{_when(changed.previous, short=True)} is cancelled. Why: {changed.reason}")


async def show_meeting_verb(turn: Turn, data: dict[str, Any]) -> None:
    """'Open its card' on the list: the meeting's card here, which is where its minutes, a move or a cancellation
    update it from now on (its first card may be far up the thread, or in a thread deleted in Teams)."""
    meeting_id = _meeting_id(data)
    try:
        if meeting_id is None:
            raise NotFound("That meeting button is not valid.")
        case, meeting = await use_cases.meeting_with_case(turn.reader(), turn.actor.tenant_id, meeting_id)
    except NotFound as missing:
        await turn.reply_text(str(missing))
        return
    activity_id = await turn.reply_card("meeting", **await meeting_card_values(turn, case, meeting))
    if activity_id and meeting.status is MeetingStatus.SCHEDULED:
        await use_cases.record_meeting_card(turn.uow(), meeting.id, turn.activity.conversation.id, activity_id)
