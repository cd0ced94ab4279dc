"""Connector calls with reused clients and tokens, over real HTTP to local stand-ins for Microsoft's cloud.

With an App ID the bot gets its token from Entra ID exactly as in production: msal talks https to
login.microsoftonline.com, here answered by the benchmark's stub (bench/stub.py) through its HTTPS proxy with a
certificate from a CA made for the test, which the process trusts alone. The same stub is the Bot Connector
(it refuses any call without a token it issued) and serves the channel's OpenID metadata and keys, so the
bot's incoming tokens are checked as in production too. --dev runs against tests/support's connector stubs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestServer
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationParameters, ConversationReference
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import JwtTokenExtractor, MicrosoftAppCredentials
from botframework.connector.auth._connector_factory_impl import USER_AGENT
from msrest.exceptions import HttpOperationError

from bench.pki import make_keys
from bench.stub import METADATA_PATH, Stub
from bot.app import ADAPTER, METRICS, init_app
from bot.connector import ReusingBotFrameworkAuthentication, proxy_for
from bot.proactive import as_send_failed
from bot.settings import BotFrameworkConfig, BotFrameworkEndpoints, Settings
from storage.migrate import upgrade
from tests.support.activities import CHANNEL_ID, PRIYA, TENANT, TOM, Teams
from tests.support.clock import FixedClock
from tests.support.connector import ConnectorStub
from tests.support.fault_connector import Answer, FaultConnector

APP_ID = "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
APP_PASSWORD = "test-only-client-secret"
TURNS = 6


@dataclass
class Seen:
    """One request as the connector received it."""

    method: str
    path: str
    authorization: str | None
    user_agent: str | None
    status: int


def recording(seen: list[Seen]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith("/v3/"):
            seen.append(Seen(request.method, request.path, request.headers.get("Authorization"),
                             request.headers.get("User-Agent"), response.status))
        return response

    return record


def sdk_user_agent() -> str:
    """The User-Agent botbuilder's own connector factory sets on its clients."""
    client = ConnectorClient(MicrosoftAppCredentials.empty(), base_url="https://smba.trafficmanager.net/emea/")
    client.config.add_user_agent(USER_AGENT)
    return str(client.config.user_agent)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concerns.db'}"
    await upgrade(url)
    return url


@dataclass
class Cloud:
    """Entra ID, the channel's keys and the Bot Connector, as bench/stub.py plays them."""

    stub: Stub
    url: str
    seen: list[Seen] = field(default_factory=list)

    def token(self, service_url: str | None = None) -> str:
        return self.stub.keys.channel_token(APP_ID, service_url or self.service_url)

    @property
    def service_url(self) -> str:
        return self.url + "/"

    def connector_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/v3/")]


@pytest.fixture
async def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cloud]:
    keys = make_keys(tmp_path / "keys")
    stub = Stub(keys, APP_ID, APP_PASSWORD)
    seen: list[Seen] = []
    app = stub.app()
    app.middlewares.append(recording(seen))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stub.base_url = str(server.make_url("")).rstrip("/")
    tunnels: set[asyncio.StreamWriter] = set()

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tunnels.add(writer)
        try:
            await stub.proxy(reader, writer)
        finally:
            tunnels.discard(writer)

    proxy = await asyncio.start_server(tunnel, "127.0.0.1", 0)
    proxy_url = f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy_url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(keys.ca_cert))
    # botbuilder holds the keys it fetched per metadata URL for the whole process. Every stub signs under the
    # same key id with a key of its own, and a later test's stub may be given a port an earlier one had: it
    # must not be checked with that one's keys.
    metadata_url = stub.base_url + METADATA_PATH
    JwtTokenExtractor.metadataCache.pop(metadata_url, None)
    try:
        yield Cloud(stub, stub.base_url, seen)
    finally:
        JwtTokenExtractor.metadataCache.pop(metadata_url, None)
        # msal keeps its tunnel to "Entra ID" open; end it so the proxy's handlers finish rather than being cancelled.
        for writer in list(tunnels):
            writer.close()
        proxy.close()
        await proxy.wait_closed()
        await server.close()


def production(database_url: str, cloud: Cloud) -> Settings:
    metadata = cloud.url + METADATA_PATH
    return Settings(database_url=database_url, app_id=APP_ID, app_password=APP_PASSWORD, app_type="SingleTenant",
                    app_tenant_id=TENANT, link_secret="k" * 40, public_url="https://concerns.council.example",
                    bot_framework=replace(BotFrameworkEndpoints(), channel_openid_metadata_url=metadata,
                                          emulator_openid_metadata_url=metadata))


