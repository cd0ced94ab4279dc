"""Handlers for screening a concern and for the referrer-feedback indicator."""

from __future__ import annotations

import logging
from typing import Any

from bot.cards import renderer
from bot.commands import _level_label, concern_card_values, form_refused, issue_form, submitted_form
from bot.patterns import prompt_patterns
from bot.team_roles import mention_activity
from bot.turn import Turn
from concerns import services
from concerns.clock import UK
from concerns.errors import NotFound
from concerns.screening import parse_screening_form
from concerns.validation import NAMES_ARE_STAFF, FormErrors
from concerns.vocabulary import Category, ScreeningOutcome, counted

log = logging.getLogger(__name__)

SCREEN_FORM = "screen"
_FIELDS = ("outcome", "threshold", "rationale", "referrer_told", "s42_confirmed", "rescreen_reason", NAMES_ARE_STAFF)


async def _screen_card_values(turn: Turn, context: services.ScreeningContext, record: Any,
                              errors: dict[str, str]) -> dict[str, Any]:
    concern = context.concern
    pack = turn.services.pack
    top = ", ".join(
        f"{Category(c).label} ({n})" for c, n in context.categories_last_12_months.most_common(5)
    )
    history = f"{counted(context.concerns_last_12_months, 'concern')} about this provider" + (f": {top}" if top else "")
    previous = [
        f"Screened {s.screened_at.astimezone(UK):%-d %b %Y} by {s.screened_by.name}: {s.outcome.label} "
        f"({_level_label(pack, s.threshold)})"
        for s in context.screenings
    ]
    return {
        "form_key": record.key,
        "reference": concern.reference,
        "provider": concern.provider.name,
        "categories": ", ".join(c.label for c in concern.categories),
        "source": concern.source_agency.label,
        "occurred_on": f"{concern.occurred_on:%-d %b %Y}",
        "immediate_risk": concern.immediate_risk,
        "description": concern.description,
        "history": history,
        "open_case": (f"Open provider concerns case: {context.open_case.reference}" if context.open_case
                      else "No open provider concerns case."),
        "previous": previous,
        "pack_name": pack.name,
        "levels": [
            {"id": level.id, "label": level.label, "summary": level.summary,
             "criteria": "; ".join(level.criteria)}
            for level in pack.levels_in_order()
        ],
        "outcomes": [{"value": o.value, "title": o.label} for o in ScreeningOutcome],
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)},
        "errors": errors,
    }


async def open_screening(turn: Turn, reference: str) -> None:
    """Answer with the screening card for one concern."""
    try:
        context = await services.screening_context(turn.reader(), turn.services.clock, turn.actor.tenant_id, reference)
    except NotFound as missing:
        await turn.reply_text(f"{missing} Type concerns to see those waiting.")
        return
    record = await issue_form(turn, SCREEN_FORM, subject=context.concern.reference)
    await turn.reply_card("screen_concern", **await _screen_card_values(turn, context, record, {}))


async def screen_command(turn: Turn, args: str) -> None:
    if not args:
        await turn.reply_text("Tell me which concern: for example, screen C-2026-0001.")
        return
    await open_screening(turn, args.split()[0])


async def screen_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("reference")
    await open_screening(turn, reference if isinstance(reference, str) else "")


