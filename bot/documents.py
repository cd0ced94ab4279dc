"""The documents register card and the communication strategy checklist card of a case."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.cards.fitting import fit_rows
from bot.turn import Turn
from concerns import services
from concerns.calendar import WorkingCalendar
from concerns.cases import Case
from concerns.clock import UK, uk_today
from concerns.documents import (
    ANSWER_LABELS,
    DOCUMENT_FIELDS,
    MAX_LINK,
    MAX_NOTE,
    MAX_TITLE,
    MAX_VERSION,
    STATUS_LABELS,
    CaseDocument,
    StepChecklist,
    add_document,
    addable_kinds,
    communication_checklist,
    document_register,
    kind_of,
    owner_label,
    record_communication,
    update_document,
)
from concerns.errors import NotFound
from concerns.packs import ProcedurePack
from concerns.validation import FormErrors, parse_id
from concerns.vocabulary import counted
from concerns.votes import NotAllowed

DOCUMENTS_FORM = "documents"
ROWS_WITHOUT_MEASURING = 20  # a register this long is well within a card with every entry's form (1.6-2.2 KB each)
COMMS_FORM = "communication"
ADD_FIELDS = ("kind", "title", *DOCUMENT_FIELDS)


def _pack(turn: Turn, case: Case) -> ProcedurePack:
    return turn.services.packs.get(case.pack_id, turn.services.pack)


def _reference(args: str) -> str:
    return args.split()[0] if args.split() else ""


def _number(raw: Any) -> int | None:
    return parse_id(raw)


def _strings(data: dict[str, Any], keys: tuple[str, ...], suffix: str = "") -> dict[str, str]:
    """The card's inputs by field name (`version_12` becomes `version`); anything not a string is dropped."""
    return {key: data[key + suffix][:MAX_LINK + 100] for key in keys if isinstance(data.get(key + suffix), str)}


# -- the register ----------------------------------------------------------------------------------


def _review_line(document: CaseDocument, pack: ProcedurePack, today: Any) -> str:
    kind = kind_of(pack, document.kind)
    cycle = f" (reviewed every {kind.review_every_working_days} working days)" \
        if kind and kind.review_every_working_days else ""
    last = f"Last reviewed {document.last_reviewed_on:%-d %b %Y}" if document.last_reviewed_on \
        else f"Not reviewed yet{cycle}"
    if document.next_review_on is None:
        return last
    following = f"next review {document.next_review_on:%a %-d %b %Y}"
    return f"{last} · " + (f"OVERDUE: {following}" if document.overdue(today) else following)


def _row(document: CaseDocument, pack: ProcedurePack, today: Any, values: dict[str, str] | None,
         errors: dict[str, str]) -> dict[str, Any]:
    detail = f"{owner_label(pack, document.owner_role, document.owner)} · {STATUS_LABELS.get(document.status, '')}"
    if document.version:
        detail += f" · version {document.version}"
    link_host = (urlsplit(document.link).hostname or "") if document.link else ""
    shown = values if values is not None else {
        "version": document.version or "", "link": document.link or "", "reviewed_on": "", "next_review_on": ""}
    return {
        "id": document.id, "title": document.title, "detail": detail, "link": document.link,
        "link_text": f"Linked file on {link_host}" if link_host else "", "review": _review_line(document, pack, today),
        "overdue": document.overdue(today), "values": shown, "errors": errors, "controls": True,
    }


async def register_values(turn: Turn, case: Case, documents: list[CaseDocument], record: Any, *,
                          notice: str | None = None, notice_colour: str = "Good", row_id: int | None = None,
                          row_values: dict[str, str] | None = None, row_errors: dict[str, str] | None = None,
                          add_values: dict[str, str] | None = None, add_errors: dict[str, str] | None = None,
                          focus: int | None = None) -> dict[str, Any]:
    pack = _pack(turn, case)
    today = uk_today(turn.services.clock)
    rows = [_row(d, pack, today, row_values if d.id == row_id else None,
                 (row_errors or {}) if d.id == row_id else {}) for d in documents]
    overdue = sum(1 for d in documents if d.overdue(today))
    summary = f"{len(documents)} entries" + (f", {overdue} overdue for review" if overdue else "")
    values = {
        "form_key": record.key, "title": f"Documents register: {case.reference}",
        "subtitle": f"{case.provider.name} · {summary}", "notice": notice, "notice_colour": notice_colour,
        "rows": rows, "open": case.status.value == "open",
        "kinds": [{"value": k.id, "title": k.title} for k in addable_kinds(pack)],
        "add_values": add_values or {}, "add_errors": add_errors or {},
        "limits": {"title": MAX_TITLE, "version": MAX_VERSION, "link": MAX_LINK},
        "today": today.isoformat(),
    }
    if len(rows) > ROWS_WITHOUT_MEASURING:
        # A long-running case's register: the entry being worked on, then those overdue for review, then the
        # reader's own keep their forms; any other shows its form from its Update button.
        wanted = {row_id, focus} - {None}
        mine = {d.id for d in documents if d.owner and d.owner.user_id == turn.actor.id}
        fit_rows("documents", values, lambda row: (row["id"] not in wanted, not row["overdue"], row["id"] not in mine),
                 said=lambda kept, total: f" · the {kept} most pressing of {total} open to update here; Update "
                                          "opens any other",
                 left_out=lambda n: f" · {n} more not shown: see the case file ('case {case.reference} export')")
    return values


