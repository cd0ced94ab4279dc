"""Calls to the Bot Connector with reused clients, a reused Entra token and one aiohttp session.

botbuilder 4.17's connector factory builds, for every turn and every proactive message, new
`MicrosoftAppCredentials` (a new msal application with an empty token cache, so a token request to Entra ID
each time), a new msrest `Configuration` (whose retry policy alone costs a third of a turn's CPU) and sends
through `requests` on worker threads; its user-token client is rebuilt on every turn too. Here botbuilder's
own authentication still decides everything (incoming token checks, which App ID and scope, which credentials
class, the User-Agent); only its results are kept: one credentials object per (App ID, scope), one
ConnectorClient per (App ID, scope, service URL), bounded, and the calls go out through one aiohttp session.
Request bodies are written by bot.wire's PlannedSerializer: the same JSON as msrest's, for less CPU.

Differences from botbuilder's requests sender, on purpose:
- timeouts: 10 s to connect and 30 s per attempt (botbuilder: 100 s per read);
- retries are botbuilder's set (GET, PUT, DELETE, HEAD, OPTIONS: 3 retries on 408 and on 5xx other than 501
  and 505, 0 / 1.6 / 3.2 s apart, a 503's Retry-After honoured; no retry of a POST, nor of a 429), but when the
  retries run out the last answer is returned, so the caller sees an ErrorResponseException with its status
  where botbuilder raised a ClientRequestError (urllib3's "too many 500 error responses");
- redirects are not followed (requests followed them; the connector answers none);
- TLS is verified against the system's CA store (requests used certifi's); proxies come from the environment
  (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) as with requests, read once per host rather than on every call as
  aiohttp's `trust_env` would (it also parses ~/.netrc on a worker thread each time); netrc is not read.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import urllib.request
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Generic, TypeVar

import aiohttp
import requests
import yarl
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    EmulatorValidation,
    JwtTokenExtractor,
    SkillValidation,
    UserTokenClient,
)
from botframework.connector.auth._built_in_bot_framework_authentication import _BuiltinBotFrameworkAuthentication
from botframework.connector.auth._connector_factory_impl import USER_AGENT, _ConnectorFactoryImpl
from botframework.connector.skills import BotFrameworkClient
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import AsyncClientResponse, ClientRequest
from multidict import CIMultiDict

from bot.wire import PlannedSerializer

log = logging.getLogger(__name__)

# Service URLs come from authenticated activities and stored conversation references: a handful per
# deployment (one per Teams region), but bounded all the same.
MAX_CLIENTS = 256
CONNECT_TIMEOUT_SECONDS = 10
ATTEMPT_TIMEOUT_SECONDS = 30
# botbuilder's msrest ClientRetryPolicy under urllib3 2.x, which ignores its `method_whitelist`.
RETRIED_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
RETRIES = 3
BACKOFF_SECONDS = 0.8
MAX_BACKOFF_SECONDS = 90.0
# msal serves a cached token only while it has 5 more minutes to live; past that it asks Entra ID again.
MSAL_EXPIRY_MARGIN_SECONDS = 5 * 60
# botbuilder refreshes the channel's OpenID keys once they are a day old, with a blocking request.
KEYS_FRESH_FOR = timedelta(hours=23)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def keep(self, key: K, value: V) -> V:
        """Store `value` unless another arrived first (two turns may build one at once); return the kept one."""
        kept = self._items.setdefault(key, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return kept

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[V]:
        return list(self._items.values())


def connector_session() -> aiohttp.ClientSession:
    """The one HTTP session for connector calls; create it on the app's event loop and close it at cleanup."""
    proxy_for.cache_clear()  # the environment's proxies as they are when the app starts
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
    )


