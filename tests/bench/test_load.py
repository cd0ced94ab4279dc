"""The bench driver's two modes: closed loop (next request when answered) and open loop (requests due at
arrival times, latency counted from when each was due, so a server falling behind shows in the figures)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.load import drive
from bench.statements import measure

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


async def test_the_statement_costs_bench_runs(tmp_path: Path) -> None:
    """bench.statements, small, so that it cannot rot (its timings are not asserted)."""
    file = tmp_path / "statements.db"
    found = await measure(f"sqlite+aiosqlite:///{file}", 40, file)
    assert [row["operation"] for row in found] == [
        "statement in an open ORM session", "statement on an open Core connection",
        "read transaction with one statement", "write transaction with one statement, committed",
        "a case (provider, 10 members, concerns), in a read transaction",
        "a person's 50 open actions, in a read transaction", "a vote with its ballots, in a read transaction",
        "the same statement, sqlite3 directly"]
    assert all(row["cpu_us"] > 0 and row["wall_us"] > 0 for row in found)
