"""The bot over real HTTP, as Teams drives it: commands, the raise form, bad input, install events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import AuditEventRow, ConcernRow, ConversationRow, ProviderRow
from tests.bot.conftest import RunningBot
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TOM
from tests.support.cards import schema_errors


def texts(card: dict[str, Any]) -> str:
    """Everything a person can read on a card, flattened."""
    return json.dumps(card, ensure_ascii=False)


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and "id" in node:
                found[node["id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def submit_data(card: dict[str, Any]) -> dict[str, Any]:
    return next(a["data"] for a in card["actions"] if a["type"] == "Action.Submit")


async def count(bot: RunningBot, model: Any) -> int:
    async with bot.uow() as uow:
        return await uow._session.scalar(select(func.count()).select_from(model))  # type: ignore[attr-defined]


GOOD = {
    "provider_name": "Oakwood Lodge Nursing Home",
    "service_type": "nursing",
    "categories": "medication,staffing",
    "source_agency": "cqc",
    "description": "Inspection found MAR charts unsigned on two units.",
    "occurred_on": "2026-11-20",
    "immediate_risk": "false",
}


async def open_form_in_channel(bot: RunningBot, user: Any = PRIYA) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Mention the bot with `raise`; return the card, its message id and the thread conversation."""
    post = bot.teams.channel_message(user, "raise")
    assert await bot.send(post) in (200, 201)
    sent = bot.connector.sent[-1]
    assert sent.card is not None and "Raise a concern" in texts(sent.card)
    return sent.card, sent.activity_id, post["conversation"]


async def test_help_in_a_channel_lists_the_commands(running_bot: RunningBot) -> None:
    assert await running_bot.send(running_bot.teams.channel_message(PRIYA, "help")) == 201
    sent = running_bot.connector.sent[-1]
    assert sent.method == "POST" and sent.conversation_id.startswith(CHANNEL_ID + ";messageid=")
    for command in ("raise", "concerns", "provider NAME", "help"):
        assert f'"title": "{command}"' in texts(sent.card)


async def test_help_groups_every_command_and_opens_my_actions_and_the_open_cases(running_bot: RunningBot) -> None:
    from bot.router import COMMANDS

    bot = running_bot
    await bot.send(bot.teams.personal_message(PRIYA, "help"))
    card = bot.connector.sent[-1].card
    headings = [b["text"] for b in card["body"] if b.get("type") == "TextBlock" and b.get("weight") == "Bolder"]
    assert headings == ["Provider concerns: what I can do", "Concerns", "Cases", "Providers and the team"]
    listed = [f["title"] for b in card["body"] if b.get("type") == "FactSet" for f in b["facts"]]
    assert sorted(listed) == sorted(c.usage for c in COMMANDS)  # each once, none lost to the grouping
    my_actions = next(a["data"] for a in card["actions"] if a["title"] == "My actions")
    await bot.send(bot.teams.card_submit(PRIYA, my_actions, reply_to=bot.connector.sent[-1].activity_id,
                                         conversation=bot.teams.personal_conversation(PRIYA), channel=False))
    assert "Actions for Priya Shah" in texts(bot.connector.sent[-1].card)
    await bot.send(bot.teams.personal_message(PRIYA, "help"))
    card = bot.connector.sent[-1].card
    open_cases = next(a["data"] for a in card["actions"] if a["title"] == "Open cases")
    await bot.send(bot.teams.card_submit(PRIYA, open_cases, reply_to=bot.connector.sent[-1].activity_id,
                                         conversation=bot.teams.personal_conversation(PRIYA), channel=False))
    assert "No provider concerns case is open" in texts(bot.connector.sent[-1].card)


async def test_help_in_personal_chat_needs_no_mention(running_bot: RunningBot) -> None:
    await running_bot.send(running_bot.teams.personal_message(PRIYA, "HELP"))
    assert "Provider concerns: what I can do" in texts(running_bot.connector.sent[-1].card)


async def test_unknown_text_says_so_and_shows_help(running_bot: RunningBot) -> None:
    await running_bot.send(running_bot.teams.personal_message(PRIYA, "make me a sandwich"))
    card = texts(running_bot.connector.sent[-1].card)
    assert 'I did not understand \\"make me a sandwich\\"' in card
    assert "Provider concerns: what I can do" in card


