"""The "Log a concern" message extension over real HTTP, with the invoke payloads Teams documents.

composeExtension/fetchTask must answer with a dialog holding the raise form; composeExtension/submitAction
stores the concern exactly as the raise card does (same validation, audit and channel card) and closes the
dialog; a retried or doubled submit stores one concern, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import SERVICES, init_app
from bot.cards import renderer
from bot.commands import concern_card_values
from bot.settings import Settings
from concerns import services
from storage.models import AuditEventRow, BotStateRow, ConcernRow
from tests.bot.conftest import RunningBot
from tests.bot.test_http import GOOD, count, inputs, submit_data, texts
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TENANT, TOM, Teams, message_payload
from tests.support.cards import schema_errors, typed
from tests.support.clock import FixedClock
from tests.support.connector import ConnectorStub

STRANGER = "0e0e0e0e-2222-4333-8444-955566677788"
ALLOWED_ACTIONS = {"Action.Submit", "Action.ToggleVisibility"}


async def invoke(bot: RunningBot, activity: dict[str, Any]) -> tuple[int, Any]:
    async with bot.http.post(bot.url + "/api/messages", json=activity) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


def dialog_card(body: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card of a `task: continue` answer, checked as Teams (and Teams mobile) would take it."""
    task = body["task"]
    assert task["type"] == "continue" and task["value"]["title"] == "Log a concern"
    attachment = task["value"]["card"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert schema_errors(card) == []
    assert card["version"] == "1.5"
    assert {a["type"] for a in actions(card)} <= ALLOWED_ACTIONS  # Action.Execute fails on Teams mobile
    return card


def actions(node: Any) -> list[dict[str, Any]]:
    return typed(node, "Action.")


def concern_cards(bot: RunningBot) -> list[str]:
    """The concern cards posted as channel threads (other threads, such as pattern prompts, are not counted)."""
    cards = [texts(c["activity"]["attachments"][0]["content"]) for c in bot.connector.created]
    return [card for card in cards if '"Concern C-' in card]


async def concern_raised_events(bot: RunningBot) -> int:
    async with bot.uow() as uow:
        return await uow._session.scalar(  # type: ignore[attr-defined]
            select(func.count()).select_from(AuditEventRow).where(AuditEventRow.action == "concern.raised"))


async def open_dialog(bot: RunningBot, user: Any = PRIYA, **kwargs: Any) -> dict[str, Any]:
    status, body = await invoke(bot, bot.teams.fetch_task(user, **kwargs))
    assert status == 200, body
    return dialog_card(body)


@pytest.fixture
async def in_team(running_bot: RunningBot) -> RunningBot:
    """The bot has been added to the safeguarding team, so it knows its General channel."""
    assert await running_bot.send(running_bot.teams.bot_added_to_team(PRIYA)) in (200, 201)
    running_bot.connector.clear()
    return running_bot


# -- fetchTask: the dialog ---------------------------------------------------------------------------------------


async def test_the_compose_box_in_a_channel_opens_the_raise_form_for_this_channel(in_team: RunningBot) -> None:
    bot = in_team
    card = await open_dialog(bot)
    assert "Raise a concern" in texts(card)
    assert {"categories", "source_agency", "description", "occurred_on"} <= set(inputs(card))
    assert "post_to" not in inputs(card)  # used in a channel of the bot's team: the concern goes there
    data = submit_data(card)
    assert data["verb"] == "concern.raise" and await bot.app[SERVICES].forms.get(data["form"]) is not None
    assert bot.connector.sent == []  # a dialog is the invoke's answer, not a message


@pytest.mark.parametrize(("context", "where"), [("compose", "personal"), ("commandBox", "personal"),
                                                ("compose", "group")])
async def test_outside_a_channel_the_form_asks_which_channel(in_team: RunningBot, context: str, where: str) -> None:
    card = await open_dialog(in_team, context=context, where=where)
    post_to = inputs(card)["post_to"]
    assert post_to["isRequired"] is True
    assert [(c["value"], c["title"]) for c in post_to["choices"]] == [(CHANNEL_ID, "Safeguarding Adults > General")]


async def test_before_the_bot_is_in_any_team_the_dialog_says_what_to_do(running_bot: RunningBot) -> None:
    status, body = await invoke(running_bot, running_bot.teams.fetch_task(PRIYA, where="personal"))
    assert status == 200
    card = dialog_card(body)
    assert "Add me to a team first" in texts(card) and "description" not in inputs(card)


async def test_a_channel_of_a_team_the_bot_is_not_in_asks_which_channel(in_team: RunningBot) -> None:
    """A personally installed extension works in any channel, but the bot can only post where it was added."""
    bot = in_team
    activity = bot.teams.fetch_task(PRIYA)
    elsewhere = "19:finance-general@thread.tacv2"
    activity["conversation"]["id"] = elsewhere
    activity["channelData"]["team"] = {"id": "19:finance-team@thread.tacv2", "name": "Finance"}
    activity["channelData"]["channel"] = {"id": elsewhere, "name": "General"}
    status, body = await invoke(bot, activity)
    assert status == 200
    assert [c["value"] for c in inputs(dialog_card(body))["post_to"]["choices"]] == [CHANNEL_ID]


async def test_a_message_menu_prefills_the_description_with_the_message_text_and_author(in_team: RunningBot) -> None:
    bot = in_team
    html = ('<div><div><at id="0">Concerns Bot</at> Night staff at <b>Oakwood</b> say the MAR chart&nbsp;was '
            'unsigned &amp; two doses were missed &lt;again&gt;</div><script>alert("x")</script>'
            '<p>Second visit: <a href="https://evil.example">call bells</a> unanswered.</p></div>')
    message = message_payload(HELEN, html)
    card = await open_dialog(bot, context="message", message=message)
    description = inputs(card)["description"]["value"]
    assert description == ("From a Teams message by Helen Ward:\nConcerns Bot Night staff at Oakwood say the MAR "
                           "chart was unsigned & two doses were missed <again>\n\nSecond visit: call bells "
                           "unanswered.")
    assert "alert" not in description and "href" not in description
    assert "Copied from a message by Helen Ward" in texts(card)

    value = submit_data(card) | GOOD | {"description": description}
    status, body = await invoke(bot, bot.teams.submit_action(PRIYA, value, "message", thread=message["id"]))
    assert status == 200 and body["task"]["type"] == "message"
    async with bot.uow() as uow:
        stored = await uow.concerns.get_by_reference(TENANT, "C-2026-0001")
    assert stored is not None and stored.description == description
    assert stored.raised_by.id == PRIYA.aad  # who logged it; the author is named in the description only


async def test_a_long_or_odd_message_still_gives_a_valid_form(in_team: RunningBot) -> None:
    message = message_payload(TOM, "<p>" + "Medication missed. " * 400 + "</p>")
    message["from"] = {"user": None, "application": {"displayName": "Incident \x00 Bot " + "x" * 500}}
    card = await open_dialog(in_team, context="message", message=message)
    description = inputs(card)["description"]["value"]
    assert len(description) == 4000 and description.endswith("…") and "\x00" not in description
    for payload in (None, "text", {"body": "not an object"}, {"body": {"content": 5}}):
        activity = in_team.teams.fetch_task(PRIYA, context="message")
        activity["value"]["messagePayload"] = payload
        status, body = await invoke(in_team, activity)
        assert status == 200 and inputs(dialog_card(body))["description"].get("value", "") == ""


# -- submitAction: store, post, close ----------------------------------------------------------------------------


async def test_submitting_the_dialog_stores_posts_the_same_card_and_closes_the_dialog(in_team: RunningBot) -> None:
    bot = in_team
    card = await open_dialog(bot, TOM)
    started = time.monotonic()
    status, body = await invoke(bot, bot.teams.submit_action(TOM, submit_data(card) | GOOD))
    assert time.monotonic() - started < 5  # Teams gives a message extension 5 s, then retries
    assert status == 200
    assert body == {"task": {"type": "message", "value": "C-2026-0001 raised about Oakwood Lodge Nursing Home. "
                                                         "Its card is posted in this channel for the team to screen."}}

    [created] = bot.connector.created
    assert created["channelData"]["channel"]["id"] == CHANNEL_ID
    async with bot.uow() as uow:
        stored = await uow.concerns.get_by_reference(TENANT, "C-2026-0001")
        events = await uow.audit.for_subject("concern", "C-2026-0001")
    assert stored is not None and stored.raised_by.id == TOM.aad and stored.raised_by.name == "Tom Okafor"
    assert created["activity"]["attachments"][0]["content"] == renderer.render("concern", **concern_card_values(stored))
    assert [e.action for e in events] == ["concern.raised", "concern.card_posted"]  # as from the raise card
    assert stored.card_activity_id == bot.connector.sent[-1].activity_id


async def test_from_personal_chat_the_concern_goes_to_the_chosen_channel(in_team: RunningBot) -> None:
    bot = in_team
    card = await open_dialog(bot, where="personal")
    status, body = await invoke(bot, bot.teams.submit_action(PRIYA, submit_data(card) | GOOD | {"post_to": CHANNEL_ID},
                                                             where="personal"))
    assert status == 200
    assert body["task"]["value"] == ("C-2026-0001 raised about Oakwood Lodge Nursing Home. Its card is posted in "
                                     "Safeguarding Adults > General for the team to screen.")
    assert bot.connector.created[-1]["channelData"]["channel"]["id"] == CHANNEL_ID
    assert await count(bot, ConcernRow) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": ""}, "Describe what happened."),
        ({"categories": "medication,not-a-category"}, "Choose categories from the list."),
        ({"provider_name": "", "provider_id": "4242"}, "not one I know"),
        ({"occurred_on": "2027-01-01"}, "future"),
        ({"individual_reference": "Jean Smith"}, "never a name"),
        ({"description": "Mr Patel was found on the floor."}, "\u201cMr Patel\u201d"),
        ({"post_to": "19:somewhere-else@thread.tacv2"}, "Choose one of the team channels I am in"),
    ],
)
async def test_invalid_input_shows_the_dialog_again_with_errors_and_stores_nothing(
    in_team: RunningBot, change: dict[str, str], message: str
) -> None:
    bot = in_team
    card = await open_dialog(bot, where="personal")
    value = submit_data(card) | GOOD | {"post_to": CHANNEL_ID} | change
    status, body = await invoke(bot, bot.teams.submit_action(PRIYA, value, where="personal"))
    assert status == 200
    again = dialog_card(body)
    assert message in texts(again) and "Nothing has been saved yet" in texts(again)
    assert submit_data(again)["form"] == submit_data(card)["form"]  # the same form, so a fix is one submission
    assert inputs(again)["description"].get("value") == value["description"]  # what was typed is kept
    assert await count(bot, ConcernRow) == 0 and await concern_raised_events(bot) == 0
    assert bot.connector.sent == [] and bot.connector.created == []

    fixed = value | GOOD | {"provider_id": "", "individual_reference": "", "post_to": CHANNEL_ID}
    status, body = await invoke(bot, bot.teams.submit_action(PRIYA, fixed, where="personal"))
    assert body["task"]["type"] == "message" and await count(bot, ConcernRow) == 1