async def _show_register(turn: Turn, reference: str) -> None:
    from bot.commands import issue_form

    try:
        case, documents = await document_register(turn.reader(), turn.actor.tenant_id, reference)
    except NotFound as missing:
        await turn.reply_text(f"{missing} For example: documents PC-2026-0001.")
        return
    record = await issue_form(turn, DOCUMENTS_FORM, subject=case.reference)
    await turn.reply_card("documents", **await register_values(turn, case, documents, record))


async def documents_command(turn: Turn, args: str) -> None:
    """`documents PC-2026-0001`: the case's documents register."""
    await _show_register(turn, _reference(args))


async def documents_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("case")
    await _show_register(turn, reference if isinstance(reference, str) else "")


async def focus_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Update on an entry whose form did not fit on the card: the register again, with that entry's form."""
    record, case = await _submitted(turn, data, DOCUMENTS_FORM)
    if case is None:
        return
    _, documents = await document_register(turn.reader(), turn.actor.tenant_id, case.reference)
    focus = _number(data.get("document"))
    chosen = next((d for d in documents if d.id == focus), None)
    notice = f"{chosen.title}: its Update now opens its form." if chosen else "That entry is no longer on the register."
    await turn.replace_card("documents", **await register_values(turn, case, documents, record, focus=focus,
                                                                 notice=notice))


async def _submitted(turn: Turn, data: dict[str, Any], kind: str) -> tuple[Any, Case | None]:
    from bot.commands import form_refused, submitted_form

    record, problem = await submitted_form(turn, data, kind)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return None, None
    return record, await services.get_case(turn.reader(), turn.actor.tenant_id, record.subject)


def _calendar(pack: ProcedurePack) -> WorkingCalendar:
    return WorkingCalendar(pack.nation)


