"""Team admins over real HTTP: the installer becomes the first one, only admins change team roles and grant
admin, and everyone else is told why privately, audited, with nothing changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.app import SERVICES
from concerns import team_admins
from concerns.cases import Person
from storage.models import TeamAdminRow, TeamRoleRow
from tests.bot.conftest import RunningBot
from tests.bot.test_http import submit_data, texts
from tests.support.activities import HELEN, PRIYA, TEAM_ID, TENANT, TOM, User, roster_entry


def thread_of(sent: Any, bot: RunningBot) -> dict[str, Any]:
    return {"id": sent.conversation_id, "conversationType": "channel", "isGroup": True, "tenantId": bot.teams.tenant}


async def team_events(bot: RunningBot) -> list[Any]:
    async with bot.uow() as uow:
        return await uow.audit.for_subject("team", TEAM_ID)


async def admins(bot: RunningBot) -> list[str]:
    async with bot.uow() as uow:
        return [a.person.name for a in await uow.team_admins.admins(TENANT, TEAM_ID)]


async def role_holders(bot: RunningBot) -> list[tuple[str, str]]:
    async with bot.uow() as uow:
        rows = await uow._session.execute(select(TeamRoleRow.role_id, TeamRoleRow.user_id))  # type: ignore[attr-defined]
        return [tuple(r) for r in rows]


async def admin_rows(bot: RunningBot) -> int:
    async with bot.uow() as uow:
        return len((await uow._session.scalars(select(TeamAdminRow.user_id))).all())  # type: ignore[attr-defined]


async def team_roles_card(bot: RunningBot, user: User) -> Any:
    await bot.send(bot.teams.channel_message(user, "team roles"))
    card = bot.connector.sent[-1]
    assert "Who holds the procedure's roles in this team" in texts(card.card)
    return card


def admin_button(card: dict[str, Any], title: str) -> dict[str, Any]:
    show = next(a for a in card["actions"] if a["type"] == "Action.ShowCard")
    return next(a["data"] for a in show["card"]["actions"] if a["title"] == title)


async def press(bot: RunningBot, user: User, card: Any, data: dict[str, Any]) -> None:
    assert await bot.send(bot.teams.card_submit(user, data, reply_to=card.activity_id,
                                                conversation=thread_of(card, bot))) == 201


def private_to(bot: RunningBot, user: User) -> str:
    """The text of the last message sent privately (a new 1:1 chat), checking it went to `user`."""
    created = bot.connector.created[-1]
    assert created["isGroup"] is False and created["members"][0]["id"] == user.id
    return created["activity"]["text"]


async def test_whoever_installs_the_bot_in_a_team_becomes_its_first_admin_once(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    await bot.send(bot.teams.bot_added_to_team(TOM))  # delivered again, or someone else re-adding it
    reinstall = bot.teams.bot_added_to_team(HELEN) | {"type": "installationUpdate", "action": "add"}
    reinstall.pop("membersAdded")
    await bot.send(reinstall)
    assert await admins(bot) == ["Priya Shah"]
    [granted] = await team_events(bot)
    assert (granted.action, granted.actor_id, granted.details["how"]) == (
        "team.admin_granted", PRIYA.aad, "installed the bot")


async def test_an_installation_update_also_makes_the_installer_admin(running_bot: RunningBot) -> None:
    bot = running_bot
    install = bot.teams.bot_added_to_team(TOM) | {"type": "installationUpdate", "action": "add"}
    install.pop("membersAdded")
    assert await bot.send(install) == 201
    assert await admins(bot) == ["Tom Okafor"]


async def test_an_installer_teams_sends_without_a_name_is_named_from_the_teams_roster(running_bot: RunningBot) -> None:
    bot = running_bot
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN)]
    install = bot.teams.bot_added_to_team(TOM) | {"type": "installationUpdate", "action": "add"}
    install.pop("membersAdded")
    install["from"] = {"id": TOM.id, "aadObjectId": TOM.aad}  # as Teams sends it: ids only
    assert await bot.send(install) == 201
    assert await admins(bot) == ["Tom Okafor"]
    [granted] = await team_events(bot)
    assert granted.actor_name == "Tom Okafor" and granted.details["name"] == "Tom Okafor"


async def test_installing_in_a_personal_chat_makes_nobody_a_team_admin(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_personal_chat(PRIYA))
    assert await admin_rows(bot) == 0


async def test_only_team_admins_change_team_roles_others_are_told_privately(running_bot: RunningBot) -> None:
    bot = running_bot
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN)]
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    card = await team_roles_card(bot, TOM)
    assert '"title": "Team admins", "value": "Priya Shah"' in texts(card.card)  # everyone sees who holds what
    sent_before = len(bot.connector.sent)
    await press(bot, TOM, card, submit_data(card.card) | {"role": "head_of_service", "person": TOM.aad})
    assert private_to(bot, TOM) == ("Only a team admin can change the team's roles (team roles). "
                                    "This team's admins: Priya Shah.")
    assert [s.method for s in bot.connector.sent[sent_before:]] == ["CREATE"]  # the card stays as it was
    assert await role_holders(bot) == []
    refused = (await team_events(bot))[-1]
    assert (refused.action, refused.actor_id, refused.details["attempted"]) == ("refused", TOM.aad, "team.role")

    await press(bot, PRIYA, card, submit_data(card.card) | {"role": "head_of_service", "person": HELEN.aad})
    assert "Saved: Helen Ward is Head of Service" in texts(bot.connector.sent[-1].card)
    assert await role_holders(bot) == [("head_of_service", HELEN.aad)]


async def test_a_non_admin_with_a_bad_form_is_refused_not_corrected(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    card = await team_roles_card(bot, TOM)
    await press(bot, TOM, card, submit_data(card.card) | {"role": "chair", "person": "nobody"})
    assert private_to(bot, TOM).startswith("Only a team admin can change the team's roles")
    await press(bot, PRIYA, card, submit_data(card.card) | {"role": "chair", "person": "nobody"})
    assert "Choose one of the procedure's roles." in texts(bot.connector.sent[-1].card)
    assert await role_holders(bot) == []


async def test_a_team_without_an_admin_refuses_role_changes_and_says_how_an_operator_grants_one(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, HELEN)]
    card = await team_roles_card(bot, PRIYA)  # the bot was there before team admins existed: no install event
    assert "None yet. An operator can grant one with: concerns-bot team-admin grant" in texts(card.card)
    await press(bot, PRIYA, card, submit_data(card.card) | {"role": "head_of_service", "person": HELEN.aad})
    assert private_to(bot, PRIYA) == (
        "Only a team admin can change the team's roles (team roles), and this team has none yet. An operator can "
        f"grant one with: concerns-bot team-admin grant --tenant {TENANT} --team {TEAM_ID} --user AAD_OBJECT_ID "
        "--name NAME")
    assert await role_holders(bot) == []
    assert [e.action for e in await team_events(bot)] == ["refused"]


async def test_admins_grant_and_revoke_admin_and_keep_at_least_one(running_bot: RunningBot) -> None:
    bot = running_bot
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN)]
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    card = await team_roles_card(bot, PRIYA)
    grant, revoke = admin_button(card.card, "Make team admin"), admin_button(card.card, "Remove team admin")

    await press(bot, PRIYA, card, grant | {"admin": TOM.aad})
    assert "Tom Okafor is now a team admin." in texts(bot.connector.sent[-1].card)
    assert '"value": "Priya Shah, Tom Okafor"' in texts(bot.connector.sent[-1].card)
    await press(bot, PRIYA, card, grant | {"admin": TOM.aad})  # pressed twice: one grant, one event
    assert "Tom Okafor is already a team admin." in texts(bot.connector.sent[-1].card)

    # Helen is no admin: she cannot make herself one, or remove anyone.
    for data in (grant | {"admin": HELEN.aad}, revoke | {"admin": PRIYA.aad}):
        await press(bot, HELEN, card, data)
        assert private_to(bot, HELEN) == ("Only a team admin can grant or revoke team admin. "
                                          "This team's admins: Priya Shah, Tom Okafor.")
    assert await admins(bot) == ["Priya Shah", "Tom Okafor"]

    await press(bot, TOM, card, revoke | {"admin": PRIYA.aad})
    assert "Priya Shah is no longer a team admin." in texts(bot.connector.sent[-1].card)
    await press(bot, TOM, card, revoke | {"admin": TOM.aad})
    assert "Tom Okafor is this team's only admin: grant another first." in texts(bot.connector.sent[-1].card)
    await press(bot, TOM, card, revoke | {"admin": HELEN.aad})
    assert "That person is not a team admin here." in texts(bot.connector.sent[-1].card)
    await press(bot, TOM, card, grant | {"admin": "someone-not-in-the-team"})
    assert "Choose a person from the team." in texts(bot.connector.sent[-1].card)
    assert await admins(bot) == ["Tom Okafor"]

    # The former admin is now refused like anyone else; the new one changes the roles.
    await press(bot, PRIYA, card, submit_data(card.card) | {"role": "head_of_service", "person": HELEN.aad})
    assert private_to(bot, PRIYA).startswith("Only a team admin can change the team's roles")
    await press(bot, TOM, card, submit_data(card.card) | {"role": "head_of_service", "person": HELEN.aad})
    assert "Saved: Helen Ward is Head of Service" in texts(bot.connector.sent[-1].card)

    events = [(e.action, e.actor_id, e.details.get("user"), e.details.get("attempted")) for e in await team_events(bot)]
    assert events == [
        ("team.admin_granted", PRIYA.aad, PRIYA.aad, None),
        ("team.admin_granted", PRIYA.aad, TOM.aad, None),
        ("refused", HELEN.aad, None, "team.admin_grant"),
        ("refused", HELEN.aad, None, "team.admin_revoke"),
        ("team.admin_revoked", TOM.aad, PRIYA.aad, None),
        ("refused", PRIYA.aad, None, "team.role"),
        ("team.role_holder_set", TOM.aad, HELEN.aad, None),
    ]


async def test_a_forged_or_foreign_form_grants_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM)]
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    card = await team_roles_card(bot, PRIYA)
    await press(bot, PRIYA, card, {"verb": "team.admin_grant", "form": "not-a-form-I-issued", "admin": TOM.aad})
    assert "I do not recognise this form" in texts(bot.connector.sent[-1].card)
    chat = bot.teams.personal_conversation(PRIYA)
    await bot.send(bot.teams.card_submit(PRIYA, admin_button(card.card, "Make team admin") | {"admin": TOM.aad},
                                         reply_to=None, conversation=chat, channel=False))
    assert "started in another conversation" in texts(bot.connector.sent[-1].card)
    assert await admins(bot) == ["Priya Shah"]


async def test_reinstalling_never_makes_the_installer_admin_of_a_team_that_had_one(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    operator = team_admins.operator(TENANT, "ops")
    await team_admins.revoke(bot.uow(), _clock(bot), operator, TEAM_ID, PRIYA.aad, conversation_id=None,
                             by_operator=True)  # the only admin left the council
    await bot.send(bot.teams.bot_removed_from_team(PRIYA))
    await bot.send(bot.teams.bot_added_to_team(TOM))
    assert await admins(bot) == []
    card = await team_roles_card(bot, TOM)
    await press(bot, TOM, card, submit_data(card.card) | {"role": "head_of_service", "person": TOM.aad})
    assert "this team has none yet" in private_to(bot, TOM)
    # An operator's grant is what gives it one again.
    assert await team_admins.grant(bot.uow(), _clock(bot), operator, TEAM_ID, Person(TOM.aad, TOM.name),
                                   conversation_id=None, by_operator=True)
    assert await admins(bot) == ["Tom Okafor"]


def _clock(bot: RunningBot) -> Any:
    return bot.app[SERVICES].clock
