"""Handlers for opening a provider concerns case and showing its card."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from bot.cards import renderer
from bot.cards.fitting import fits, most
from bot.commands import form_refused, issue_form, submitted_form
from bot.paging import fetch_page, page_buttons, shown_range, start_of
from bot.providers import status_label
from bot.roster import find_values, form_people, team_roster
from bot.timeline import describe
from bot.turn import Turn
from concerns import services
from concerns.actions import DONE, CaseAction, rag_status
from concerns.cases import REMOVE, Case, CaseRole, LeadAgency, RoleChangeRefused, parse_open_case_form
from concerns.challenges import is_challenge
from concerns.clock import UK, uk_today
from concerns.documents import RegisterSummary, register_summary
from concerns.errors import NotFound
from concerns.model import ConversationKind
from concerns.packs import ProcedurePack
from concerns.validation import FormErrors, parse_id
from concerns.vocabulary import CommissioningStatus, counted
from concerns.votes import NotAllowed

log = logging.getLogger(__name__)

OPEN_CASE_FORM = "open_case"


async def case_card(turn: Turn, case: Case) -> dict[str, Any]:
    """The case card's values, with the next deadline and the red/amber/green status from its actions."""
    _, actions = await services.case_actions(turn.reader(), turn.actor.tenant_id, case.reference)
    open_dates = [a.due_on for a in actions if a.status == "open" and a.due_on is not None]
    status = rag_status(actions, uk_today(turn.services.clock), turn.services.calendar, case.step_due_on)
    owed = [a for a in actions if is_challenge(a) and a.status == "open"]
    challenges = None
    if owed:
        first = min(owed, key=lambda a: (a.due_on is None, a.due_on))
        by = f", by {first.due_on:%a %-d %b}" if first.due_on else ""
        challenges = (f"{len(owed)} challenge{'s' if len(owed) > 1 else ''} awaiting an answer "
                      f"({first.owner.name if first.owner else 'the chair'}{by}): see the case thread")
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    register = await register_summary(turn.reader(), turn.services.clock, pack, turn.actor.tenant_id, case.reference)
    return case_card_values(turn, case, min(open_dates) if open_dates else None, status) | {
        "challenges": challenges, "register": _register(register, case.status.value == "open")}


def _register(summary: RegisterSummary, open_: bool) -> dict[str, str]:
    """The documents register and communication strategy as the case card sums them up: what wants doing."""
    parts = [counted(summary.documents, "entry", "entries")]
    if summary.overdue_reviews:
        parts.append(f"{counted(summary.overdue_reviews, 'review')} overdue")
    if summary.awaiting_from_provider and open_:
        parts.append(f"{summary.awaiting_from_provider} awaited from the provider")
    return {"documents": " · ".join(parts),
            "communication": f"{summary.communication_considered} of {summary.communication_items} considered at "
                             "this step"}


def step_line(pack: ProcedurePack, case: Case, today: date) -> str:
    """The current step, with its target while the case is open (a step past it says so)."""
    name = pack.step(case.step).name
    due = case.step_due_on
    if case.status.value != "open":
        return name
    if due is None:
        return f"{name} · no target agreed"
    return f"{name} · {'PAST ITS TARGET: ' if due < today else 'target '}{due:%a %-d %b}"


CARD_LIST = 8  # concerns or members named on the case card: a year-old case has 60 and 40, a wall on a phone


def _some(names: list[str], where: str, *, latest: bool = False) -> str:
    """All the names, or how many with the first few (the latest few, newest first) and where to see the rest."""
    if len(names) <= CARD_LIST:
        return ", ".join(names)
    shown = names[:-CARD_LIST - 1:-1] if latest else names[:CARD_LIST]
    return (f"{len(names)}: {'the latest ' if latest else ''}{', '.join(shown)} and {len(names) - CARD_LIST} more "
            f"({where})")


