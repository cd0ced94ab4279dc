"""The dev-only clock endpoint that lets a person watch deadlines fall due in the Agents Playground."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import init_app
from bot.settings import Settings


async def test_dev_mode_moves_the_bots_clock(tmp_path: Path) -> None:
    app = init_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", dev=True), migrate=True)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.post("/dev/clock", json={"now": "2026-12-24T09:00:00+00:00"})
        assert response.status == 200
        response = await client.get("/dev/clock")
        moved = datetime.fromisoformat((await response.json())["now"])
        assert moved.date().isoformat() == "2026-12-24"
        from bot.app import SERVICES

        assert app[SERVICES].clock.now().date().isoformat() == "2026-12-24"  # what the handlers use
        assert (await client.post("/dev/clock", json={"now": "2026-12-24T09:00"})).status == 400  # no zone
        assert (await client.post("/dev/clock", data=b"soon")).status == 400


async def test_there_is_no_clock_to_move_with_an_app_id(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", dev=True, app_id="app",
                        app_password="p", app_type="MultiTenant")
    async with TestClient(TestServer(init_app(settings, migrate=True), host="127.0.0.1")) as client:
        response = await client.post("/dev/clock", json={"now": "2026-12-24T09:00:00+00:00"})
        assert response.status in (404, 405)
