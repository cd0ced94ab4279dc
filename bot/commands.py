"""Handlers for commands typed to the bot and for the buttons on its cards.

Each handler is one use case: it reads the turn, calls one service in `concerns.services`, and
answers with a card. Routing to them is in `bot.router`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from bot.paging import fetch_page, page_buttons, shown_range, start_of
from bot.state import FormRecord
from bot.turn import Turn
from concerns import services
from concerns.cases import Case, CaseRole
from concerns.clock import UK, uk_today
from concerns.model import Concern, ConversationKind, Provider
from concerns.packs import ProcedurePack
from concerns.patterns import ConcernFact
from concerns.screening import Screening
from concerns.validation import FIELDS, MAX_DESCRIPTION, FormErrors, parse_id, parse_raise_form
from concerns.vocabulary import Category, ConcernStatus, ServiceType, SourceAgency

log = logging.getLogger(__name__)

RAISE_FORM = "raise"
# Enough to re-show anything a person could type; a hostile payload is cut, never stored whole.
MAX_KEPT_VALUE = 20_000


def _choices(enum: Any) -> list[dict[str, str]]:
    return [{"value": member.value, "title": member.label} for member in enum]


def _date(value: Any) -> str:
    return value.strftime("%-d %b %Y")


def _when(value: Any) -> str:
    return value.astimezone(UK).strftime("%-d %b %Y %H:%M")


# -- help --------------------------------------------------------------------------------------


async def show_help(turn: Turn, notice: str | None = None) -> None:
    """Answer with the help card: every command and what it does."""
    from bot.router import COMMANDS  # the table lists the handlers, so it is imported late

    await turn.reply_card(
        "help",
        notice=notice,
        bot_name=turn.services.bot_name,
        groups=[{"title": group, "commands": [{"usage": c.usage, "summary": c.summary} for c in COMMANDS
                                              if c.group == group]}
                for group in dict.fromkeys(c.group for c in COMMANDS)],
    )


async def help_command(turn: Turn, args: str) -> None:
    await show_help(turn)


async def help_verb(turn: Turn, data: dict[str, Any]) -> None:
    await show_help(turn)


async def not_understood(turn: Turn, text: str) -> None:
    shown = text if len(text) <= 40 else text[:40] + "..."
    await show_help(turn, notice=f'I did not understand "{shown}". Here is what I can do.')


async def welcome(turn: Turn) -> None:
    """Say hello once, when the bot is added to a team or a personal chat."""
    if turn.conversation.kind is ConversationKind.CHANNEL:
        place = f"I have been added to {turn.conversation.display_name}."
        hint = f"@{turn.services.bot_name} help"
    else:
        place = "This is our personal chat: no @mention needed here."
        hint = "help"
    await turn.reply_card("welcome", place_text=place, hint=hint)


# -- raise a concern ---------------------------------------------------------------------------


def _posts_here(turn: Turn, post_here: bool | None) -> bool:
    """Whether a concern raised in this turn goes to this conversation (a channel) or to a chosen channel.

    None: decided by where the form is, as for the typed `raise`. The message extension decides for itself,
    because it can be used in a channel of a team the bot is not in.
    """
    return turn.conversation.kind is ConversationKind.CHANNEL if post_here is None else post_here


async def raise_card_values(
    turn: Turn, record: FormRecord, errors: dict[str, str], *, post_here: bool | None = None
) -> dict[str, Any]:
    tenant = turn.actor.tenant_id
    providers: list[Provider] = await services.known_providers(turn.reader(), tenant)
    channels = None
    if not _posts_here(turn, post_here):
        channels = [
            {"value": c.id, "title": c.display_name}
            for c in await services.channels(turn.reader(), tenant)
        ]
    return {
        "form_key": record.key,
        "providers": [{"id": p.id, "name": p.name} for p in providers],
        "service_types": _choices(ServiceType),
        "categories": _choices(Category),
        "sources": _choices(SourceAgency),
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)},
        "errors": errors,
        "channels": channels,
        "today": uk_today(turn.services.clock).isoformat(),
        "max_description": MAX_DESCRIPTION,
    }


async def issue_form(turn: Turn, kind: str, values: dict[str, Any] | None = None,
                     subject: str | None = None) -> FormRecord:
    """Record a new form card as issued in this conversation; its key goes in the card's data."""
    record = FormRecord(
        key=secrets.token_urlsafe(16),
        kind=kind,
        conversation_id=turn.conversation.id,
        issued_at=turn.services.clock.now().isoformat(),
        issued_by=turn.actor.id,
        values=values or {},
        subject=subject,
    )
    await turn.services.forms.issue(record)
    return record


