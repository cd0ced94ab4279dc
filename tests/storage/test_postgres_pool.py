"""PostgreSQL's connections: reads without BEGIN/ROLLBACK, a ping only for a connection that sat idle, and
writers taking turns at a reference counter in the order they came.

SQLAlchemy's pool_pre_ping cost a round trip on every checkout; storage.db pings a connection only when it
has been idle PING_IF_IDLE_SECONDS, which is when a server restart or a firewall is likely to have dropped it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import storage.db
from storage.db import create_engine, reading, session_factory, writing
from storage.migrate import upgrade
from storage.models import BotStateRow
from storage.repositories import SqlReferenceCounter
from tests.conftest import _create_database


@pytest.fixture
async def engine(postgres_admin_url: str) -> AsyncIterator[Any]:
    url = await _create_database(postgres_admin_url)
    await upgrade(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def statements(engine: Any) -> list[str]:
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: seen.append(statement.split()[0].upper()))
    return seen


async def kill_backends(engine: Any) -> int:
    """Terminate the server side of every connection the engine has open, as a server restart would."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        return len(await admin.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = $1 AND pid <> pg_backend_pid()", url.database))
    finally:
        await admin.close()


async def read_keys(engine: Any) -> set[str]:
    async with reading(session_factory(engine)) as session:
        return set(await session.scalars(select(BotStateRow.key)))


async def test_a_read_sends_no_begin_and_a_write_still_runs_in_a_transaction(engine: Any) -> None:
    sessions = session_factory(engine)
    await read_keys(engine)
    seen = statements(engine)
    assert await read_keys(engine) == set()
    assert seen == ["SELECT"]  # no BEGIN, no ping; asyncpg's own BEGIN would also go through here
    seen.clear()
    with pytest.raises(RuntimeError):
        async with writing(sessions) as session, session.begin():
            await session.execute(text("INSERT INTO bot_state (key, document, e_tag, updated_at) "
                                       "VALUES ('rolled back', '{}', 1, now())"))
            raise RuntimeError("the transaction must roll back")
    assert await read_keys(engine) == set()


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(engine: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert await read_keys(engine) == set()
    assert await kill_backends(engine) >= 1
    monkeypatch.setattr(storage.db, "PING_IF_IDLE_SECONDS", 0.0)  # as if it had sat idle that long
    assert await read_keys(engine) == set()  # pinged, found dead, replaced: the turn never sees it


async def test_without_the_idle_ping_a_dropped_connection_fails_the_next_use(engine: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """What the ping is for (and what a connection in steady use meets once): the next statement fails,
    SQLAlchemy recognises the disconnect and the pool's other connections are replaced too."""
    assert await read_keys(engine) == set()
    assert await kill_backends(engine) >= 1
    monkeypatch.setattr(storage.db, "PING_IF_IDLE_SECONDS", 3600.0)
    # asyncpg words it by when the server's goodbye reached it ("the underlying connection is closed", or
    # "cannot switch to state 12" when it arrived mid-operation); either way SQLAlchemy takes it as a disconnect.
    with pytest.raises(DBAPIError) as failed:
        await read_keys(engine)
    assert failed.value.connection_invalidated
    assert await read_keys(engine) == set()


async def test_raises_waiting_on_one_reference_counter_get_their_numbers_in_the_order_they_came(engine: Any) -> None:
    """PostgreSQL's ON CONFLICT DO UPDATE starts over when the row changed while it waited, so waiters on the
    counter were served in no order; the advisory lock before it queues them first come first served."""
    sessions = session_factory(engine)
    order: list[tuple[int, int]] = []
    first_holds = asyncio.Event()

    async def take(position: int) -> None:
        async with writing(sessions) as session, session.begin():
            number = await SqlReferenceCounter(session).next_number("t", "C", 2026)
            order.append((position, number))
            if position == 0:
                first_holds.set()
                await asyncio.sleep(0.5)  # everyone else queues behind this transaction meanwhile
            else:
                await asyncio.sleep(0.02)  # some work before the commit, as a raise has

    tasks = [asyncio.create_task(take(0))]
    await first_holds.wait()
    for position in range(1, 12):
        tasks.append(asyncio.create_task(take(position)))
        await asyncio.sleep(0.03)  # each has queued before the next starts
    await asyncio.gather(*tasks)
    assert sorted(order) == [(position, position + 1) for position in range(12)]