@dataclass
class Bot:
    url: str
    http: aiohttp.ClientSession
    app: web.Application

    async def post(self, activity: dict[str, Any], token: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(self.url + "/api/messages", json=activity, headers=headers) as response:
            await response.read()
            return response.status

    @property
    def auth(self) -> ReusingBotFrameworkAuthentication:
        auth = self.app[ADAPTER].bot_framework_authentication
        assert isinstance(auth, ReusingBotFrameworkAuthentication)
        return auth


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Settings], Any]]:
    started: list[TestServer] = []

    async def start(settings: Settings) -> Bot:
        settings.check()
        server = TestServer(init_app(settings, clock=FixedClock("2026-11-23T10:30:00+00:00"), migrate=False),
                            host="127.0.0.1")
        await server.start_server()
        started.append(server)
        return Bot(str(server.make_url("")).rstrip("/"), http, server.app)

    async with aiohttp.ClientSession() as http:
        yield start
        for server in started:
            await server.close()


# -- one token, one client ---------------------------------------------------------------------------------------

async def test_many_turns_fetch_one_token_and_every_call_carries_it_with_the_sdk_user_agent(
        sqlite_url: str, cloud: Cloud, running: Callable[[Settings], Any]) -> None:
    bot = await running(production(sqlite_url, cloud))
    teams = Teams(cloud.service_url)
    token = cloud.token()
    for _ in range(TURNS):
        assert await bot.post(teams.personal_message(PRIYA, "help"), token) == 201
    counts = cloud.stub.counts
    assert counts["entra_token"] == 1 and counts["entra_discovery"] == 1
    assert counts["connector_send"] == TURNS and counts["connector_unauthorised"] == 0
    [issued] = cloud.stub.tokens
    calls = cloud.connector_calls()
    assert len(calls) == TURNS
    assert {c.authorization for c in calls} == {f"Bearer {issued}"}
    assert {c.user_agent for c in calls} == {sdk_user_agent()}
    assert "Microsoft-BotFramework/3.1 (BotBuilder Python/4.17" in sdk_user_agent()
    assert bot.auth.cache.clients_built == 1
    assert bot.app[METRICS]["turn_errors_total"] == 0
    # Every reply's body written by bot.wire's plan (tests/bot/test_wire.py: the same JSON as msrest's).
    assert bot.auth.cache.wire is not None
    assert (bot.auth.cache.wire.planned, bot.auth.cache.wire.fallbacks) == (TURNS, 0)
    # Handed out without asking msal (or leaving the event loop) until msal itself would refresh it.
    [tokens] = bot.auth.cache.credentials.values()
    assert abs(tokens.valid_until - (time.time() + 3599 - 300)) < 30


async def test_one_client_per_service_url_each_reused(sqlite_url: str, cloud: Cloud,
                                                      running: Callable[[Settings], Any]) -> None:
    """Teams has a service URL per region; a second one gets its own client, and the same token."""
    bot = await running(production(sqlite_url, cloud))
    port = cloud.url.rsplit(":", 1)[1]
    regions = [f"http://127.0.0.1:{port}/", f"http://localhost:{port}/"]
    for turn in range(TURNS):
        service_url = regions[turn % 2]
        status = await bot.post(Teams(service_url).personal_message(PRIYA, "help"), cloud.token(service_url))
        assert status == 201
    assert bot.auth.cache.clients_built == 2 and len(bot.auth.cache.clients) == 2
    assert cloud.stub.counts["entra_token"] == 1
    assert cloud.stub.counts["connector_send"] == TURNS


