"""The step checklist card in a case's thread, where owners confirm their actions."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.cards import renderer
from bot.cards.fitting import fit_rows, fits
from bot.roster import find_values, form_people, team_roster
from bot.turn import Turn
from concerns import services
from concerns.actions import DONE, NOT_APPLICABLE, CaseAction, step_targets, unresolved_required
from concerns.cases import Case, CaseRole, Person
from concerns.challenges import is_challenge
from concerns.clock import uk_today
from concerns.errors import NotFound
from concerns.packs import ProcedurePack
from concerns.validation import NAMES_ARE_STAFF, FormErrors, parse_id, says_names_are_staff
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)


async def checklist_values(turn: Turn, case: Case, actions: list[CaseAction],
                           notice: str | None = None, people: list[Any] | None = None) -> dict[str, Any]:
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    today = uk_today(turn.services.clock)
    rows = []
    for action in actions:
        owner = action.owner.name if action.owner else f"Unassigned ({pack.role(action.owner_role).label}): " \
                                                        "the chair assigns it"
        due = f"due {action.due_on:%a %-d %b}" if action.due_on else "due now"
        if action.original_due_on and action.due_on != action.original_due_on:
            due += f" (first due {action.original_due_on:%a %-d %b})"
        state = {"open": "OVERDUE, " + due if action.overdue(today) else due,
                 "done": "done", "not_applicable": "not applicable"}[action.status]
        note = f" · {action.note}" if action.note else ""
        rows.append({
            "id": action.id, "title": action.title, "required": action.required, "open": action.status == "open",
            "detail": f"{owner} · {state}{note}", "challenge": is_challenge(action), "controls": True,
            "colour": "Attention" if action.overdue(today) else ("Good" if action.status != "open" else "Default"),
        })
    if people is None:
        people = await team_roster(turn.context)
    from bot.cases import step_line

    values = {
        "title": f"{case.reference} actions",
        "subtitle": f"{case.provider.name} · step: {step_line(pack, case, today)} · required actions in bold",
        "notice": notice, "rows": rows, "people": [{"user_id": p.user_id, "name": p.name} for p in people],
    }
    # Measured only when it could come near the limit: each open row's buttons are about 2 KB, and its Assign
    # list about 100 bytes a name.
    open_rows = sum(r["open"] for r in rows)
    if open_rows * (2_000 + 100 * len(people)) + len(rows) * 500 > renderer.MAX_CARD_BYTES // 2:
        _fit_checklist(values, case, pack, actions, today)
    return values


def _fit_checklist(values: dict[str, Any], case: Case, pack: ProcedurePack, actions: list[CaseAction],
                   today: Any) -> None:
    """Bring a checklist over Teams' size limit within it, giving up least first. A case that has moved on with
    earlier steps' actions still open (or a large team) would otherwise have no checklist at all."""
    if fits("checklist", values):
        return
    # Every open row's Assign lists the whole team: a large team's channel is too many names for one card. The
    # case's own members are who actions are usually given to; the Roles button adds anyone else first.
    members = [{"user_id": m.user_id, "name": m.name} for m in case.members if m.role is not CaseRole.OBSERVER]
    if len(members) < len(values["people"]):
        values["people"] = members
        values["subtitle"] += " · Assign lists the case's members (the team is too large for one card)"
        if fits("checklist", values):
            return
    # What is closed is history: each step's closed actions become one line (the case file lists them all).
    by_id = {a.id: a for a in actions}
    folded: dict[str, list[CaseAction]] = {}  # by what the reader sees: ad hoc actions and challenges are one
    for row in values["rows"]:
        if not row["open"]:
            folded.setdefault(_source_name(pack, by_id[row["id"]].source), []).append(by_id[row["id"]])
    if folded:
        values["rows"] = [r for r in values["rows"] if r["open"]] + [
            {"id": 0, "title": f"{name}: {_closed_counts(closed)}", "required": False,
             "open": False, "detail": f"Closed: the case file lists each ('case {case.reference} export').",
             "challenge": False, "controls": False, "colour": "Good"}
            for name, closed in folded.items()]
        values["subtitle"] += " · closed actions summed up by step"
        if fits("checklist", values):
            return
    # Buttons for the actions that matter most now (overdue, then this step's, then required ones); the rest are
    # confirmed from `actions` and their reminders.
    current = f"step:{case.step}"

    def rank(row: dict[str, Any]) -> tuple[bool, ...]:
        if not row["open"]:
            return (True,)  # a step's summed-up line has no buttons to lose
        action = by_id[row["id"]]
        return (False, not action.overdue(today), action.source != current, not row["required"])

    open_rows = sum(row["open"] for row in values["rows"])
    fit_rows("checklist", values, rank,
             said=lambda kept, _: f" · buttons on the {kept} most pressing; confirm the others from 'actions' or "
                                  "their reminders" if kept < open_rows else "",
             left_out=lambda n: f" · {n} more not shown: see 'actions'")


