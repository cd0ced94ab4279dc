"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
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
        # check_same_thread: statements inside a transaction run on the event loop's thread (_OneTripCursor).
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        # Every session and connection ends its transaction itself (commit, or rollback on close): the pool's
        # own rollback on return would be a second, empty one, a trip to aiosqlite's thread per transaction.
        kwargs["pool_reset_on_return"] = None
    else:
        kwargs.update(pool_size=10, max_overflow=10)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    else:
        event.listen(engine.sync_engine, "checkin", _idle_from)
        event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


# A pooled PostgreSQL connection idle this long is pinged before use (a server restart or a firewall may have
# dropped it). SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per transaction, a fifth of a
# short transaction's CPU. A connection in steady use that the server dropped fails its next statement instead;
# SQLAlchemy then sees the disconnect and replaces every connection in the pool.
PING_IF_IDLE_SECONDS = 10.0
_IDLE_FROM = "concerns_idle_from"


def _idle_from(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_FROM] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_from = record.info.get(_IDLE_FROM)
    if idle_from is None or time.monotonic() - idle_from < PING_IF_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:  # whatever the driver raises for a dead connection
        # The pool's documented signal: drop this connection and check out another (a fresh one if need be).
        raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


class _OneTripCursor:
    """An aiosqlite cursor that runs a statement, fetches its rows and closes in one go (see _OneTripConnection).

    SQLAlchemy fetches every row of a statement straight after running it anyway (it never streams from SQLite
    in this project), so nothing waits for rows kept here.
    """

    arraysize = 1

    def __init__(self, connection: _OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> _OneTripCursor:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = None) -> _OneTripCursor:
        await self._run(sql, parameters, False)
        return self

    async def executemany(self, sql: str, parameters: Any) -> _OneTripCursor:
        await self._run(sql, parameters, True)
        return self

    async def _run(self, sql: str, parameters: Any, many: bool) -> None:
        connection = self._connection
        driver = connection.driver
        if connection.idle() and (driver.in_transaction or sql == "BEGIN"):
            found = _run_statement(driver, sql, parameters, many)
        else:
            found = await connection.trip(_run_statement, driver, sql, parameters, many)
        self._rows, self.description, self.rowcount, self.lastrowid = found

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []


def _run_statement(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> tuple[Any, ...]:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripConnection:
    """aiosqlite's connection as SQLAlchemy sees it, running on aiosqlite's thread only what can wait.

    aiosqlite sends every call to its thread: each trip hands the GIL between the event loop and that thread
    and wakes the loop, costing far more CPU than the statement (a few microseconds of SQLite). Here a trip is
    taken only by what can wait: connecting and the pragmas, BEGIN IMMEDIATE (which may queue behind another
    process's writer for the busy timeout) and COMMIT (which waits for the disk). What cannot wait runs on the
    event loop's thread: a deferred BEGIN (it takes no lock), ROLLBACK (under WAL it writes nothing), and every
    statement inside an open transaction, which already holds what it needs: a writer took the write lock at
    BEGIN IMMEDIATE, and under WAL a reader is not blocked by writers. (SQLite can still make a reader wait
    while another connection recovers the WAL after a crash or runs a RESTART checkpoint; this app runs none.)

    The driver connection is used by one thread at a time: a statement runs here only while no trip is queued
    or running (a task cancelled during a trip leaves it running on aiosqlite's thread: what follows queues
    behind it). Trips are counted by two counters, each written by one thread only.
    """

    def __init__(self, connection: Any) -> None:
        self._inner = connection
        self.driver: sqlite3.Connection = connection._conn
        self._queued = 0  # written on the event loop's thread only
        self._done = 0  # written on aiosqlite's thread only

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def cursor(self) -> _OneTripCursor:
        return _OneTripCursor(self)

    def idle(self) -> bool:
        return self._queued == self._done

    async def trip(self, function: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            try:
                return function(*args)
            finally:
                self._done += 1

        self._queued += 1
        return await self._inner._execute(run)

    async def commit(self) -> None:
        await self.trip(self.driver.commit)

    async def rollback(self) -> None:
        if self.idle():
            self.driver.rollback()
        else:
            await self.trip(self.driver.rollback)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    driver = getattr(dbapi_connection, "_connection", None)
    if hasattr(driver, "_execute") and hasattr(driver, "_conn"):  # aiosqlite: see _OneTripCursor
        dbapi_connection._connection = _OneTripConnection(driver)
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


def count_work(engine: AsyncEngine, counters: dict[str, int]) -> None:
    """Count the statements and transactions the engine runs into `counters` (the app's /metrics): what a
    turn costs the database, and the first thing to look at when a turn gets slower."""
    counters.setdefault("db_statements_total", 0)
    counters.setdefault("db_transactions_total", 0)

    def statement(*_: Any) -> None:
        counters["db_statements_total"] += 1

    def transaction(_connection: Any) -> None:
        counters["db_transactions_total"] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "begin", transaction)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


class ReadOnlyViolation(RuntimeError):
    """Something tried to write in a transaction opened to read only: a programming error."""


def reading(sessions: async_sessionmaker[Any]) -> AsyncSession:
    """A session for work that only reads: on SQLite it does not take the write lock; on PostgreSQL it runs
    without BEGIN and ROLLBACK (autocommit), two round trips fewer. Under READ COMMITTED, PostgreSQL's
    default and ours, each statement sees a fresh snapshot inside a transaction too, so reads see the same."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        readers = getattr(sessions, _READERS, None)
        if readers is None:
            readers = bind.execution_options(isolation_level="AUTOCOMMIT")
            setattr(sessions, _READERS, readers)
        return sessions(bind=readers, execution_options={READ_ONLY: True}, info={READ_ONLY: True})
    return sessions(execution_options={READ_ONLY: True}, info={READ_ONLY: True})


_READERS = "_concerns_autocommit_readers"  # the engine's autocommit twin (same pool), kept on the sessionmaker


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
