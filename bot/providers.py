"""A provider's commissioning status (normal, place with caution, suspended, embargoed)."""

from __future__ import annotations

import logging
from typing import Any

from bot.commands import form_refused, issue_form, submitted_form
from bot.turn import Turn
from concerns import services
from concerns.errors import NotFound
from concerns.model import ConversationKind, Provider
from concerns.validation import NAMES_ARE_STAFF, FormErrors, says_names_are_staff
from concerns.vocabulary import CommissioningStatus, counted
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

STATUS_FORM = "provider_status"


def status_label(status: CommissioningStatus) -> str:
    return status.value.replace("_", " ").capitalize()


def _values(turn: Turn, provider: Provider, record: Any, errors: dict[str, str]) -> dict[str, Any]:
    pack = turn.services.pack
    return {
        "form_key": record.key, "provider": provider.name, "current": status_label(provider.commissioning_status),
        "who": "Only the " + " or ".join(pack.role(r).label for r in pack.commissioning.status_roles)
               + " can change it.",
        "statuses": [{"value": s.value, "title": status_label(s)} for s in CommissioningStatus],
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)}, "errors": errors,
    }


async def status_command(turn: Turn, args: str) -> None:
    """`status NAME`: a provider's commissioning status, and the form to change it."""
    if turn.conversation.kind is not ConversationKind.CHANNEL or not turn.conversation.team_id:
        await turn.reply_text("Change a commissioning status in the team's channel, where its roles are recorded.")
        return
    history = await services.provider_history(turn.reader(), turn.actor.tenant_id, args.strip()[:200], limit=1)
    if history.provider is None:
        names = ", ".join(p.name for p in history.candidates[:5])
        await turn.reply_text(f"Which provider? {names}." if names else "Tell me the provider: status Oakwood Lodge.")
        return
    record = await issue_form(turn, STATUS_FORM, subject=str(history.provider.id))
    await turn.reply_card("provider_status", **_values(turn, history.provider, record, {}))


async def submit_status(turn: Turn, data: dict[str, Any]) -> None:
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, STATUS_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = {k: data[k] for k in ("status", "reason", NAMES_ARE_STAFF) if isinstance(data.get(k), str)}
    try:
        provider = await services.set_commissioning_status(
            turn.uow(), turn.services.clock, turn.services.pack, turn.actor, int(record.subject),
            values.get("status", ""), values.get("reason", ""), team_id=turn.conversation.team_id or "",
            conversation_id=turn.conversation.id, names_are_staff=says_names_are_staff(values))
    except FormErrors as invalid:
        async with turn.reader() as uow:
            current = await uow.providers.get(turn.actor.tenant_id, int(record.subject))
        record.values = values
        await turn.services.forms.save(record)
        if current is not None:
            await turn.replace_card("provider_status", **_values(turn, current, record, invalid.errors))
        return
    except (NotAllowed, NotFound) as refusal:
        await tell_privately(turn, str(refusal))
        return
    await turn.replace_card("notice", title=f"{provider.name}: {status_label(provider.commissioning_status)}",
                            text=f"Changed by {turn.actor.name}: {values.get('reason', '').strip()}", color="Warning")
    case = await services.open_case_for_provider(turn.reader(), turn.actor.tenant_id, provider.id)
    if case is not None and case.card_conversation_id and case.card_activity_id:
        from bot.cases import case_card

        try:
            await turn.update_card_in(case.card_conversation_id, case.card_activity_id, "case",
                                      **await case_card(turn, case))
        except Exception:
            log.warning("could not update the card of %s", case.reference, exc_info=True)


EMBARGO_LISTED = 60  # rows on one card (about 400 bytes each)


async def embargo_list_command(turn: Turn, args: str = "") -> None:
    """`embargo list`: providers whose commissioning status is not normal."""
    providers = await services.providers_not_normal(turn.reader(), turn.actor.tenant_id)
    # The most restricted first: an embargo is what a broker placing someone today must not miss.
    severity = list(CommissioningStatus)
    providers.sort(key=lambda p: (-severity.index(p.commissioning_status), p.name.casefold()))
    shown = providers[:EMBARGO_LISTED]
    await turn.reply_card(
        "concern_list", title="Providers not at normal commissioning status", subtitle=None,
        rows=[{"reference": status_label(p.commissioning_status), "provider": p.name, "raised_on": "",
               "details": p.service_type.label, "immediate_risk": False, "screen": False} for p in shown],
        summary=counted(len(providers), "provider") + (f", the {len(shown)} most restricted shown"
                                                       if len(shown) < len(providers) else ""),
        empty_text="Every provider is at normal status.", candidates=[], pages=[])