async def test_hidden_fields_of_the_dialog_are_still_checked(in_team: RunningBot) -> None:
    """Teams enforces isRequired in the client; a hostile client skips that, so the server says the same."""
    bot = in_team
    card = await open_dialog(bot)
    for data in ({"form": submit_data(card)["form"]}, submit_data(card) | {"categories": ["medication"]},
                 submit_data(card) | {"description": {"html": "<b>x</b>"}, "occurred_on": 20261120}):
        status, body = await invoke(bot, bot.teams.submit_action(PRIYA, data))
        assert status == 200 and "Please correct the fields marked below" in texts(dialog_card(body))
    assert await count(bot, ConcernRow) == 0


@pytest.mark.parametrize("data", [{"verb": "concern.raise", "form": "not-a-form-I-issued"}, {}, None, "text", [1]])
async def test_a_forged_or_missing_form_stores_nothing(in_team: RunningBot, data: Any) -> None:
    bot = in_team
    payload = data | GOOD if isinstance(data, dict) else data
    status, body = await invoke(bot, bot.teams.submit_action(PRIYA, payload))
    assert status == 200
    again = dialog_card(body)
    assert "I do not recognise this form, so nothing was saved" in texts(again)
    assert await bot.app[SERVICES].forms.get(submit_data(again)["form"]) is not None  # a fresh form to fill
    assert await count(bot, ConcernRow) == 0


