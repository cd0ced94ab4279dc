"""Reminder cards (rendered from an outbox row's facts) and what their buttons do.

The outbox keeps the facts, not the card, so a redelivery renders the same message; the buttons act
on the case (done, snooze, not mine, escalate), checked on the server like any other card.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, Mention

from bot.actions import refresh_case_cards
from bot.cards import renderer
from bot.cards.fitting import fit_rows
from bot.turn import Turn
from concerns import followups, services
from concerns.actions import DONE, CaseAction
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, Person
from concerns.clock import UK, uk_today
from concerns.documents import CaseDocument, update_document
from concerns.errors import NotFound
from concerns.packs import ProcedurePack
from concerns.reminders import OutboxMessage, ReminderKind, action_facts, document_facts, review_keeper, snooze_choices
from concerns.validation import FormErrors, parse_id
from concerns.vocabulary import counted
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

OVERDUE_LISTED = 40  # actions on the chair's nudge about one case (about 350 bytes each)
LIST_LIMIT = 12  # lines per digest section before "and N more": a card stays readable on a phone
NUDGE_ACTIONS = 3  # of each case's overdue actions on the chair's nudge about several (its checklist has them all)


def _day(iso: str) -> date:
    return date.fromisoformat(iso)


def _short(day: date) -> str:
    return f"{day:%a %-d %b}"


def _late(facts: dict[str, Any]) -> str:
    late = int(facts.get("working_days_overdue") or 0)
    return f" ({late} working day{'s' if late != 1 else ''} late)" if late else ""


def _snooze(calendar: WorkingCalendar, today: date) -> list[dict[str, str]]:
    return [{"title": f"{day:%A %-d %B}", "value": day.isoformat()} for day in snooze_choices(calendar, today)]


def _values(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"colour": "Default", "notice": None, "error": None, "facts": [], "lines": [],
                            "action_id": None, "snooze": [], "escalation": None, "buttons": [], "link": None,
                            "done": True, "review": None, "extend_step": None, "escalations": None, "rows": [],
                            "rows_note": ""}
    base.update(values)
    return base


def action_reminder_values(facts: dict[str, Any], kind: ReminderKind, calendar: WorkingCalendar, today: date,
                           notice: str | None = None, error: str | None = None) -> dict[str, Any]:
    """The owner's reminder about one action: done, snooze to a working day, or not mine."""
    due = _day(facts["due_on"])
    if kind is ReminderKind.ACTION_BEFORE:
        title, colour = f"Coming up: due {_short(due)}", "Default"
    elif due < today:
        title, colour = f"Overdue since {_short(due)}{_late(facts)}", "Attention"
    elif due == today:
        title, colour = "Due today", "Warning"
    else:
        title, colour = f"Due {_short(due)}", "Warning"
    if kind is ReminderKind.ACTION_SNOOZED:
        title = f"Snoozed until today. {title}"
    lines = ["A meeting's follow-up: see 'meetings " + facts["case"] + "'."] if facts.get("meeting") else []
    if facts.get("challenge"):
        lines.append("Answer it with Answer on the challenge's card in the case thread. Not mine tells the chair.")
    else:
        lines.append("Done records it on the case. Not mine tells the chair, who gives it to someone else.")
    return _values(
        title=title, colour=colour, subtitle=f"{facts['case']} · {facts['provider']}", notice=notice, error=error,
        facts=[{"title": "Action", "value": facts["title"]}, {"title": "Due", "value": f"{due:%A %-d %B %Y}"}],
        lines=lines, action_id=facts["action_id"], snooze=_snooze(calendar, today), done=not facts.get("challenge"),
    )


def _by_day(due: date, today: date, coming: str, on_the_day: str, late: str) -> tuple[str, str]:
    """A reminder's title and colour by where today falls against its date."""
    if due > today:
        return coming, "Default"
    return (on_the_day, "Warning") if due == today else (late, "Attention")


