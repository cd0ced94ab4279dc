"""Who holds the pack's roles in a team, and @mentioning them when the procedure says so."""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, Mention

from bot.commands import form_refused, issue_form, submitted_form
from bot.roster import team_roster
from bot.turn import Turn
from concerns import services
from concerns.cases import CASE_ROLES, Person
from concerns.model import ConversationKind
from concerns.validation import FormErrors

TEAM_ROLES_FORM = "team_roles"


async def _card(turn: Turn, record: Any, notice: str | None) -> dict[str, Any]:
    pack = turn.services.pack
    holders = await services.role_holders(turn.uow(), turn.actor.tenant_id, turn.conversation.team_id or "")
    return {
        "form_key": record.key, "notice": notice,
        "rows": [{"id": r.id, "role": r.label, "holder": holders[r.id].name if r.id in holders else "Not recorded"}
                 for r in pack.roles if r.id not in CASE_ROLES],
        "people": [{"user_id": p.user_id, "name": p.name} for p in await team_roster(turn.context)],
    }


async def team_roles_command(turn: Turn, args: str = "") -> None:
    """`team roles`: who holds the procedure's roles here, and a form to record them."""
    if turn.conversation.kind is not ConversationKind.CHANNEL or not turn.conversation.team_id:
        await turn.reply_text("Team roles are kept per team: ask me in the team's channel.")
        return
    record = await issue_form(turn, TEAM_ROLES_FORM, subject=turn.conversation.team_id)
    await turn.reply_card("team_roles", **await _card(turn, record, None))


async def submit_team_role(turn: Turn, data: dict[str, Any]) -> None:
    record, problem = await submitted_form(turn, data, TEAM_ROLES_FORM)
    if record is None or record.subject is None:
        await form_refused(turn, problem)
        return
    people = {p.user_id: p for p in await team_roster(turn.context)}
    person = people.get(data.get("person")) if isinstance(data.get("person"), str) else None
    role = data.get("role") if isinstance(data.get("role"), str) else ""
    try:
        if person is None or role in CASE_ROLES:
            raise FormErrors({"person": "Choose a role and a person from the team."})
        await services.set_role_holder(turn.uow(), turn.services.clock, turn.services.pack, turn.actor,
                                       record.subject, role, person, conversation_id=turn.conversation.id)
    except FormErrors as invalid:
        await turn.replace_card("team_roles", **await _card(turn, record, " ".join(invalid.errors.values())))
        return
    await turn.replace_card("team_roles", **await _card(
        turn, record, f"Saved: {person.name} is {turn.services.pack.role(role).label}."))


def mention_activity(person: Person, text: str) -> Activity:
    """A message that @mentions `person` (Teams notifies them), followed by `text`."""
    tag = f"<at>{person.name}</at>"
    return Activity(
        type=ActivityTypes.message,
        text=f"{tag} {text}",
        entities=[Mention(type="mention", text=tag,
                          mentioned=ChannelAccount(id=person.account_id or person.user_id, name=person.name))],
    )
