"""A Bot Connector stand-in that fails on request: throttling, server errors, blocked writes, no answer.

Like ConnectorStub (tests/support/connector.py) it follows the Bot Framework Connector API v3 REST
contract: a send is `POST /v3/conversations/{conversationId}/activities[/{activityId}]` answered
201 with a ResourceResponse `{"id"}`, and `POST /v3/conversations` creates a conversation. What each
request gets is scripted: per conversation, in order, else from a catch-all queue, else from a
`chooser` callable (for seeded random faults), else 201. The failures are the ones Teams gives
(msteams-docs, bots/how-to/rate-limit.md and the Connector's error codes):

* 429 with `Retry-After: N` (seconds): the thread or app is throttled;
* 500, 502, 503 (any status, really) with a Connector error body;
* 403 `{"error": {"code": "MessageWritesBlocked"}}`: the conversation will not take messages, ever;
* no answer: the request hangs for longer than the sender's timeout. The message is not accepted
  (the test connector answers 504 once the hang is over, or drops it when the client has gone).

Every request is recorded with the time from `clock` (a monotonic clock the test may control) and its
conversation; accepted POSTs are also kept in `accepted`, in the order they were accepted.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

ANY = "*"


@dataclass(frozen=True)
class Answer:
    """What one request gets. Build with the class methods."""

    kind: str  # "ok", "status" or "hang"
    status: int = 201
    retry_after: float | None = None
    code: str = ""
    hang_seconds: float = 0.0

    @classmethod
    def ok(cls) -> Answer:
        return cls("ok")

    @classmethod
    def throttled(cls, retry_after: float) -> Answer:
        return cls("status", 429, retry_after=retry_after, code="TooManyRequests")

    @classmethod
    def error(cls, status: int = 500) -> Answer:
        code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}.get(status, "ServiceError")
        return cls("status", status, code=code)

    @classmethod
    def blocked(cls) -> Answer:
        return cls("status", 403, code="MessageWritesBlocked")

    @classmethod
    def hang(cls, seconds: float = 5.0) -> Answer:
        return cls("hang", 504, hang_seconds=seconds)

    @property
    def accepted(self) -> bool:
        return self.kind == "ok"

    @property
    def label(self) -> str:
        if self.kind == "ok":
            return "ok"
        if self.kind == "hang":
            return "timeout"
        return str(self.status)


@dataclass(frozen=True)
class Request:
    """One request as the connector saw it, and what it answered."""

    at: float
    method: str
    conversation_id: str
    answer: Answer
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    """A send the connector accepted: the message is in the conversation now."""

    at: float
    conversation_id: str
    activity_id: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return self.body.get("text") or ""

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None


@dataclass
class FaultConnector:
    clock: Callable[[], float] = time.monotonic
    chooser: Callable[[str], Answer | None] | None = None  # given the conversation id, for unscripted requests
    requests: list[Request] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    _script: dict[str, deque[Answer]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(5000))
    _closing: asyncio.Event | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.on_shutdown.append(self._release)
        return app

    def script(self, *answers: Answer, conversation: str = ANY) -> None:
        """Queue answers for the next requests to `conversation` (its base id, or ANY for whichever comes)."""
        self._script.setdefault(conversation, deque()).extend(answers)

    def scripted(self, conversation: str = ANY) -> int:
        """How many scripted answers are still to be given."""
        return len(self._script.get(conversation, ()))

    def to(self, conversation_id: str) -> list[Accepted]:
        """What was accepted into a conversation (its base id; a thread's ";messageid=" is ignored)."""
        return [a for a in self.accepted if a.conversation_id.split(";", 1)[0] == conversation_id]

    def answers_to(self, conversation_id: str) -> list[str]:
        return [r.answer.label for r in self.requests if r.conversation_id.split(";", 1)[0] == conversation_id]

    async def requested(self, count: int = 1) -> None:
        """Wait until at least `count` requests have come in (answered or not)."""
        while len(self.requests) < count:
            self._arrived.clear()
            await self._arrived.wait()

    def _record(self, request: Request) -> None:
        self.requests.append(request)
        self._arrived.set()

    def _next(self, conversation_id: str) -> Answer:
        base = conversation_id.split(";", 1)[0]
        for queue_name in (base, ANY):
            queue = self._script.get(queue_name)
            if queue:
                return queue.popleft()
        if self.chooser is not None:
            chosen = self.chooser(base)
            if chosen is not None:
                return chosen
        return Answer.ok()

    async def _release(self, _app: web.Application) -> None:
        if self._closing is not None:
            self._closing.set()

    async def _fail(self, request: web.Request, answer: Answer) -> web.Response:
        if answer.kind == "hang":
            if self._closing is None:
                self._closing = asyncio.Event()
            deadline = time.monotonic() + answer.hang_seconds
            # Real time, not the test's clock: the sender's timeout is what is being made to run out.
            while time.monotonic() < deadline and not self._closing.is_set():
                if request.transport is None or request.transport.is_closing():
                    break  # the client gave up; nothing was delivered
                await asyncio.sleep(0.02)
            return web.json_response({"error": {"code": "GatewayTimeout", "message": "no answer in time"}},
                                     status=504)
        headers = {"Retry-After": f"{answer.retry_after:g}"} if answer.retry_after is not None else None
        return web.json_response({"error": {"code": answer.code, "message": f"scripted {answer.status}"}},
                                 status=answer.status, headers=headers)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        conversation_id = unquote(request.match_info["conversation"])
        answer = self._next(conversation_id)
        at = self.clock()
        self._record(Request(at, "POST", conversation_id, answer, body))
        if not answer.accepted:
            return await self._fail(request, answer)
        activity_id = str(next(self._ids))
        self.accepted.append(Accepted(at, conversation_id, activity_id, body))
        return web.json_response({"id": activity_id}, status=201)

    async def _create(self, request: web.Request) -> web.Response:
        """Create a conversation (a 1:1 chat, or a channel thread with `activity`), as Teams answers it."""
        body = await request.json()
        answer = self._next(ANY)
        at = self.clock()
        self._record(Request(at, "CREATE", "", answer, body))
        if not answer.accepted:
            return await self._fail(request, answer)
        self.created.append(body)
        activity_id = str(next(self._ids))
        channel = (body.get("channelData") or {}).get("channel", {}).get("id")
        if channel:
            conversation_id = f"{channel};messageid={activity_id}"
        else:
            member = (body.get("members") or [{}])[0].get("id", "unknown")
            conversation_id = f"a:created-{member}"
        if body.get("activity"):
            self.accepted.append(Accepted(at, conversation_id, activity_id, body["activity"]))
        return web.json_response({"id": conversation_id, "activityId": activity_id}, status=201)