def review_reminder_values(facts: dict[str, Any], kind: ReminderKind, today: date, notice: str | None = None,
                           error: str | None = None) -> dict[str, Any]:
    """A register entry's review: to its keeper before and when due, to the chair once it is well overdue. Both
    can record the review on the card (the chair and coordinator keep the register; an owner keeps their own)."""
    due = _day(facts["next_review_on"])
    what = f"Review of {facts['title']}"
    title, colour = _by_day(due, today, f"Coming up: {what} due {_short(due)}", f"{what} is due today",
                            f"{what} overdue since {_short(due)}{_late(facts)}")
    last = f"{_day(facts['last_reviewed_on']):%A %-d %B %Y}" if facts.get("last_reviewed_on") else "Not yet"
    cycle = f"; the next one is set {facts['cycle']} working days on unless you give a date" \
        if facts.get("cycle") else ""
    if kind is ReminderKind.DOCUMENT_REVIEW_OVERDUE:
        keeper = facts.get("keeper") or "Nobody"
        lines = [f"{keeper} was reminded and it is past the procedure's limit of {facts['limit']} working days. "
                 "Chase the review, or record it here once it has happened."]
    elif facts.get("provider_owned"):
        lines = ["The provider keeps this plan: review it with them (you are their point of contact), then record "
                 f"the review here{cycle}."]
    else:
        lines = [f"Review it, then record the review here{cycle}."]
    return _values(
        title=title, colour=colour, subtitle=f"{facts['case']} · {facts['provider']}", notice=notice, error=error,
        facts=[{"title": "Document", "value": facts["title"]}, {"title": "Owner", "value": facts["owner"]},
               {"title": "Last reviewed", "value": last}, {"title": "Review due", "value": f"{due:%A %-d %B %Y}"}],
        lines=lines, review={"document_id": facts["document_id"], "today": today.isoformat()},
        buttons=[{"title": "Open the register", "data": {"verb": "documents.show", "case": facts["case"]}}],
    )


def _step_target(facts: dict[str, Any], today: date) -> tuple[str, str, str]:
    """How a step's target reads: a title, its colour, and the target in full."""
    due, step = _day(facts["step_due_on"]), facts["step"]
    title, colour = _by_day(due, today, f"Coming up: the {step} step's target is {_short(due)}",
                            f"The {step} step's target is today",
                            f"The {step} step is past its target of {_short(due)}{_late(facts)}")
    timescale = f" ({facts['timescale']} working days from its start)" if facts.get("timescale") else ""
    return title, colour, f"{due:%A %-d %B %Y}{timescale}"


def step_values(facts: dict[str, Any], kind: ReminderKind, today: date) -> dict[str, Any]:
    """The chair's reminder of the current step's target, and the case thread's prompt once it is well past."""
    title, colour, target = _step_target(facts, today)
    case = facts["case"]
    move = {"title": "Move the step on", "data": {"verb": "step.offer", "case": case}}
    extend = {"case": case, "after": today.isoformat()}
    if kind is ReminderKind.STEP_OVERDUE:
        chair = facts["chair"]["name"] if facts.get("chair") else "Chair"
        return _values(
            title=f"{case}: {title[0].lower()}{title[1:]}", colour="Attention",
            subtitle=f"{facts['provider']} · level: {facts['level']}",
            facts=[{"title": "Step", "value": facts["step"]}, {"title": "Target", "value": target}],
            lines=[f"It is past the procedure's limit of {facts['limit']} working days. {chair}: move the case on, "
                   "raise the level, or extend the target, saying why the step needs longer."],
            extend_step=extend,
            buttons=[move, {"title": "Raise the level", "data": {"verb": "vote.start", "case": case}}])
    return _values(
        title=title, colour=colour, subtitle=f"{case} · {facts['provider']} · level: {facts['level']}",
        facts=[{"title": "Step", "value": facts["step"]}, {"title": "Target", "value": target}],
        lines=["Move the case on once the step's required actions are resolved (or record why it moves on anyway). "
               "If it needs longer, extend the target and say why."],
        extend_step=extend,
        buttons=[move, {"title": "Open the case", "data": {"verb": "case.show", "reference": case}}])


