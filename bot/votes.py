"""Handlers for the vote on a case's level: start, cast, close and confirm."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationParameters

from bot.cards import renderer
from bot.cards.fitting import fits, most
from bot.cases import case_card
from bot.commands import form_refused, issue_form, submitted_form
from bot.turn import Turn
from concerns import services
from concerns.cases import Case
from concerns.errors import NotFound
from concerns.packs import ProcedurePack
from concerns.validation import NAMES_ARE_STAFF, FormErrors, parse_id
from concerns.votes import NotAllowed, Vote, VoteClosed, may_confirm, parse_ballot, parse_confirmation

log = logging.getLogger(__name__)

CONFIRM_FORM = "confirm_level"


def _pack(turn: Turn, case: Case) -> ProcedurePack:
    # A case keeps the pack it was opened under, so its levels keep their meaning.
    return turn.services.packs.get(case.pack_id, turn.services.pack)


def _label(pack: ProcedurePack, level: str | None) -> str:
    return pack.level(level).label if level else "Not yet agreed"


BALLOT_REASON = 200  # characters of a ballot's reason on the card: a reason may be 1,000, and the card is shared
BALLOTS_WITHOUT_MEASURING = 40  # ballots whose cut reasons are well within one card


def vote_card_values(turn: Turn, case: Case, vote: Vote) -> dict[str, Any]:
    pack = _pack(turn, case)
    tally = vote.tally()

    def cut(text: str) -> str:
        return text if len(text) <= BALLOT_REASON else text[:BALLOT_REASON].rstrip() + "…"

    ballots, bare = [], []
    for ballot in vote.ballots:
        line = f"{ballot.name}: {_label(pack, ballot.level)}"
        bare.append(line + (" - dissents" if ballot.dissent_reason else ""))
        if ballot.reason:
            line += f" ({cut(ballot.reason)})"
        if ballot.dissent_reason:
            line += f" - dissents: {cut(ballot.dissent_reason)}"
        ballots.append(line)
    outcome = None
    if vote.status == "closed" and vote.confirmed_level:
        outcome = f"Closed by {vote.closed_by}: level confirmed as {_label(pack, vote.confirmed_level)}."
        if vote.rationale:
            outcome += f" Rationale: {vote.rationale}"
    majority = vote.majority()
    values = {
        "title": f"Vote on the level of {case.reference}",
        "provider": case.provider.name,
        "current_level": _label(pack, vote.level_at_start),
        "started_by": vote.started_by,
        "status": "Closed" if vote.status == "closed" else
        f"Open: {len(vote.ballots)} voted" + (f", majority {_label(pack, majority)}" if majority else ""),
        "tally": [{"label": level.label, "count": str(tally.get(level.id, 0))} for level in pack.levels_in_order()],
        "ballots": ballots,
        "levels": [{"id": lv.id, "label": lv.label, "summary": lv.summary} for lv in pack.levels_in_order()],
        "outcome": outcome,
        "vote_id": vote.id,
    }
    if len(ballots) > BALLOTS_WITHOUT_MEASURING:
        # Every ballot stays listed; the reasons of as many as fit are shown, dissents first (the case file has
        # them all).
        order = sorted(range(len(ballots)), key=lambda i: not vote.ballots[i].dissent_reason)
        place = {index: position for position, index in enumerate(order)}

        def with_reasons(n: int) -> dict[str, Any]:
            return values | {"ballots": [ballots[i] if place[i] < n else bare[i] for i in range(len(ballots))]}

        if not fits("vote", values):
            values = with_reasons(most(len(ballots), lambda n: fits("vote", with_reasons(n))))
    return values


async def tell_privately(turn: Turn, text: str) -> None:
    """Answer only the person who pressed the button: in a 1:1 chat, not in the channel."""
    await send_privately(turn, Activity(type=ActivityTypes.message, text=text))


async def send_privately(turn: Turn, activity: Activity) -> None:
    """Send `activity` to the acting user's 1:1 chat with the bot (falling back to the thread)."""
    sender = turn.activity.from_property
    parameters = ConversationParameters(
        is_group=False, bot=turn.activity.recipient, members=[ChannelAccount(id=sender.id)],
        tenant_id=turn.actor.tenant_id, channel_data={"tenant": {"id": turn.actor.tenant_id}}, activity=activity,
    )

    async def nothing(_context: Any) -> None:
        return None

    try:
        await turn.context.adapter.create_conversation(
            turn.services.app_id, nothing, parameters, turn.activity.channel_id, turn.activity.service_url, None)
    except Exception:
        log.warning("could not open a 1:1 chat; answering in the thread", exc_info=True)
        await turn.context.send_activity(activity)


async def _refresh(turn: Turn, case: Case, vote: Vote) -> None:
    """Update the vote card (and the case card) in place for everyone."""
    conversation_id, activity_id = vote.card_conversation_id, vote.card_activity_id
    if conversation_id and activity_id:
        try:
            await turn.update_card_in(conversation_id, activity_id, "vote", **vote_card_values(turn, case, vote))
        except Exception:
            log.warning("could not update the vote card of %s", case.reference, exc_info=True)


