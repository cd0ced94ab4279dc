"""A running bot over real HTTP, with the connector stub recording what it sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import DELIVER_SOON, SERVICES, init_app
from bot.settings import Settings
from tests.support.activities import Teams
from tests.support.cards import schema_errors
from tests.support.clock import FixedClock
from tests.support.connector import ConnectorStub


@dataclass
class RunningBot:
    url: str
    http: aiohttp.ClientSession
    connector: ConnectorStub
    teams: Teams
    app: Any

    async def send(self, activity: dict[str, Any]) -> int:
        """Post the activity; once answered, what the turn queued for others (word of new actions) is delivered
        too, so what a test reads from the connector does not depend on when that background send runs."""
        async with self.http.post(self.url + "/api/messages", json=activity) as response:
            status = response.status
        await self.app[DELIVER_SOON].settled()
        return status

    async def post_raw(self, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
        async with self.http.post(self.url + "/api/messages", data=body,
                                  headers={"Content-Type": content_type}) as response:
            return response.status, await response.text()

    @property
    def uow(self) -> Any:
        return self.app[SERVICES].uow


@pytest.fixture
async def running_bot(database_url: str, clock: FixedClock) -> AsyncIterator[RunningBot]:
    connector = ConnectorStub()
    connector_server = TestServer(connector.app(), host="127.0.0.1")
    await connector_server.start_server()
    settings = Settings(database_url=database_url, dev=True)
    app = init_app(settings, clock=clock, migrate=False)
    bot_server = TestServer(app, host="127.0.0.1")
    await bot_server.start_server()
    async with aiohttp.ClientSession() as http:
        yield RunningBot(
            url=str(bot_server.make_url("")).rstrip("/"),
            http=http,
            connector=connector,
            teams=Teams(str(connector_server.make_url("/"))),
            app=app,
        )
    await bot_server.close()
    await connector_server.close()
    # Whatever a test did, every card the bot sent must be one Teams would render.
    invalid = {i: schema_errors(card) for i, card in enumerate(connector.cards()) if schema_errors(card)}
    assert invalid == {}