def case_card_values(turn: Turn, case: Case, next_due: date | None = None, rag: str = "Green") -> dict[str, Any]:
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)

    def holder(role: CaseRole) -> str:
        member = case.holder(role)
        return member.name if member else "Not assigned"

    level = "Not yet agreed (start a vote)"
    if case.level is not None:
        level = pack.level(case.level).label
    return {
        "reference": case.reference,
        "status": f"{case.status.value.capitalize()} · {rag}" if case.status.value == "open" else "Closed",
        "rag": rag,
        "provider": case.provider.name,
        "level": level,
        "step": step_line(pack, case, uk_today(turn.services.clock)),
        "chair": holder(CaseRole.CHAIR),
        "coordinator": holder(CaseRole.COORDINATOR),
        "lead_agency": case.lead_agency.label,
        "commissioning": status_label(case.provider.commissioning_status),
        "next_deadline": f"{next_due:%A %-d %B %Y}" if next_due else "None open",
        "concerns": _some(list(case.concerns), f"'provider {case.provider.name}' lists them", latest=True)
        or "None linked",
        "members": _some([f"{m.name} ({m.role.label.lower()})" for m in case.members],
                         f"'roles {case.reference}' lists them"),
        "closed": f"{case.closed_at.astimezone(UK):%A %-d %B %Y} by {case.closed_by}" if case.closed_at else None,
        "challenges": None,
        "register": None,
        "step_target": {"first": case.step_due_on is None,
                        "min": (uk_today(turn.services.clock) + timedelta(days=1)).isoformat()},
    }


async def _open_case_card(turn: Turn, record: Any, provider_name: str, errors: dict[str, str]) -> dict[str, Any]:
    pack = turn.services.pack
    found = await form_people(turn, record.values, "", picked=("chair", "coordinator"),
                              whom="the team's role holders")
    return {
        "form_key": record.key,
        "provider": provider_name,
        "pack_name": pack.name,
        "first_step": pack.first_step.name.lower(),
        "people": [{"user_id": p.user_id, "name": p.name} for p in found.people], "people_note": found.note,
        "agencies": [{"value": a.value, "title": a.label} for a in LeadAgency],
        "values": {k: v for k, v in record.values.items() if isinstance(v, str)},
        "errors": errors,
    }


async def offer_case(turn: Turn, provider_id: int, prompt_id: int | None = None) -> None:
    """Answer with the open-a-case card for a provider (from a prompt, a screening or a command)."""
    if turn.conversation.kind is not ConversationKind.CHANNEL:
        await turn.reply_text("A case lives in a team channel: open it there, so the whole team can follow it.")
        return
    async with turn.reader() as uow:
        provider = await uow.providers.get(turn.actor.tenant_id, provider_id)
        existing = await uow.cases.open_for_provider(turn.actor.tenant_id, provider_id) if provider else None
    if provider is None:
        await turn.reply_text("That provider is not one I know.")
        return
    if existing is not None:
        await turn.reply_text(f"{provider.name} already has an open case, {existing.reference}.")
        return
    # What the case is about is kept on the server; the card carries only the form's key.
    record = await issue_form(turn, OPEN_CASE_FORM, values={"prompt": str(prompt_id or "")},
                              subject=str(provider.id))
    await turn.reply_card("open_case", **await _open_case_card(turn, record, provider.name, {}))


async def open_case_command(turn: Turn, args: str) -> None:
    """`open case <provider>`: start opening a case for a provider found by name."""
    name = args.strip()
    if not name:
        await turn.reply_text("Tell me which provider: for example, open case Oakwood Lodge.")
        return
    history = await services.provider_history(turn.reader(), turn.actor.tenant_id, name[:200], limit=1)
    if history.provider is None:
        names = ", ".join(p.name for p in history.candidates[:5])
        await turn.reply_text(f"Which provider? {names}." if names else f'No provider called "{name[:60]}".')
        return
    await offer_case(turn, history.provider.id)