async def test_raising_in_a_channel_stores_the_concern_and_starts_a_thread(running_bot: RunningBot) -> None:
    bot = running_bot
    card, card_id, thread = await open_form_in_channel(bot)
    assert {"provider_name", "service_type", "categories", "source_agency", "description", "occurred_on",
            "individual_reference", "immediate_risk"} <= set(inputs(card))
    assert "post_to" not in inputs(card)  # in a channel, the concern goes to this channel
    value = submit_data(card) | GOOD | {"individual_reference": "LAS-104233", "immediate_risk": "true"}
    assert await bot.send(bot.teams.card_submit(TOM, value, reply_to=card_id, conversation=thread)) == 201

    created = bot.connector.created[-1]
    assert created["channelData"]["channel"]["id"] == CHANNEL_ID and created["isGroup"] is True
    concern_card = created["activity"]["attachments"][0]["content"]
    shown = texts(concern_card)
    assert "Concern C-2026-0001" in shown and "Oakwood Lodge Nursing Home" in shown
    assert "IMMEDIATE RISK" in shown and "Tom Okafor" in shown
    assert "LAS-104233" not in shown  # individual references never go in a channel

    update = bot.connector.sent[-1]
    assert update.method == "PUT" and update.activity_id == card_id
    assert "C-2026-0001 raised" in texts(update.card)

    async with bot.uow() as uow:
        stored = await uow.concerns.get_by_reference("72f988bf-86f1-41af-91ab-2d7cd011db47", "C-2026-0001")
        events = await uow.audit.for_subject("concern", "C-2026-0001")
    assert stored is not None
    assert stored.raised_by.id == TOM.aad  # from the activity, not the card
    assert stored.individual_reference == "LAS-104233" and stored.immediate_risk
    assert stored.card_activity_id == bot.connector.sent[-2].activity_id
    assert [e.action for e in events] == ["concern.raised", "concern.card_posted"]


async def test_a_second_press_of_submit_stores_nothing_more(running_bot: RunningBot) -> None:
    bot = running_bot
    card, card_id, thread = await open_form_in_channel(bot)
    value = submit_data(card) | GOOD
    for _ in range(3):  # the second finds the concern by the form's submission key, the third by the form
        await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread))
        assert "C-2026-0001 raised" in texts(bot.connector.sent[-1].card)
    assert await count(bot, ConcernRow) == 1
    assert len(bot.connector.created) == 1
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("concern", "C-2026-0001")
    assert [e.action for e in events] == ["concern.raised", "concern.card_posted"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"description": ""}, "description", "Describe what happened."),
        ({"description": "x" * 4001}, "description", "under 4000 characters"),
        ({"categories": ""}, "categories", "at least one category"),
        ({"provider_name": "", "provider_id": "4242"}, "provider_id", "not one I know"),
        ({"occurred_on": "2027-01-01"}, "occurred_on", "future"),
        ({"individual_reference": "Jean Smith"}, "individual_reference", "never a name"),
    ],
)
async def test_invalid_input_shows_the_card_again_with_errors_and_stores_nothing(
    running_bot: RunningBot, change: dict[str, str], field: str, message: str
) -> None:
    bot = running_bot
    card, card_id, thread = await open_form_in_channel(bot)
    value = submit_data(card) | GOOD | change
    assert await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread)) == 201
    again = bot.connector.sent[-1]
    assert again.method == "PUT" and again.activity_id == card_id
    shown = texts(again.card)
    assert message in shown and "Nothing has been saved yet" in shown
    # The error sits right after its field, and what was typed is kept.
    body_ids = [e.get("id") for e in _flatten(again.card["body"])]
    # With no providers known yet, the provider list is not shown and its error follows the name.
    field_index = body_ids.index(field if field in body_ids else "provider_name")
    following = _flatten(again.card["body"])[field_index + 1]
    assert following["type"] == "TextBlock" and message in following["text"]
    assert inputs(again.card)["source_agency"]["value"] == "cqc"
    assert await count(bot, ConcernRow) == 0
    assert await count(bot, ProviderRow) == 0
    assert bot.connector.created == []


