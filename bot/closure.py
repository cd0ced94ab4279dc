"""Closing a case in Teams: the chair's closure card, the closure post and lessons-learned card in
the case thread, and the signed links to the notices, the board report and the case file, which go
only to the person who asked, in their 1:1 chat."""

from __future__ import annotations

import logging
from typing import Any

from bot.cards import renderer
from bot.links import FileLink
from bot.turn import Turn
from concerns import closure, services
from concerns.cases import Case
from concerns.errors import NotFound
from concerns.validation import NAMES_ARE_STAFF, FormErrors, says_names_are_staff
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

CLOSE_FORM = "close_case"


def _links(turn: Turn, case: Case, files: list[tuple[str, str]]) -> list[dict[str, str]]:
    assert turn.services.links is not None
    return [{"title": title, "url": turn.services.links.url(FileLink(
        turn.actor.tenant_id, case.reference, file, turn.actor.id, turn.actor.name))} for title, file in files]


def _closure_files(case: Case, turn: Turn) -> list[tuple[str, str]]:
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    files = []
    for index, recipient in enumerate(pack.closure.notice_recipients):
        files.append((f"Notice to {recipient} (HTML)", f"notice-{index}.html"))
        files.append((f"Notice to {recipient} (text)", f"notice-{index}.txt"))
    files.append((f"Summary report to {pack.closure.safeguarding_adults_board}", "board-report.html"))
    return files


async def _send_links(turn: Turn, case: Case, title: str, text: str, files: list[tuple[str, str]]) -> None:
    from bot.votes import send_privately

    hours = turn.services.links.hours if turn.services.links else 24
    await send_privately(turn, renderer.card_activity(
        "file_links", title=title, text=text, links=_links(turn, case, files),
        note=f"The links work for {hours} hours and are for you alone: opening one is recorded in your name."))


async def _close_values(turn: Turn, case: Case, readiness: closure.Readiness, record: Any,
                        errors: dict[str, str]) -> dict[str, Any]:
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    return {
        "form_key": record.key, "reference": case.reference, "provider": case.provider.name,
        "ready": readiness.ready, "readiness": "" if readiness.ready else readiness.explain(pack),
        "open_required": list(readiness.open_required),
        "recipients": ", ".join(pack.closure.notice_recipients), "board": pack.closure.safeguarding_adults_board,
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)}, "errors": errors,
    }