async def submit_screening(turn: Turn, data: dict[str, Any]) -> None:
    """Record a screening, update the concern's card and alert commissioning in its thread."""
    values = {k: data[k] for k in _FIELDS if isinstance(data.get(k), str)}
    record, problem = await submitted_form(turn, data, SCREEN_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    if record.result:
        await turn.reply_text(f"{record.subject} is already screened with this form; nothing more was saved.")
        return
    pack = turn.services.pack
    context = await services.screening_context(turn.reader(), turn.services.clock, turn.actor.tenant_id,
                                               record.subject)
    record.values = values
    try:
        decision = parse_screening_form(values, pack, screened_before=bool(context.screenings))
        screening = await services.screen_concern(
            turn.uow(), turn.services.clock, turn.services.calendar, pack, turn.actor, record.subject, decision,
            conversation_id=turn.conversation.id,
        )
    except FormErrors as invalid:
        await turn.services.forms.save(record)
        await turn.replace_card("screen_concern", **await _screen_card_values(turn, context, record, invalid.errors))
        return
    record.result = str(screening.sequence)
    await turn.services.forms.save(record)

    concern = context.concern
    alert_role = pack.role(pack.notifications.screening_alert_role)
    alert = (f"{alert_role.label}: concern {concern.reference} about {concern.provider.name} was screened as "
             f"{screening.outcome.label}, threshold {_level_label(pack, screening.threshold)}.")
    feedback = ("Given" if screening.feedback_given_at else
                f"Due by {screening.feedback_due_on:%A %-d %B %Y}")
    await turn.replace_card(
        "screened",
        title=f"{concern.reference} screened",
        outcome=screening.outcome.label,
        threshold=_level_label(pack, screening.threshold),
        screened_by=screening.screened_by.name,
        feedback=feedback,
        rationale=screening.rationale,
        alert=f"Commissioning alerted in the concern's thread ({alert_role.label}).",
        offer_case_for=concern.provider.id if screening.outcome is ScreeningOutcome.PROVIDER_CONCERNS else None,
    )
    await _refresh_concern_card(turn, concern.reference)
    holder = await _role_holder(turn, concern, alert_role.id)
    if holder is not None:
        alert_activity = mention_activity(holder, f"for your information: {alert}")
    else:
        alert_activity = renderer.card_activity(
            "notice", title="For commissioning",
            text=f"{alert} Nobody is recorded as {alert_role.label} in this team yet: "
                 "record them with 'team roles' so they are @mentioned.", color="Accent")
    await _post_in_concern_thread(turn, concern, alert_activity)
    await prompt_patterns(turn, concern.provider.id, concern.provider.name,
                          concern.card_conversation_id or turn.conversation.id)


async def _role_holder(turn: Turn, concern: Any, role_id: str) -> Any:
    """The person recorded as holding `role_id` in the team whose channel has the concern's card."""
    team_id = turn.conversation.team_id
    if concern.card_conversation_id:
        async with turn.reader() as uow:
            channel = await uow.conversations.get(concern.card_conversation_id.split(";", 1)[0])
        team_id = channel.team_id if channel and channel.team_id else team_id
    if not team_id:
        return None
    return (await services.role_holders(turn.reader(), turn.actor.tenant_id, team_id)).get(role_id)


async def _refresh_concern_card(turn: Turn, reference: str) -> None:
    context = await services.screening_context(turn.reader(), turn.services.clock, turn.actor.tenant_id, reference)
    concern = context.concern
    if not (concern.card_conversation_id and concern.card_activity_id):
        return
    latest = context.screenings[-1] if context.screenings else None
    try:
        await turn.update_card_in(concern.card_conversation_id, concern.card_activity_id, "concern",
                                  **concern_card_values(concern, latest, turn.services.pack))
    except Exception:  # the decision is saved; a stale card is a nuisance, not a loss
        log.warning("could not update the card of %s", reference, exc_info=True)


async def _post_in_concern_thread(turn: Turn, concern: Any, activity: Any) -> None:
    target = concern.card_conversation_id or turn.activity.conversation.id
    try:
        await turn.post_in(target, activity)
    except Exception:
        log.warning("could not post in the thread of %s; posting here", concern.reference, exc_info=True)
        await turn.context.send_activity(activity)


async def referrer_told_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Record that the referrer has been told, from the concern card's button."""
    reference = data.get("reference")
    try:
        screening = await services.mark_referrer_told(
            turn.uow(), turn.services.clock, turn.actor, reference if isinstance(reference, str) else "",
            conversation_id=turn.conversation.id,
        )
    except NotFound as missing:
        await turn.reply_text(str(missing))
        return
    await turn.reply_text(f"Recorded: the referrer of {screening.concern_reference} has been told "
                          f"({turn.actor.name}).")
    await _refresh_concern_card(turn, screening.concern_reference)


async def indicators_command(turn: Turn, args: str = "") -> None:
    """Answer with the referrer-feedback indicator for the last 12 months."""
    indicator = await services.feedback_indicator(turn.reader(), turn.services.clock, turn.actor.tenant_id)
    share = indicator.share_on_time
    days = turn.services.pack.timescales.referrer_feedback_working_days
    await turn.reply_card(
        "indicators",
        headline=("No screenings yet" if indicator.screened == 0 else
                  "No feedback due yet" if share is None else f"{share:.0%} told in time"),
        colour="Default" if share is None else ("Good" if share >= 0.9 else "Warning" if share >= 0.7 else "Attention"),
        explanation=f"Concerns screened in the last 12 months whose referrer was told the outcome within "
                    f"{days} working days of screening (seed 001: referrers must hear what happened).",
        screened=str(indicator.screened),
        on_time=str(indicator.told_on_time),
        late=str(indicator.told_late),
        overdue=str(indicator.owed_overdue),
        not_due=str(indicator.owed_not_yet_due),
    )