async def test_a_form_from_another_conversation_stores_nothing(in_team: RunningBot) -> None:
    bot = in_team
    card = await open_dialog(bot, where="personal")
    status, body = await invoke(bot, bot.teams.submit_action(PRIYA, submit_data(card) | GOOD))  # in the channel
    assert status == 200 and "started in another conversation" in texts(dialog_card(body))
    assert await count(bot, ConcernRow) == 0


# -- unknown and malformed invokes -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fetch", "submit"])
async def test_an_unknown_command_gets_a_clear_answer_and_changes_nothing(in_team: RunningBot, kind: str) -> None:
    bot = in_team
    card = await open_dialog(bot)
    activity = (bot.teams.fetch_task(PRIYA, command="searchProviders") if kind == "fetch"
                else bot.teams.submit_action(PRIYA, submit_data(card) | GOOD, command="searchProviders"))
    status, body = await invoke(bot, activity)
    assert status == 200
    shown = texts(dialog_card(body))
    assert 'I have no command \\"searchProviders\\"' in shown and "Nothing was saved" in shown
    assert await count(bot, ConcernRow) == 0


@pytest.mark.parametrize("value", ["absent", None, "logConcern", [1, 2], 42])
async def test_an_extension_invoke_without_a_value_object_is_a_400(in_team: RunningBot, value: Any) -> None:
    bot = in_team
    documents = await count(bot, BotStateRow)
    for activity in (bot.teams.fetch_task(PRIYA), bot.teams.submit_action(PRIYA, GOOD)):
        if value == "absent":
            del activity["value"]
        else:
            activity["value"] = value
        status, body = await invoke(bot, activity)
        assert status == 400
        assert body == {"error": {"code": "BadRequest", "message": "The invoke has no value, so there is no command "
                                                                   "to run. Nothing was saved."}}
    assert await count(bot, ConcernRow) == 0 and await count(bot, BotStateRow) == documents


