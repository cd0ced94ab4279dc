"""Shared fixtures: one database per test on SQLite and on PostgreSQL, a fixed clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import SqlUnitOfWork
from tests.support.clock import FixedClock
from tests.support.postgres import running_postgres


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """One throwaway PostgreSQL server for the whole run."""
    with running_postgres() as url:
        yield url


async def _create_database(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(admin_url)
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'concerns.db'}"
    else:
        url = await _create_database(request.getfixturevalue("postgres_admin_url"))
    await upgrade(url)
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def uow(sessions: Any) -> Any:
    """A factory of units of work, as the app wires it."""
    return lambda: SqlUnitOfWork(sessions)


@pytest.fixture
def clock() -> FixedClock:
    # A Monday in late November 2026, mid-morning in London.
    return FixedClock("2026-11-23T10:30:00+00:00")