def _assigned(facts: dict[str, Any], calendar: WorkingCalendar, today: date) -> dict[str, Any]:
    """Word to a new owner: one action with what its reminders offer (done, snooze, not mine), or several as a
    list with the way to all of theirs."""
    given = facts["actions"]
    subtitle = f"{facts['case']} · {facts['provider']}"
    if len(given) == 1:
        [action] = given
        due = f"{_day(action['due_on']):%A %-d %B %Y}" if action["due_on"] else "No date set"
        lines = ["A meeting's follow-up: see 'meetings " + facts["case"] + "'."] if action.get("meeting") else []
        lines.append("Done records it on the case. Not mine tells the chair, who gives it to someone else. "
                     "You are reminded before it is due.")
        return _values(title=f"{facts['by']} gave you an action", subtitle=subtitle,
                       facts=[{"title": "Action", "value": action["title"]}, {"title": "Due", "value": due}],
                       lines=lines, action_id=action["action_id"], snooze=_snooze(calendar, today))
    listed = [(f"{_short(_day(a['due_on']))} · " if a["due_on"] else "") + a["title"] for a in given]
    if len(listed) > LIST_LIMIT:
        listed = [*listed[:LIST_LIMIT], f"and {len(listed) - LIST_LIMIT} more"]
    return _values(title=f"{len(given)} new actions for you", subtitle=subtitle,
                   lines=[f"Given out by {facts['by']}:", *listed,
                          "Confirm each one from 'actions' when it is done; you are reminded before each is due."],
                   buttons=[{"title": "My actions", "data": {"verb": "actions.mine"}}])


def _digest(facts: dict[str, Any]) -> dict[str, Any]:
    def section(heading: str, colour: str, lines: list[str], where: str = "") -> dict[str, Any]:
        more = f"and {len(lines) - LIST_LIMIT} more{where}" if len(lines) > LIST_LIMIT else None
        return {"heading": heading, "colour": colour, "lines": lines[:LIST_LIMIT], "more": more}

    overdue = [f"{a['case']}: {a['title']} · {a['owner'] or 'unassigned'} · due {_short(_day(a['due_on']))}"
               f"{_late(a)}" for a in facts["overdue"]]
    due = [f"{_short(_day(a['due_on']))} · {a['case']}: {a['title']} · {a['owner'] or 'unassigned'}"
           for a in facts["due"]]
    votes = [f"{v['case']}: {counted(v['ballots'], 'ballot')} so far" + ("" if v["voted"] else "; you have not voted")
             for v in facts["votes"]]
    day = _day(facts["date"])

    def target(case: dict[str, Any]) -> str:
        if "step_due_on" not in case:  # digests queued before steps had targets
            return ""
        due = case["step_due_on"]
        if not due:
            return " (no target agreed)"
        return f" (PAST ITS TARGET {_short(_day(due))})" if _day(due) < day else f" (target {_short(_day(due))})"

    def attention(case: dict[str, Any]) -> tuple[int, str]:
        """A case past its step's target first, then one with none agreed, then by its target."""
        due = case.get("step_due_on")
        if due and _day(due) < day:
            return 0, due
        return (2, due) if due else (1, "")

    cases = [f"{c['case']} · {c['provider']} · step: {c['step']}{target(c)} · level: {c['level']}"
             for c in sorted(facts["cases"], key=attention)]
    where = " (each case's checklist, in its thread, lists them; 'cases mine' opens each case)"
    sections = [section(f"Overdue ({len(overdue)})", "Attention", overdue, where)] if overdue else []
    sections.append(section(f"Due in the next 5 working days ({len(due)})", "Default",
                            due or ["Nothing is due."], where))
    if votes:
        sections.append(section(f"Votes open ({len(votes)})", "Warning", votes))
    sections.append(section(f"Your cases ({len(cases)})", "Default", cases, " (see 'cases mine')"))
    return {"title": f"Your cases on {day:%A %-d %B}", "subtitle": "The chair's daily digest", "sections": sections}