def _source_name(pack: ProcedurePack, source: str) -> str:
    kind, _, key = source.partition(":")
    try:
        if kind == "step":
            return pack.step(key).name
        if kind == "level":
            return pack.level(key).label
    except (KeyError, ValueError):
        pass
    return "Other actions"


def _closed_counts(closed: list[CaseAction]) -> str:
    done = sum(a.status == DONE for a in closed)
    parts = [f"{done} done"] if done else []
    if len(closed) - done:
        parts.append(f"{len(closed) - done} not applicable")
    return ", ".join(parts)


async def post_checklist(turn: Turn, case: Case, conversation_id: str) -> None:
    """Post the case's actions into its thread (after the case card)."""
    _, actions = await services.case_actions(turn.reader(), turn.actor.tenant_id, case.reference)

    activity = renderer.card_activity("checklist", **await checklist_values(turn, case, actions))
    try:
        activity_id = await turn.post_in(conversation_id, activity)
    except Exception:
        log.warning("could not post the checklist of %s", case.reference, exc_info=True)
        return
    if activity_id:
        async with turn.uow() as uow:
            await uow.cases.set_checklist(case.id, activity_id)
            await uow.commit()


async def refresh_checklist(turn: Turn, case: Case) -> None:
    """Bring the checklist in the case thread up to date after a change made elsewhere (a reminder, a 1:1 chat).

    Outside the team's conversation the roster is not at hand, so the Assign list offers the case's members.
    """
    if not (case.checklist_activity_id and case.card_conversation_id):
        return
    _, actions = await services.case_actions(turn.reader(), turn.actor.tenant_id, case.reference)
    in_team = turn.conversation.team_id is not None
    people = None if in_team else [Person(m.user_id, m.name) for m in case.members]
    try:
        await turn.update_card_in(case.card_conversation_id, case.checklist_activity_id, "checklist",
                                  **await checklist_values(turn, case, actions, people=people))
    except Exception:
        log.warning("could not update the checklist of %s", case.reference, exc_info=True)


async def refresh_case_cards(turn: Turn, case: Case) -> None:
    """The case card and the step checklist in its thread show a change made from another card (a reminder, the
    `actions` list)."""
    async with turn.reader() as uow:
        current = await uow.cases.get(case.tenant_id, case.id)
    case = current or case  # as stored now: the caller's copy may predate the change (a concern just linked)
    await refresh_checklist(turn, case)
    if case.card_conversation_id and case.card_activity_id:
        from bot.cases import case_card

        try:
            await turn.update_card_in(case.card_conversation_id, case.card_activity_id, "case",
                                      **await case_card(turn, case))
        except Exception:
            log.warning("could not update the card of %s", case.reference, exc_info=True)


def _action_id(data: dict[str, Any]) -> int | None:
    return parse_id(data.get("action"))


async def _after(turn: Turn, case: Case, notice: str | None) -> None:
    """Show the checklist again in place, and keep the case card's next deadline current."""
    _, actions = await services.case_actions(turn.reader(), turn.actor.tenant_id, case.reference)
    await turn.replace_card("checklist", **await checklist_values(turn, case, actions, notice))
    if notice is None and case.card_conversation_id and case.card_activity_id:
        from bot.cases import case_card

        try:
            await turn.update_card_in(case.card_conversation_id, case.card_activity_id, "case",
                                      **await case_card(turn, case))
        except Exception:
            log.warning("could not update the card of %s", case.reference, exc_info=True)


