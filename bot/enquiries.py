"""`enquiries PC-2026-0001`: the matrix of a case's individual s42 enquiries, in personal chat only.

Like `details`, asked anywhere but the person's 1:1 chat the bot answers privately and looks nothing up.
"""

from __future__ import annotations

from typing import Any

from bot.cards.fitting import fit_rows
from bot.turn import Turn
from bot.votes import tell_privately
from concerns import enquiries
from concerns.clock import UK
from concerns.enquiries import AbuseCategory, CausedBy, EnquiryMatrix, EnquiryStatus, RiskOutcome, Substantiated
from concerns.errors import NotFound
from concerns.model import ConversationKind
from concerns.validation import FormErrors
from concerns.votes import NotAllowed

FIELDS = ("categories", "caused_by", "status", "substantiated", "risk")
ROWS_WITHOUT_MEASURING = 15  # a matrix this long is well within a card with every enquiry's form


async def enquiries_command(turn: Turn, args: str) -> None:
    words = args.split()
    reference = words[0][:20] if words else ""
    if turn.conversation.kind is not ConversationKind.PERSONAL:
        await tell_privately(turn, "A case's s42 enquiries are shown only in our personal chat, never in a channel "
                                   f"or group chat: send me 'enquiries {reference or 'PC-2026-0001'}' here.")
        return
    if not reference:
        await turn.reply_text("Tell me which case: for example, enquiries PC-2026-0001.")
        return
    try:
        matrix = await enquiries.enquiry_matrix(turn.uow(), turn.services.clock, turn.actor, reference,
                                                conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await turn.reply_text(str(refusal))
        return
    await turn.reply_card("enquiry_matrix", **matrix_values(matrix, None, None))


async def _row_pressed(turn: Turn, data: dict[str, Any]) -> tuple[str, str] | None:
    """The case and concern a button on a matrix row names, pressed in personal chat; else the person is told."""
    case, concern = data.get("case"), data.get("concern")
    if turn.conversation.kind is not ConversationKind.PERSONAL:
        await tell_privately(turn, "A case's s42 enquiries are recorded only in our personal chat.")
        return None
    if not isinstance(case, str) or not isinstance(concern, str):
        await turn.reply_text("That button is not valid any more. Send me 'enquiries' and the case's reference.")
        return None
    return case, concern


async def record_verb(turn: Turn, data: dict[str, Any]) -> None:
    """A row of the matrix recorded from its card: checked on the server (role, that the concern is one of the
    case's s42 enquiries), then the matrix is shown again in place."""
    pressed = await _row_pressed(turn, data)
    if pressed is None:
        return
    case, concern = pressed
    values = {field: data.get(f"{field}_{concern}") for field in FIELDS}
    form, error = None, None
    try:
        form = enquiries.parse_enquiry_form(values)
    except FormErrors as invalid:
        error = f"{concern}: nothing was saved. " + " ".join(invalid.errors.values())
    try:
        if form is None:  # shown again as it stands, with what was wrong
            matrix = await enquiries.enquiry_matrix(turn.uow(), turn.services.clock, turn.actor, case,
                                                    conversation_id=turn.conversation.id)
        else:
            matrix = await enquiries.record_enquiry_outcome(turn.uow(), turn.services.clock, turn.actor, case,
                                                            concern, form, conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await turn.reply_text(str(refusal))
        return
    await turn.replace_card("enquiry_matrix", **matrix_values(matrix, f"{concern} recorded." if form else None,
                                                              error, focus=concern))


async def focus_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Record on an enquiry whose form did not fit on the matrix: the matrix again, with that enquiry's form."""
    pressed = await _row_pressed(turn, data)
    if pressed is None:
        return
    case, concern = pressed
    try:
        matrix = await enquiries.enquiry_matrix(turn.uow(), turn.services.clock, turn.actor, case,
                                                conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await turn.reply_text(str(refusal))
        return
    await turn.replace_card("enquiry_matrix", **matrix_values(
        matrix, f"{concern}: its Record now opens its form.", None, focus=concern))


def _choices(kind: Any) -> list[dict[str, str]]:
    return [{"value": item.value, "title": item.label} for item in kind]


def matrix_values(matrix: EnquiryMatrix, notice: str | None, error: str | None,
                  focus: str | None = None) -> dict[str, Any]:
    case = matrix.case
    rows = []
    for row in matrix.rows:
        outcome = row.outcome
        form = outcome.form if outcome else None
        rows.append({
            "concern": row.concern.reference,
            "individual": row.concern.individual_reference or "No individual reference recorded",
            "started": f"{row.started.screened_by.name}, {row.started.screened_at.astimezone(UK):%-d %b %Y}",
            "categories": ", ".join(c.label for c in form.categories) if form else "Not recorded",
            "caused_by": form.caused_by.label if form else "Not recorded",
            "status": form.status.label if form else "Open (nothing recorded yet)",
            "result": " · ".join(x.label for x in (form.substantiated, form.risk) if x) if form else "",
            "recorded": f"{outcome.recorded_by}, {outcome.recorded_at.astimezone(UK):%-d %b %Y %H:%M}"
            if outcome else "",
            "controls": True, "concluded": form is not None and form.status is not EnquiryStatus.OPEN,
            "values": {
                "categories": ",".join(c.value for c in form.categories) if form else "",
                "caused_by": form.caused_by.value if form else "",
                "status": form.status.value if form else EnquiryStatus.OPEN.value,
                "substantiated": form.substantiated.value if form and form.substantiated else "",
                "risk": form.risk.value if form and form.risk else "",
            },
        })
    values = {
        "title": f"s42 enquiries of {case.reference}",
        "subtitle": f"{case.provider.name}: {len(rows)} enquir{'y' if len(rows) == 1 else 'ies'} started from its "
                    f"concerns, {matrix.still_open} still open.",
        "why": f"You can see them because you are the {matrix.basis}. Showing them is recorded in the access log "
               "for each individual. Do not copy these details into a channel.",
        "notice": notice,
        "error": error,
        "reference": case.reference,
        "rows": rows,
        "empty_text": "No concern of this case has started an s42 enquiry (an enquiry starts from a screening).",
        "category_choices": _choices(AbuseCategory),
        "caused_by_choices": _choices(CausedBy),
        "status_choices": _choices(EnquiryStatus),
        "substantiated_choices": _choices(Substantiated),
        "risk_choices": _choices(RiskOutcome),
    }
    if len(rows) > ROWS_WITHOUT_MEASURING:
        # A case with many enquiries (3 KB a form): the one being recorded, then those still open, keep their forms.
        fit_rows("enquiry_matrix", values, lambda row: (row["concern"] != focus, row["concluded"]),
                 said=lambda kept, total: f" Forms open on {kept} of the {total}, those still open first; Record "
                                          "opens any other.",
                 left_out=lambda n: f" {n} more not shown: see the case file.")
    return values