async def submitted_form(turn: Turn, data: dict[str, Any], kind: str) -> tuple[FormRecord | None, str | None]:
    """The issued form a card submission belongs to, or why it cannot be accepted.

    The card's data only names the form; where it was issued and what it is about come from
    the server's record, so a card copied into another conversation or forged is refused.
    """
    form_key = data.get("form")
    record = await turn.services.forms.get(form_key) if isinstance(form_key, str) else None
    if record is None or record.kind != kind:
        return None, "I do not recognise this form, so nothing was saved. Check the details and submit again."
    if record.conversation_id != turn.conversation.id:
        return None, ("This form was started in another conversation, so nothing was saved. "
                      "Check the details and submit it again here.")
    if record.expired(turn.services.clock.now()):
        return None, "This form is more than two weeks old, so nothing was saved. Check and submit again."
    return record, None


async def form_refused(turn: Turn, problem: str | None) -> None:
    """Replace a card whose submission cannot be accepted with why; nothing was saved."""
    await turn.replace_card("notice", title="Nothing was saved", text=problem or "I do not recognise this form.",
                            color="Attention")


async def _issue_raise_form(turn: Turn, values: dict[str, Any] | None = None) -> FormRecord:
    return await issue_form(turn, RAISE_FORM, values)


async def open_raise_form(turn: Turn, args: str = "") -> None:
    """Answer with an empty raise-a-concern card, bound to this conversation."""
    if turn.conversation.kind is not ConversationKind.CHANNEL:
        if not await services.channels(turn.reader(), turn.actor.tenant_id):
            await turn.reply_card(
                "notice",
                title="Add me to a team first",
                text="A concern is posted in a team channel for the team to screen, and I am not "
                "in any team channel yet. Add me to your safeguarding team, then raise it here "
                "or there.",
                color="Warning",
            )
            return
    record = await _issue_raise_form(turn)
    await turn.reply_card("raise_concern", **await raise_card_values(turn, record, {}))


async def open_raise_form_verb(turn: Turn, data: dict[str, Any]) -> None:
    await open_raise_form(turn)


def _submitted_values(data: dict[str, Any]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in (*FIELDS, "post_to"):
        value = data.get(name)
        if isinstance(value, bool | int | float):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, str):
            kept[name] = value[:MAX_KEPT_VALUE]
    return kept


@dataclass
class RaisedForm:
    """What became of a submitted raise form: stored (`reference` set) or to be shown again with `errors`."""

    record: FormRecord  # the form to show again (a fresh one if the submitted one was refused)
    errors: dict[str, str]
    reference: str | None = None
    provider: str = ""
    channel: Any = None  # where its card went; None when this submission stored nothing new
    warning: str | None = None
    concern: Concern | None = None  # set only when this submission created the concern
    provider_facts: list[ConcernFact] | None = None  # the provider's concerns, when known without a read
    case: Case | None = None  # the provider's open case, which this submission's new concern joined