def message_card(message: OutboxMessage, calendar: WorkingCalendar, today: date) -> tuple[str, dict[str, Any]]:
    """The template and values for an outbox row."""
    facts, kind = message.facts, message.kind
    if kind in (ReminderKind.ACTION_BEFORE, ReminderKind.ACTION_DUE, ReminderKind.ACTION_SNOOZED):
        return "reminder", action_reminder_values(facts, kind, calendar, today)
    if kind is ReminderKind.DIGEST:
        return "digest", _digest(facts)
    if kind is ReminderKind.CASE_OVERDUE and "cases" in facts:
        return "reminder", nudge_values(facts)
    if kind is ReminderKind.CASE_OVERDUE:
        lines = [f"{a['title']} · {a['owner'] or 'unassigned'} · due {_short(_day(a['due_on']))}{_late(a)}"
                 for a in sorted(facts["actions"], key=lambda a: a["due_on"])]
        count = len(lines)
        if count > OVERDUE_LISTED:  # the longest overdue first: a case with hundreds would be no card at all
            lines = [*lines[:OVERDUE_LISTED], f"and {count - OVERDUE_LISTED} more (the case's checklist lists them)"]
        return "reminder", _values(
            title=f"{count} overdue action{'s' if count != 1 else ''} on {facts['case']}",
            colour="Attention", subtitle=f"{facts['provider']} · step: {facts['step']} · level: {facts['level']}",
            lines=[*lines, f"Chase the owners, re-date or reassign from 'case {facts['case']}', or raise the level."],
            buttons=[{"title": "Raise the level", "data": {"verb": "vote.start", "case": facts["case"]}}],
        )
    if kind is ReminderKind.ACTION_ESCALATE and "actions" in facts:
        return "reminder", escalation_prompt_values(facts)
    if kind is ReminderKind.ACTION_ESCALATE:
        due = _day(facts["due_on"])
        chair = facts["chair"]["name"] if facts.get("chair") else "Chair"
        return "reminder", _values(
            title=f"Overdue{_late(facts)}: {facts['title']}", colour="Attention",
            subtitle=f"{facts['case']} · {facts['provider']} · step: {facts['step']} · level: {facts['level']}",
            facts=[{"title": "Owner", "value": facts["owner"] or "Unassigned"},
                   {"title": "Was due", "value": f"{due:%A %-d %B %Y}"}],
            lines=[f"It is past the procedure's limit of {facts['limit']} working days. {chair}: extend it "
                   f"with a reason, reassign it, raise the level, or escalate to {facts['escalate_to']}."],
            escalation={"action_id": facts["action_id"], "case": facts["case"], "members": facts["members"],
                        "escalate_to": facts["escalate_to"]},
        )
    if kind is ReminderKind.MEETING_TOMORROW:
        starts = datetime.fromisoformat(facts["starts_at"]).astimezone(UK)
        where = " and ".join(p for p in (facts.get("venue"), "online" if facts.get("online_link") else None) if p)
        return "reminder", _values(
            title=f"{facts['kind']} on {starts:%A %-d %B} at {starts:%H:%M}",
            subtitle=f"{facts['case']} · {facts['provider']}",
            facts=[{"title": "Where", "value": where or "See the meeting card"},
                   {"title": "Provider attends", "value": facts["provider_attends"]}],
            lines=[f"The agenda and papers: 'meetings {facts['case']}'."],
            link={"title": "Join online", "url": facts["online_link"]} if facts.get("online_link") else None,
        )
    if kind is ReminderKind.REFERRER_FEEDBACK:
        due = _day(facts["due_on"])
        return "reminder", _values(
            title=f"Tell the referrer of {facts['concern']} the outcome", colour="Attention" if facts["overdue"]
            else "Warning", subtitle=facts["provider"],
            facts=[{"title": "Due by", "value": f"{due:%A %-d %B %Y}"}],
            lines=["The person who raised the concern is told what happened to it (the referrer-feedback "
                   "indicator counts this)."],
            buttons=[{"title": "Referrer told", "data": {"verb": "referrer.told", "reference": facts["concern"]}}],
        )
    if kind is ReminderKind.CASE_STALE:
        last = _day(facts["last_activity"])
        return "reminder", _values(
            title=f"No activity on {facts['case']} for {facts['working_days']} working days", colour="Warning",
            subtitle=f"{facts['provider']} · step: {facts['step']} · level: {facts['level']}",
            lines=[f"Nothing has been recorded since {last:%A %-d %B}. Review the case: is the level still "
                   "right, should the step move on, or can the case close?"],
            buttons=[{"title": "Raise the level", "data": {"verb": "vote.start", "case": facts["case"]}},
                     {"title": "Close the case", "data": {"verb": "case.offer_close", "case": facts["case"]}}],
        )
    if kind is ReminderKind.KEY_CONTACTS:
        last = _day(facts["last_reviewed"])
        return "reminder", _values(
            title="Review the key contacts", colour="Warning",
            subtitle=f"Last reviewed or changed {last:%-d %B %Y}; the procedure asks for a yearly review",
            facts=[{"title": holder["role"], "value": holder["name"]} for holder in facts["holders"]],
            lines=["If someone has moved on, type 'team roles' to change who holds the role."],
            buttons=[{"title": "Still correct", "data": {"verb": "key_contacts.reviewed"}}],
        )
    if kind is ReminderKind.ACTION_ASSIGNED:
        return "reminder", _assigned(facts, calendar, today)
    if kind in (ReminderKind.DOCUMENT_REVIEW, ReminderKind.DOCUMENT_REVIEW_OVERDUE):
        return "reminder", review_reminder_values(facts, kind, today)
    if kind in (ReminderKind.STEP_DUE, ReminderKind.STEP_OVERDUE):
        return "reminder", step_values(facts, kind, today)
    if kind is ReminderKind.DEAD_LETTER:
        return "reminder", _values(
            title="A reminder could not be delivered", colour="Attention",
            subtitle=f"Outbox row {facts['outbox_id']} ({facts['kind']})",
            facts=[{"title": "What", "value": facts["summary"]}, {"title": "Last error", "value": facts["error"]},
                   {"title": "Attempts", "value": str(facts["attempts"])}],
            lines=["An operator can list and retry undelivered messages with 'concerns-bot outbox list' and "
                   f"'concerns-bot outbox retry {facts['outbox_id']}'."],
        )
    raise ValueError(f"no card for reminder kind {kind}")