async def test_a_description_naming_an_adult_is_stopped_until_the_raiser_says_they_are_staff(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    card, card_id, thread = await open_form_in_channel(bot)
    named = {"description": "Mrs Jean Smith in room 4 had no fluids all day."}
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(card) | GOOD | named, reply_to=card_id,
                                         conversation=thread))
    again = bot.connector.sent[-1].card
    assert schema_errors(again) == []
    body = _flatten(again["body"])
    at = [e.get("id") for e in body].index("description")
    # Right under the description: why it stopped, then the box that says the names are staff.
    assert "\u201cMrs Jean Smith\u201d" in body[at + 1]["text"] and body[at + 2]["id"] == "names_are_staff"
    assert body[at + 2]["value"] == "false"
    assert await count(bot, ConcernRow) == 0 and bot.connector.created == []

    staff = {"description": "Dr Okafor found the MAR charts unsigned on two units.", "names_are_staff": "true"}
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(again) | GOOD | staff, reply_to=card_id,
                                         conversation=thread))
    assert "C-2026-0001 raised" in texts(bot.connector.sent[-1].card)
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("concern", "C-2026-0001")
    assert events[0].action == "concern.raised" and events[0].details["names_are_staff"] is True


def _flatten(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for item in items:
        flat.append(item)
        flat.extend(_flatten(item.get("items", [])))
    return flat


async def test_a_corrected_form_is_then_accepted(running_bot: RunningBot) -> None:
    bot = running_bot
    card, card_id, thread = await open_form_in_channel(bot)
    value = submit_data(card) | GOOD | {"description": ""}
    await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread))
    corrected = bot.connector.sent[-1].card
    value = submit_data(corrected) | GOOD
    await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread))
    assert await count(bot, ConcernRow) == 1


async def test_a_card_from_another_conversation_stores_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    card, card_id, _ = await open_form_in_channel(bot)
    value = submit_data(card) | GOOD
    elsewhere = bot.teams.personal_conversation(HELEN)
    await bot.send(bot.teams.card_submit(HELEN, value, reply_to=card_id, conversation=elsewhere, channel=False))
    shown = texts(bot.connector.sent[-1].card)
    assert "started in another conversation" in shown
    assert await count(bot, ConcernRow) == 0


async def test_a_forged_form_key_stores_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    _, card_id, thread = await open_form_in_channel(bot)
    value = {"verb": "concern.raise", "form": "not-a-form-I-issued"} | GOOD
    await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread))
    assert "I do not recognise this form" in texts(bot.connector.sent[-1].card)
    assert await count(bot, ConcernRow) == 0


async def test_raising_from_personal_chat_posts_in_the_chosen_channel(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    chat = bot.teams.personal_conversation(PRIYA)
    await bot.send(bot.teams.personal_message(PRIYA, "raise"))
    card = bot.connector.sent[-1].card
    post_to = inputs(card)["post_to"]
    assert [c["value"] for c in post_to["choices"]] == [CHANNEL_ID]
    assert post_to["choices"][0]["title"] == "Safeguarding Adults > General"
    form_id = bot.connector.sent[-1].activity_id
    value = submit_data(card) | GOOD | {"post_to": CHANNEL_ID}
    await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=form_id, conversation=chat, channel=False))
    assert bot.connector.created[-1]["channelData"]["channel"]["id"] == CHANNEL_ID
    assert "posted in Safeguarding Adults > General" in texts(bot.connector.sent[-1].card)
    assert await count(bot, ConcernRow) == 1


async def test_raising_from_personal_chat_refuses_a_channel_the_bot_is_not_in(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    chat = bot.teams.personal_conversation(PRIYA)
    await bot.send(bot.teams.personal_message(PRIYA, "raise"))
    card = bot.connector.sent[-1].card
    value = submit_data(card) | GOOD | {"post_to": "19:somewhere-else@thread.tacv2"}
    await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=bot.connector.sent[-1].activity_id,
                                         conversation=chat, channel=False))
    assert "Choose one of the team channels I am in" in texts(bot.connector.sent[-1].card)
    assert await count(bot, ConcernRow) == 0


async def test_personal_chat_raise_before_any_team_explains_what_to_do(running_bot: RunningBot) -> None:
    await running_bot.send(running_bot.teams.personal_message(PRIYA, "raise"))
    assert "Add me to a team first" in texts(running_bot.connector.sent[-1].card)


