"""Optional Microsoft Graph: create the Teams online meeting for a scheduled meeting.

With CONCERNS_GRAPH_TENANT_ID, _CLIENT_ID, _CLIENT_SECRET and _ORGANIZER_ID set, a meeting scheduled
without a link gets one from `POST /users/{organizer}/onlineMeetings` (application permission
OnlineMeetings.ReadWrite.All, with an application access policy for the organizer), authenticated
with an app token from msal's client-credentials flow. Without them nothing here runs and the
meeting card asks for a link instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

SCOPES = ["https://graph.microsoft.com/.default"]
TIMEOUT = aiohttp.ClientTimeout(total=8)  # the turn is answered only after this: keep well inside Teams' 15 s

TokenSource = Callable[[], Awaitable[str]]


class GraphError(Exception):
    """Graph or the token service refused or failed; the message is safe to show (no secrets)."""


@dataclass(frozen=True)
class GraphSettings:
    tenant_id: str
    client_id: str
    client_secret: str
    organizer_id: str
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"

    NAMES = ("CONCERNS_GRAPH_TENANT_ID", "CONCERNS_GRAPH_CLIENT_ID", "CONCERNS_GRAPH_CLIENT_SECRET",
             "CONCERNS_GRAPH_ORGANIZER_ID")

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> GraphSettings | None:
        """The Graph settings, or None when none are set; some but not all set is an operator's error."""
        given = [env.get(name, "").strip() for name in cls.NAMES]
        if not any(given):
            return None
        if not all(given):
            missing = ", ".join(n for n, v in zip(cls.NAMES, given, strict=True) if not v)
            raise ValueError(f"Microsoft Graph is partly configured: set {missing} too, or none of them.")
        return cls(*given, graph_url=env.get("CONCERNS_GRAPH_URL", "").rstrip("/") or cls.graph_url)


@dataclass(frozen=True)
class OnlineMeeting:
    id: str
    join_url: str


def msal_token_source(settings: GraphSettings) -> TokenSource:
    """An app-only Graph token from msal (client credentials), which caches it until it expires.

    msal is synchronous and fetches the tenant's metadata when the application is built, so both
    happen in a worker thread, on first use. msal accepts only an https authority, so the tests
    inject their own token source and check the Graph contract against a local fake, not msal's.
    """
    built: list[Any] = []

    def acquire() -> dict[str, Any]:
        import msal

        if not built:
            built.append(msal.ConfidentialClientApplication(
                settings.client_id, client_credential=settings.client_secret,
                authority=f"{settings.authority_host.rstrip('/')}/{settings.tenant_id}",
            ))
        return built[0].acquire_token_for_client(scopes=SCOPES)  # type: ignore[no-any-return]

    async def token() -> str:
        try:
            result = await asyncio.to_thread(acquire)
        except ValueError as refused:  # msal's own checks, e.g. an unknown tenant
            raise GraphError(f"no Graph token: {str(refused)[:100]}") from refused
        if "access_token" not in result:
            raise GraphError(f"no Graph token: {result.get('error', 'unknown error')}")
        return str(result["access_token"])

    return token


def _graph_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


class OnlineMeetings:
    """Creates Teams online meetings for the configured organizer."""

    def __init__(self, settings: GraphSettings, token: TokenSource | None = None) -> None:
        self.settings = settings
        self._token = token or msal_token_source(settings)

    async def create(self, subject: str, starts_at: datetime, ends_at: datetime) -> OnlineMeeting:
        """Create an online meeting; return its id and join link (Graph's `joinWebUrl`)."""
        url = f"{self.settings.graph_url}/users/{quote(self.settings.organizer_id, safe='')}/onlineMeetings"
        body = {"subject": subject[:250], "startDateTime": _graph_time(starts_at), "endDateTime": _graph_time(ends_at)}
        headers = {"Authorization": f"Bearer {await self._token()}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.post(url, json=body, headers=headers) as reply:
            if reply.status != 201:
                raise GraphError(f"Graph answered {reply.status}: {await _graph_error(reply)}")
            created = await reply.json()
        join_url, meeting_id = created.get("joinWebUrl"), created.get("id")
        if not isinstance(join_url, str) or not isinstance(meeting_id, str):
            raise GraphError("Graph's answer had no joinWebUrl")
        return OnlineMeeting(meeting_id, join_url)


async def _graph_error(reply: aiohttp.ClientResponse) -> str:
    try:
        error = (await reply.json()).get("error", {})
        return str(error.get("code") or reply.reason)[:100]
    except (aiohttp.ContentTypeError, ValueError, AttributeError):
        return str(reply.reason)[:100]


def describe(error: BaseException) -> str:
    """What the card says went wrong: Graph's own words where it gave them, never a stack trace."""
    if isinstance(error, GraphError):
        return str(error)
    if isinstance(error, asyncio.TimeoutError | aiohttp.ClientError):
        return "Graph could not be reached"
    return "an unexpected error"


_UNSET = object()
_configured: Any = _UNSET


def configure(client: OnlineMeetings | None) -> None:
    """Set the Graph client the handlers use (None: Graph off). The app factory or a test calls this."""
    global _configured
    _configured = client


def online_meetings() -> OnlineMeetings | None:
    """The configured Graph client; unless `configure` was called, built once from the environment."""
    if _configured is _UNSET:
        settings = GraphSettings.from_environment(os.environ)
        configure(OnlineMeetings(settings) if settings else None)
    return _configured  # type: ignore[no-any-return]
