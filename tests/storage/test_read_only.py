"""Read-only units of work run alongside a writer and refuse to write; writers queue instead of failing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from concerns.model import AuditEvent
from concerns.vocabulary import ServiceType
from storage.db import ReadOnlyViolation, create_engine, session_factory
from storage.migrate import upgrade
from storage.models import AuditEventRow, ProviderRow
from storage.uow import SqlUnitOfWork

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AT = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def _event(action: str, subject: str) -> AuditEvent:
    return AuditEvent(occurred_at=AT, tenant_id=TENANT, actor_id="aad-priya", actor_name="Priya Shah",
                      action=action, subject_type="provider", subject_ref=subject)


async def _count(sessions: Any, row: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(row)) or 0)


async def test_readers_proceed_while_a_write_transaction_is_open(uow: Any, sessions: Any) -> None:
    async with uow() as setup:
        await setup.providers.add(TENANT, "Oakwood Nursing Home", ServiceType.NURSING, AT)
        await setup.commit()
    writer_open, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with uow() as tx:
            # The write itself, so that on SQLite the transaction holds the database's write lock.
            await tx.providers.add(TENANT, "Riverside Care", ServiceType.RESIDENTIAL, AT)
            await tx.audit.record(_event("provider.created", "Riverside Care"))
            writer_open.set()
            await release.wait()
            await tx.commit()

    async def read() -> list[str]:
        async with uow().reader() as reader:
            return [p.name for p in await reader.providers.recent(TENANT, 15)]

    task = asyncio.create_task(writer())
    await asyncio.wait_for(writer_open.wait(), 10)
    try:
        # Before, every transaction began IMMEDIATE on SQLite, so these waited for the writer (up to 30 s).
        seen = await asyncio.wait_for(asyncio.gather(*(read() for _ in range(8))), 5)
    finally:
        release.set()
        await task
    assert seen == [["Oakwood Nursing Home"]] * 8  # the writer's uncommitted provider is not visible
    async with uow().reader() as reader:
        assert {p.name for p in await reader.providers.recent(TENANT, 15)} == {"Oakwood Nursing Home",
                                                                               "Riverside Care"}


async def test_a_read_only_unit_of_work_refuses_to_write(uow: Any, sessions: Any) -> None:
    async with uow().reader() as reader:
        with pytest.raises(ReadOnlyViolation):
            await reader.providers.add(TENANT, "Bramble House", ServiceType.NURSING, AT)
    async with uow().reader() as reader:
        with pytest.raises(ReadOnlyViolation):
            await reader.audit.record(_event("provider.created", "Bramble House"))
    async with uow().reader() as reader:
        with pytest.raises(ReadOnlyViolation):
            await reader.references.next_number(TENANT, "PC", 2026)  # a Core UPDATE/INSERT, not a flush
    async with uow().reader() as reader:
        reader._session.add(ProviderRow(tenant_id=TENANT, name="Bramble House", name_key="bramble house",
                                        service_type="nursing", created_at=AT))
        with pytest.raises(ReadOnlyViolation):
            await reader.commit()
    async with uow().reader() as reader:
        assert await reader.providers.recent(TENANT, 15) == []
        await reader.commit()  # committing nothing is allowed: it ends the read
    assert await _count(sessions, ProviderRow) == 0
    assert await _count(sessions, AuditEventRow) == 0


async def test_sixteen_concurrent_writers_never_meet_database_is_locked(tmp_path: Path) -> None:
    """Each writer holds its transaction across awaits, as a turn does; together they take far longer than
    SQLite's busy timeout (cut to 200 ms here), so only writers queued in the process all get through."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'concerns.db'}"
    await upgrade(url)
    engine = create_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=200")
        cursor.close()

    sessions = session_factory(engine)
    try:
        async def write(n: int) -> None:
            async with SqlUnitOfWork(sessions) as tx:
                await tx.providers.add(TENANT, f"Willow Lodge {n}", ServiceType.SUPPORTED_LIVING,
                                       AT + timedelta(seconds=n))
                await asyncio.sleep(0.05)
                await tx.audit.record(_event("provider.created", f"Willow Lodge {n}"))
                await tx.commit()

        async def read() -> int:
            async with SqlUnitOfWork(sessions).reader() as reader:
                return len(await reader.providers.recent(TENANT, 100))

        results = await asyncio.gather(*(write(n) for n in range(16)), *(read() for _ in range(16)),
                                       return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await _count(sessions, ProviderRow) == 16
        assert await _count(sessions, AuditEventRow) == 16
    finally:
        await engine.dispose()


async def test_a_write_transaction_opened_inside_another_in_the_same_task_fails_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concerns.db'}"
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with SqlUnitOfWork(sessions) as outer:
            await outer.providers.recent(TENANT, 1)
            # SQLite would have it wait for itself until the busy timeout; a reader inside is fine.
            with pytest.raises(RuntimeError, match="already open in this task"):
                async with SqlUnitOfWork(sessions):
                    pass
            async with SqlUnitOfWork(sessions).reader() as reader:
                assert await reader.providers.recent(TENANT, 1) == []
    finally:
        await engine.dispose()
