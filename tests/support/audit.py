"""The audit chain from the outside: walk it as `concerns-bot audit verify` does, and tamper with it as an
intruder with database access would (past the append-only triggers)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from concerns.audit import ChainedEvent, ChainReport, verify_log
from storage.db import create_engine
from storage.repositories import SqlAuditLog


async def walk(sessions: Any, batch: int = 1000) -> ChainReport:
    """Verify the whole chain, a short transaction per batch."""
    async def read(after_id: int, limit: int) -> list[ChainedEvent]:
        async with sessions() as session:
            return await SqlAuditLog(session).chained(after_id, limit)

    return await verify_log(read, batch)


async def stored_chain(sessions: Any) -> list[ChainedEvent]:
    async with sessions() as session:
        return await SqlAuditLog(session).chained(0, 1_000_000)


async def tamper(database_url: str, *statements: str) -> None:
    """Run `statements` against audit_events with its triggers out of the way.

    PostgreSQL: disabled for the statements by the test's superuser connection, then enabled again.
    SQLite has no way to disable a trigger: they are dropped.
    """
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                await connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            else:
                await connection.execute(text("DROP TRIGGER audit_events_no_update"))
                await connection.execute(text("DROP TRIGGER audit_events_no_delete"))
            for statement in statements:
                await connection.execute(text(statement))
            if postgres:
                await connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    finally:
        await engine.dispose()


async def empty_postgres_database(admin_url: str) -> str:
    """A new, unmigrated database on the test server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(admin_url)
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)