async def close_from_card(turn: Turn, data: dict[str, Any], status: str, field: str
                          ) -> tuple[Case, CaseAction] | None:
    """Close the action a card's button names, with the note typed in its `{field}_{id}` input; a refusal or a
    bad note is told privately and gives None."""
    from bot.votes import tell_privately

    action_id = _action_id(data)
    note = data.get(f"{field}_{action_id}") if action_id is not None else None
    try:
        if action_id is None:
            raise NotFound("That action button is not valid.")
        return await services.close_action(turn.uow(), turn.services.clock, turn.actor, action_id, status,
                                           note if isinstance(note, str) else "", conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
    except FormErrors as invalid:
        await tell_privately(turn, " ".join(invalid.errors.values()))
    return None


async def _close(turn: Turn, data: dict[str, Any], status: str, field: str) -> None:
    closed = await close_from_card(turn, data, status, field)
    if closed is not None:
        await _after(turn, closed[0], None)


async def done_verb(turn: Turn, data: dict[str, Any]) -> None:
    await _close(turn, data, DONE, "note")


async def not_applicable_verb(turn: Turn, data: dict[str, Any]) -> None:
    await _close(turn, data, NOT_APPLICABLE, "reason")


async def assign_verb(turn: Turn, data: dict[str, Any]) -> None:
    from bot.votes import tell_privately

    action_id = _action_id(data)
    chosen = data.get(f"owner_{action_id}")
    roster = {p.user_id: p for p in await team_roster(turn.context)}
    person = roster.get(chosen) if isinstance(chosen, str) else None
    try:
        if action_id is None or person is None:
            raise NotFound("Choose a person from the team to assign the action to.")
        case, _ = await services.reassign_action(turn.uow(), turn.services.clock, turn.actor, action_id, person,
                                                 conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    await _after(turn, case, None)


async def redate_verb(turn: Turn, data: dict[str, Any]) -> None:
    from bot.votes import tell_privately

    action_id = _action_id(data)
    due, why = data.get(f"due_{action_id}"), data.get(f"why_{action_id}")
    try:
        if action_id is None:
            raise NotFound("That action button is not valid.")
        case, _ = await services.redate_action(turn.uow(), turn.services.clock, turn.services.calendar, turn.actor,
                                               action_id, due if isinstance(due, str) else "",
                                               why if isinstance(why, str) else "",
                                               conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    except FormErrors as invalid:
        await tell_privately(turn, " ".join(invalid.errors.values()))
        return
    await _after(turn, case, None)


STEP_FORM = "step_move"


async def _step_values(turn: Turn, case: Case, record: Any, errors: dict[str, str]) -> dict[str, Any]:
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    _, actions = await services.case_actions(turn.reader(), turn.actor.tenant_id, case.reference)
    targets = step_targets(pack, case.step)
    return {
        "form_key": record.key, "reference": case.reference, "current": pack.step(case.step).name,
        "pending": [a.title for a in unresolved_required(actions, case.step)],
        "targets": [{"id": t, "title": ("Another " if t == case.step else "") + pack.step(t).name} for t in targets],
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)}, "errors": errors,
        "tomorrow": (uk_today(turn.services.clock) + timedelta(days=1)).isoformat(),
        "timescales": _timescales(pack, targets),
    }


def _timescales(pack: ProcedurePack, targets: list[str]) -> str:
    """What an empty target means for each step on offer: the pack's timescale, or none until one is agreed."""
    set_ = [f"{pack.step(t).name}: {pack.step(t).timescale_working_days} working days" for t in targets
            if pack.step(t).timescale_working_days]
    unset = [pack.step(t).name for t in targets if not pack.step(t).timescale_working_days]
    said = []
    if set_:
        said.append("Left empty, the procedure's timescale from today applies (" + "; ".join(set_) + ").")
    if unset:
        said.append("The procedure sets none for " + ", ".join(unset) + ": agree one here or later on the case card.")
    return " ".join(said)


async def offer_step_verb(turn: Turn, data: dict[str, Any]) -> None:
    """The chair's card for moving the case on (others are told privately)."""
    from bot.commands import issue_form
    from bot.votes import tell_privately

    reference = data.get("case") if isinstance(data.get("case"), str) else ""
    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
        if case.role_of(turn.actor.id) is not CaseRole.CHAIR:
            raise NotAllowed(f"Only the chair of {case.reference} can move it to another step.")
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record = await issue_form(turn, STEP_FORM, subject=case.reference)
    await turn.reply_card("step_move", **await _step_values(turn, case, record, {}))


async def move_step_verb(turn: Turn, data: dict[str, Any]) -> None:
    from bot.commands import form_refused, submitted_form
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, STEP_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = {k: data[k] for k in ("step", "step_due", "override_reason", NAMES_ARE_STAFF)
              if isinstance(data.get(k), str)}
    case = await services.get_case(turn.reader(), turn.actor.tenant_id, record.subject)
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    try:
        moved = await services.move_step(turn.uow(), turn.services.clock, turn.services.calendar, pack, turn.actor,
                                         case.reference, values.get("step", ""), values.get("override_reason", ""),
                                         conversation_id=turn.conversation.id,
                                         names_are_staff=says_names_are_staff(values),
                                         due_text=values.get("step_due", ""))
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        await turn.replace_card("step_move", **await _step_values(turn, case, record, invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = moved.step
    await turn.services.forms.save(record)
    await turn.replace_card("notice", title=f"{moved.reference} moved to {pack.step(moved.step).name}",
                            text=f"By {turn.actor.name}. The step's checklist follows in the case thread.",
                            color="Good")
    if moved.card_conversation_id:
        await post_checklist(turn, moved, moved.card_conversation_id)
        from bot.cases import case_card

        if moved.card_activity_id:
            try:
                await turn.update_card_in(moved.card_conversation_id, moved.card_activity_id, "case",
                                          **await case_card(turn, moved))
            except Exception:
                log.warning("could not update the card of %s", moved.reference, exc_info=True)


ADD_FORM = "add_action"


async def _add_values(turn: Turn, reference: str, record: Any, errors: dict[str, str]) -> dict[str, Any]:
    case = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
    found = await form_people(turn, record.values, f"add action {reference}", case.members, ("owner",))
    return {"form_key": record.key, "reference": reference, "errors": errors,
            "values": {k: v for k, v in record.values.items() if isinstance(v, str)},
            "people": [{"user_id": p.user_id, "name": p.name} for p in found.people], "people_note": found.note}


async def add_action_command(turn: Turn, args: str) -> None:
    """`add action PC-2026-0001`: the card for an ad hoc action."""
    from bot.commands import issue_form

    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, args.split()[0] if args else "")
    except NotFound as missing:
        await turn.reply_text(f"{missing} For example: add action PC-2026-0001.")
        return
    record = await issue_form(turn, ADD_FORM, values=find_values(args), subject=case.reference)
    await turn.reply_card("add_action", **await _add_values(turn, case.reference, record, {}))


async def submit_add_action(turn: Turn, data: dict[str, Any]) -> None:
    from bot.commands import form_refused, submitted_form
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, ADD_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = {k: data[k] for k in ("title", "owner", "due_on", NAMES_ARE_STAFF) if isinstance(data.get(k), str)}
    roster = {p.user_id: p for p in await team_roster(turn.context)}
    owner = roster.get(values.get("owner", ""))
    try:
        case, action = await services.add_action(
            turn.uow(), turn.services.clock, turn.services.calendar, turn.actor, record.subject,
            values.get("title", ""), owner, values.get("due_on", ""), conversation_id=turn.conversation.id,
            names_are_staff=says_names_are_staff(values))
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        await turn.replace_card("add_action", **await _add_values(turn, record.subject, record, invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = str(action.id)
    await turn.services.forms.save(record)
    owner_text = action.owner.name if action.owner else "unassigned"
    await turn.replace_card("notice", title=f"Action added to {case.reference}",
                            text=f"{action.title} ({owner_text}, due {action.due_on:%A %-d %B %Y}).", color="Good")
