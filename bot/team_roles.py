"""Who holds the pack's roles in a team and who its team admins are, and @mentioning role holders."""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, Mention

from bot.commands import form_refused, issue_form, submitted_form
from bot.roster import form_people, team_roster
from bot.turn import Turn
from bot.votes import tell_privately
from concerns import services, team_admins
from concerns.cases import CASE_ROLES, Person
from concerns.model import ConversationKind
from concerns.permissions import grant_by_operator
from concerns.validation import FormErrors
from concerns.votes import NotAllowed

TEAM_ROLES_FORM = "team_roles"


async def _card(turn: Turn, record: Any, notice: str | None, colour: str = "Good") -> dict[str, Any]:
    pack = turn.services.pack
    team_id = record.subject or ""
    holders = await services.role_holders(turn.reader(), turn.actor.tenant_id, team_id)
    admins = await team_admins.team_admins(turn.reader(), turn.actor.tenant_id, team_id)
    found = await form_people(turn, record.values, "team roles", [a.person for a in admins],
                              whom="the team's admins and role holders")
    return {
        "form_key": record.key, "notice": notice, "notice_colour": colour,
        "rows": [{"id": r.id, "role": r.label, "holder": holders[r.id].name if r.id in holders else "Not recorded"}
                 for r in pack.roles if r.id not in CASE_ROLES],
        "admins": ", ".join(a.person.name for a in admins)
        or f"None yet. {grant_by_operator(turn.actor.tenant_id, team_id)}",
        "people": [{"user_id": p.user_id, "name": p.name} for p in found.people], "people_note": found.note,
    }


async def team_roles_command(turn: Turn, args: str = "") -> None:
    """`team roles`: who holds the procedure's roles here and who the team admins are; admins change them."""
    if turn.conversation.kind is not ConversationKind.CHANNEL or not turn.conversation.team_id:
        await turn.reply_text("Team roles are kept per team: ask me in the team's channel.")
        return
    record = await issue_form(turn, TEAM_ROLES_FORM, values={"find": args.strip()[:100]} if args.strip() else {},
                              subject=turn.conversation.team_id)
    await turn.reply_card("team_roles", **await _card(turn, record, None))


async def _person(turn: Turn, data: dict[str, Any], key: str) -> Person | None:
    chosen = data.get(key)
    if not isinstance(chosen, str):
        return None
    return next((p for p in await team_roster(turn.context) if p.user_id == chosen), None)


async def submit_team_role(turn: Turn, data: dict[str, Any]) -> None:
    """Record a role holder (team admins only: others are told privately why, and nothing changes)."""
    record, problem = await submitted_form(turn, data, TEAM_ROLES_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    person = await _person(turn, data, "person")
    role = data.get("role") if isinstance(data.get("role"), str) else ""
    if role in CASE_ROLES:
        role = ""  # case roles are given on each case ('roles REFERENCE'); the service says choose another
    try:
        await services.set_role_holder(turn.uow(), turn.services.clock, turn.services.pack, turn.actor,
                                       record.subject, role, person, conversation_id=turn.conversation.id)
    except NotAllowed as refusal:
        await tell_privately(turn, str(refusal))
        return
    except FormErrors as invalid:
        await turn.replace_card("team_roles", **await _card(turn, record, " ".join(invalid.errors.values()),
                                                            "Attention"))
        return
    assert person is not None
    await turn.replace_card("team_roles", **await _card(
        turn, record, f"Saved: {person.name} is {turn.services.pack.role(role).label}."))


async def grant_admin_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Make someone a team admin (team admins only)."""
    await _change_admin(turn, data, grant=True)


async def revoke_admin_verb(turn: Turn, data: dict[str, Any]) -> None:
    """Stop someone being a team admin (team admins only; the last one stays)."""
    await _change_admin(turn, data, grant=False)


async def _change_admin(turn: Turn, data: dict[str, Any], *, grant: bool) -> None:
    record, problem = await submitted_form(turn, data, TEAM_ROLES_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    person = await _person(turn, data, "admin")
    clock, conversation_id = turn.services.clock, turn.conversation.id
    try:
        if grant:
            granted = await team_admins.grant(turn.uow(), clock, turn.actor, record.subject, person,
                                              conversation_id=conversation_id)
            assert person is not None
            notice = f"{person.name} is now a team admin." if granted else f"{person.name} is already a team admin."
        else:
            chosen = data.get("admin")
            revoked = await team_admins.revoke(turn.uow(), clock, turn.actor, record.subject,
                                               chosen if isinstance(chosen, str) else "",
                                               conversation_id=conversation_id)
            notice = f"{revoked.person.name} is no longer a team admin."
    except NotAllowed as refusal:
        await tell_privately(turn, str(refusal))
        return
    except FormErrors as invalid:
        await turn.replace_card("team_roles", **await _card(turn, record, " ".join(invalid.errors.values()),
                                                            "Attention"))
        return
    await turn.replace_card("team_roles", **await _card(turn, record, notice))


def mention_activity(person: Person, text: str) -> Activity:
    """A message that @mentions `person` (Teams notifies them), followed by `text`."""
    tag = f"<at>{person.name}</at>"
    return Activity(
        type=ActivityTypes.message,
        text=f"{tag} {text}",
        entities=[Mention(type="mention", text=tag,
                          mentioned=ChannelAccount(id=person.account_id or person.user_id, name=person.name))],
    )