async def test_proactive_sends_share_the_clients_and_the_token(sqlite_url: str, cloud: Cloud,
                                                               running: Callable[[Settings], Any]) -> None:
    """Reminders (continue_conversation) and new threads (create_conversation) go through the same factory:
    a reply, an update in place, a paged member list and a new channel thread, all with the one token."""
    bot = await running(production(sqlite_url, cloud))
    teams = Teams(cloud.service_url)
    assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    adapter = bot.app[ADAPTER]
    reference = ConversationReference().deserialize({
        "serviceUrl": cloud.service_url, "channelId": "msteams", "conversation": {"id": CHANNEL_ID},
        "bot": {"id": "28:" + APP_ID, "name": "Concerns Bot"}})
    outcome: dict[str, Any] = {}

    async def remind(context: TurnContext) -> None:
        sent = await context.send_activity(Activity(type=ActivityTypes.message, text="Reminder: action due today"))
        await context.update_activity(Activity(id=sent.id, type=ActivityTypes.message, text="Reminder (done)"))
        outcome["sent"] = sent.id
        connector = context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
        outcome["members"] = await connector.conversations.get_conversation_paged_members(CHANNEL_ID, page_size=50)

    await adapter.continue_conversation(reference, remind, APP_ID)

    async def thread(context: TurnContext) -> None:
        outcome["thread"] = context.activity.conversation.id

    parameters = ConversationParameters(
        is_group=True, bot=ChannelAccount(id="28:" + APP_ID), tenant_id=TENANT,
        channel_data={"channel": {"id": CHANNEL_ID}, "tenant": {"id": TENANT}},
        activity=Activity(type=ActivityTypes.message, text="New concern PC-2026-0001"))
    await adapter.create_conversation(APP_ID, thread, parameters, "msteams", cloud.service_url, None)

    assert outcome["sent"] and outcome["members"].members == []
    assert outcome["thread"].startswith(CHANNEL_ID + ";messageid=")
    calls = cloud.connector_calls()
    assert [c.method for c in calls] == ["POST", "POST", "PUT", "GET", "POST"]
    assert all(c.status in (200, 201) for c in calls)
    [issued] = cloud.stub.tokens
    assert {c.authorization for c in calls} == {f"Bearer {issued}"}
    assert cloud.stub.counts["entra_token"] == 1
    assert bot.auth.cache.clients_built == 1


async def test_the_token_is_fetched_again_when_msal_would_refresh_it(sqlite_url: str, cloud: Cloud,
                                                                    running: Callable[[Settings], Any]) -> None:
    """The stub's tokens live an hour; msal stops serving one with under 5 minutes left."""
    bot = await running(production(sqlite_url, cloud))
    teams = Teams(cloud.service_url)
    for _ in range(2):
        assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    [first] = cloud.stub.tokens
    with time_machine.travel(time.time() + 3599 - 240, tick=True):
        for _ in range(2):
            # A fresh channel token: the incoming one is checked against the travelled clock too.
            assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    assert cloud.stub.counts["entra_token"] == 2
    [second] = cloud.stub.tokens - {first}
    assert [c.authorization for c in cloud.connector_calls()] == [f"Bearer {first}"] * 2 + [f"Bearer {second}"] * 2


# -- failures --------------------------------------------------------------------------------------------------

