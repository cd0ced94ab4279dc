"""The team's members, from the Teams roster API: who can be a chair or coordinator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo

from concerns.cases import Person

MAX_PAGES = 20  # 20 pages of up to 500: far more than any safeguarding team


def _has_channel_data(context: TurnContext) -> bool:
    """Whether botbuilder can read the activity's channelData: its TeamsInfo unpacks it (and a team in it) into
    keyword arguments, and fails the turn with a TypeError on anything but an object."""
    data = context.activity.channel_data
    if not isinstance(data, dict):
        return False
    team = data.get("team")
    return team is None or (isinstance(team, dict) and isinstance(team.get("id"), str))


async def team_roster(context: TurnContext) -> list[Person]:
    """Everyone in the team this turn happened in, sorted by name (AAD object ids as user ids); nobody when the
    activity does not say where it came from as Teams does (Teams always sends channelData)."""
    if not _has_channel_data(context):
        return []
    people: dict[str, Person] = {}
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = await TeamsInfo.get_paged_members(context, continuation_token=token, page_size=500)
        for member in page.members or []:
            user_id = member.aad_object_id or member.id
            if user_id:
                people[user_id] = Person(user_id, member.name or member.given_name or "Unnamed member", member.id or "")
        token = page.continuation_token
        if not token:
            break
    return sorted(people.values(), key=lambda p: p.name.casefold())


PEOPLE_ON_A_FORM = 120  # names a form lists whole: past this a team (a council's, in the hundreds) is searched
FOUND_AT_MOST = 25
CASE_PEOPLE = "the case's members and the team's role holders"


@dataclass(frozen=True)
class FormPeople:
    """Who a form offers to pick from, and what it says when that is not the whole team."""

    people: list[Person]
    note: str | None = None  # set when the team is too large to list: who is listed, and how to find others
    find: str = ""  # what was last searched for


def people_for_form(roster: list[Person], likely: Iterable[Person], values: dict[str, Any],
                    picked: Iterable[str] = (), ask: str = "", whom: str = CASE_PEOPLE) -> FormPeople:
    """The whole team when it is small enough to list on a card; else those the form's user most likely wants
    (`likely`: the case's members, the team's role holders), whoever the form's inputs `picked` already hold, and
    those whose name matches what was searched for (`values["find"]`, from the command `ask` with part of a
    name). Several lists of a thousand names are hundreds of KB: no card at all."""
    if len(roster) <= PEOPLE_ON_A_FORM:
        return FormPeople(roster)
    find = values.get("find") if isinstance(values.get("find"), str) else ""
    words = find.casefold().split()
    chosen = {p.user_id for p in likely}
    for key in picked:
        value = values.get(key)
        if isinstance(value, str):
            chosen.update(value.split(","))
    found = [p for p in roster if words and all(w in p.name.casefold() for w in words)][:FOUND_AT_MOST]
    people = sorted({p.user_id: p for p in [*(p for p in roster if p.user_id in chosen), *found]}.values(),
                    key=lambda p: p.name.casefold())
    said = f"The team has {len(roster)} members, too many to list: these are {whom}"
    if find.strip():
        said += f", and {len(found)} whose name has '{find.strip()}'" if found else \
            f"; nobody's name has '{find.strip()}'"
    how = f"ask with part of their name: '{ask} patel'" if ask else \
        "give them a role on the case with 'roles', the case's reference and part of their name"
    return FormPeople(people, f"{said}. For anyone else, {how}.", find.strip())


async def form_people(turn: Any, values: dict[str, Any], ask: str, members: Iterable[Any] = (),
                      picked: Iterable[str] = (), whom: str = CASE_PEOPLE) -> FormPeople:
    """`people_for_form` for a form in this turn's team: likely are `members` (a case's) and the team's role
    holders."""
    from concerns import services

    roster = await team_roster(turn.context)
    if len(roster) <= PEOPLE_ON_A_FORM:
        return FormPeople(roster)
    team_id = turn.conversation.team_id
    holders = await services.role_holders(turn.reader(), turn.actor.tenant_id, team_id) if team_id else {}
    likely = [*(Person(m.user_id, m.name) for m in members), *holders.values(), Person(turn.actor.id, turn.actor.name)]
    return people_for_form(roster, likely, values, picked, ask, whom)


def find_values(args: str) -> dict[str, str]:
    """What a form's command was given after the case's reference to find someone by: 'roles PC-2026-0001 patel'."""
    words = args.split()[1:]
    return {"find": " ".join(words)[:100]} if words else {}