@pytest.mark.parametrize("name", ["adaptiveCard/action", "task/fetch", "composeExtension/query", None])
async def test_other_invokes_are_still_refused(in_team: RunningBot, name: str | None) -> None:
    activity = in_team.teams.fetch_task(PRIYA)
    activity["name"] = name
    status, _ = await invoke(in_team, activity)
    assert status == 400
    assert await count(in_team, ConcernRow) == 0


async def test_another_tenant_is_refused_before_the_extension_runs(database_url: str, clock: FixedClock) -> None:
    connector = ConnectorStub()
    connector_server = TestServer(connector.app(), host="127.0.0.1")
    await connector_server.start_server()
    app = init_app(Settings(database_url=database_url, dev=True, allowed_tenants=(TENANT,)), clock=clock,
                   migrate=False)
    bot_server = TestServer(app, host="127.0.0.1")
    await bot_server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            bot = RunningBot(str(bot_server.make_url("")).rstrip("/"), http, connector,
                             Teams(str(connector_server.make_url("/"))), app)
            assert await bot.send(bot.teams.bot_added_to_team(PRIYA)) in (200, 201)
            card = await open_dialog(bot)  # the home tenant is served
            stranger = Teams(bot.teams.service_url, STRANGER)
            for activity in (stranger.fetch_task(PRIYA), stranger.submit_action(PRIYA, submit_data(card) | GOOD)):
                status, body = await invoke(bot, activity)
                assert status == 403 and "does not serve your organisation's tenant" in body["error"]
            async with bot.uow() as uow:
                refusals = await uow.audit.for_subject("tenant", STRANGER)
            assert [e.action for e in refusals] == ["tenant.refused", "tenant.refused"]
            assert await count(bot, ConcernRow) == 0 and connector.created == []
    finally:
        await bot_server.close()
        await connector_server.close()