def escalation_prompt_values(facts: dict[str, Any]) -> dict[str, Any]:
    """The case thread's prompt about several actions past the limit at once: each with its Extend and Reassign
    while the card holds them, one Escalate for those the chair picks, and Raise the level."""
    listed = facts["actions"]
    chair = facts["chair"]["name"] if facts.get("chair") else "Chair"
    rows = [{"aid": str(a["action_id"]), "controls": True,
             "line": f"{a['title']} · {a['owner'] or 'unassigned'} · was due {_short(_day(a['due_on']))}{_late(a)}"}
            for a in listed[:OVERDUE_LISTED]]
    values = _values(
        title=f"{len(listed)} actions past the limit on {facts['case']}", colour="Attention",
        subtitle=f"{facts['provider']} · step: {facts['step']} · level: {facts['level']}",
        lines=[f"Each is more than the procedure's {facts['limit']} working days overdue. {chair}: extend each with a "
               f"reason or reassign it, raise the level, or escalate them to {facts['escalate_to']}."],
        rows=rows, rows_note=f"And {len(listed) - len(rows)} more: the step's checklist lists them."
        if len(listed) > len(rows) else "",
        escalations={"case": facts["case"], "escalate_to": facts["escalate_to"], "members": facts["members"],
                     "chosen": ",".join(row["aid"] for row in rows),
                     "choices": [{"title": _cut(f"{a['title']} ({a['owner'] or 'unassigned'})", 120),
                                  "value": str(a["action_id"])} for a in listed[:OVERDUE_LISTED]]},
    )
    fit_rows("reminder", values, lambda row: rows.index(row), note="rows_note",
             said=lambda kept, total: (" " if values["rows_note"] else "") + (
                 f"Extend and Reassign are on the first {kept}; the step's checklist has them for the others."
                 if kept else "Extend and Reassign for each are on the step's checklist."),
             left_out=lambda n: f" {n} more are not shown here: the step's checklist lists them.")
    return values


def nudge_values(facts: dict[str, Any]) -> dict[str, Any]:
    """The chair's one nudge about overdue actions on several cases: each case with its longest overdue actions and
    a button to its card, the case with the longest overdue action first."""
    cases = facts["cases"]
    late = sum(len(case["actions"]) for case in cases)

    def row(case: dict[str, Any]) -> dict[str, Any]:
        actions = sorted(case["actions"], key=lambda a: a["due_on"])
        more = [f"{a['title']} · {a['owner'] or 'unassigned'} · due {_short(_day(a['due_on']))}{_late(a)}"
                for a in actions[:NUDGE_ACTIONS]]
        if len(actions) > NUDGE_ACTIONS:
            more.append(f"and {len(actions) - NUDGE_ACTIONS} more (the case's checklist lists them)")
        reference = case["case"]
        return {"line": f"{reference} · {case['provider']} · {counted(len(actions), 'overdue action')} · step: "
                        f"{case['step']}", "weight": "Bolder", "more": more, "controls": True,
                "buttons": [{"title": f"Open {reference}", "data": {"verb": "case.show", "reference": reference}}]}

    rows = [row(case) for case in cases[:LIST_LIMIT]]
    values = _values(
        title=f"{counted(late, 'overdue action')} on {len(cases)} of your cases", colour="Attention",
        subtitle="The longest overdue first", rows=rows,
        lines=["Chase the owners, re-date or reassign from each case's checklist, or raise the level from its card."],
        rows_note=f"And {len(cases) - len(rows)} more cases: your digest and 'cases mine' list them."
        if len(cases) > len(rows) else "",
        buttons=[{"title": "My cases", "data": {"verb": "cases.list", "mine": True}}],
    )
    fit_rows("reminder", values, lambda r: rows.index(r), note="rows_note",
             said=lambda kept, total: "", left_out=lambda n: f" {n} more cases are not shown here: see 'cases mine'.")
    return values


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def mention(person: dict[str, str] | None) -> tuple[str, list[Mention]]:
    if not person:
        return "", []
    tag = f"<at>{person['name']}</at>"
    return tag, [Mention(type="mention", text=tag, mentioned=ChannelAccount(id=person["user_id"], name=person["name"]))]