async def _offer(turn: Turn, reference: str) -> None:
    from bot.commands import issue_form
    from bot.votes import tell_privately

    pack = turn.services.pack
    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
        pack = turn.services.packs.get(case.pack_id, pack)
        case, readiness = await closure.closure_check(turn.reader(), pack, turn.actor.tenant_id, case.reference)
        closure.may_close(case, turn.actor.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record = await issue_form(turn, CLOSE_FORM, subject=case.reference)
    await turn.reply_card("close_case", **await _close_values(turn, case, readiness, record, {}))


async def close_case_command(turn: Turn, args: str) -> None:
    """`close case PC-2026-0001`: the chair's closure card."""
    if not args:
        await turn.reply_text("Say which case, for example: close case PC-2026-0001.")
        return
    await _offer(turn, args.split()[0])


async def offer_close_verb(turn: Turn, data: dict[str, Any]) -> None:
    await _offer(turn, data["case"] if isinstance(data.get("case"), str) else "")


async def submit_close(turn: Turn, data: dict[str, Any]) -> None:
    from bot.cases import case_card
    from bot.commands import form_refused, submitted_form
    from bot.votes import tell_privately

    record, problem = await submitted_form(turn, data, CLOSE_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    values = {k: data[k] for k in ("outcome", "override_reason", NAMES_ARE_STAFF) if isinstance(data.get(k), str)}
    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, record.subject)
        pack = turn.services.packs.get(case.pack_id, turn.services.pack)
        closed = await closure.close_case(
            turn.uow(), turn.services.clock, turn.services.calendar, pack, turn.actor, case.reference,
            values.get("outcome", ""), values.get("override_reason", ""), conversation_id=turn.conversation.id,
            names_are_staff=says_names_are_staff(values))
    except FormErrors as invalid:
        record.values = values
        await turn.services.forms.save(record)
        try:  # the outcome is checked before the case, which may be closed by now
            case, readiness = await closure.closure_check(turn.reader(), pack, turn.actor.tenant_id, record.subject)
        except (NotFound, NotAllowed) as refusal:
            await tell_privately(turn, str(refusal))
            return
        await turn.replace_card("close_case", **await _close_values(turn, case, readiness, record, invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    record.result = closed.reference
    await turn.services.forms.save(record)
    await turn.replace_card("notice", title=f"{closed.reference} is closed",
                            text=f"Closed by {turn.actor.name}. The closure follows in the case thread; the notices "
                                 "and the board report are in your chat with me.", color="Good")
    if closed.card_conversation_id:
        from bot.actions import post_checklist

        try:
            await turn.post_in(closed.card_conversation_id, renderer.card_activity(
                "case_closed", reference=closed.reference, provider=closed.provider.name,
                closed_by=turn.actor.name, outcome=closed.closure_outcome or "",
                override=closed.closure_override_reason or "", board=pack.closure.safeguarding_adults_board))
            await turn.post_in(closed.card_conversation_id, renderer.card_activity(
                "lessons", **lessons_values(closed, 0)))
            await post_checklist(turn, closed, closed.card_conversation_id)
            if closed.card_activity_id:
                await turn.update_card_in(closed.card_conversation_id, closed.card_activity_id, "case",
                                          **await case_card(turn, closed))
        except Exception:
            log.warning("could not post the closure of %s in its thread", closed.reference, exc_info=True)
    await _send_links(turn, closed, f"{closed.reference} closure: notices and board report",
                      f"Check and send the notices of closure to {', '.join(pack.closure.notice_recipients)}, "
                      f"and the summary report to {pack.closure.safeguarding_adults_board}.",
                      _closure_files(closed, turn))


def lessons_values(case: Case, responses: int, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"reference": case.reference, "provider": case.provider.name, "responses": responses,
            "members": len(case.members), "errors": errors or {}}


async def lessons_verb(turn: Turn, data: dict[str, Any]) -> None:
    """A member's lessons-learned feedback from the card in the case thread (the card stays for the others)."""
    from bot.votes import tell_privately

    reference = data["case"] if isinstance(data.get("case"), str) else ""
    went_well = data.get("went_well") if isinstance(data.get("went_well"), str) else ""
    differently = data.get("do_differently") if isinstance(data.get("do_differently"), str) else ""
    try:
        case, responses = await closure.give_lessons(turn.uow(), turn.services.clock, turn.actor, reference,
                                                     went_well, differently, conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    except FormErrors as invalid:
        await tell_privately(turn, " ".join(invalid.errors.values()))
        return
    await turn.replace_card("lessons", **lessons_values(case, responses))
    await tell_privately(turn, f"Thank you: your lessons-learned feedback on {case.reference} is recorded. "
                               "Send it again to change it.")


async def files_command(turn: Turn, case: Case, what: str) -> None:
    """`case PC-2026-0001 export` (the case file) or `case PC-2026-0001 report` (notices and board report)."""
    from bot.votes import tell_privately

    try:
        closure.may_export(case, turn.actor.id)
    except NotAllowed as refusal:
        await tell_privately(turn, str(refusal))
        return
    if what == "export":
        await _send_links(turn, case, f"{case.reference} case file",
                          "The full case file: timeline, decisions, actions, meetings and documents.",
                          [("Case file (HTML)", "case-file.html"), ("Case file (JSON)", "case-file.json")])
    else:
        await _send_links(turn, case, f"{case.reference} notices and board report",
                          "Rendered from the case as it is now.", _closure_files(case, turn))
    if turn.conversation.kind.value != "personal":
        await turn.reply_text(f"I have sent you the links for {case.reference} in our 1:1 chat.")