async def raise_from_form(turn: Turn, data: dict[str, Any], *, post_here: bool | None = None) -> RaisedForm:
    """Validate and store a concern from a raise form's data and post its card; the caller answers the user.

    Shared by the card in a conversation and the message extension's dialog. The form's key is the
    submission key, so a second press of Submit or Teams retrying it stores nothing new.
    """
    values = _submitted_values(data)
    record, problem = await submitted_form(turn, data, RAISE_FORM)
    if record is None:
        fresh = await _issue_raise_form(turn, values)
        return RaisedForm(fresh, {"form": problem or ""})

    if record.result:
        # A second press of Submit (or Teams retrying it): show the outcome, store nothing new.
        return RaisedForm(record, {}, record.result, record.values.get("provider_name", ""))

    record.values = values
    try:
        form = parse_raise_form(values, uk_today(turn.services.clock))
        channel = await _target_channel(turn, values, post_here)
        raised = await services.raise_concern(
            turn.uow(),
            turn.services.clock,
            turn.actor,
            form,
            conversation_id=turn.conversation.id,
            submission_key=record.key,
        )
    except FormErrors as invalid:
        await turn.services.forms.save(record)
        return RaisedForm(record, invalid.errors)

    concern = raised.concern
    record.result = concern.reference
    record.values = {"provider_name": concern.provider.name}
    if not raised.created:
        # A repeat of a submit already stored: remember the outcome so further repeats need no transaction.
        # A new concern is not written to the form too: its submission key already makes any repeat find it
        # (above), so that write would be a second record of the same fact, a whole write transaction a raise.
        await turn.services.forms.save(record)
    warning = await _post_concern_card(turn, concern, channel) if raised.created else None
    return RaisedForm(record, {}, concern.reference, concern.provider.name, channel, warning,
                      concern if raised.created else None, raised.provider_facts(), raised.case)


async def after_raised(turn: Turn, raised: RaisedForm) -> None:
    """The prompts a new concern can trigger: business failure, and the pack's pattern rules."""
    concern, channel = raised.concern, raised.channel
    if concern is None:
        return
    from bot.patterns import prompt_patterns

    if concern.immediate_risk and Category.FINANCE in concern.categories:
        await post_business_failure(turn, channel, concern.provider.name,
                                    f"Raised with {concern.reference}: immediate risk, financial management "
                                    "or business failure.")
    if raised.case is not None:
        await tell_case_of_concern(turn, raised.case, concern, channel)
    await prompt_patterns(turn, concern.provider.id, concern.provider.name, channel.id, known=raised.provider_facts)


async def tell_case_of_concern(turn: Turn, case: Case, concern: Concern, channel: Any) -> None:
    """A new concern about a provider in the process joins its case, and the case hears of it: its chair and
    coordinator are @mentioned in the case's thread, so it is weighed now (an immediate risk at once, not at the
    next meeting), and the case card counts it. Only facts about the provider and the concern: no description."""
    from bot.actions import refresh_case_cards
    from bot.reminders import mention

    tags, entities = [], []
    for user_id, name in dict((m.user_id, m.name) for role in (CaseRole.CHAIR, CaseRole.COORDINATOR)
                              if (m := case.holder(role)) is not None).items():
        if user_id != turn.actor.id:  # whoever raised it knows already
            tag, found = mention({"user_id": user_id, "name": name})
            tags.append(tag)
            entities += found
    where = f" Its card is in {channel.display_name}." if getattr(channel, "display_name", None) else ""
    risk = "Immediate risk: act on it now, not at the next meeting. " if concern.immediate_risk else ""
    text = (f"{risk}A new concern about {concern.provider.name} is part of {case.reference}: {concern.reference} "
            f"({', '.join(c.label for c in concern.categories)}; from {concern.source_agency.label}; raised by "
            f"{concern.raised_by.name}). It is not screened yet: 'screen {concern.reference}'.{where}")
    activity = Activity(type=ActivityTypes.message, text=" ".join([*tags, text]), entities=entities or None)
    # Where the case's thread is gone (deleted in Teams): a new thread where the concern's card went.
    await turn.post_in_thread(case.card_conversation_id, getattr(channel, "id", None) or case.channel_id, activity)
    await refresh_case_cards(turn, case)


async def submit_raise_form(turn: Turn, data: dict[str, Any]) -> None:
    """Validate and store a concern, post its card in the channel, and confirm on the form."""
    raised = await raise_from_form(turn, data)
    if raised.reference is None:
        await turn.replace_card("raise_concern", **await raise_card_values(turn, raised.record, raised.errors))
        return
    await _confirm_raised(turn, raised.reference, raised.provider, raised.channel, raised.warning, raised.case)
    await after_raised(turn, raised)