async def offer_case_verb(turn: Turn, data: dict[str, Any]) -> None:
    provider_id = parse_id(data.get("provider_id"))
    if provider_id is None:
        await turn.reply_text("That button is not valid any more.")
        return
    await offer_case(turn, provider_id, parse_id(data.get("prompt")))


async def submit_open_case(turn: Turn, data: dict[str, Any]) -> None:
    """Open the case, post its card as a new thread in this channel, and confirm on the form."""
    record, problem = await submitted_form(turn, data, OPEN_CASE_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    if record.result:
        await turn.reply_text(f"This form already opened {record.result}; nothing more was saved.")
        return
    prompt = record.values.get("prompt", "")
    values = {k: data[k] for k in ("chair", "coordinator", "lead_agency") if isinstance(data.get(k), str)}
    roster = await team_roster(turn.context)
    async with turn.reader() as uow:
        provider = await uow.providers.get(turn.actor.tenant_id, int(record.subject))
    provider_name = provider.name if provider else "Unknown provider"
    try:
        form = parse_open_case_form(values | {"provider_id": record.subject}, roster)
        case = await services.open_case(
            turn.uow(), turn.services.clock, turn.services.pack, turn.actor, form,
            channel_id=turn.conversation.id, conversation_id=turn.conversation.id,
            calendar=turn.services.calendar, prompt_id=parse_id(prompt),
        )
    except FormErrors as invalid:
        record.values = values | {"prompt": prompt}
        await turn.services.forms.save(record)
        await turn.replace_card("open_case", **await _open_case_card(turn, record, provider_name, invalid.errors))
        return
    record.result = case.reference
    await turn.services.forms.save(record)
    activity = renderer.card_activity("case", **await case_card(turn, case))
    try:
        posted = await turn.post_new_thread(turn.conversation, activity)
        conversation_id, activity_id = posted.conversation_id, posted.activity_id
    except Exception:
        log.warning("could not start a thread for case %s; replying here", case.reference, exc_info=True)
        response = await turn.context.send_activity(activity)
        conversation_id, activity_id = turn.activity.conversation.id, response.id if response else ""
    if activity_id:
        await services.record_case_card(turn.uow(), turn.services.clock, turn.actor, case, conversation_id,
                                        activity_id)
        from bot.actions import post_checklist

        await post_checklist(turn, case, conversation_id)
    await turn.replace_card("notice", title=f"Case {case.reference} opened",
                            text=f"{case.provider.name}: its card starts a new thread in this channel. "
                                 f"Chair {case.holder(CaseRole.CHAIR).name}.", color="Good")


CASES_SHOWN = 25


async def cases_command(turn: Turn, args: str = "", *, start: int = 0, in_place: bool = False) -> None:
    """`cases`: the open cases, those needing attention first, each with a button to its card and timeline (a
    phone far from the case's thread, or someone who does not remember the reference, starts here); Next and
    Previous page through them in place."""
    today = uk_today(turn.services.clock)
    mine_only = args.strip().lower() == "mine"

    async def fetch(first: int) -> services.OpenCases:
        return await services.open_cases(turn.reader(), turn.actor.tenant_id, today, turn.services.calendar,
                                         CASES_SHOWN, member=turn.actor.id if mine_only else None, start=first)

    listed, start = await fetch_page(fetch, lambda page: (len(page.cases), page.total), start, CASES_SHOWN)

    def row(open_case: services.OpenCase) -> dict[str, Any]:
        case, actions = open_case.case, open_case.actions
        pack = turn.services.packs.get(case.pack_id, turn.services.pack)
        level = pack.level(case.level).label if case.level is not None else "not yet agreed"
        where = f"Level: {level} · Step: {step_line(pack, case, today)}"
        if case.provider.commissioning_status is not CommissioningStatus.NORMAL:
            where += f" · {status_label(case.provider.commissioning_status)}"
        if actions.open:
            said = f"{actions.overdue} overdue of {actions.open} open actions" if actions.overdue \
                else f"{actions.open} open action" + ("s" if actions.open > 1 else "")
            said += f" · next due {actions.next_due:%a %-d %b}" if actions.next_due else ""
        else:
            said = "No open actions"
        if actions.challenges:
            said += f" · {actions.challenges} challenge{'s' if actions.challenges > 1 else ''} awaiting an answer"
        people = [f"{role.label} {member.name}" for role in (CaseRole.CHAIR, CaseRole.COORDINATOR)
                  if (member := case.holder(role)) is not None]
        mine = case.role_of(turn.actor.id)
        if mine is not None:
            people.append(f"you: {mine.label.lower()}")
        return {"reference": case.reference, "provider": case.provider.name, "rag": open_case.rag, "where": where,
                "actions": said, "people": " · ".join(people) or "No chair yet"}

    shown = len(listed.cases)
    values = {"rows": [row(c) for c in listed.cases], "mine": mine_only,
              "pages": page_buttons({"verb": "cases.list", "mine": mine_only}, start, shown, listed.total, CASES_SHOWN),
              "summary": f"{listed.total} open" + (" with a role for you" if mine_only else "")
              + ", those needing attention first" + shown_range(start, shown, listed.total)}
    if in_place:
        await turn.replace_card("case_list", **values)
    else:
        await turn.reply_card("case_list", **values)


async def cases_verb(turn: Turn, data: dict[str, Any]) -> None:
    await cases_command(turn, "mine" if data.get("mine") is True else "", start=start_of(data),
                        in_place="from" in data)


async def show_case_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("reference")
    await show_case(turn, reference[:20] if isinstance(reference, str) else "")


async def show_case(turn: Turn, args: str) -> None:
    """`case PC-2026-0001`: the case card and its timeline; `... export` and `... report` send file links,
    `... access-log` who saw individual details (in personal chat). `case` alone lists the open cases."""
    words = args.split()
    if not words:
        await cases_command(turn)
        return
    if len(words) > 1 and " ".join(words[1:]).lower() in ("access-log", "access log"):
        from bot.individuals import access_log

        await access_log(turn, words[0])
        return
    try:
        case, events = await services.case_timeline(turn.reader(), turn.actor.tenant_id, words[0] if words else "")
    except NotFound as missing:
        await turn.reply_text(str(missing))
        return
    if len(words) > 1:
        if words[1].lower() not in ("export", "report"):
            await turn.reply_text(f"'case {case.reference}' can be followed by 'export' (the case file), "
                                  "'report' (the closure notices and the board report) or 'access-log' (who saw "
                                  "individual details).")
            return
        from bot.closure import files_command

        await files_command(turn, case, words[1].lower())
        return
    await turn.reply_card("case", **await case_card(turn, case))
    pack = turn.services.packs.get(case.pack_id, turn.services.pack)
    await turn.reply_card("timeline", **timeline_values(case, events, pack))


TIMELINE_LINE = 400  # characters of an event on the timeline: a rationale may be 4,000, and the case file has it


def timeline_values(case: Case, events: list[Any], pack: ProcedurePack) -> dict[str, Any]:
    """The latest events as lines, each cut short, and as many as fit on one card (oldest left out first)."""
    def line(text: str) -> str:
        return text if len(text) <= TIMELINE_LINE else text[:TIMELINE_LINE].rstrip() + "… (in full in the case file)"

    entries = [{"when": f"{e.occurred_at.astimezone(UK):%-d %b %Y %H:%M}", "what": line(describe(e, pack))}
               for e in events]

    def latest(n: int) -> dict[str, Any]:
        return {"title": f"Timeline of {case.reference}",
                "subtitle": f"{case.provider.name}: the case and its linked concerns, latest {n} events.",
                "entries": entries[len(entries) - n:]}

    whole = latest(len(entries))
    # Lines this short fit however they are escaped (six bytes a character at most): no need to measure.
    if sum(len(e["what"]) for e in entries) < renderer.MAX_CARD_BYTES // 8:
        return whole
    return whole if fits("timeline", whole) else latest(most(len(entries), lambda n: fits("timeline", latest(n))))


ROLES_FORM = "case_roles"


async def _roles_card(turn: Turn, case: Case, record: Any, notice: str | None) -> dict[str, Any]:
    found = await form_people(turn, record.values, f"roles {case.reference}", case.members, ("person",))
    return {
        "form_key": record.key, "reference": case.reference, "notice": notice, "people_note": found.note,
        "members": [{"name": m.name, "role": m.role.label} for m in case.members],
        "people": [{"user_id": p.user_id, "name": p.name} for p in found.people],
        "roles": [*({"value": r.value, "title": r.label} for r in CaseRole),
                  {"value": REMOVE, "title": "Remove from the case"}],
    }


async def show_roles(turn: Turn, reference: str, find: dict[str, str] | None = None) -> None:
    """The case's members and a form for the chair to change them."""
    try:
        case = await services.get_case(turn.reader(), turn.actor.tenant_id, reference)
    except NotFound as missing:
        await turn.reply_text(str(missing))
        return
    if turn.conversation.kind is not ConversationKind.CHANNEL:
        await turn.reply_text("Roles are changed in the team channel, where the team's members are.")
        return
    record = await issue_form(turn, ROLES_FORM, values=find or {}, subject=case.reference)
    await turn.reply_card("case_roles", **await _roles_card(turn, case, record, None))


async def roles_command(turn: Turn, args: str) -> None:
    if not args:
        await turn.reply_text("Tell me which case: for example, roles PC-2026-0001.")
        return
    await show_roles(turn, args.split()[0], find_values(args))


async def roles_verb(turn: Turn, data: dict[str, Any]) -> None:
    reference = data.get("case")
    await show_roles(turn, reference if isinstance(reference, str) else "")


async def submit_role(turn: Turn, data: dict[str, Any]) -> None:
    """Change one person's role (chair only, checked on the server); the case card updates in place."""
    record, problem = await submitted_form(turn, data, ROLES_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    roster = {p.user_id: p for p in await team_roster(turn.context)}
    person = roster.get(data.get("person")) if isinstance(data.get("person"), str) else None
    role = data.get("role")
    valid_roles = {r.value for r in CaseRole} | {REMOVE}
    try:
        if person is None or role not in valid_roles:
            raise RoleChangeRefused("Choose a person from the team and a role.")
        case = await services.change_role(turn.uow(), turn.services.clock, turn.actor, record.subject, person,
                                          str(role), conversation_id=turn.conversation.id)
    except NotAllowed as refusal:
        from bot.votes import tell_privately

        await tell_privately(turn, str(refusal))
        return
    except (RoleChangeRefused, NotFound) as refusal:
        current = await services.get_case(turn.reader(), turn.actor.tenant_id, record.subject)
        await turn.replace_card("case_roles", **await _roles_card(turn, current, record, str(refusal)))
        return
    await turn.replace_card("case_roles", **await _roles_card(turn, case, record, None))
    if case.card_conversation_id and case.card_activity_id:
        try:
            await turn.update_card_in(case.card_conversation_id, case.card_activity_id, "case",
                                      **await case_card(turn, case))
        except Exception:
            log.warning("could not update the card of %s", case.reference, exc_info=True)


async def my_actions_command(turn: Turn, args: str = "") -> None:
    """`actions`: my open actions across cases, soonest due first, overdue ones marked; for a chair or coordinator
    also the actions waiting for an owner."""
    await turn.reply_card("action_list", **await my_actions_values(turn, None))


async def my_actions_verb(turn: Turn, data: dict[str, Any]) -> None:
    await my_actions_command(turn)


async def mine_assign_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Assign from the `actions` list, to one of the case's members (checked on the server with the chair's or
    coordinator's right to reassign); the list is shown again and the checklist and case card follow."""
    from bot.actions import refresh_case_cards
    from bot.votes import tell_privately

    action_id = parse_id(data.get("action"))
    chosen = data.get(f"owner_{action_id}")
    try:
        if action_id is None or not isinstance(chosen, str) or not chosen:
            raise NotFound("Choose who to give the action to.")
        case, action = await services.reassign_action(turn.uow(), turn.services.clock, turn.actor, action_id, chosen,
                                                      conversation_id=turn.conversation.id)
    except (NotFound, NotAllowed) as refusal:
        await tell_privately(turn, str(refusal))
        return
    assert action.owner is not None
    await turn.replace_card("action_list", **await my_actions_values(
        turn, f"'{action.title}' is now {action.owner.name}'s, on {case.reference}."))
    await refresh_case_cards(turn, case)


async def mine_done_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Done from the `actions` list: the owner confirms it there (often on a phone, far from the case's thread);
    the list shows what is left, and the checklist and the case card follow."""
    from bot.actions import close_from_card, refresh_case_cards

    closed = await close_from_card(turn, data, DONE, "note")
    if closed is None:
        return
    case, action = closed
    await turn.replace_card("action_list", **await my_actions_values(
        turn, f"Done: '{action.title}' is recorded on {case.reference}."))
    await refresh_case_cards(turn, case)


MAX_LISTED = 25


async def my_actions_values(turn: Turn, notice: str | None) -> dict[str, Any]:
    mine = await services.my_actions_and_to_assign(turn.reader(), turn.actor.tenant_id, turn.actor.id)
    today = uk_today(turn.services.clock)

    def row(a: CaseAction) -> dict[str, Any]:
        return {
            "id": a.id,
            "title": a.title,
            "due": ("OVERDUE " if a.overdue(today) else "") + (f"{a.due_on:%a %-d %b}" if a.due_on else "Now"),
            "overdue": a.overdue(today),
            "where": f"{a.case_reference} · {a.provider}" + (" · required" if a.required else ""),
            "challenge": is_challenge(a),
        }

    def assignable(a: CaseAction) -> dict[str, Any]:
        return row(a) | {"people": [{"user_id": m.user_id, "name": m.name}
                                    for m in mine.members.get(a.case_reference, [])]}

    owned, to_assign = mine.owned, mine.to_assign
    overdue = sum(a.overdue(today) for a in owned)
    late = sum(a.overdue(today) for a in to_assign)

    def values(shown: int, to_give: int) -> dict[str, Any]:
        return {
            "title": f"Actions for {turn.actor.name}",
            "notice": notice,
            "summary": f"{len(owned)} open" + (f", {overdue} overdue" if overdue else "")
            + (f" (first {shown} shown)" if len(owned) > shown else ""),
            "empty_text": "You have no open actions.",
            "rows": [row(a) for a in owned[:shown]],
            "to_assign_summary": f"{len(to_assign)} in the cases you chair or coordinate have no owner"
            + (f", {late} overdue" if late else "") + (f" (first {to_give} shown)" if len(to_assign) > to_give
                                                       else "")
            + ". Give each to someone on its case here, or on the step's checklist in the case's thread.",
            "to_assign": [assignable(a) for a in to_assign[:to_give]],
        }

    shown, to_give = MAX_LISTED, MAX_LISTED if to_assign else 0
    while True:
        found = values(shown, to_give)
        if not to_assign:
            return found  # rows without a list of people stay well inside the limit
        try:
            # A chair of several cases with large teams: each row to give out lists the case's members.
            renderer.render("action_list", **found)
            return found
        except renderer.CardTooLarge:
            if to_give > 1:
                to_give //= 2
            elif shown > 1:
                shown //= 2
            else:
                raise
