"""The serving process settles its heap once started: the card templates compiled, and what start-up made
frozen out of the cyclic collector's way (a full collection scanned ~150,000 library objects, ~60 ms in
which every turn in flight stood still)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import bot.cli
from bot.app import _settle_heap, init_app
from bot.cards import renderer
from bot.settings import Settings
from storage.migrate import upgrade


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test run collects as usual


async def started(tmp_path: Path, settle_heap: bool) -> TestServer:
    url = f"sqlite+aiosqlite:///{tmp_path / 'heap.db'}"
    await upgrade(url)
    server = TestServer(init_app(Settings(database_url=url, dev=True), migrate=False, settle_heap=settle_heap),
                        host="127.0.0.1")
    await server.start_server()
    return server


async def test_a_settled_heap_leaves_start_up_out_of_full_collections(tmp_path: Path, unfrozen: None) -> None:
    renderer._environment.cache_clear()
    server = await started(tmp_path, settle_heap=True)
    try:
        assert gc.get_freeze_count() > 50_000
        cached = renderer._environment().cache  # jinja2's compiled templates
        assert cached is not None and len(cached) >= len(renderer.template_names())
        started_at = time.perf_counter()
        gc.collect()
        settled = time.perf_counter() - started_at
        gc.unfreeze()
        started_at = time.perf_counter()
        gc.collect()
        unsettled = time.perf_counter() - started_at
        # Not a timing target: the same collection with and without the freeze, a few times apart.
        assert settled * 3 < unsettled
    finally:
        await server.close()


async def test_the_app_does_not_freeze_unless_asked(tmp_path: Path, unfrozen: None) -> None:
    server = await started(tmp_path, settle_heap=False)
    try:
        assert gc.get_freeze_count() == 0
    finally:
        await server.close()


def test_serve_settles_the_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[web.Application] = []
    monkeypatch.setattr(bot.cli.web, "run_app", lambda app, **_: ran.append(app))
    monkeypatch.setenv("CONCERNS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}")
    assert bot.cli.main(["serve", "--dev", "--port", "0"]) == 0
    [app] = ran
    assert _settle_heap in app.on_startup