async def update_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Record an entry's new version, link or review; bad input re-shows the register with the problem."""
    from bot.votes import tell_privately

    record, case = await _submitted(turn, data, DOCUMENTS_FORM)
    if case is None:
        return
    pack = _pack(turn, case)
    document_id = _number(data.get("document"))
    values = _strings(data, DOCUMENT_FIELDS, f"_{document_id}")
    try:
        if document_id is None:
            raise NotFound("That register button is not valid.")
        case, document, changed = await update_document(
            turn.uow(), turn.services.clock, pack, turn.actor, case.reference, document_id, values,
            conversation_id=turn.conversation.id, calendar=_calendar(pack))
    except FormErrors as invalid:
        _, documents = await document_register(turn.reader(), turn.actor.tenant_id, case.reference)
        await turn.replace_card("documents", **await register_values(
            turn, case, documents, record, notice="Nothing was saved: see the entry marked below.",
            notice_colour="Attention", row_id=document_id,
            row_values={k: values.get(k, "") for k in DOCUMENT_FIELDS}, row_errors=invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    _, documents = await document_register(turn.reader(), turn.actor.tenant_id, case.reference)
    if changed:
        what = ", ".join(name.replace("_on", "").replace("_", " ") for name in changed)
        notice = f"{document.title}: {what} updated by {turn.actor.name}."
    else:
        notice = f"{document.title}: nothing changed."
    await turn.replace_card("documents", **await register_values(turn, case, documents, record, notice=notice))


async def add_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Add another report (an enquiry or monitoring report) to the register."""
    from bot.votes import tell_privately

    record, case = await _submitted(turn, data, DOCUMENTS_FORM)
    if case is None:
        return
    pack = _pack(turn, case)
    values = _strings(data, ADD_FIELDS, "_new")
    try:
        case, document = await add_document(turn.uow(), turn.services.clock, pack, turn.actor, case.reference,
                                            values, conversation_id=turn.conversation.id, calendar=_calendar(pack))
    except FormErrors as invalid:
        _, documents = await document_register(turn.reader(), turn.actor.tenant_id, case.reference)
        await turn.replace_card("documents", **await register_values(
            turn, case, documents, record, notice="Nothing was added: see the form below.",
            notice_colour="Attention", add_values=values, add_errors=invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    _, documents = await document_register(turn.reader(), turn.actor.tenant_id, case.reference)
    await turn.replace_card("documents", **await register_values(
        turn, case, documents, record, notice=f"{document.title} added by {turn.actor.name}."))


# -- the communication strategy checklist ---------------------------------------------------------------


def comms_values(turn: Turn, checklist: StepChecklist, record: Any, *, notice: str | None = None,
                 notice_colour: str = "Good", values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None) -> dict[str, Any]:
    case, entry = checklist.case, checklist.entry
    pack = _pack(turn, case)
    items = []
    for number, item in enumerate(checklist.items, start=1):
        answer = checklist.answers.get(item.id)
        items.append({
            "id": item.id, "text": f"{number}. {item.text}",
            "answer": (values or {}).get(f"answer_{item.id}", answer.answer if answer else ""),
            "note": (values or {}).get(f"note_{item.id}", (answer.note or "") if answer else ""),
        })

    def step_name(step_id: str) -> str:
        try:
            return pack.step(step_id).name
        except KeyError:
            return step_id

    return {
        "form_key": record.key, "entry": str(entry.id), "title": f"Communication strategy: {case.reference}",
        "step": f"Step: {step_name(entry.step)}, entered {entry.entered_at.astimezone(UK):%-d %b %Y}",
        "summary": f"{checklist.considered} of {len(checklist.items)} considered at this step",
        "notice": notice, "notice_colour": notice_colour, "items": items,
        "choices": [{"value": k, "title": v} for k, v in ANSWER_LABELS.items()],
        "earlier": [f"{step_name(s.entry.step)} ({s.entry.entered_at.astimezone(UK):%-d %b %Y}): "
                    f"{s.considered} of {s.total} considered" for s in checklist.earlier],
        "errors": errors or {}, "open": case.status.value == "open", "max_note": MAX_NOTE,
    }


async def _show_comms(turn: Turn, reference: str) -> None:
    from bot.commands import issue_form

    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
        checklist = await communication_checklist(turn.reader(), _pack(turn, case), turn.actor.tenant_id,
                                                  case.reference)
    except NotFound as missing:
        await turn.reply_text(f"{missing} For example: comms PC-2026-0001.")
        return
    record = await issue_form(turn, COMMS_FORM, subject=case.reference)
    await turn.reply_card("communication", **comms_values(turn, checklist, record))


async def comms_command(turn: Turn, args: str) -> None:
    """`comms PC-2026-0001`: the communication strategy checklist at the case's current step."""
    await _show_comms(turn, _reference(args))


async def comms_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("case")
    await _show_comms(turn, reference if isinstance(reference, str) else "")


async def save_comms_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Record the chair's or coordinator's answers; the card shows again with how many are considered."""
    from bot.votes import tell_privately

    record, case = await _submitted(turn, data, COMMS_FORM)
    if case is None:
        return
    pack = _pack(turn, case)
    keys = tuple(f"{prefix}_{item.id}" for item in pack.communication_checklist for prefix in ("answer", "note"))
    values = _strings(data, keys)
    try:
        checklist, checks = await record_communication(
            turn.uow(), turn.services.clock, pack, turn.actor, case.reference, _number(data.get("entry")), values,
            conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        checklist = await communication_checklist(turn.reader(), pack, turn.actor.tenant_id, case.reference)
        stale = "form" in invalid.errors
        await turn.replace_card("communication", **comms_values(
            turn, checklist, record, notice=invalid.errors.get("form", "Nothing was saved: see the items marked."),
            notice_colour="Attention", values=None if stale else values, errors=invalid.errors))
        return
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    saved = f"{counted(len(checks), 'answer')} recorded by {turn.actor.name}" if checks else "Nothing changed"
    notice = f"{saved}: {checklist.considered} of {len(checklist.items)} considered at this step."
    await turn.replace_card("communication", **comms_values(turn, checklist, record, notice=notice))