def message_activity(message: OutboxMessage, calendar: WorkingCalendar, today: date) -> Activity:
    """The activity to send for an outbox row; case-thread prompts @mention the chair so Teams notifies them."""
    name, values = message_card(message, calendar, today)
    activity = renderer.card_activity(name, **values)
    if message.kind in (ReminderKind.ACTION_ESCALATE, ReminderKind.CASE_STALE, ReminderKind.STEP_OVERDUE):
        tag, entities = mention(message.facts.get("chair"))
        if tag:
            activity.text = f"{tag} please decide what happens next on {message.case_reference}."
            activity.entities = entities
    return activity


# -- what the buttons do ---------------------------------------------------------------------------

def _action_id(data: dict[str, Any]) -> int | None:
    return parse_id(data.get("action"))


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    return value if isinstance(value, str) else ""


async def _show_again(turn: Turn, action: CaseAction, notice: str | None, error: str | None = None) -> None:
    today = uk_today(turn.services.clock)
    facts = action_facts(action, today, turn.services.calendar)
    kind = ReminderKind.ACTION_DUE if action.due_on and action.due_on <= today else ReminderKind.ACTION_BEFORE
    values = action_reminder_values(facts, kind, turn.services.calendar, today, notice, error)
    await turn.replace_card("reminder", **values)


async def _refused(turn: Turn, refusal: Exception | str) -> None:
    from bot.votes import tell_privately

    await tell_privately(turn, str(refusal))


