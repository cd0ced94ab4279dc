"""Individual-level details (`details C-REF`) and a case's who-accessed log (`case PC-REF access-log`).

Both are shown only in the person's 1:1 chat with the bot. Asked anywhere else, the bot answers privately
and looks nothing up, so a channel never receives an individual's details, not even a refusal about them.
"""

from __future__ import annotations

from typing import Any

from bot.turn import Turn
from bot.votes import tell_privately
from concerns import individuals
from concerns.clock import UK
from concerns.errors import NotFound
from concerns.individuals import ACCESS_LOG_LIMIT, AccessLog, IndividualDetails
from concerns.model import ConversationKind
from concerns.vocabulary import ScreeningOutcome
from concerns.votes import NotAllowed


def _when(moment: Any) -> str:
    return f"{moment.astimezone(UK):%-d %b %Y %H:%M}"


def _reference(args: str) -> str:
    words = args.split()
    return words[0][:20] if words else ""


async def details_command(turn: Turn, args: str) -> None:
    """`details C-2026-0001`: the concern's individual reference and s42 enquiry, in personal chat only."""
    reference = _reference(args)
    if turn.conversation.kind is not ConversationKind.PERSONAL:
        await tell_privately(turn, "Individual details are shown only in our personal chat, never in a channel or "
                                   f"group chat: send me 'details {reference or 'C-2026-0001'}' here.")
        return
    if not reference:
        await turn.reply_text("Tell me which concern: for example, details C-2026-0001.")
        return
    try:
        shown = await individuals.individual_details(turn.uow(), turn.services.clock, turn.actor, reference,
                                                     conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await turn.reply_text(str(refusal))
        return
    await turn.reply_card("individual_details", **details_values(turn, shown))


def details_values(turn: Turn, shown: IndividualDetails) -> dict[str, Any]:
    concern = shown.concern
    pack = turn.services.pack

    def threshold(level_id: str) -> str:
        try:
            return pack.level(level_id).label
        except KeyError:
            return level_id

    cases = ", ".join(c.reference for c in shown.cases)
    return {
        "reference": concern.reference,
        "why": f"You can see them because you {shown.basis}. This view is recorded in the access log that the "
               f"chair{' of ' + cases if cases else ''} and the team admins can read. Do not copy these details "
               "into a channel.",
        "provider": concern.provider.name,
        "raised": f"{_when(concern.raised_at)} by {concern.raised_by.name}",
        "individual": concern.individual_reference or "None recorded",
        "case": cases or "Not linked to a case",
        "s42": ("A Care Act s42 enquiry was started from this concern." if shown.s42_enquiries
                else "No Care Act s42 enquiry has been started from this concern."),
        "screenings": [{
            "title": f"Screening {s.sequence}: {s.outcome.label}",
            "s42": s.outcome is ScreeningOutcome.S42_ENQUIRY,
            "decided": f"{s.screened_by.name}, {_when(s.screened_at)}; threshold {threshold(s.threshold)}",
            "rationale": s.rationale,
            "rescreen_reason": s.rescreen_reason or "",
        } for s in reversed(shown.screenings)],
    }


async def access_log(turn: Turn, reference: str) -> None:
    """`case PC-2026-0001 access-log`: who saw the individual details of the case's concerns, newest first."""
    reference = reference[:20]
    if turn.conversation.kind is not ConversationKind.PERSONAL:
        await tell_privately(turn, "A case's access log is shown only in our personal chat: send me "
                                   f"'case {reference or 'PC-2026-0001'} access-log' here.")
        return
    try:
        log = await individuals.case_access_log(turn.uow(), turn.services.clock, turn.actor, reference,
                                                conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await turn.reply_text(str(refusal))
        return
    await turn.reply_card("access_log", **access_log_values(log))


def access_log_values(log: AccessLog) -> dict[str, Any]:
    concerns = ", ".join(log.case.concerns) or "none linked"
    return {
        "title": f"Access log of {log.case.reference}",
        "subtitle": f"{log.case.provider.name}: who saw the individual details of its concerns ({concerns}), "
                    "newest first. Reading this log is recorded too.",
        "entries": [{"when": _when(view.occurred_at),
                     "who": view.actor_name,
                     "what": f"saw {view.subject_ref}" + (f" ({view.details['basis']})"
                                                           if view.details.get("basis") else "")}
                    for view in log.views],
        "empty_text": "Nobody has seen the individual details of its concerns.",
        "more": f"Only the {ACCESS_LOG_LIMIT} most recent views are shown." if log.more else "",
    }
