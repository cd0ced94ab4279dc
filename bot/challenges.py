"""`challenge PC-REF`: a member disagrees with a decision on a case, on the record; the answer is owed (an action
with a due date) and given from the challenge's card in the case thread (concerns/challenges.py says why)."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from bot.cards import renderer
from bot.commands import form_refused, issue_form, submitted_form
from bot.reminders import mention
from bot.turn import Turn
from concerns import services
from concerns.challenges import (
    Answered,
    Challenge,
    ChallengeAbout,
    ChallengeAnswer,
    answer_challenge,
    challenge_decision,
    parse_challenge_form,
)
from concerns.errors import NotFound
from concerns.packs import ProcedurePack
from concerns.validation import NAMES_ARE_STAFF, FormErrors, parse_id
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

FORM = "challenge"
_FIELDS = ("about", "reason", "wanted", "to_senior", NAMES_ARE_STAFF)


def _pack(turn: Turn, pack_id: str) -> ProcedurePack:
    return turn.services.packs.get(pack_id, turn.services.pack)


def _form_values(turn: Turn, pack: ProcedurePack, reference: str, record: Any,
                 errors: dict[str, str]) -> dict[str, Any]:
    return {
        "form_key": record.key, "reference": reference, "errors": errors,
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)},
        "abouts": [{"value": a.value, "title": a.label[0].upper() + a.label[1:]} for a in ChallengeAbout],
        "answerer": "the chair", "senior": pack.role(pack.notifications.escalation_role).label,
        "days": pack.timescales.challenge_response_working_days,
    }


async def challenge_command(turn: Turn, args: str) -> None:
    """The challenge card, for a case's members (checked when it is submitted, where it counts)."""
    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, args.split()[0] if args else "")
    except NotFound as missing:
        await turn.reply_text(f"{missing} For example: challenge PC-2026-0001.")
        return
    record = await issue_form(turn, FORM, subject=case.reference)
    await turn.reply_card("challenge_form", **_form_values(turn, _pack(turn, case.pack_id), case.reference, record, {}))


def card_values(challenge: Challenge, answered: Answered | None = None, error: str | None = None) -> dict[str, Any]:
    """The challenge as its card in the case thread shows it: open with Answer, or answered."""
    action, case = challenge.action, challenge.case
    owner = action.owner.name if action.owner else "the chair"
    facts = [{"title": "Raised by", "value": challenge.by.name},
             {"title": "Answer owed by", "value": f"{owner}, by {action.due_on:%A %-d %B}" if action.due_on
              else owner}]
    if challenge.to_senior:
        facts.append({"title": "Escalated", "value": "The chair had answered already" if challenge.chair_answered
                      else "The chair's own challenge"})
    return {
        "title": f"{challenge.by.name} challenges {challenge.about.label}",
        "subtitle": f"{case.reference} · {case.provider.name}",
        "reason": challenge.reason, "wanted": challenge.wanted, "facts": facts, "action_id": action.id,
        "answers": [{"value": a.value, "title": a.label} for a in ChallengeAnswer],
        "answer": {"title": f"{answered.answer.label} ({action.closed_by or owner})", "text": answered.text}
        if answered else None,
        "error": error,
    }


async def submit_challenge(turn: Turn, data: dict[str, Any]) -> None:
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = {k: data[k] for k in _FIELDS if isinstance(data.get(k), str)}
    case = await services.get_case(turn.reader(), turn.actor.tenant_id, record.subject)
    pack = _pack(turn, case.pack_id)
    try:
        challenge = await challenge_decision(
            turn.uow(), turn.services.clock, turn.services.calendar, pack, turn.actor, record.subject,
            parse_challenge_form(values), conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        await turn.replace_card("challenge_form", **_form_values(turn, pack, record.subject, record, invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = str(challenge.action.id)
    await turn.services.forms.save(record)
    action = challenge.action
    owner = action.owner
    assert owner is not None and action.due_on is not None
    activity = renderer.card_activity("challenge", **card_values(challenge))
    tag, entities = mention({"user_id": owner.user_id, "name": owner.name})
    activity.text = f"{tag} please answer by {action.due_on:%A %-d %B}."
    activity.entities = entities
    # Recorded and owed either way: where the thread is gone, a new thread in the case's channel (a challenge
    # made in a personal chat would otherwise land there, where the chair who owes the answer never looks).
    await turn.post_in_thread(challenge.case.card_conversation_id, challenge.case.channel_id, activity)
    await turn.replace_card("notice", title=f"Your challenge is on {challenge.case.reference}'s record",
                            text=f"{owner.name} is asked to answer by {action.due_on:%A %-d %B} (in the case "
                                 "thread). If nobody answers, it is escalated like any overdue action.",
                            color="Good")
    from bot.actions import refresh_case_cards

    await refresh_case_cards(turn, challenge.case)


async def answer_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Answer from the challenge's card: the card shows the answer, and the challenger is @mentioned under it."""
    from bot.actions import refresh_case_cards
    from bot.votes import tell_privately

    action_id = parse_id(data.get("action"))
    answer, text = data.get(f"answer_{action_id}"), data.get(f"text_{action_id}")
    try:
        if action_id is None:
            raise NotFound("That challenge button is not valid.")
        answered = await answer_challenge(
            turn.uow(), turn.services.clock, turn.actor, action_id, answer if isinstance(answer, str) else "",
            text if isinstance(text, str) else "", conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await tell_privately(turn, " ".join(invalid.errors.values()))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    challenge = answered.challenge
    await turn.replace_card("challenge", **card_values(challenge, answered))
    tag, entities = mention({"user_id": challenge.by.user_id, "name": challenge.by.name})
    pack = _pack(turn, challenge.case.pack_id)
    senior = pack.role(pack.notifications.escalation_role).label
    further = "" if challenge.to_senior else (
        f" If you still disagree, type 'challenge {challenge.case.reference}' and tick that the chair has answered "
        f"you: the {senior} is asked.")
    await turn.context.send_activity(Activity(
        type=ActivityTypes.message, entities=entities,
        text=f"{tag} {turn.actor.name} answered your challenge on {challenge.case.reference}: "
             f"{answered.answer.label.lower()}.{further}"))
    await refresh_case_cards(turn, challenge.case)