async def done_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Done from a reminder: the action is closed on the case, and the case card shows it."""
    action_id = _action_id(data)
    try:
        if action_id is None:
            raise NotFound("That reminder button is not valid.")
        case, action = await services.close_action(turn.uow(), turn.services.clock, turn.actor, action_id, DONE,
                                                   _text(data, "note"), conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed, FormErrors) as refusal:
        await _refused(turn, " ".join(refusal.errors.values()) if isinstance(refusal, FormErrors) else refusal)
        return
    await _show_again(turn, action, f"Done: recorded on {case.reference} by {turn.actor.name}.")
    await refresh_case_cards(turn, case)


async def snooze_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Snooze from a reminder: the owner's reminders for the action wait until the chosen working day."""
    action_id = _action_id(data)
    try:
        if action_id is None:
            raise NotFound("That reminder button is not valid.")
        case, action = await followups.snooze_action(
            turn.uow(), turn.services.clock, turn.services.calendar, turn.actor, action_id, _text(data, "until"),
            conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await _refused(turn, refusal)
        return
    except FormErrors as invalid:
        async with turn.reader() as uow:
            current = await uow.cases.action(turn.actor.tenant_id, action_id or 0)
        if current is None:
            await _refused(turn, NotFound("That action is not one I know."))
            return
        await _show_again(turn, current, None, invalid.errors.get("until", "Choose a working day."))
        return
    assert action.snoozed_until is not None
    await _show_again(turn, action, f"Snoozed: I will remind you again on {action.snoozed_until:%A %-d %B}. "
                                    "The chair still sees it if it becomes overdue.")
    del case


async def not_mine_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Not mine: the action goes back to the chair to assign, and the chair is told in the case thread."""
    action_id = _action_id(data)
    try:
        if action_id is None:
            raise NotFound("That reminder button is not valid.")
        disowned = await followups.disown_action(turn.uow(), turn.services.clock, turn.actor, action_id,
                                                 conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await _refused(turn, refusal)
        return
    case, action = disowned.case, disowned.action
    text = (f"{turn.actor.name} says this action on {case.reference} is not theirs: '{action.title}'. "
            f"It is unassigned until the chair gives it to someone ('case {case.reference}').")
    tag, entities = mention({"user_id": disowned.chair.user_id, "name": disowned.chair.name}
                             if disowned.chair else None)
    activity = Activity(type=ActivityTypes.message, text=f"{tag} {text}".strip(), entities=entities or None)
    target = case.card_conversation_id or case.channel_id
    try:
        if target:
            await turn.post_in(target, activity)
    except Exception:
        log.warning("could not tell the chair of %s about a disowned action", case.reference, exc_info=True)
    await turn.replace_card("reminder", **_values(
        title=f"Not yours: {action.title}", subtitle=f"{case.reference} · {case.provider.name}",
        notice="The chair has been told; it is unassigned until they give it to someone."))
    await refresh_case_cards(turn, case)


async def escalate_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Escalate an overdue action to the pack's escalation role (head of service), @mentioning them."""
    action_id = _action_id(data)
    await _escalate(turn, [action_id] if action_id is not None else [])


async def escalate_many_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Escalate the actions the chair picked on a prompt listing several (Teams sends a multi-select as "1,2,3")."""
    picked = [parse_id(part.strip()) for part in _text(data, "escalate").split(",") if part.strip()]
    if not picked:
        await _refused(turn, "Nothing was escalated: tick the actions to escalate, then press Escalate.")
        return
    await _escalate(turn, [] if None in picked else [i for i in picked if i is not None])


async def _escalate(turn: Turn, action_ids: list[int]) -> None:
    try:
        if not action_ids:
            raise NotFound("That button is not valid.")
        case_pack = turn.services.pack
        async with turn.reader() as uow:
            found = await uow.cases.action(turn.actor.tenant_id, action_ids[0])
            case = await uow.cases.get(turn.actor.tenant_id, found.case_id) if found else None
        if case is not None:
            case_pack = turn.services.packs.get(case.pack_id, case_pack)
        escalation = await followups.escalate_actions(turn.uow(), turn.services.clock, case_pack, turn.actor,
                                                      action_ids, conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await _refused(turn, refusal)
        return
    case = escalation.case

    def named(action: CaseAction) -> str:
        return f"'{action.title}'" + (f" (due {action.due_on:%A %-d %B})" if action.due_on else "")

    if len(escalation.actions) == 1:
        action = escalation.action
        due = f" (due {action.due_on:%A %-d %B})" if action.due_on else ""
        what = f"'{action.title}' on {case.reference} ({case.provider.name}) is overdue{due}"
        text = f"escalated by {turn.actor.name}: {what}. Please decide with the chair how it is resolved."
    else:
        what = f"{len(escalation.actions)} actions on {case.reference} ({case.provider.name}) are overdue"
        text = (f"escalated by {turn.actor.name}: {what}: " + "; ".join(named(a) for a in escalation.actions)
                + ". Please decide with the chair how they are resolved.")
    skipped = " Not escalated, closed meanwhile: " + "; ".join(
        f"'{a.title}' ({a.status.replace('_', ' ')})" for a in escalation.skipped) + "." if escalation.skipped else ""
    holder: Person | None = escalation.holder
    if holder is None:
        how_many = f" ({counted(len(escalation.actions), 'action')})" if len(escalation.actions) > 1 else ""
        await turn.reply_text(f"Escalated on the record{how_many}, but nobody holds {escalation.role_label} in this "
                              f"team: record them with 'team roles' so they are @mentioned.{skipped}")
        return
    text += skipped
    tag, entities = mention({"user_id": holder.account_id or holder.user_id, "name": holder.name})
    await turn.context.send_activity(Activity(type=ActivityTypes.message, text=f"{tag} {text}", entities=entities))


async def key_contacts_reviewed_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Still correct: the key contacts review is recorded for this team; the next prompt is a year on."""
    team_id = turn.conversation.team_id  # from the activity, never from the card
    try:
        if not team_id:
            raise NotFound("Key contacts are kept per team: answer in the team's channel.")
        await followups.review_key_contacts(turn.uow(), turn.services.clock, turn.actor, team_id,
                                            conversation_id=turn.conversation.id)
    except NotFound as refusal:
        await _refused(turn, refusal)
        return
    await turn.replace_card("reminder", **_values(
        title="Key contacts reviewed", subtitle=f"Confirmed by {turn.actor.name}",
        notice=f"Recorded on {uk_today(turn.services.clock):%-d %B %Y}. The next review is due in a year."))


async def _review_card(turn: Turn, document_id: int | None) -> tuple[Case, ProcedurePack, CaseDocument,
                                                                      dict[str, Any], ReminderKind]:
    """The entry a review card is about, its case and pack, and the card's facts as they stand now."""
    if document_id is None:
        raise NotFound("That reminder button is not valid.")
    async with turn.reader() as uow:
        document = await uow.documents.get(turn.actor.tenant_id, document_id)
        case = await uow.cases.get(turn.actor.tenant_id, document.case_id) if document else None
    if document is None or case is None:
        raise NotFound("That entry is no longer in a documents register.")
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    keeper = review_keeper(case, document)
    kind = ReminderKind.DOCUMENT_REVIEW if keeper and keeper.user_id == turn.actor.id \
        else ReminderKind.DOCUMENT_REVIEW_OVERDUE
    facts: dict[str, Any] = {}
    if document.next_review_on is not None:
        facts = {**document_facts(case, pack, document, uk_today(turn.services.clock), WorkingCalendar(pack.nation)),
                 "keeper": keeper.name if keeper else None, "limit": pack.timescales.overdue_escalation_working_days}
    return case, pack, document, facts, kind


async def document_reviewed_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Record the review from its reminder: the entry's last review and next review date change on the register
    (checked as on the register's own card: the chair, the coordinator or the entry's owner), audited."""
    today = uk_today(turn.services.clock)
    reviewed, following = _text(data, "reviewed_on").strip(), _text(data, "next_review_on").strip()
    try:
        case, pack, document, facts, kind = await _review_card(turn, parse_id(data.get("document")))
        if not reviewed:
            raise FormErrors({"reviewed_on": "Give the day it was reviewed."})
        values = {"reviewed_on": reviewed, **({"next_review_on": following} if following else {})}
        case, document, _ = await update_document(
            turn.uow(), turn.services.clock, pack, turn.actor, case.reference, document.id, values,
            conversation_id=turn.conversation.id, calendar=WorkingCalendar(pack.nation))
    except (NotFound, NotAllowed) as refusal:
        await _refused(turn, refusal)
        return
    except FormErrors as invalid:
        if not facts:
            await _refused(turn, " ".join(invalid.errors.values()))
            return
        await turn.replace_card("reminder", **review_reminder_values(
            facts, kind, today, error="Nothing was recorded: " + " ".join(invalid.errors.values())))
        return
    following_text = f"next review {document.next_review_on:%A %-d %B %Y}" if document.next_review_on \
        else "no next review set"
    assert document.last_reviewed_on is not None
    await turn.replace_card("reminder", **_values(
        title=f"Reviewed: {document.title}", subtitle=f"{case.reference} · {case.provider.name}",
        notice=f"Recorded on the register by {turn.actor.name}: reviewed {document.last_reviewed_on:%-d %B %Y}, "
               f"{following_text}.",
        buttons=[{"title": "Open the register", "data": {"verb": "documents.show", "case": case.reference}}]))


async def extend_step_verb(turn: Turn, data: dict[str, Any]) -> None:
    """The chair sets the current step's target, or gives it a later one saying why (on the case's timeline).

    From a reminder (or the prompt in the case thread) the card pressed says what was agreed; from the case card,
    which stays the case card, the thread is told."""
    reference = data.get("case") if isinstance(data.get("case"), str) else ""
    from_case_card = data.get("card") == "case"
    try:
        before = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
        case = await services.set_step_target(
            turn.uow(), turn.services.clock, turn.services.calendar, turn.actor, before.reference,
            _text(data, "step_due"), _text(data, "step_why"), conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await _refused(turn, refusal)
        return
    except FormErrors as invalid:
        await _refused(turn, "Nothing was changed: " + " ".join(invalid.errors.values()))
        return
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    assert case.step_due_on is not None
    why = _text(data, "step_why").strip()
    if before.step_due_on:
        said = f"Extended by {turn.actor.name} (it was {before.step_due_on:%a %-d %b}): {why}"
    else:
        said = f"Set by {turn.actor.name}" + (f": {why}" if why else ".")
    title = f"{case.reference}: the {pack.step(case.step).name} step's target is now {case.step_due_on:%a %-d %b}"
    if from_case_card:
        await turn.reply_card("notice", title=title, text=said, color="Good")
    else:
        await turn.replace_card("reminder", **_values(
            title=title, subtitle=f"{case.provider.name}", notice=said,
            buttons=[{"title": "Open the case", "data": {"verb": "case.show", "reference": case.reference}}]))
    await refresh_case_cards(turn, case)