async def _target_channel(turn: Turn, values: dict[str, str], post_here: bool | None = None) -> Any:
    if _posts_here(turn, post_here):
        return turn.conversation
    chosen = values.get("post_to", "")
    for channel in await services.channels(turn.reader(), turn.actor.tenant_id):
        if channel.id == chosen:
            return channel
    raise FormErrors({"post_to": "Choose one of the team channels I am in."})


async def _post_concern_card(turn: Turn, concern: Concern, channel: Any) -> str | None:
    """Post the concern's card as a new thread; return a warning if it could not be posted."""
    from bot.cards import renderer

    activity = renderer.card_activity("concern", **concern_card_values(concern))
    try:
        posted = await turn.post_new_thread(channel, activity)
    except Exception:
        log.warning("could not start a thread for %s in %s", concern.reference, channel.id, exc_info=True)
        if turn.conversation.kind is not ConversationKind.CHANNEL:
            return (
                f"It is saved, but I could not post it in {channel.display_name}. "
                "Check that I am still in that team."
            )
        # Not allowed to start a thread here: keep the card in the thread the form is in.
        response = await turn.context.send_activity(activity)
        if response is None or not response.id:
            return None
        posted_conversation, posted_id = turn.activity.conversation.id, response.id
    else:
        posted_conversation, posted_id = posted.conversation_id, posted.activity_id
    await services.record_concern_card(
        turn.uow(), turn.services.clock, turn.actor, concern, posted_conversation, posted_id
    )
    return None


def raised_where(turn: Turn, channel: Any, case: Case | None = None) -> str:
    """Where a raised concern's card went, for the person who raised it."""
    if case is not None:
        joined = f" It is part of {case.reference}, the open case about this provider, and its thread is told."
        return raised_where(turn, channel) + joined
    if channel is None:
        return "It is saved with the team's concerns."
    if channel is turn.conversation:
        return "Its card is posted in this channel for the team to screen."
    return f"Its card is posted in {channel.display_name} for the team to screen."


async def _confirm_raised(
    turn: Turn, reference: str, provider: str, channel: Any, warning: str | None = None, case: Case | None = None
) -> None:
    await turn.replace_card("concern_raised", reference=reference, provider=provider,
                            where=raised_where(turn, channel, case), warning=warning)


def concern_card_values(concern: Concern, screening: Screening | None = None,
                        pack: ProcedurePack | None = None) -> dict[str, Any]:
    status = "Unscreened"
    if screening is not None:
        threshold = _level_label(pack, screening.threshold)
        status = f"Screened: {screening.outcome.label} ({threshold})"
    return {
        "concern": concern,
        "status": status,
        "feedback_owed": screening is not None and screening.feedback_given_at is None,
        "categories": ", ".join(c.label for c in concern.categories),
        "occurred_on": _date(concern.occurred_on),
        "raised_at": _when(concern.raised_at),
    }


# -- lists -------------------------------------------------------------------------------------


def _row(concern: Concern) -> dict[str, Any]:
    return {
        "reference": concern.reference,
        "provider": concern.provider.name,
        "raised_on": _date(concern.raised_at.astimezone(UK)),
        "details": f"{', '.join(c.label for c in concern.categories)} · "
        f"Source: {concern.source_agency.label} · {concern.status.value.capitalize()}",
        "immediate_risk": concern.immediate_risk,
        # The list is where a screener starts, often on a phone far from the concern's own card in the channel.
        "screen": concern.status is ConcernStatus.UNSCREENED,
    }


CONCERNS_SHOWN = 20


