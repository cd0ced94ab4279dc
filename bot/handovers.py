"""`handover`: one person's roles, open actions and documents register entries on the team's cases go to a colleague,
seen before they move (concerns/handovers.py says who may and why)."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from bot.cards import renderer
from bot.commands import form_refused, issue_form, submitted_form
from bot.reminders import mention
from bot.roster import form_people, team_roster
from bot.turn import Turn
from concerns.cases import Person
from concerns.clock import UK
from concerns.handovers import (
    HandBack,
    HandoverForm,
    HandoverPlan,
    HandoverReason,
    PlanChanged,
    hand_back,
    hand_over,
    parse_handover_form,
    people_with_work,
    plan_handover,
    what_moves,
)
from concerns.meetings import MeetingKind
from concerns.model import ConversationKind
from concerns.packs import ProcedurePack
from concerns.validation import FormErrors
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

FORM = "handover"
HANDED_OVER, HANDED_BACK = "handed over", "handed back"  # what the form's record says became of it
_FIELDS = ("outgoing", "incoming", "reason")
SHOWN_PER_CASE = 5  # titles listed under a case; a phone's card stays readable, the count says the rest


def _pack_for(turn: Turn) -> Any:
    def pack_for(pack_id: str) -> ProcedurePack:
        return turn.services.packs.get(pack_id, turn.services.pack)
    return pack_for


async def _form_values(turn: Turn, record: Any, errors: dict[str, str], notice: str | None = None) -> dict[str, Any]:
    assert turn.conversation.team_id is not None
    people = await people_with_work(turn.reader(), turn.actor, turn.conversation.team_id, _pack_for(turn))
    # Who takes the work over is usually someone already on the team's cases or holding one of its roles.
    found = await form_people(turn, record.values, "handover", people, ("incoming",),
                              whom="those with work on the team's cases and the team's role holders")
    return {
        "form_key": record.key, "errors": errors, "notice": notice, "people_note": found.note,
        "values": {k: v for k, v in record.values.items() if k in _FIELDS and isinstance(v, str)},
        "people": [{"user_id": p.user_id, "name": p.name} for p in people],
        "roster": [{"user_id": p.user_id, "name": p.name} for p in found.people],
        "reasons": [{"value": r.value, "title": r.label} for r in HandoverReason],
    }


async def handover_command(turn: Turn, args: str = "") -> None:
    """The handover form, in a team channel: whose work, to whom, why."""
    if turn.conversation.kind is not ConversationKind.CHANNEL or not turn.conversation.team_id:
        await turn.reply_text("Work is handed over in the team's channel, where the team's members are: mention me "
                              "there with 'handover'.")
        return
    record = await issue_form(turn, FORM, values={"find": args.strip()[:100]} if args.strip() else {})
    await turn.reply_card("handover_form", **await _form_values(turn, record, {}))


def _titles(things: tuple[Any, ...]) -> list[str]:
    shown = [t.title for t in things[:SHOWN_PER_CASE]]
    if len(things) > SHOWN_PER_CASE:
        shown.append(f"and {len(things) - SHOWN_PER_CASE} more")
    return shown


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def plan_values(plan: HandoverPlan, *, done_by: str | None = None, form_key: str | None = None,
                notice: str | None = None) -> dict[str, Any]:
    """The plan to confirm (with `form_key`), or what was done (with `done_by`)."""
    outgoing, incoming = plan.outgoing.name, plan.incoming.name
    cases = [{
        "reference": h.case.reference, "provider": h.case.provider.name,
        "moves": _capitalised(what_moves(incoming, h.role, h.new_role, len(h.actions), len(h.documents))),
        "items": _titles(h.actions + h.documents),
    } for h in plan.cases]
    notes = []
    if plan.team_roles:
        notes.append(f"{outgoing} is also the team's {' and '.join(plan.team_roles)}; a handover leaves "
                     f"{'that as it is' if len(plan.team_roles) == 1 else 'those as they are'} (a team admin "
                     "changes them with 'team roles').")
    if plan.team_admin:
        notes.append(f"{outgoing} is also one of the team's admins; a handover leaves that as it is (another admin "
                     "can revoke it with 'team roles').")
    if plan.meetings:
        listed = "; ".join(f"{m.case_reference} {MeetingKind(m.kind).label.lower()} on "
                           f"{m.starts_at.astimezone(UK):%a %-d %b}" for m in plan.meetings)
        notes.append(f"{outgoing} is invited to {'a meeting' if len(plan.meetings) == 1 else 'meetings'} still to "
                     f"come ({listed}). A meeting keeps its invitation: invite {incoming} to it in Teams.")
    if done_by:
        title = f"{outgoing}'s work is handed over to {incoming}"
        subtitle = f"By {done_by}. {plan.reason.label}."
        if plan.reason is not HandoverReason.LEFT:
            notes.append(f"When {outgoing} is back, Hand back returns what is still as it was handed over; what "
                         f"{incoming} was given since stays theirs.")
    else:
        title = f"Hand over {outgoing}'s work to {incoming}?"
        subtitle = (f"{plan.reason.label}. On each case below, {incoming} takes {outgoing}'s place and {outgoing} "
                    "leaves it; their open actions and documents change owner. Nothing has moved yet."
                    if plan.cases else f"{plan.reason.label}. Nothing here is yours to hand over.")
    values = {
        "title": title, "subtitle": subtitle, "notice": notice, "cases": cases, "notes": notes,
        "refused_title": f"Not handed over ({len(plan.not_handed_over)})",
        "refused": [{"reference": n.case.reference, "provider": n.case.provider.name, "why": n.why}
                    for n in plan.not_handed_over],
        "form_key": form_key,
        "buttons": (["Hand back"] if plan.reason is not HandoverReason.LEFT else []) if done_by else
        (["Hand over", "Change"] if plan.cases else ["Change"]),
    }
    try:
        renderer.render("handover", **values)
    except renderer.CardTooLarge:  # someone on many cases with long action titles: the counts still say it all
        values["cases"] = [row | {"items": []} for row in cases]
    return values


async def _form(turn: Turn, record: Any, data: dict[str, Any] | None) -> HandoverForm:
    values = {k: (data if data is not None else record.values).get(k) for k in _FIELDS}
    return parse_handover_form(values, await team_roster(turn.context))


async def _show_form_again(turn: Turn, record: Any, errors: dict[str, str], notice: str | None = None) -> None:
    await turn.replace_card("handover_form", **await _form_values(turn, record, errors, notice))


async def _checked(turn: Turn, data: dict[str, Any], expect: str | None = None) -> Any:
    """The form record behind a press, if it can still be used; otherwise the card says why and None."""
    record, problem = await submitted_form(turn, data, FORM)
    if record is None:
        await form_refused(turn, problem)
        return None
    if record.result != expect:  # a press sent twice: the card already says what moved, and keeps saying it
        from bot.votes import tell_privately

        await tell_privately(turn, "This handover was handed back already." if record.result == HANDED_BACK else
                             "This handover was made already; start a new one with 'handover'.")
        return None
    if not turn.conversation.team_id:
        await form_refused(turn, "A handover is made in the team's channel.")
        return None
    return record


async def preview_verb(turn: Turn, data: dict[str, Any]) -> None:
    """'See what would move': the plan, changing nothing; what it shows is what a confirmation applies."""
    record = await _checked(turn, data)
    if record is None:
        return
    record.values = {k: data[k] for k in _FIELDS if isinstance(data.get(k), str)}
    await turn.services.forms.save(record)
    try:
        form = await _form(turn, record, data)
        plan = await plan_handover(turn.reader(), turn.services.clock, turn.actor, turn.conversation.team_id,
                                   form, _pack_for(turn))
    except FormErrors as invalid:
        await _show_form_again(turn, record, invalid.errors)
        return
    await _show_plan(turn, record, plan)


async def _show_plan(turn: Turn, record: Any, plan: HandoverPlan, notice: str | None = None) -> None:
    record.values = {**record.values, "fingerprint": plan.fingerprint}
    await turn.services.forms.save(record)
    await turn.replace_card("handover", **plan_values(plan, form_key=record.key, notice=notice))


async def change_verb(turn: Turn, data: dict[str, Any]) -> None:
    record = await _checked(turn, data)
    if record is not None:
        await _show_form_again(turn, record, {})


async def confirm_verb(turn: Turn, data: dict[str, Any]) -> None:
    """'Hand over': applies the plan last shown on this card, read again from the record of the form (never from
    the card), and tells each case's thread who takes over."""
    from bot.votes import tell_privately

    record = await _checked(turn, data)
    if record is None:
        return
    fingerprint = record.values.get("fingerprint")
    try:
        form = await _form(turn, record, None)
        if not isinstance(fingerprint, str):
            raise FormErrors({"outgoing": "Look at what would move first."})
        plan = await hand_over(turn.uow(), turn.services.clock, turn.actor, turn.conversation.team_id, form,
                               fingerprint, _pack_for(turn), conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await _show_form_again(turn, record, invalid.errors)
        return
    except PlanChanged as changed:
        await _show_plan(turn, record, changed.plan, notice=str(changed))
        return
    except NotAllowed as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = HANDED_OVER
    record.values = {**record.values, "handover_id": plan.handover_id,
                     "cases": [h.case.reference for h in plan.cases]}
    await turn.services.forms.save(record)
    await turn.replace_card("handover", **plan_values(plan, done_by=turn.actor.name, form_key=record.key))
    await _tell_cases(turn, plan)


async def _tell_cases(turn: Turn, plan: HandoverPlan) -> None:
    """Each case's thread hears who takes over (@mentioning them), and its cards show the new owners."""
    from bot.actions import refresh_case_cards

    incoming: Person = plan.incoming
    for handed in plan.cases:
        case = handed.case
        moves = what_moves(incoming.name, handed.role, handed.new_role, len(handed.actions), len(handed.documents))
        tag, entities = mention({"user_id": incoming.user_id, "name": incoming.name})
        activity = Activity(type=ActivityTypes.message, entities=entities,
                            text=f"{tag} takes over from {plan.outgoing.name} on {case.reference}: {moves} "
                                 f"(handed over by {turn.actor.name}).")
        await _tell(turn, case, activity)
        await refresh_case_cards(turn, case)


async def _tell(turn: Turn, case: Any, activity: Activity) -> None:
    """Post in the case's thread or, where it is gone (deleted in Teams), in a new thread in the case's channel:
    whoever is @mentioned hears it where the case's team works."""
    await turn.post_in_thread(case.card_conversation_id, case.channel_id, activity)


def hand_back_values(back: HandBack, done_by: str) -> dict[str, Any]:
    outgoing, incoming = back.outgoing.name, back.incoming.name
    return {
        "title": f"{outgoing}'s work is handed back from {incoming}", "notice": None, "notes": [], "form_key": None,
        "subtitle": f"By {done_by}. What {incoming} was given since stays theirs." if back.cases else
        f"By {done_by}. Nothing went back.",
        "cases": [{"reference": b.case.reference, "provider": b.case.provider.name,
                   "moves": _capitalised(what_moves(outgoing, b.role, b.role, len(b.actions), len(b.documents))),
                   "items": list((b.actions + b.documents)[:SHOWN_PER_CASE])} for b in back.cases],
        "refused_title": f"Not handed back ({len(back.not_handed_back)})",
        "refused": [{"reference": n.case.reference, "provider": n.case.provider.name, "why": n.why}
                    for n in back.not_handed_back],
        "buttons": [],
    }


async def hand_back_verb(turn: Turn, data: dict[str, Any]) -> None:
    """'Hand back' on a handover's card: what is still as it was handed over goes back, case by case."""
    from bot.actions import refresh_case_cards
    from bot.votes import tell_privately

    record = await _checked(turn, data, HANDED_OVER)
    if record is None:
        return
    handover_id, references = record.values.get("handover_id"), record.values.get("cases")
    try:
        if not isinstance(handover_id, str) or not isinstance(references, list):
            raise NotAllowed("This handover cannot be handed back: start a new one with 'handover'.")
        back = await hand_back(turn.uow(), turn.services.clock, turn.actor, turn.conversation.team_id, handover_id,
                               [r for r in references if isinstance(r, str)], _pack_for(turn),
                               conversation_id=turn.conversation.id)
    except NotAllowed as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = HANDED_BACK
    await turn.services.forms.save(record)
    await turn.replace_card("handover", **hand_back_values(back, turn.actor.name))
    for returned in back.cases:
        case = returned.case
        moves = what_moves(back.outgoing.name, returned.role, returned.role, len(returned.actions),
                           len(returned.documents))
        tag, entities = mention({"user_id": back.outgoing.user_id, "name": back.outgoing.name})
        await _tell(turn, case, Activity(type=ActivityTypes.message, entities=entities,
                                         text=f"{tag} is back on {case.reference} from {back.incoming.name}: {moves} "
                                              f"(handed back by {turn.actor.name})."))
        await refresh_case_cards(turn, case)