@functools.lru_cache(maxsize=MAX_CLIENTS)
def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment names for calls to this host, as requests would choose it (NO_PROXY honoured)."""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


# -- the bearer token --------------------------------------------------------------------------------------------

class BearerTokens:
    """The token botbuilder's credentials would put on each call, fetched on a worker thread only when msal
    would itself have to go to Entra ID; until then the same token is handed out without leaving the loop."""

    def __init__(self, credentials: AppCredentials) -> None:
        self.credentials = credentials
        self._token: str | None = None
        self._good_until = 0.0
        self._lock = asyncio.Lock()

    @property
    def anonymous(self) -> bool:
        # As AppCredentials._should_set_token: no App ID (--dev) means no Authorization header at all.
        app_id = self.credentials.microsoft_app_id
        return not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID

    @property
    def valid_until(self) -> float:
        """Until when (epoch seconds) the current token is handed out without asking msal."""
        return self._good_until

    async def token(self) -> str | None:
        if self.anonymous:
            return None
        if self._token is not None and time.time() < self._good_until:
            return self._token
        async with self._lock:  # concurrent turns wait for one fetch rather than each starting one
            if self._token is None or time.time() >= self._good_until:
                self._token, self._good_until = await asyncio.to_thread(self._acquire)
            return self._token

    def _acquire(self) -> tuple[str, float]:
        token = self.credentials.get_access_token()  # botbuilder's own call: msal's cache, else Entra ID
        return token, self._msal_good_until(token)

    def _msal_good_until(self, token: str) -> float:
        """Until when msal would hand out this same token from its cache (0: ask msal every time)."""
        app = getattr(self.credentials, "app", None)
        cache = getattr(app, "token_cache", None)
        if cache is None:
            return 0.0
        for entry in cache.search(cache.CredentialType.ACCESS_TOKEN):
            if entry.get("secret") == token:
                until = float(entry["expires_on"]) - MSAL_EXPIRY_MARGIN_SECONDS
                if entry.get("refresh_on"):  # msal refreshes long-lived tokens early (at half their life)
                    until = min(until, float(entry["refresh_on"]))
                return until
        return 0.0


class _Bearer(AsyncHTTPPolicy):  # type: ignore[type-arg]
    def __init__(self, tokens: BearerTokens) -> None:
        super().__init__()
        self.tokens = tokens

    async def send(self, request: Request, **kwargs: Any) -> Response:  # type: ignore[type-arg]
        try:
            token = await self.tokens.token()
        except requests.RequestException as error:  # Entra ID unreachable: as msrest's credentials policy says it
            raise ClientRequestError(f"Error occurred in request. {type(error).__name__}: {error}") from error
        headers = request.http_request.headers
        if token is None:
            headers.pop("Authorization", None)
        else:
            headers["Authorization"] = f"Bearer {token}"
        return await self.next.send(request, **kwargs)  # type: ignore[union-attr]


# -- sending over aiohttp ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConnectorAnswer:
    """What msrest's errors carry as `.response`: with botbuilder's sender a `requests.Response`, whose
    `status_code`, `headers` (case-insensitive), `reason`, `content`, `text` and `json()` callers read (the
    outbox reads the status and Retry-After of a refused send); this keeps those the same."""

    url: str
    status_code: int
    reason: str | None
    headers: CIMultiDict[str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8-sig", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Answer(AsyncClientResponse):  # type: ignore[misc]
    """A connector answer read in full, as msrest's deserializers expect."""

    def __init__(self, request: ClientRequest, response: aiohttp.ClientResponse, body: bytes) -> None:
        headers = CIMultiDict(response.headers)
        super().__init__(request, ConnectorAnswer(str(response.url), response.status, response.reason, headers, body))
        self.status_code = response.status
        self.headers = headers
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body

    def stream_download(self, chunk_size: int | None = None, callback: Callable[..., Any] | None = None
                        ) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            size = chunk_size or 10 * 1024
            for start in range(0, len(self._body), size):
                chunk = self._body[start:start + size]
                if callback is not None:
                    callback(chunk, self.internal_response)
                yield chunk

        return chunks()