async def _refresh_case(turn: Turn, case: Case) -> None:
    if case.card_conversation_id and case.card_activity_id:
        try:
            await turn.update_card_in(case.card_conversation_id, case.card_activity_id, "case",
                                      **await case_card(turn, case))
        except Exception:
            log.warning("could not update the card of %s", case.reference, exc_info=True)


async def start_vote(turn: Turn, reference: str) -> bool:
    """Start a vote and post its card in the case's thread; False if it was refused or one was open already."""
    try:
        case, vote = await services.start_vote(turn.uow(), turn.services.clock, turn.actor, reference,
                                               conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return False
    if vote.card_activity_id:
        await turn.reply_text(f"A vote on the level of {case.reference} is already open: see its card.")
        return False
    activity = renderer.card_activity("vote", **vote_card_values(turn, case, vote))
    target = case.card_conversation_id or turn.activity.conversation.id
    posted: dict[str, str] = {}

    async def send(context: Any) -> None:
        response = await context.send_activity(activity)
        posted["conversation"], posted["activity"] = context.activity.conversation.id, response.id

    await turn.in_conversation(target, send)
    async with turn.uow() as uow:
        await uow.votes.set_card(vote.id, posted["conversation"], posted["activity"])
        await uow.commit()
    return True


async def vote_command(turn: Turn, args: str) -> None:
    """`vote PC-2026-0001`: start a vote on the case's level."""
    if not args:
        await turn.reply_text("Tell me which case: for example, vote PC-2026-0001.")
        return
    await start_vote(turn, args.split()[0])


async def start_vote_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("case")
    await start_vote(turn, reference if isinstance(reference, str) else "")


def _vote_id(data: dict[str, Any]) -> int | None:
    return parse_id(data.get("vote"))


async def cast_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Count a ballot; the tally on the card updates in place for everyone."""
    vote_id = _vote_id(data)
    if vote_id is None:
        await tell_privately(turn, "That vote button is not valid.")
        return
    try:
        case, vote = await services.cast_ballot(turn.uow(), turn.services.clock, turn.actor, vote_id,
                                                lambda case: parse_ballot(data, _pack(turn, case)),
                                                conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await tell_privately(turn, " ".join(invalid.errors.values()))
        return
    except (NotFound, NotAllowed, VoteClosed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    await _refresh(turn, case, vote)


async def close_verb(turn: Turn, data: dict[str, Any]) -> None:
    """The chair closes the vote: answer with the confirmation card, prefilled with the majority."""
    vote_id = _vote_id(data)
    try:
        if vote_id is None:
            raise NotFound("That vote button is not valid.")
        case, vote = await services.vote_with_case(turn.reader(), turn.actor.tenant_id, vote_id)
        may_confirm(case, turn.actor.id)
        if vote.status != "open":
            raise VoteClosed(f"The vote on {case.reference} has already closed.")
    except (NotFound, NotAllowed, VoteClosed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record = await issue_form(turn, CONFIRM_FORM, values={"level": vote.majority() or ""}, subject=str(vote.id))
    await turn.reply_card("confirm_level", **_confirm_values(turn, case, vote, record, {}))


def _confirm_values(turn: Turn, case: Case, vote: Vote, record: Any, errors: dict[str, str]) -> dict[str, Any]:
    pack = _pack(turn, case)
    majority = vote.majority()
    summary = (f"{len(vote.ballots)} voted. Majority: {_label(pack, majority)}." if majority
               else f"{len(vote.ballots)} voted. No majority.")
    return {
        "form_key": record.key, "reference": case.reference, "summary": summary,
        "levels": [{"id": lv.id, "label": lv.label} for lv in pack.levels_in_order()],
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)}, "errors": errors,
    }


async def confirm_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Confirm the level: the vote closes, the case card updates, the level's actions are posted."""
    record, problem = await submitted_form(turn, data, CONFIRM_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = {k: data[k] for k in ("level", "rationale", "justification", NAMES_ARE_STAFF)
              if isinstance(data.get(k), str)}
    try:
        case, vote = await services.vote_with_case(turn.reader(), turn.actor.tenant_id, int(record.subject))
        pack = _pack(turn, case)
        confirmation = parse_confirmation(values, pack, vote)
        confirmed = await services.confirm_level(turn.uow(), turn.services.clock, pack, turn.actor, vote.id,
                                                 confirmation, conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        await turn.replace_card("confirm_level", **_confirm_values(turn, case, vote, record, invalid.errors))
        return
    except (NotFound, NotAllowed, VoteClosed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    level = pack.level(confirmed.vote.confirmed_level or "")
    await turn.replace_card("notice", title=f"{case.reference}: level confirmed as {level.label}",
                            text="This level requires: " + "; ".join(
                                f"{a.title} (owner: {pack.role(a.owner_role).label})" for a in confirmed.actions
                            ) if confirmed.actions else "This level adds no actions.", color="Good")
    await _refresh(turn, confirmed.case, confirmed.vote)
    await _refresh_case(turn, confirmed.case)