async def test_concerns_lists_the_unscreened_and_provider_shows_history(running_bot: RunningBot) -> None:
    bot = running_bot
    for description in ("First visit: call bells unanswered.", "Second visit: staff rota gaps."):
        card, card_id, thread = await open_form_in_channel(bot)
        await bot.send(bot.teams.card_submit(PRIYA, submit_data(card) | GOOD | {"description": description},
                                             reply_to=card_id, conversation=thread))
    await bot.send(bot.teams.channel_message(TOM, "concerns"))
    listing = texts(bot.connector.sent[-1].card)
    assert listing.index("C-2026-0001") < listing.index("C-2026-0002")
    assert "2 waiting" in listing
    await bot.send(bot.teams.channel_message(TOM, "provider oakwood"))
    history = texts(bot.connector.sent[-1].card)
    assert "Concerns about Oakwood Lodge Nursing Home" in history
    assert history.index("C-2026-0002") < history.index("C-2026-0001")
    await bot.send(bot.teams.channel_message(TOM, "provider Nowhere House"))
    assert 'No provider called \\"Nowhere House\\"' in texts(bot.connector.sent[-1].card)


async def test_being_added_to_a_team_saves_the_reference_and_welcomes_once(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    welcomes = [s for s in bot.connector.sent if s.card and "Hello, I keep" in texts(s.card)]
    assert len(welcomes) == 1
    assert "Safeguarding Adults > General" in texts(welcomes[0].card)
    async with bot.uow() as uow:
        stored = await uow.conversations.get(CHANNEL_ID)
    assert stored is not None and stored.installed
    assert stored.reference["serviceUrl"] == bot.teams.service_url
    assert stored.reference["conversation"]["id"] == CHANNEL_ID


async def test_being_added_to_a_personal_chat_welcomes_once(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_personal_chat(PRIYA))
    await bot.send(bot.teams.bot_added_to_personal_chat(PRIYA))
    assert sum("Hello, I keep" in texts(s.card) for s in bot.connector.sent if s.card) == 1
    assert await count(bot, ConversationRow) == 1


async def test_removal_stops_offering_the_channel(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    await bot.send(bot.teams.bot_removed_from_team(PRIYA))
    await bot.send(bot.teams.personal_message(PRIYA, "raise"))
    assert "Add me to a team first" in texts(bot.connector.sent[-1].card)
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("conversation", CHANNEL_ID)
    assert [e.action for e in events] == ["bot.installed", "bot.removed"]


async def test_when_a_thread_cannot_be_started_the_card_goes_in_the_current_thread(running_bot: RunningBot) -> None:
    bot = running_bot
    bot.connector.fail_create = True
    card, card_id, thread = await open_form_in_channel(bot)
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(card) | GOOD, reply_to=card_id, conversation=thread))
    posted = [s for s in bot.connector.sent if s.card and '"Concern C-2026-0001"' in texts(s.card)]
    assert len(posted) == 1 and posted[0].conversation_id == thread["id"]
    assert await count(bot, ConcernRow) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),
        (b'{"type": "message", "serviceUrl": "http://127.0.0.1:9/", "conversation": {"id": "x"}}',
         "application/json", 400),
        (b'{"type": "message", "serviceUrl": "http://127.0.0.1:9/", "conversation": "x", "from": {"id": "u"}}',
         "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"type=message", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_malformed_requests_get_a_4xx_and_change_nothing(
    running_bot: RunningBot, body: bytes, content_type: str, status: int
) -> None:
    got, text = await running_bot.post_raw(body, content_type)
    assert got == status, text
    assert await count(running_bot, AuditEventRow) == 0


async def test_an_oversized_body_is_refused(running_bot: RunningBot) -> None:
    activity = running_bot.teams.personal_message(PRIYA, "x" * 600_000)
    assert await running_bot.send(activity) == 413


async def test_health_and_readiness(running_bot: RunningBot) -> None:
    async with running_bot.http.get(running_bot.url + "/healthz") as response:
        assert response.status == 200
    async with running_bot.http.get(running_bot.url + "/readyz") as response:
        assert response.status == 200 and (await response.json())["database"] == "ok"
