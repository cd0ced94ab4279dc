"""On SQLite, only what can wait goes to aiosqlite's thread (storage.db._OneTripConnection): BEGIN IMMEDIATE
and COMMIT. Statements inside a transaction, a deferred BEGIN and ROLLBACK run on the event loop's thread,
and never while a trip is still running on that connection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from concerns.vocabulary import ServiceType
from storage.db import _OneTripConnection, create_engine, reading, session_factory, writing
from storage.migrate import upgrade
from storage.models import BotStateRow, ProviderRow
from storage.uow import SqlUnitOfWork
from tests.storage.test_read_only import AT, TENANT

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
async def path(tmp_path: Path) -> Path:
    path = tmp_path / "trips.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def engine(path: Path) -> AsyncIterator[Any]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """What went to aiosqlite's thread, by the function's name."""
    seen: Counter[str] = Counter()
    real = _OneTripConnection.trip

    async def counted(self: _OneTripConnection, function: Any, *args: Any) -> Any:
        seen[getattr(function, "__name__", repr(function)) + (f" {args[1]}" if len(args) > 1 else "")] += 1
        return await real(self, function, *args)

    monkeypatch.setattr(_OneTripConnection, "trip", counted)
    return seen


async def test_a_read_transaction_makes_no_trip_to_the_driver_thread(engine: Any, trips: Counter[str]) -> None:
    sessions = session_factory(engine)
    async with reading(sessions) as warm:  # the first use connects (and sets the pragmas) on the thread
        await warm.execute(select(1))
    trips.clear()
    for _ in range(3):
        async with reading(sessions) as session:
            assert await session.scalar(select(func.count()).select_from(BotStateRow)) == 0
            assert await session.scalar(select(func.count()).select_from(ProviderRow)) == 0
    assert trips == Counter()


async def test_a_write_transaction_makes_two_trips_begin_immediate_and_commit(engine: Any,
                                                                               trips: Counter[str]) -> None:
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow.reader() as warm:
        await warm.providers.recent(TENANT, 1)
    trips.clear()
    async with uow as tx:
        await tx.providers.add(TENANT, "Oakwood Nursing Home", ServiceType.NURSING, AT)
        await tx.commit()
    assert trips == Counter({"_run_statement BEGIN IMMEDIATE": 1, "commit": 1})
    async with uow.reader() as reader:
        assert [p.name for p in await reader.providers.recent(TENANT, 5)] == ["Oakwood Nursing Home"]


async def test_a_failed_write_is_rolled_back_and_the_connection_is_clean_for_the_next(engine: Any) -> None:
    """The pool no longer rolls back on return: the session's own rollback must leave nothing open."""
    sessions = session_factory(engine)
    with pytest.raises(RuntimeError, match="half way"):
        async with writing(sessions) as session, session.begin():
            await session.execute(text("INSERT INTO bot_state (key, document, e_tag, updated_at) "
                                       "VALUES ('half', '{}', 1, '2026-11-23 10:30:00')"))
            raise RuntimeError("half way")
    for _ in range(6):  # every pooled connection in turn: none is left inside a transaction or holding the lock
        async with writing(sessions) as session, session.begin():
            await session.execute(text("INSERT INTO bot_state (key, document, e_tag, updated_at) "
                                       "VALUES (:key, '{}', 1, '2026-11-23 10:30:00')"), {"key": f"k{_}"})
    async with reading(sessions) as session:
        keys = set(await session.scalars(select(BotStateRow.key)))
    assert keys == {f"k{n}" for n in range(6)}


async def test_a_task_cancelled_while_begin_waits_for_another_process_leaves_nothing_behind(path: Path,
                                                                                              engine: Any) -> None:
    """BEGIN IMMEDIATE waits on aiosqlite's thread while another process holds the write lock. Cancelled,
    the trip runs on there: what follows on that connection (SQLAlchemy closes it) waits behind it, off the
    event loop, and the next writer gets the lock once the other process lets it go."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer
    sessions = session_factory(engine)

    async def write() -> None:
        async with writing(sessions) as session, session.begin():
            await session.execute(text("INSERT INTO bot_state (key, document, e_tag, updated_at) "
                                       "VALUES ('cancelled', '{}', 1, '2026-11-23 10:30:00')"))

    task = asyncio.create_task(write())
    await asyncio.sleep(0.3)  # in SQLite's busy handler, on aiosqlite's thread
    assert not task.done()
    # The other writer finishes a moment after the cancel: the cancelled BEGIN IMMEDIATE then takes the lock
    # on aiosqlite's thread, and the cancelled session's rollback, queued behind it, lets it go.
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    gaps: list[float] = []

    async def heartbeat() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    beating = asyncio.create_task(heartbeat())
    task.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await asyncio.sleep(0.05)
        beating.cancel()
        # The rollback waited its turn off the event loop: nothing else stalled while the lock was waited for.
        assert max(gaps) < 0.2
        async with writing(sessions) as session, session.begin():
            await session.execute(text("INSERT INTO bot_state (key, document, e_tag, updated_at) "
                                       "VALUES ('after', '{}', 1, '2026-11-23 10:30:00')"))
    finally:
        release.join()
        other.close()
    async with reading(sessions) as session:
        assert set(await session.scalars(select(BotStateRow.key))) == {"after"}
