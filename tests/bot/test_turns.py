"""The bot's turns through botbuilder's TestAdapter: fast, in-process, no HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot.handler import ConcernsBot
from bot.state import FormStore, SqlStorage
from bot.turn import BotServices
from concerns.packs import default_packs_dir, load_packs
from storage.kv import DocumentStore
from tests.support.cards import schema_errors
from tests.support.clock import FixedClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def adapter(uow: Any, sessions: Any, clock: FixedClock) -> TestAdapter:
    services = BotServices(uow=uow, clock=clock, forms=FormStore(SqlStorage(DocumentStore(sessions))),
                           packs=load_packs(default_packs_dir()), app_id="")
    bot = ConcernsBot(services)
    return TestAdapter(bot.on_turn, template_or_conversation=Activity(
        channel_id="msteams",
        service_url="https://smba.trafficmanager.net/uk/",
        conversation=ConversationAccount(id="a:personal-priya", conversation_type="personal", tenant_id=TENANT),
        from_property=ChannelAccount(id="29:priya", name="Priya Shah", aad_object_id="aad-priya"),
        recipient=ChannelAccount(id="28:concerns-bot", name="Concerns Bot"),
        channel_data={"tenant": {"id": TENANT}},
    ))


def card_of(activity: Activity) -> dict[str, Any]:
    assert activity.attachments, activity.text
    card = activity.attachments[0].content
    assert schema_errors(card) == []
    return card


async def test_help_answers_with_the_help_card(adapter: TestAdapter) -> None:
    await adapter.send("help")
    assert "Provider concerns: what I can do" in json.dumps(card_of(adapter.get_next_activity()))


async def test_an_empty_message_gets_help(adapter: TestAdapter) -> None:
    await adapter.send(Activity(type=ActivityTypes.message, text="   "))
    assert "what I can do" in json.dumps(card_of(adapter.get_next_activity()))


async def test_unknown_text_gets_i_did_not_understand(adapter: TestAdapter) -> None:
    await adapter.send("make me a cup of tea")
    assert "I did not understand" in json.dumps(card_of(adapter.get_next_activity()))


async def test_an_unknown_card_verb_is_explained(adapter: TestAdapter) -> None:
    await adapter.send(Activity(type=ActivityTypes.message, value={"verb": "case.delete_everything"}))
    assert "not one I know" in json.dumps(card_of(adapter.get_next_activity()))


async def test_a_help_button_works_like_the_command(adapter: TestAdapter) -> None:
    await adapter.send(Activity(type=ActivityTypes.message, value={"verb": "help"}))
    assert "what I can do" in json.dumps(card_of(adapter.get_next_activity()))


async def test_provider_without_a_name_asks_for_one(adapter: TestAdapter) -> None:
    await adapter.send("provider")
    assert "Tell me which provider" in adapter.get_next_activity().text


async def test_concerns_with_none_waiting_says_so(adapter: TestAdapter) -> None:
    await adapter.send("concerns")
    assert "No concerns are waiting to be screened." in json.dumps(card_of(adapter.get_next_activity()))