def _retry_after(answer: _Answer) -> float | None:
    value = answer.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class AiohttpSender(AsyncHTTPSender):  # type: ignore[type-arg]
    """msrest's last pipeline stage, sending through the app's aiohttp session with botbuilder's retries."""

    def __init__(self, session: aiohttp.ClientSession, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.session = session
        self.sleep = sleep

    async def __aenter__(self) -> AiohttpSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        """The session is the app's: it outlives any one client."""

    async def send(self, request: Request, **config: Any) -> Response:  # type: ignore[type-arg]
        http_request: ClientRequest = request.http_request
        if http_request.files:
            raise ClientRequestError("multipart uploads are not sent through the connector's aiohttp session")
        method = http_request.method.upper()
        headers = {k: v for k, v in http_request.headers.items() if k.lower() != "content-length"}
        data = http_request.data
        if isinstance(data, str):
            data = data.encode("utf-8")  # aiohttp sets Content-Length from these bytes
        attempt = 0
        while True:
            try:
                url = yarl.URL(http_request.url)
                async with self.session.request(method, url, headers=headers, data=data, allow_redirects=False,
                                                proxy=proxy_for(url.scheme, url.host or "")) as raw:
                    answer = _Answer(http_request, raw, await raw.read())
            except (aiohttp.ClientError, TimeoutError) as error:
                # A refused connection never reached the connector, so even a POST may go again; anything later
                # might have been received, so only the methods botbuilder retries are.
                retriable = isinstance(error, aiohttp.ClientConnectorError) or method in RETRIED_METHODS
                if attempt >= RETRIES or not retriable:
                    raise ClientRequestError(f"Error occurred in request. {type(error).__name__}: {error}") \
                        from error
                attempt += 1
                await self.sleep(self._backoff(attempt, None))
                continue
            if attempt >= RETRIES or method not in RETRIED_METHODS or not self._retried_status(answer.status_code):
                return Response(request, answer)
            attempt += 1
            log.info("the connector answered %s to %s %s; retry %d of %d", answer.status_code, method,
                     http_request.url, attempt, RETRIES)
            await self.sleep(self._backoff(attempt, answer))

    @staticmethod
    def _retried_status(status: int) -> bool:
        return status == 408 or (status >= 500 and status not in (501, 505))

    @staticmethod
    def _backoff(attempt: int, answer: _Answer | None) -> float:
        if answer is not None and answer.status_code == 503:
            retry_after = _retry_after(answer)
            if retry_after is not None:
                return min(retry_after, MAX_BACKOFF_SECONDS)
        return 0.0 if attempt <= 1 else min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)


def _pipeline(config: Any, *, tokens: BearerTokens, sender: AiohttpSender) -> AsyncPipeline:  # type: ignore[type-arg]
    """msrest's default async pipeline (User-Agent, credentials, deserializer, HTTP log) over our sender."""
    return AsyncPipeline([config.user_agent_policy, _Bearer(tokens), RawDeserializer(), config.http_logger_policy],
                         sender)


# -- the factory -------------------------------------------------------------------------------------------------

class ClientCache:
    """What the factories share: credentials (with their msal token cache) and connector clients."""

    def __init__(self, session: aiohttp.ClientSession, size: int = MAX_CLIENTS) -> None:
        self.sender = AiohttpSender(session)
        self.credentials: _Lru[tuple[Any, ...], BearerTokens] = _Lru(size)
        self.clients: _Lru[tuple[Any, ...], ConnectorClient] = _Lru(size)
        self.user_token_clients: _Lru[str | None, UserTokenClient] = _Lru(size)
        self.clients_built = 0
        self.wire: PlannedSerializer | None = None  # one for all clients: its plans are per model class


