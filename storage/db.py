"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

DEFAULT_SQLITE_PATH = Path("var") / "concerns.db"
# Connection execution option (and session.info key) marking a transaction that only reads.
READ_ONLY = "concerns_read_only"


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"


def normalise_url(url: str) -> str:
    """Accept the usual spellings (postgresql://, sqlite:///) and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    """Create the engine, making the SQLite file's folder and turning on what SQLite needs."""
    url = normalise_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A transaction that may write takes the write lock at the start: a deferred one that later writes
    # can fail with "database is locked" (its snapshot is stale) instead of waiting its turn. One that
    # only reads begins deferred, so under WAL it runs alongside the one writer instead of queueing.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


class ReadOnlyViolation(RuntimeError):
    """Something tried to write in a transaction opened to read only: a programming error."""


def reading(sessions: async_sessionmaker[Any]) -> AsyncSession:
    """A session for work that only reads: on SQLite it does not take the write lock."""
    return sessions(execution_options={READ_ONLY: True}, info={READ_ONLY: True})


class _WriteLock:
    """SQLite's one write lock, queued for in this process, first come first served.

    Writers waiting in SQLite's busy handler poll with growing sleeps, in no order, each on its own
    aiosqlite thread, and give up after the busy timeout; queued here they are handed the lock the
    moment it is free. Other processes on the same file still meet the busy handler.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # an engine reused under a new event loop (asyncio.run twice)
            self._lock, self._loop, self._owner = asyncio.Lock(), loop, None
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            # SQLite would make it wait for itself until the busy timeout: fail now, with the reason.
            raise RuntimeError("a SQLite write transaction is already open in this task")
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, _WriteLock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def write_turn(sessions: async_sessionmaker[Any]) -> AsyncIterator[None]:
    """Hold this process's place for SQLite's write lock (nothing to wait for on PostgreSQL)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        yield
        return
    lock = _WRITE_LOCKS.get(bind.sync_engine)
    if lock is None:
        lock = _WRITE_LOCKS[bind.sync_engine] = _WriteLock()
    async with lock.held():
        yield


@asynccontextmanager
async def writing(sessions: async_sessionmaker[Any]) -> AsyncIterator[AsyncSession]:
    """A session for work that writes, its turn for SQLite's write lock held until it is closed."""
    async with write_turn(sessions), sessions() as session:
        yield session
