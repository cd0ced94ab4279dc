"""The per-user command rate (issue 6) over real HTTP: a burst is taken, the next command is refused with one
private notice and changes nothing, the bucket refills as time passes, and each person has their own."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import THROTTLE, init_app
from bot.settings import ConfigurationError, Settings
from bot.throttle import Throttle, UserRate
from storage.models import AuditEventRow, ConcernRow
from tests.bot.conftest import RunningBot
from tests.bot.test_http import GOOD, count, open_form_in_channel, submit_data
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TOM, Teams
from tests.support.clock import FixedClock
from tests.support.connector import ConnectorStub

# 30 a minute (one every 2 s) with 3 at once: small enough to reach in a test without sending dozens.
RATE = UserRate(commands=30, seconds=60, burst=3)
PARTNER = "0d9a6c2e-5b1f-4c3a-9e8d-7f6a5b4c3d2e"
HELP = "Provider concerns: what I can do"
SLOW_DOWN = "You are sending commands faster than I can take them"


class Monotonic:
    """The throttle's clock, moved by hand: no test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
async def bot(database_url: str, clock: FixedClock, monotonic: Monotonic) -> AsyncIterator[RunningBot]:
    connector = ConnectorStub()
    connector_server = TestServer(connector.app(), host="127.0.0.1")
    await connector_server.start_server()
    app = init_app(Settings(database_url=database_url, dev=True, user_rate=RATE), clock=clock, migrate=False)
    app[THROTTLE].monotonic = monotonic
    bot_server = TestServer(app, host="127.0.0.1")
    await bot_server.start_server()
    async with aiohttp.ClientSession() as http:
        yield RunningBot(url=str(bot_server.make_url("")).rstrip("/"), http=http, connector=connector,
                         teams=Teams(str(connector_server.make_url("/"))), app=app)
    await bot_server.close()
    await connector_server.close()