class ReusingConnectorFactory(ConnectorFactory):
    """botbuilder's connector factory for one App ID, with its credentials and clients kept in a ClientCache."""

    def __init__(self, sdk: _ConnectorFactoryImpl, cache: ClientCache) -> None:
        if not isinstance(sdk, _ConnectorFactoryImpl):
            raise TypeError(f"botbuilder returned a {type(sdk).__name__}, not the connector factory this wraps")
        self._sdk = sdk
        self._cache = cache

    async def tokens(self, audience: str | None = None) -> BearerTokens:
        sdk = self._sdk
        scope = audience or sdk._to_channel_from_bot_oauth_scope
        key = (sdk._app_id, scope, sdk._login_endpoint, sdk._validate_authority, id(sdk._credential_factory))
        found = self._cache.credentials.get(key)
        if found is not None:
            return found
        credentials = await sdk._credential_factory.create_credentials(
            sdk._app_id, scope, sdk._login_endpoint, sdk._validate_authority)
        return self._cache.credentials.keep(key, BearerTokens(credentials))

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        sdk = self._sdk
        scope = audience or sdk._to_channel_from_bot_oauth_scope
        key = (sdk._app_id, scope, sdk._login_endpoint, id(sdk._credential_factory), service_url)
        found = self._cache.clients.get(key)
        if found is not None:
            return found
        tokens = await self.tokens(audience)
        client = ConnectorClient(tokens.credentials, base_url=service_url,
                                 pipeline_type=partial(_pipeline, tokens=tokens, sender=self._cache.sender))
        client.config.add_user_agent(USER_AGENT)  # as botbuilder's factory does
        if self._cache.wire is None:
            self._cache.wire = PlannedSerializer(client._serialize.dependencies)
        client._serialize = client.conversations._serialize = client.attachments._serialize = self._cache.wire
        self._cache.clients_built += 1
        return self._cache.clients.keep(key, client)


@lru_cache(maxsize=64)
def _emulators_keys(auth_header: str) -> bool:
    """Whether botbuilder checks this token against the emulator's keys (skill and emulator tokens) rather than
    the channel's, decided as it decides. A function of the token's text alone, which the channel sends on
    every activity for an hour: each decision decodes the token twice, in Python, a character at a time."""
    return SkillValidation.is_skill_token(auth_header) or EmulatorValidation.is_token_from_emulator(auth_header)


class ReusingBotFrameworkAuthentication(BotFrameworkAuthentication):
    """botbuilder's ConfigurationBotFrameworkAuthentication (same checks, same settings), whose connector
    factories and user-token clients reuse what they build."""

    def __init__(self, configuration: Any, session: aiohttp.ClientSession, *, size: int = MAX_CLIENTS) -> None:
        self._inner = ConfigurationBotFrameworkAuthentication(configuration)
        self._configuration = configuration
        self.cache = ClientCache(session, size)

    def _reusing(self, factory: ConnectorFactory | None) -> ConnectorFactory | None:
        return None if factory is None else ReusingConnectorFactory(factory, self.cache)  # type: ignore[arg-type]

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        result.connector_factory = self._reusing(result.connector_factory)
        return result

    async def authenticate_streaming_request(self, auth_header: str,
                                             channel_id_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_streaming_request(auth_header, channel_id_header)
        result.connector_factory = self._reusing(result.connector_factory)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusingConnectorFactory(self._inner.create_connector_factory(claims_identity),  # type: ignore[arg-type]
                                       self.cache)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # Built (credentials and a TokenApiClient with its own msrest Configuration) for every turn by botbuilder,
        # though this bot never signs anyone in; one per App ID does.
        app_id = _BuiltinBotFrameworkAuthentication.get_app_id(claims_identity)
        found = self.cache.user_token_clients.get(app_id)
        if found is not None:
            return found
        client = await self._inner.create_user_token_client(claims_identity)
        return self.cache.user_token_clients.keep(app_id, client)

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

    def checks_without_fetching(self, auth_header: str) -> bool:
        """Whether botbuilder can check this token with the keys it already holds, with no blocking request.

        botbuilder fetches the OpenID metadata and keys with `requests` inside its coroutine the first time, and
        again when they are a day old; otherwise checking is CPU only. Which metadata it reads depends on the
        token (skill and emulator tokens: the emulator's; the rest: the channel's), decided as botbuilder does.
        Anything unexpected answers False, so the caller takes the slow path that works in every case.
        """
        try:
            _, _, token = auth_header.partition(" ")
            if _emulators_keys(auth_header):
                url = getattr(self._configuration, "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", None)
            else:
                url = getattr(self._configuration, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", None)
            metadata = JwtTokenExtractor.metadataCache.get(url) if url and token else None
            return bool(metadata is not None and metadata.keys
                        and metadata.last_updated > datetime.now() - KEYS_FRESH_FOR)
        except Exception:
            return False