async def list_unscreened(turn: Turn, args: str = "", *, start: int = 0, in_place: bool = False) -> None:
    """List the concerns waiting to be screened, those waiting longest first; Next and Previous page in place."""
    async def fetch(first: int) -> services.ConcernPage:
        return await services.unscreened_concerns(turn.reader(), turn.actor.tenant_id, CONCERNS_SHOWN, first)

    page, start = await fetch_page(fetch, lambda p: (len(p.concerns), p.total), start, CONCERNS_SHOWN)
    shown = len(page.concerns)
    await _list_card(
        turn, in_place,
        title="Unscreened concerns",
        subtitle=None,
        rows=[_row(c) for c in page.concerns],
        summary=f"{page.total} waiting, oldest first" + shown_range(start, shown, page.total),
        empty_text="No concerns are waiting to be screened.",
        candidates=[],
        pages=page_buttons({"verb": "concerns.list"}, start, shown, page.total, CONCERNS_SHOWN),
    )


async def _list_card(turn: Turn, in_place: bool, **values: Any) -> None:
    """A list's card: a new one, or the one whose Next or Previous was pressed, shown again further on."""
    if in_place:
        await turn.replace_card("concern_list", **values)
    else:
        await turn.reply_card("concern_list", **values)


async def list_unscreened_verb(turn: Turn, data: dict[str, Any]) -> None:
    await list_unscreened(turn, start=start_of(data), in_place="from" in data)


async def provider_command(turn: Turn, args: str) -> None:
    """Show one provider's concerns, newest first (`provider Oakwood`)."""
    name = args.strip()
    if not name:
        await turn.reply_text("Tell me which provider: for example, provider Oakwood Lodge.")
        return
    history = await services.provider_history(turn.reader(), turn.actor.tenant_id, name[:200])
    await _show_history(turn, history, name)


async def provider_verb(turn: Turn, data: dict[str, Any]) -> None:
    raw = data.get("provider_id")
    provider_id = parse_id(raw)
    if provider_id is None:
        await turn.reply_text("That provider button is not valid any more. Type provider and a name.")
        return

    async def fetch(first: int) -> services.ProviderHistory:
        return await services.provider_history(turn.reader(), turn.actor.tenant_id, provider_id=provider_id,
                                               limit=CONCERNS_SHOWN, start=first)

    history, start = await fetch_page(fetch, lambda h: (len(h.concerns), h.total), start_of(data), CONCERNS_SHOWN)
    await _show_history(turn, history, raw, start=start, in_place="from" in data)


async def _show_history(turn: Turn, history: services.ProviderHistory, asked: str, *, start: int = 0,
                        in_place: bool = False) -> None:
    if history.provider is None:
        await turn.reply_card(
            "concern_list",
            title=f'No provider called "{asked[:60]}"' if not history.candidates else "Which provider?",
            subtitle=None,
            rows=[],
            summary="",
            empty_text="Several providers match; pick one." if history.candidates
            else "No concerns have been raised about a provider of that name.",
            candidates=[{"id": p.id, "name": p.name} for p in history.candidates[:5]],
            pages=[],
        )
        return
    provider = history.provider
    shown = len(history.concerns)
    await _list_card(
        turn, in_place,
        title=f"Concerns about {provider.name}",
        subtitle=f"{provider.service_type.label} · commissioning status: "
        f"{provider.commissioning_status.value.replace('_', ' ')}",
        rows=[_row(c) for c in history.concerns],
        summary=f"{history.total} in all, newest first" + shown_range(start, shown, history.total),
        empty_text="No concerns recorded.",
        candidates=[],
        pages=page_buttons({"verb": "provider.show", "provider_id": str(provider.id)}, start, shown, history.total,
                           CONCERNS_SHOWN),
    )


def _level_label(pack: ProcedurePack | None, level_id: str) -> str:
    if pack is not None:
        for level in pack.levels.items:
            if level.id == level_id:
                return level.label
    return level_id


async def post_business_failure(turn: Turn, channel: Any, provider: str, why: str) -> None:
    """Post the pack's business-failure prompt prominently, as its own channel thread."""
    from bot.cards import renderer

    pack = turn.services.pack
    activity = renderer.card_activity("business_failure", provider=provider, prompt=pack.business_failure.prompt,
                                      instructions=list(pack.business_failure.instructions), why=why)
    try:
        await turn.post_new_thread(channel, activity)
    except Exception:
        log.warning("could not start a business failure thread; replying here", exc_info=True)
        await turn.context.send_activity(activity)