async def test_a_401_from_the_connector_is_a_logged_turn_error_and_the_app_carries_on(
        sqlite_url: str, cloud: Cloud, running: Callable[[Settings], Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bot.app")
    bot = await running(production(sqlite_url, cloud))
    teams = Teams(cloud.service_url)
    assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    issued = set(cloud.stub.tokens)
    cloud.stub.tokens.clear()  # the connector no longer accepts the bot's token
    assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    assert bot.app[METRICS]["turn_errors_total"] == 1
    [failure] = [r for r in caplog.records if r.getMessage().startswith("turn failed")]
    assert isinstance(failure.exc_info[1], HttpOperationError)
    assert failure.exc_info[1].response.status_code == 401
    cloud.stub.tokens.update(issued)
    assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    assert bot.app[METRICS]["turn_errors_total"] == 1
    assert [c.status for c in cloud.connector_calls()] == [201, 401, 401, 201]  # the reply, then the apology


async def test_a_500_on_a_reply_is_not_retried_and_is_a_logged_turn_error(
        sqlite_url: str, running: Callable[[Settings], Any], caplog: pytest.LogCaptureFixture) -> None:
    """As botbuilder: a POST is never retried (it may have been delivered); the turn error handler reports it."""
    caplog.set_level(logging.ERROR, logger="bot.app")
    connector = FaultConnector()
    server = TestServer(connector.app(), host="127.0.0.1")
    await server.start_server()
    try:
        bot = await running(Settings(database_url=sqlite_url, dev=True))
        teams = Teams(str(server.make_url("/")))
        connector.script(Answer.error(500))
        assert await bot.post(teams.personal_message(TOM, "help")) == 201
        assert bot.app[METRICS]["turn_errors_total"] == 1
        [failure] = [r for r in caplog.records if r.getMessage().startswith("turn failed")]
        assert failure.exc_info[1].response.status_code == 500
        # The reply once (500, not retried), then the apology, which got through.
        assert [r.answer.label for r in connector.requests] == ["500", "ok"]
        assert "incident" in connector.accepted[0].text
        assert await bot.post(teams.personal_message(TOM, "help")) == 201
        assert bot.app[METRICS]["turn_errors_total"] == 1
    finally:
        await server.close()


async def test_a_throttled_proactive_send_reports_the_status_and_retry_after_to_the_outbox(
        sqlite_url: str, running: Callable[[Settings], Any]) -> None:
    """The outbox reschedules a 429 by its Retry-After (bot.proactive.as_send_failed reads both off the error)."""
    connector = FaultConnector()
    server = TestServer(connector.app(), host="127.0.0.1")
    await server.start_server()
    try:
        bot = await running(Settings(database_url=sqlite_url, dev=True))
        reference = ConversationReference().deserialize({
            "serviceUrl": str(server.make_url("/")), "channelId": "msteams", "conversation": {"id": CHANNEL_ID},
            "bot": {"id": "28:concerns-bot", "name": "Concerns Bot"}})
        errors: list[Exception] = []

        async def remind(context: TurnContext) -> None:
            try:
                await context.send_activity(Activity(type=ActivityTypes.message, text="Reminder: action due today"))
            except Exception as error:
                errors.append(error)

        connector.script(Answer.throttled(30), Answer.error(503))
        for _ in range(3):
            await bot.app[ADAPTER].continue_conversation(reference, remind, "")
        throttled, unavailable = (as_send_failed(error) for error in errors)
        assert (throttled.status, throttled.retry_after) == (429, 30)
        assert (unavailable.status, unavailable.retry_after, unavailable.transient) == (503, None, True)
        assert [r.answer.label for r in connector.requests] == ["429", "503", "ok"]  # a POST is not retried
        assert [a.text for a in connector.accepted] == ["Reminder: action due today"]
    finally:
        await server.close()


@dataclass
class Flaky:
    """A connector whose updates fail with 503 a given number of times first."""

    failures: int
    seen: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        return app

    async def _update(self, request: web.Request) -> web.Response:
        self.seen.append("PUT")
        if self.failures > 0:
            self.failures -= 1
            return web.json_response({"error": {"code": "ServiceUnavailable"}}, status=503,
                                     headers={"Retry-After": "0"})
        return web.json_response({"id": request.match_info["activity"]})

    async def _reply(self, request: web.Request) -> web.Response:
        self.seen.append("POST")
        return web.json_response({"error": {"code": "ServiceUnavailable"}}, status=503)


async def test_an_update_is_retried_on_503_and_a_reply_is_not() -> None:
    flaky = Flaky(failures=2)
    server = TestServer(flaky.app(), host="127.0.0.1")
    await server.start_server()
    conversation = "19:general-safeguarding@thread.tacv2"
    try:
        async with aiohttp.ClientSession() as session:
            auth = ReusingBotFrameworkAuthentication(
                BotFrameworkConfig(Settings(database_url="sqlite+aiosqlite://", dev=True)), session)
            auth.cache.sender.sleep = _no_wait
            factory = auth.create_connector_factory(_anonymous())
            client = await factory.create(str(server.make_url("/")))
            updated = await client.conversations.update_activity(
                conversation, "1700000000001", Activity(type=ActivityTypes.message, text="Vote closed"))
            assert updated.id == "1700000000001"
            assert flaky.seen == ["PUT", "PUT", "PUT"]
            with pytest.raises(HttpOperationError) as raised:
                await client.conversations.reply_to_activity(
                    conversation, "1700000000001", Activity(type=ActivityTypes.message, text="Vote closed"))
            assert raised.value.response.status_code == 503
            assert flaky.seen == ["PUT", "PUT", "PUT", "POST"]
    finally:
        await server.close()


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def _anonymous() -> Any:
    from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity

    return ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)


# -- --dev -----------------------------------------------------------------------------------------------------

async def test_in_dev_replies_go_out_without_an_authorization_header(
        sqlite_url: str, running: Callable[[Settings], Any]) -> None:
    connector = ConnectorStub()
    seen: list[Seen] = []
    app = connector.app()
    app.middlewares.append(recording(seen))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        bot = await running(Settings(database_url=sqlite_url, dev=True))
        teams = Teams(str(server.make_url("/")))
        for _ in range(3):
            assert await bot.post(teams.personal_message(PRIYA, "help")) == 201
        assert len(connector.sent) == 3
        assert [(s.method, s.authorization, s.status) for s in seen] == [("POST", None, 201)] * 3
        assert {s.user_agent for s in seen} == {sdk_user_agent()}
        assert bot.auth.cache.clients_built == 1
    finally:
        await server.close()


# -- incoming tokens -------------------------------------------------------------------------------------------

async def test_with_the_keys_loaded_tokens_are_still_checked_in_full(
        sqlite_url: str, cloud: Cloud, running: Callable[[Settings], Any]) -> None:
    """After the first request the keys are held and checks run on the event loop; each check still refuses."""
    bot = await running(production(sqlite_url, cloud))
    teams = Teams(cloud.service_url)
    assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    assert cloud.stub.counts["openid_metadata"] == 1
    keys = cloud.stub.keys
    import jwt

    signing = keys.signing_key.read_bytes()
    now = int(time.time())
    good = {"serviceurl": cloud.service_url, "nbf": now - 5, "exp": now + 3600, "iss": "https://api.botframework.com",
            "aud": APP_ID}
    headers = {"kid": "bench-signing-key"}
    bad = {
        "expired": good | {"nbf": now - 7200, "exp": now - 3600},
        "wrong audience": good | {"aud": str(uuid.uuid4())},
        "wrong issuer": good | {"iss": "https://sts.evil.example/"},
        "serviceurl does not match": good | {"serviceurl": "https://smba.trafficmanager.net/evil/"},
    }
    for name, claims in bad.items():
        token = jwt.encode(claims, signing, algorithm="RS256", headers=headers)
        assert bot.auth.checks_without_fetching(f"Bearer {token}"), name
        assert await bot.post(teams.personal_message(PRIYA, "help"), token) == 401, name
    assert bot.app[METRICS]["activities_unauthenticated_total"] == len(bad)
    assert await bot.post(teams.personal_message(PRIYA, "help"), cloud.token()) == 201
    assert cloud.stub.counts["openid_metadata"] == 1
    assert cloud.stub.counts["connector_send"] == 2


def test_connector_calls_take_the_environment_proxy_except_for_hosts_in_no_proxy(monkeypatch: Any) -> None:
    # Read once per app start (connector_session), not on every call as aiohttp's trust_env would.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.council.internal:8080")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,.council.internal")
    for name in ("https_proxy", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy_for.cache_clear()
    assert proxy_for("https", "smba.trafficmanager.net") == "http://proxy.council.internal:8080"
    assert proxy_for("https", "bot.council.internal") is None
    assert proxy_for("http", "127.0.0.1") is None
    monkeypatch.setenv("NO_PROXY", "smba.trafficmanager.net")
    assert proxy_for("https", "smba.trafficmanager.net") is not None  # cached until the app starts again
    proxy_for.cache_clear()
    assert proxy_for("https", "smba.trafficmanager.net") is None


def test_which_keys_check_a_token_is_decided_as_botbuilder_decides_and_once_per_token(monkeypatch: Any) -> None:
    import jwt
    from botframework.connector.auth import EmulatorValidation, SkillValidation

    from bot import connector

    decodes = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k))
    connector._emulators_keys.cache_clear()
    emulator_issuer = EmulatorValidation.TO_BOT_FROM_EMULATOR_TOKEN_VALIDATION_PARAMETERS.issuer[0]
    tokens = {
        "channel": {"iss": "https://api.botframework.com", "aud": APP_ID},
        "emulator": {"iss": emulator_issuer, "aud": APP_ID, "ver": "1.0", "appid": str(uuid.uuid4())},
        "skill": {"iss": "https://login.microsoftonline.com/x/v2.0", "aud": APP_ID, "ver": "2.0",
                  "azp": str(uuid.uuid4())},
    }
    for name, claims in tokens.items():
        header = "Bearer " + jwt.encode(claims, "secret-key-for-this-test-only-0123", algorithm="HS256")
        expected = SkillValidation.is_skill_token(header) or EmulatorValidation.is_token_from_emulator(header)
        assert expected == (name != "channel"), name
        decodes.clear()
        assert [connector._emulators_keys(header) for _ in range(5)] == [expected] * 5, name
        assert 1 <= len(decodes) <= 2, name  # decided once (one decode or two), then remembered
