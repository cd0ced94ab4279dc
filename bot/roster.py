"""The team's members, from the Teams roster API: who can be a chair or coordinator."""

from __future__ import annotations

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
