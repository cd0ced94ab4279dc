"""Authentication and the tenant allow-list over real HTTP, with locally generated keys.

How the real thing is configured: with `MicrosoftAppId` set, botbuilder validates the bearer token on every
POST to /api/messages against the Bot Framework's OpenID metadata
(https://login.botframework.com/v1/.well-known/openidconfiguration, whose `jwks_uri` lists the signing keys
and the channels each endorses): RS256 signature by a listed key, issuer https://api.botframework.com,
`aud` = the App ID, `exp`/`nbf` with 5 minutes' clock skew, and the `serviceurl` claim equal to the
activity's serviceUrl. These are botbuilder's public-cloud constants, the defaults of
`bot.settings.BotFrameworkEndpoints`, which is not read from the environment.

Here the same checks run against tests/support/jwks.py: OpenID metadata and a JWKS served on 127.0.0.1 and
tokens signed with keys made for the run, the endpoints handed to the app through `Settings.bot_framework`.
Replies need an outbound token from Entra ID (msal, https only), which cannot be had offline, so the accepted
requests here are ones the bot handles without replying (the bot removed from a team it knew about); the
replying paths are covered with the --dev bot elsewhere and, for tenants, below.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer
from botbuilder.schema import Activity
from sqlalchemy import inspect, text

from bot.app import ENGINE, METRICS, SERVICES, init_app
from bot.settings import BotFrameworkConfig, BotFrameworkEndpoints, ConfigurationError, Settings, parse_tenants
from bot.teams import actor_of, conversation_of
from concerns import services
from tests.support.activities import CHANNEL_ID, PRIYA, TENANT, Teams
from tests.support.clock import FixedClock
from tests.support.connector import ConnectorStub
from tests.support.jwks import ISSUER, SigningKey, TokenIssuer, serving

APP_ID = "3c0e9a8e-5b7d-4f2a-9c11-0b0c0d0e0f10"
PARTNER = "9a8b7c6d-1111-4222-8333-944455566677"  # e.g. an NHS trust whose staff sit on the panel
STRANGER = "0e0e0e0e-2222-4333-8444-955566677788"  # an organisation that installed the app on its own


@dataclass(frozen=True)
class Keys:
    published: SigningKey
    unpublished: SigningKey
    webchat_only: SigningKey  # published, but endorsed for another channel


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(SigningKey(), SigningKey(), SigningKey(endorsements=("webchat",)))


@pytest.fixture
def issuer(keys: Keys) -> Iterator[TokenIssuer]:
    with serving(TokenIssuer(APP_ID, published=[keys.published, keys.webchat_only])) as running:
        yield running


@dataclass
class Bot:
    url: str
    http: aiohttp.ClientSession
    connector: ConnectorStub
    service_url: str
    app: Any

    def teams(self, tenant: str = TENANT) -> Teams:
        return Teams(self.service_url, tenant)

    async def post(self, activity: dict[str, Any], token: str | None = None,
                   authorization: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": authorization or f"Bearer {token}"} if (token or authorization) else {}
        async with self.http.post(self.url + "/api/messages", json=activity, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body

    async def rows(self) -> dict[str, int]:
        """How many rows each table holds: a refusal must leave every count as it was."""
        async with self.app[ENGINE].connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            return {name: (await connection.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one()
                    for name in sorted(names)}

    async def audit(self, action: str) -> list[Any]:
        async with self.app[SERVICES].uow() as uow:
            subject_events = await uow.audit.for_subjects([("tenant", t) for t in (TENANT, PARTNER, STRANGER)])
            conversation_events = await uow.audit.for_subject("conversation", CHANNEL_ID)
        return [e for e in subject_events + conversation_events if e.action == action]


@asynccontextmanager
async def running(settings: Settings, clock: FixedClock) -> AsyncIterator[Bot]:
    settings.check()
    connector = ConnectorStub()
    connector_server = TestServer(connector.app(), host="127.0.0.1")
    await connector_server.start_server()
    app = init_app(settings, clock=clock, migrate=False)
    bot_server = TestServer(app, host="127.0.0.1")
    await bot_server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Bot(str(bot_server.make_url("")).rstrip("/"), http, connector,
                      str(connector_server.make_url("/")).rstrip("/") + "/", app)
    finally:
        await bot_server.close()
        await connector_server.close()


def production(database_url: str, endpoints: BotFrameworkEndpoints, **overrides: Any) -> Settings:
    """What an operator runs: SingleTenant with an App ID, no --dev; only the token endpoints are local."""
    return replace(Settings(
        database_url=database_url, app_id=APP_ID, app_password="not-used-offline", app_type="SingleTenant",
        app_tenant_id=TENANT, link_secret="k" * 40, public_url="https://concerns.council.example",
        bot_framework=endpoints,
    ), **overrides)


@pytest.fixture
async def bot(database_url: str, clock: FixedClock, issuer: TokenIssuer) -> AsyncIterator[Bot]:
    async with running(production(database_url, issuer.endpoints()), clock) as started:
        yield started


async def knows_team_channel(bot: Bot, tenant: str = TENANT) -> None:
    """Store the team channel as a place the bot is installed, as an earlier install event would have."""
    activity = Activity().deserialize(bot.teams(tenant).bot_added_to_team(PRIYA))
    app_services = bot.app[SERVICES]
    await services.note_conversation(app_services.uow(), app_services.clock, actor_of(activity),
                                     conversation_of(activity), installing=False)


async def reached_the_bot(bot: Bot, token: str, tenant: str = TENANT) -> None:
    """A removal event, which the bot handles without replying: the stored channel is no longer installed."""
    await knows_team_channel(bot, tenant)
    status, _ = await bot.post(bot.teams(tenant).bot_removed_from_team(PRIYA), token)
    assert status in (200, 201)
    async with bot.app[SERVICES].uow() as uow:
        stored = await uow.conversations.get(CHANNEL_ID)
    assert stored is not None and stored.installed is False
    assert len(await bot.audit("bot.removed")) == 1
    assert bot.connector.sent == [] and bot.connector.created == []


# -- refusals: 401, nothing written, nothing sent ---------------------------------------------------------------

def _bad_tokens(keys: Keys, issuer: TokenIssuer, service_url: str) -> dict[str, dict[str, str]]:
    now = time.time()
    good = {"serviceurl": service_url, "nbf": int(now), "exp": int(now + 3600), "iss": ISSUER, "aud": APP_ID}
    bearer = {
        "expired": issuer.token(service_url, issued=now - 7200),  # an hour past exp, beyond the 5 min skew
        "not yet valid": issuer.token(service_url, issued=now + 600),  # nbf 10 min ahead, beyond the skew
        "wrong audience": issuer.token(service_url, aud="7d7d7d7d-0000-4000-8000-000000000000"),
        "no audience": issuer.token(service_url, aud=None),
        "wrong issuer": issuer.token(service_url, iss="https://sts.evil.example/"),
        # Signed with a key of ours that the JWKS does not list, under the kid of one it does.
        "bad signature": issuer.token(service_url, key=keys.unpublished, kid=keys.published.kid),
        "unknown signing key": issuer.token(service_url, key=keys.unpublished),
        "key not endorsed for msteams": issuer.token(service_url, key=keys.webchat_only),
        "serviceurl does not match": issuer.token(service_url, serviceurl="https://smba.trafficmanager.net/evil/"),
        "no serviceurl claim": issuer.token(service_url, serviceurl=None),
        "unsigned (alg none)": jwt.encode(good, None, algorithm="none", headers={"kid": keys.published.kid}),
        "HS256 with a shared secret": jwt.encode(good, "x" * 32, algorithm="HS256",
                                                 headers={"kid": keys.published.kid}),
        "not a JWT": "not-a-token",
    }
    cases = {name: {"authorization": f"Bearer {token}"} for name, token in bearer.items()}
    cases["no token"] = {}
    cases["not a bearer token"] = {"authorization": "Basic " + "dXNlcjpwYXNz"}
    cases["empty bearer"] = {"authorization": "Bearer "}
    return cases


# Why botbuilder refused each one, as it logs it: so each case fails the check it is about, not another.
REFUSALS = {
    "no token": None,  # refused by the app before botbuilder: no bearer token at all
    "not a bearer token": None,
    "empty bearer": None,
    "expired": "ExpiredSignatureError",
    "not yet valid": "ImmatureSignatureError",
    "wrong audience": "Invalid AppId passed on token",
    "no audience": "'aud' claim missing",
    "wrong issuer": "Identity missing",  # an issuer it does not trust yields no identity
    "bad signature": "InvalidSignatureError",
    "unknown signing key": "IndexError",  # botbuilder looks the kid up with [...][0]
    "key not endorsed for msteams": "Could not validate endorsement key",
    "serviceurl does not match": "Invalid 'serviceurl' claim",
    "no serviceurl claim": "'serviceurl' claim missing",
    "unsigned (alg none)": "signing algorithm not in allowed list",
    "HS256 with a shared secret": "signing algorithm not in allowed list",
    "not a JWT": "DecodeError",
}


@pytest.mark.parametrize("case", REFUSALS)
async def test_a_request_without_a_valid_token_is_refused_with_401_and_changes_nothing(
        bot: Bot, keys: Keys, issuer: TokenIssuer, case: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    before = await bot.rows()
    headers = _bad_tokens(keys, issuer, bot.service_url)[case]
    # A message the bot would answer and remember the conversation of, had it been let in.
    async with bot.http.post(bot.url + "/api/messages", json=bot.teams().personal_message(PRIYA, "help"),
                             headers=headers) as response:
        assert response.status == 401, await response.text()
        assert response.content_type == "application/json"
        assert "error" in await response.json()
    assert await bot.rows() == before
    assert bot.connector.sent == [] and bot.connector.created == []
    assert bot.app[METRICS]["activities_unauthenticated_total"] == 1
    reasons = [r.getMessage() for r in caplog.records if "invalid Bot Framework token" in r.getMessage()]
    if REFUSALS[case] is None:
        assert reasons == []
    else:
        assert len(reasons) == 1 and REFUSALS[case] in reasons[0], reasons


async def test_every_refusal_kind_is_covered(keys: Keys, issuer: TokenIssuer) -> None:
    assert sorted(_bad_tokens(keys, issuer, "http://127.0.0.1/")) == sorted(REFUSALS)


async def test_the_token_is_checked_before_the_body(bot: Bot) -> None:
    """Without a bearer token even a malformed body gets 401: nothing about the bot is revealed."""
    async with bot.http.post(bot.url + "/api/messages", data=b"{not json",
                             headers={"Content-Type": "application/json"}) as response:
        assert response.status == 401


# -- acceptance ------------------------------------------------------------------------------------------------

async def test_a_valid_token_reaches_the_bot(bot: Bot, issuer: TokenIssuer) -> None:
    await reached_the_bot(bot, issuer.token(bot.service_url))
    assert issuer.metadata_requests == 1


@pytest.mark.parametrize("skew", ["expired 2 minutes ago", "valid from 2 minutes ahead"])
async def test_clock_skew_of_under_5_minutes_is_tolerated(bot: Bot, issuer: TokenIssuer, skew: str) -> None:
    now = time.time()
    token = (issuer.token(bot.service_url, issued=now - 3720) if skew.startswith("expired")
             else issuer.token(bot.service_url, issued=now + 120))
    await reached_the_bot(bot, token)


async def test_multi_tenant_registrations_validate_tokens_too(database_url: str, clock: FixedClock,
                                                             issuer: TokenIssuer, keys: Keys) -> None:
    settings = production(database_url, issuer.endpoints(), app_type="MultiTenant", app_tenant_id="",
                          allowed_tenants=(TENANT,))
    async with running(settings, clock) as multi:
        status, _ = await multi.post(multi.teams().personal_message(PRIYA, "help"),
                                     issuer.token(multi.service_url, key=keys.unpublished))
        assert status == 401
        await reached_the_bot(multi, issuer.token(multi.service_url))


async def test_the_app_keeps_serving_while_the_keys_load(bot: Bot, issuer: TokenIssuer) -> None:
    """botbuilder fetches the OpenID metadata with blocking calls; they must not stall other requests."""
    issuer.delay = 1.5
    await knows_team_channel(bot)
    pending = asyncio.ensure_future(bot.post(bot.teams().bot_removed_from_team(PRIYA), issuer.token(bot.service_url)))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    async with bot.http.get(bot.url + "/healthz") as response:
        assert response.status == 200
    assert time.monotonic() - started < 1.0
    assert not pending.done()
    status, _ = await pending
    assert status == 201


async def test_unreachable_key_metadata_is_503_not_401_or_500(database_url: str, clock: FixedClock,
                                                              issuer: TokenIssuer) -> None:
    nowhere = replace(issuer.endpoints(), channel_openid_metadata_url="http://127.0.0.1:9/v1/.well-known/openid")
    async with running(production(database_url, nowhere), clock) as stranded:
        before = await stranded.rows()
        status, body = await stranded.post(stranded.teams().personal_message(PRIYA, "help"),
                                           issuer.token(stranded.service_url))
        assert status == 503 and "error" in body
        assert await stranded.rows() == before


# -- the tenant allow-list ---------------------------------------------------------------------------------------

async def test_another_tenant_is_refused_with_403_and_audited(bot: Bot, issuer: TokenIssuer) -> None:
    before = await bot.rows()
    stranger = bot.teams(STRANGER)
    status, body = await bot.post(stranger.personal_message(PRIYA, "help"), issuer.token(bot.service_url))
    assert status == 403 and "error" in body
    after = await bot.rows()
    assert {name: count - before[name] for name, count in after.items() if count != before[name]} == {
        "audit_events": 1}
    [refusal] = await bot.audit("tenant.refused")
    assert (refusal.tenant_id, refusal.subject_type, refusal.subject_ref) == (STRANGER, "tenant", STRANGER)
    assert (refusal.actor_id, refusal.actor_name) == (PRIYA.aad, PRIYA.name)
    assert refusal.details["activity_type"] == "message"
    assert bot.connector.sent == []
    assert bot.app[METRICS]["activities_tenant_refused_total"] == 1


async def test_another_tenant_with_a_bad_token_gets_401_and_no_audit_row(bot: Bot, issuer: TokenIssuer,
                                                                         keys: Keys) -> None:
    """Authentication comes first, so nobody can fill the audit trail without a Bot Framework token."""
    before = await bot.rows()
    status, _ = await bot.post(bot.teams(STRANGER).personal_message(PRIYA, "help"),
                               issuer.token(bot.service_url, key=keys.unpublished))
    assert status == 401
    assert await bot.rows() == before


async def test_the_home_tenant_and_listed_partners_are_served(database_url: str, clock: FixedClock,
                                                              issuer: TokenIssuer) -> None:
    settings = production(database_url, issuer.endpoints(), allowed_tenants=(PARTNER,))
    assert settings.tenant_allow_list() == {TENANT, PARTNER}
    async with running(settings, clock) as bot:
        await reached_the_bot(bot, issuer.token(bot.service_url), tenant=PARTNER)
        status, _ = await bot.post(bot.teams(STRANGER).bot_removed_from_team(PRIYA), issuer.token(bot.service_url))
        assert status == 403


async def test_in_dev_a_listed_tenant_is_answered_and_others_refused(database_url: str, clock: FixedClock) -> None:
    """--dev with CONCERNS_ALLOWED_TENANTS: no tokens, but the list applies, so replies can be checked too."""
    async with running(Settings(database_url=database_url, dev=True, allowed_tenants=(PARTNER,)), clock) as dev:
        status, _ = await dev.post(dev.teams(PARTNER).personal_message(PRIYA, "help"))
        assert status in (200, 201)
        assert len(dev.connector.sent) == 1
        status, _ = await dev.post(dev.teams(STRANGER).personal_message(PRIYA, "help"))
        assert status == 403
        assert len(dev.connector.sent) == 1
        assert [e.tenant_id for e in await dev.audit("tenant.refused")] == [STRANGER]


async def test_in_dev_without_a_list_any_tenant_is_answered(database_url: str, clock: FixedClock) -> None:
    async with running(Settings(database_url=database_url, dev=True), clock) as dev:
        for tenant in (TENANT, STRANGER, "5f3c9d2e-1a4b-4c6d-8e7f-0a1b2c3d4e5f"):  # the last: the Playground's
            status, _ = await dev.post(dev.teams(tenant).personal_message(PRIYA, "help"))
            assert status in (200, 201)
        assert len(dev.connector.sent) == 3


# -- configuration -----------------------------------------------------------------------------------------------

def test_the_allowed_tenants_variable_is_a_list_of_tenant_ids() -> None:
    assert parse_tenants(f" {PARTNER.upper()} ,, {STRANGER},{PARTNER}") == (PARTNER, STRANGER)
    assert parse_tenants("") == ()
    with pytest.raises(ConfigurationError, match="not a tenant id"):
        parse_tenants("contoso.onmicrosoft.com")
    env = {"CONCERNS_ALLOWED_TENANTS": f"{PARTNER}", "MicrosoftAppId": APP_ID, "MicrosoftAppTenantId": TENANT}
    assert Settings.from_environment(env=env).tenant_allow_list() == {PARTNER, TENANT}


def test_single_tenant_serves_its_home_tenant_by_default() -> None:
    settings = production("sqlite+aiosqlite://", BotFrameworkEndpoints())
    settings.check()
    assert settings.tenant_allow_list() == {TENANT}


def test_multi_tenant_needs_the_allow_list_outside_dev() -> None:
    multi = replace(production("sqlite+aiosqlite://", BotFrameworkEndpoints()), app_type="MultiTenant",
                    app_tenant_id="")
    with pytest.raises(ConfigurationError, match="CONCERNS_ALLOWED_TENANTS"):
        multi.check()
    with pytest.raises(ConfigurationError, match="CONCERNS_ALLOWED_TENANTS"):
        replace(multi, app_tenant_id=TENANT).check()  # a home tenant alone is not enough for MultiTenant
    replace(multi, allowed_tenants=(PARTNER,)).check()
    replace(multi, dev=True, host="127.0.0.1").check()
    assert replace(multi, dev=True).tenant_allow_list() is None
    # Without an App ID (the Playground) a stray MicrosoftAppTenantId does not close the bot.
    assert Settings(database_url="sqlite+aiosqlite://", dev=True, app_tenant_id=TENANT).tenant_allow_list() is None


def test_token_validation_defaults_to_the_bot_framework_and_cannot_be_moved_by_the_environment() -> None:
    endpoints = BotFrameworkEndpoints()
    assert endpoints.channel_openid_metadata_url == "https://login.botframework.com/v1/.well-known/openidconfiguration"
    assert endpoints.channel_token_issuer == "https://api.botframework.com"
    env = {"MicrosoftAppId": APP_ID, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": "http://127.0.0.1:1/evil",
           "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": "https://evil.example", "CONCERNS_BOT_FRAMEWORK": "x"}
    assert Settings.from_environment(env=env).bot_framework == endpoints


def test_the_botbuilder_configuration_sets_every_endpoint_with_an_app_id_and_none_without() -> None:
    names = ["TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER",
             "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", "TO_CHANNEL_FROM_BOT_LOGIN_URL",
             "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE", "OAUTH_URL", "CALLER_ID"]
    with_id = BotFrameworkConfig(production("sqlite+aiosqlite://", BotFrameworkEndpoints()))
    assert all(getattr(with_id, name) for name in names)
    assert with_id.CALLER_ID == "urn:botframework:azure"
    dev = BotFrameworkConfig(Settings(database_url="sqlite+aiosqlite://", dev=True))
    assert not any(hasattr(dev, name) for name in names)