async def throttled(bot: RunningBot) -> int:
    async with bot.http.get(bot.url + "/metrics") as response:
        found = re.search(r"^concerns_bot_activities_throttled_total (\d+)$", await response.text(), re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def said(bot: RunningBot) -> list[str]:
    """Everything the bot sent since the last clear, as text (cards flattened), in order."""
    return [json.dumps(sent.body, ensure_ascii=False) for sent in bot.connector.sent]


async def test_a_burst_is_taken_and_the_next_command_gets_one_notice_and_nothing_else(bot: RunningBot) -> None:
    for _ in range(RATE.burst):
        assert await bot.send(bot.teams.personal_message(PRIYA, "help")) == 201
    assert len(said(bot)) == RATE.burst and all(HELP in text for text in said(bot))
    bot.connector.clear()

    assert await bot.send(bot.teams.personal_message(PRIYA, "help")) == 201
    assert len(bot.connector.sent) == 1 and HELP not in said(bot)[0]
    assert bot.connector.sent[0].text == (f"{SLOW_DOWN}; wait 2 seconds, then send it again. "
                                          "I did nothing with what you sent just now.")
    assert bot.connector.sent[0].conversation_id == f"a:personal-{PRIYA.aad}"  # a 1:1 chat is already private
    bot.connector.clear()

    for _ in range(3):  # told once, not for every refused command
        assert await bot.send(bot.teams.personal_message(PRIYA, "help")) == 201
    assert bot.connector.sent == []
    assert await throttled(bot) == 4


async def test_a_raise_over_the_limit_in_a_channel_stores_nothing_and_is_told_privately(
    bot: RunningBot, monotonic: Monotonic
) -> None:
    card, card_id, thread = await open_form_in_channel(bot)
    for _ in range(RATE.burst - 1):
        assert await bot.send(bot.teams.channel_message(PRIYA, "concerns")) == 201
    bot.connector.clear()
    audit_before = await count(bot, AuditEventRow)

    raise_it = bot.teams.card_submit(PRIYA, submit_data(card) | GOOD, reply_to=card_id, conversation=thread)
    assert await bot.send(raise_it) == 201
    assert await count(bot, ConcernRow) == 0 and await count(bot, AuditEventRow) == audit_before
    # Told in a 1:1 chat, not in the channel, where the others would see it.
    assert [s.method for s in bot.connector.sent] == ["CREATE"]
    created = bot.connector.created[-1]
    assert created["isGroup"] is False and created["members"] == [{"id": PRIYA.id}]
    assert created["activity"]["text"].startswith(f"{SLOW_DOWN}; wait 2 seconds")
    bot.connector.clear()

    monotonic.now += 2  # one command's worth
    assert await bot.send(raise_it) == 201
    assert await count(bot, ConcernRow) == 1
    assert all(SLOW_DOWN not in text for text in said(bot))


async def test_the_bucket_refills_as_time_passes_and_a_person_is_told_again_after_a_new_burst(
    bot: RunningBot, monotonic: Monotonic
) -> None:
    for _ in range(RATE.burst + 1):
        await bot.send(bot.teams.personal_message(PRIYA, "help"))
    bot.connector.clear()

    monotonic.now += 1.5  # not yet a whole command's worth
    await bot.send(bot.teams.personal_message(PRIYA, "help"))
    assert bot.connector.sent == []  # still refused, and already told

    monotonic.now += 0.5
    await bot.send(bot.teams.personal_message(PRIYA, "help"))
    assert len(said(bot)) == 1 and HELP in said(bot)[0]
    bot.connector.clear()

    await bot.send(bot.teams.personal_message(PRIYA, "help"))
    assert [sent.text[:len(SLOW_DOWN)] for sent in bot.connector.sent] == [SLOW_DOWN]  # a new spell: told again
    bot.connector.clear()

    monotonic.now += 600  # long idle: the whole burst is back, no more
    for _ in range(RATE.burst):
        await bot.send(bot.teams.personal_message(PRIYA, "help"))
    await bot.send(bot.teams.personal_message(PRIYA, "help"))
    assert [HELP in text for text in said(bot)] == [True] * RATE.burst + [False]


async def test_each_person_and_each_tenant_has_a_bucket_of_their_own(bot: RunningBot) -> None:
    for _ in range(RATE.burst + 1):
        await bot.send(bot.teams.personal_message(PRIYA, "help"))
    bot.connector.clear()

    partner = Teams(bot.teams.service_url, tenant=PARTNER)  # the same AAD id in another tenant is someone else
    for sender in (bot.teams.personal_message(TOM, "help"), bot.teams.channel_message(HELEN, "help"),
                   partner.personal_message(PRIYA, "help")):
        assert await bot.send(sender) == 201
    assert len(said(bot)) == 3 and all(HELP in text for text in said(bot))
    assert await throttled(bot) == 1


async def test_installs_are_never_refused_and_do_not_use_up_commands(bot: RunningBot) -> None:
    for _ in range(RATE.burst):
        await bot.send(bot.teams.personal_message(PRIYA, "help"))
    assert await bot.send(bot.teams.bot_added_to_team(PRIYA)) == 201
    async with bot.uow() as uow:
        installed = await uow.conversations.get(CHANNEL_ID)
    assert installed is not None and installed.installed
    assert await throttled(bot) == 0

    for _ in range(RATE.burst):  # Tom's installs do not use up his commands
        assert await bot.send(bot.teams.bot_added_to_personal_chat(TOM)) == 201
    bot.connector.clear()
    for _ in range(RATE.burst):
        await bot.send(bot.teams.personal_message(TOM, "help"))
    assert len(said(bot)) == RATE.burst and all(HELP in text for text in said(bot))


async def test_an_invoke_over_the_limit_gets_a_429_and_typeahead_is_not_counted(bot: RunningBot) -> None:
    def invoke(name: str) -> dict[str, Any]:
        return bot.teams.personal_message(PRIYA, "") | {"type": "invoke", "name": name, "value": {"queryText": "oak"}}

    for _ in range(RATE.burst * 3):  # a person typing a provider's name: one search per keystroke
        status, _ = await bot.post_raw(json.dumps(invoke("application/search")).encode())
        assert status == 400  # answered by the bot (no invoke is ours yet), not refused for the rate
    for _ in range(RATE.burst):
        status, _ = await bot.post_raw(json.dumps(invoke("adaptiveCard/action")).encode())
        assert status == 400
    status, _ = await bot.post_raw(json.dumps(invoke("adaptiveCard/action")).encode())
    assert status == 429
    assert [sent.text[:len(SLOW_DOWN)] for sent in bot.connector.sent] == [SLOW_DOWN]
    assert await throttled(bot) == 1


def test_idle_buckets_are_forgotten_so_memory_stays_bounded() -> None:
    clock = Monotonic()
    throttle = Throttle(RATE, monotonic=clock, max_buckets=50)
    for number in range(40):
        assert throttle.take(("tenant", f"user-{number}")).allowed
    assert len(throttle) == 40
    clock.now += RATE.burst / RATE.per_second  # long enough for every bucket to be full again
    throttle.take(("tenant", "someone-new"))
    assert len(throttle) == 1

    for number in range(500):  # a flood of made-up ids within the refill time: capped, oldest dropped first
        throttle.take(("tenant", f"flood-{number}"))
    assert len(throttle) == 50
    for _ in range(RATE.burst):
        throttle.take(("tenant", "flood-499"))
    assert not throttle.take(("tenant", "flood-499")).allowed  # the newest is still remembered


def test_the_rate_is_read_from_the_environment_with_a_humane_default() -> None:
    assert Settings.from_environment(env={}).user_rate == UserRate(30, 60, 10)
    assert Settings.from_environment(env={"CONCERNS_USER_RATE": "20/60s"}).user_rate == UserRate(20, 60, 6)
    assert Settings.from_environment(env={"CONCERNS_USER_RATE": "600/1h", "CONCERNS_USER_BURST": "20"}
                                     ).user_rate == UserRate(600, 3600, 20)
    assert Settings.from_environment(env={"CONCERNS_USER_RATE": "off"}).user_rate is None
    # A script driving the Agents Playground is faster than any person; an explicit rate still applies.
    assert Settings.from_environment(env={}, dev=True).user_rate is None
    assert Settings.from_environment(env={"CONCERNS_USER_RATE": "5/1m"}, dev=True).user_rate == UserRate(5, 60, 1)
    for rate, burst in (("fast", ""), ("0/60s", ""), ("30/0s", ""), ("30/60d", ""), ("30/60s", "x"),
                        ("30/60s", "0")):
        with pytest.raises(ConfigurationError, match="CONCERNS_USER_RATE"):
            Settings.from_environment(env={"CONCERNS_USER_RATE": rate, "CONCERNS_USER_BURST": burst})
