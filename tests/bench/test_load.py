"""The bench driver's two modes: closed loop (next request when answered) and open loop (requests due at
arrival times, latency counted from when each was due, so a server falling behind shows in the figures)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.load import drive

SERVICE_SECONDS = 0.05


async def slow_server() -> TestServer:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(SERVICE_SECONDS)
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_closed_loop_latency_is_the_service_time_and_open_loop_counts_the_queue() -> None:
    server = await slow_server()
    try:
        url = str(server.make_url("/api/messages"))
        bodies = [b"{}"] * 10
        async with aiohttp.ClientSession() as http:
            closed = await drive(http, url, "token", bodies, 1)
            # 100 arrivals a second against one worker that needs 50 ms each: a queue builds.
            opened = await drive(http, url, "token", bodies, 1, rate=100.0)
    finally:
        await server.close()
    assert closed.ok == opened.ok == 10
    assert max(closed.latencies) < 4 * SERVICE_SECONDS
    assert sorted(opened.latencies)[-1] > 4 * SERVICE_SECONDS  # waited for the worker, and that counts
    assert opened.summary()["throughput_rps"] <= 1 / SERVICE_SECONDS + 1
