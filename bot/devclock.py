"""The dev-only time machine: `POST /dev/clock` moves the bot's clock, so a person (or the end-to-end
test) can watch deadlines fall due in the Agents Playground without waiting days.

Registered only by `serve --dev` without a Microsoft App ID, which already binds to 127.0.0.1.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from concerns.clock import Clock, SystemClock


class AdjustableClock:
    """The system clock shifted by an offset; only ever set forward or back as a whole."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def set(self, now: datetime) -> None:
        self._offset = now - self._base.now()


CLOCK = web.AppKey("dev_clock", AdjustableClock)


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response({"now": request.app[CLOCK].now().isoformat()})


async def set_clock(request: web.Request) -> web.Response:
    """Body: {"now": "2026-12-07T09:00:00+00:00"} (a timezone is required)."""
    try:
        body = await request.json()
        now = datetime.fromisoformat(body["now"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": 'send {"now": "<ISO 8601 time with a timezone>"}'}, status=400)
    if now.tzinfo is None:
        return web.json_response({"error": "the time needs a timezone, e.g. +00:00"}, status=400)
    request.app[CLOCK].set(now)
    return web.json_response({"now": request.app[CLOCK].now().isoformat()})