# -- idempotency: a retried submit stores one concern --------------------------------------------------------------


async def _assert_stored_once(bot: RunningBot, answers: list[tuple[int, Any]]) -> None:
    expected = "C-2026-0001 raised about Oakwood Lodge Nursing Home."
    for status, body in answers:
        assert status == 200 and body["task"]["type"] == "message" and body["task"]["value"].startswith(expected)
    assert await count(bot, ConcernRow) == 1
    assert await concern_raised_events(bot) == 1
    assert len(concern_cards(bot)) == 1 == len(bot.connector.created)  # one concern card in the channel
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("concern", "C-2026-0001")
    assert [e.action for e in events] == ["concern.raised", "concern.card_posted"]


async def test_the_same_submit_twice_stores_one_concern(in_team: RunningBot) -> None:
    bot = in_team
    card = await open_dialog(bot)
    submit = bot.teams.submit_action(PRIYA, submit_data(card) | GOOD)
    answers = [await invoke(bot, submit), await invoke(bot, submit)]
    await _assert_stored_once(bot, answers)


async def test_a_retry_arriving_while_the_first_submit_runs_stores_one_concern(
    in_team: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teams retries an invoke it got no answer to within 5 s (twice): three deliveries of one submit at once.

    All three are held until each has found the form unanswered and is about to store, so the store itself
    (the unique submission key, and on PostgreSQL the losers' Conflict path) is what keeps it to one.
    """
    bot = in_team
    real = services.raise_concern
    barrier = asyncio.Barrier(3)
    created: list[bool] = []

    async def raise_together(*args: Any, **kwargs: Any) -> services.RaisedConcern:
        await asyncio.wait_for(barrier.wait(), 20)
        raised = await real(*args, **kwargs)
        created.append(raised.created)
        return raised

    monkeypatch.setattr(services, "raise_concern", raise_together)
    card = await open_dialog(bot)
    submit = bot.teams.submit_action(PRIYA, submit_data(card) | GOOD)
    answers = await asyncio.gather(*(invoke(bot, submit) for _ in range(3)))
    assert sorted(created) == [False, False, True]
    await _assert_stored_once(bot, list(answers))


async def test_concurrent_submits_of_a_known_provider_store_one_concern(in_team: RunningBot) -> None:
    bot = in_team
    first = await open_dialog(bot)
    await invoke(bot, bot.teams.submit_action(PRIYA, submit_data(first) | GOOD))
    card = await open_dialog(bot)
    [provider] = inputs(card)["provider_id"]["choices"]
    value = submit_data(card) | GOOD | {"provider_name": "", "service_type": "", "provider_id": provider["value"]}
    submit = bot.teams.submit_action(PRIYA, value)
    answers = await asyncio.gather(*(invoke(bot, submit) for _ in range(3)))
    assert {body["task"]["value"].split(" ")[0] for _, body in answers} == {"C-2026-0002"}
    assert await count(bot, ConcernRow) == 2 and await concern_raised_events(bot) == 2
    assert len(concern_cards(bot)) == 2


async def test_two_dialogs_are_two_concerns(in_team: RunningBot) -> None:
    """The key is per dialog, not per content: the same facts logged twice on purpose are two concerns."""
    bot = in_team
    for _ in range(2):
        card = await open_dialog(bot)
        status, _ = await invoke(bot, bot.teams.submit_action(PRIYA, submit_data(card) | GOOD))
        assert status == 200
    assert await count(bot, ConcernRow) == 2
