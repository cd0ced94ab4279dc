"""Posting pattern prompts, and recording "not now"."""

from __future__ import annotations

import logging
from typing import Any

from bot.cards import renderer
from bot.turn import Turn
from concerns import services
from concerns.clock import UK
from concerns.errors import NotFound
from concerns.model import Conversation
from concerns.patterns import ConcernFact
from concerns.validation import FormErrors, parse_id
from concerns.vocabulary import SourceAgency

log = logging.getLogger(__name__)


async def prompt_patterns(turn: Turn, provider_id: int, provider_name: str, channel_id: str | None, *,
                          known: list[ConcernFact] | None = None) -> None:
    """Check the pack's pattern rules for a provider and post any new prompt as a channel thread."""
    try:
        prompts = await services.check_patterns(turn.uow(), turn.services.clock, turn.services.pack, turn.actor,
                                                provider_id, conversation_id=turn.conversation.id, known=known)
    except Exception:  # the concern is saved; a missed prompt is logged, and the next concern re-checks
        log.exception("pattern check failed for provider %s", provider_id)
        return
    if not prompts:
        return
    channel: Conversation | None = None
    if channel_id:
        async with turn.reader() as uow:
            channel = await uow.conversations.get(channel_id.split(";", 1)[0])
    for new in prompts:
        activity = renderer.card_activity("pattern_prompt", **prompt_card_values(new, provider_name))
        try:
            if channel is None:
                raise LookupError("no channel")
            await turn.post_new_thread(channel, activity)
        except Exception:
            log.warning("could not start a thread for pattern prompt %s; replying here", new.prompt.id,
                        exc_info=True)
            await turn.context.send_activity(activity)


EVIDENCE_LISTED = 12  # the latest concerns a prompt names: a pattern of sixty was a wall of text on a phone


def prompt_card_values(new: services.NewPrompt, provider_name: str, decision: str | None = None) -> dict[str, Any]:
    return {
        "provider": provider_name,
        "provider_id": new.prompt.provider_id,
        "rule": new.description,
        "prompt_id": new.prompt.id,
        "evidence": [
            {"reference": fact.reference,
             "detail": f"{fact.raised_at.astimezone(UK):%-d %b %Y} · {SourceAgency(fact.source_agency).label}"}
            for fact in new.evidence[-EVIDENCE_LISTED:]
        ] + ([{"reference": f"and {len(new.evidence) - EVIDENCE_LISTED} earlier",
               "detail": f"'provider {provider_name}' lists them"}] if len(new.evidence) > EVIDENCE_LISTED else []),
        "decision": decision,
        "errors": {},
        "open_case": new.open_case,
    }


async def vote_verb(turn: Turn, data: dict[str, Any]) -> None:
    """"Start a vote on the level" on a prompt about a provider whose case is open: the vote goes to the case's
    thread as from `vote`, and the prompt records that it led to one."""
    from bot.votes import start_vote

    prompt_id, case = parse_id(data.get("prompt")), data.get("case")
    if prompt_id is None or not isinstance(case, str):
        await turn.reply_text("That prompt button is not valid.")
        return
    if not await start_vote(turn, case):
        return
    decided = await services.prompt_led_to_a_vote(turn.uow(), turn.services.clock, turn.actor, prompt_id, case,
                                                  conversation_id=turn.conversation.id)
    if decided is not None:
        await turn.reply_text(f"Recorded on the prompt: {turn.actor.name} started a vote on the level of {case}.")


async def decline_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Record "not now" on a pattern prompt, with the reason, and show the decision on the card."""
    prompt_id = parse_id(data.get("prompt"))
    reason = data.get("reason")
    if prompt_id is None:
        await turn.reply_text("That prompt button is not valid.")
        return
    try:
        prompt = await services.decline_prompt(turn.uow(), turn.services.clock, turn.actor, prompt_id,
                                               reason if isinstance(reason, str) else "",
                                               conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await turn.reply_text(invalid.errors.get("reason", "Give a reason."))
        return
    except NotFound as missing:
        await turn.reply_text(str(missing))
        return
    await turn.reply_text(
        f"Recorded: not now ({prompt.decided_by}): {prompt.reason}. "
        "I will prompt again only if new concerns add to this pattern."
    )
