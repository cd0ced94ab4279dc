"""A local stand-in for the Bot Connector service, recording what the bot sends.

The real connector (Teams' cloud) cannot be reached from here. This follows its documented REST
contract (Bot Framework Connector API v3): replies and sends return a ResourceResponse `{"id"}`,
updates are PUTs to the activity, and creating a channel thread returns the new conversation id
with `;messageid=` plus `activityId`, as Teams does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web


@dataclass
class Sent:
    method: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None

    @property
    def text(self) -> str:
        return self.body.get("text") or ""


@dataclass
class ConnectorStub:
    sent: list[Sent] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    fail_create: bool = False
    gone: set[str] = field(default_factory=set)  # activities and threads deleted in Teams: 404 to update or post
    roster: list[dict[str, Any]] = field(default_factory=list)
    roster_page_size: int = 2  # small, so the bot must follow continuation tokens
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._paged_members)
        return app

    async def _paged_members(self, request: web.Request) -> web.Response:
        start = int(request.query.get("continuationToken") or 0)
        end = start + self.roster_page_size
        page: dict[str, Any] = {"members": self.roster[start:end]}
        if end < len(self.roster):
            page["continuationToken"] = str(end)
        return web.json_response(page)

    def _new_id(self) -> str:
        return str(next(self._ids))

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.fail_create:
            return web.json_response({"error": {"code": "BadArgument", "message": "not allowed"}}, status=403)
        self.created.append(body)
        channel = (body.get("channelData") or {}).get("channel", {}).get("id", "19:new@thread.tacv2")
        activity_id = self._new_id()
        conversation_id = f"{channel};messageid={activity_id}"
        if body.get("activity"):
            self.sent.append(Sent("CREATE", conversation_id, activity_id, body["activity"]))
        return web.json_response({"id": conversation_id, "activityId": activity_id}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if unquote(request.match_info["conversation"]) in self.gone:
            return web.json_response({"error": {"code": "ConversationNotFound",
                                                "message": "Conversation not found."}}, status=404)
        new_id = self._new_id()
        self.sent.append(Sent("POST", unquote(request.match_info["conversation"]), new_id, body))
        return web.json_response({"id": new_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        activity_id = unquote(request.match_info["activity"])
        if activity_id in self.gone:  # as the Bot Connector answers
            return web.json_response({"error": {"code": "ActivityNotFoundInConversation",
                                                "message": "Message does not exist in the thread."}}, status=404)
        self.sent.append(Sent("PUT", unquote(request.match_info["conversation"]), activity_id, body))
        return web.json_response({"id": activity_id}, status=200)

    def cards(self) -> list[dict[str, Any]]:
        return [s.card for s in self.sent if s.card is not None]

    def clear(self) -> None:
        self.sent.clear()
        self.created.clear()
