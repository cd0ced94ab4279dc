"""The audit trail is append-only and hash-chained, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from concerns import services
from concerns.audit import GENESIS, event_hash
from concerns.model import Actor, AuditEvent
from concerns.validation import parse_raise_form
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import UTCDateTime
from storage.uow import SqlUnitOfWork
from tests.support.audit import empty_postgres_database, stored_chain, tamper, walk
from tests.support.clock import FixedClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PRIYA = Actor(id="a1f2c3d4-0001", name="Priya Shah", tenant_id=TENANT)
TOM = Actor(id="b7e9a0c2-0002", name="Tom Okafor", tenant_id=TENANT)


async def raise_one(uow: Any, clock: FixedClock, key: str, actor: Actor = PRIYA, **overrides: str) -> Any:
    values = {"provider_name": "Oakwood Lodge Nursing Home", "service_type": "nursing", "categories": "medication",
              "source_agency": "cqc", "description": "Unsigned MAR charts on the first floor.",
              "occurred_on": "2026-11-20"} | overrides
    return await services.raise_concern(uow(), clock, actor, parse_raise_form(values, date(2026, 11, 23)),
                                        conversation_id="19:general", submission_key=key)


def event(action: str = "case.card_posted", at: datetime | None = None, **details: Any) -> AuditEvent:
    return AuditEvent(occurred_at=at or datetime(2026, 11, 23, 10, 30, tzinfo=UTC), tenant_id=TENANT,
                      actor_id=PRIYA.id, actor_name=PRIYA.name, action=action, subject_type="case",
                      subject_ref="PC-2026-0001", conversation_id="19:general@thread.tacv2", details=details)


async def record(uow: Any, *events: AuditEvent) -> None:
    async with uow() as tx:
        for e in events:
            await tx.audit.record(e)
        await tx.commit()


async def test_events_written_by_the_use_cases_form_one_unbroken_chain(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    await raise_one(uow, clock, "k1")  # a new provider: provider.created, then concern.raised
    clock.advance(minutes=5)
    await raise_one(uow, clock, "k2", categories="staffing")
    clock.advance(minutes=5)
    await raise_one(uow, clock, "k3", provider_name="Birchfield Court Care Home", service_type="residential")
    chain = await stored_chain(sessions)
    assert [c.event.action for c in chain] == ["provider.created", "concern.raised", "concern.raised",
                                               "provider.created", "concern.raised"]
    assert chain[0].prev_hash == GENESIS
    assert [c.prev_hash for c in chain[1:]] == [c.hash for c in chain[:-1]]
    report = await walk(sessions)
    assert (report.count, report.broken) == (5, None)


async def test_events_of_one_unit_of_work_chain_in_the_order_recorded(uow: Any, sessions: Any) -> None:
    await record(uow, event("vote.opened"), event("vote.cast"), event("vote.closed"))
    await record(uow, event("case.step_moved"))
    chain = await stored_chain(sessions)
    assert [c.event.action for c in chain] == ["vote.opened", "vote.cast", "vote.closed", "case.step_moved"]
    assert (await walk(sessions)).broken is None


async def test_the_hash_covers_values_as_stored(uow: Any, sessions: Any) -> None:
    # A London summer time, microseconds, a tuple, nested and non-ASCII details: all read back differently
    # from how they were given, and the chain still holds.
    summer = datetime(2026, 7, 1, 9, 15, 30, 123456, tzinfo=ZoneInfo("Europe/London"))
    await record(uow, event("case.opened", at=summer, members={"b7e9a0c2-0002": "chair"},
                            concerns=("C-2026-0001", "C-2026-0002"), provider="Zoë's Home Care – Croydon",
                            rating=2.5, immediate_risk=None))
    [stored] = await stored_chain(sessions)
    assert stored.event.occurred_at == summer and stored.event.occurred_at.tzinfo == UTC
    assert stored.event.details["concerns"] == ["C-2026-0001", "C-2026-0002"]
    assert (await walk(sessions)).broken is None


async def test_a_rolled_back_unit_of_work_adds_nothing_to_the_chain(uow: Any, sessions: Any) -> None:
    async with uow() as tx:
        await tx.audit.record(event("vote.opened"))
        await tx.rollback()
        await tx.audit.record(event("vote.cast"))
        await tx.commit()
    async with uow() as tx:
        await tx.audit.record(event("vote.closed"))  # never committed
    await record(uow, event("case.step_moved"))
    assert [c.event.action for c in await stored_chain(sessions)] == ["vote.cast", "case.step_moved"]
    assert (await walk(sessions)).broken is None


async def test_a_unit_of_work_reads_its_own_events_before_commit(uow: Any) -> None:
    await record(uow, event("case.opened"))
    async with uow() as tx:
        await tx.audit.record(event("case.card_posted"))
        await tx.audit.record(replace(event("concern.raised"), subject_type="concern", subject_ref="C-2026-0001"))
        assert [e.action for e in await tx.audit.for_subject("case", "PC-2026-0001")] == ["case.opened",
                                                                                           "case.card_posted"]
        assert [e.action for e in await tx.audit.for_subjects([("case", "PC-2026-0001")], limit=1)] == [
            "case.card_posted"]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor_name = 'Someone Else'",
    "DELETE FROM audit_events",
    "DELETE FROM audit_events WHERE action = 'vote.opened'",
])
async def test_update_and_delete_through_sql_are_refused(uow: Any, sessions: Any, statement: str) -> None:
    await record(uow, event("vote.opened"), event("vote.cast"))
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="audit_events is append-only"):
            await session.execute(text(statement))
    chain = await stored_chain(sessions)
    assert [(c.event.action, c.event.actor_name) for c in chain] == [("vote.opened", PRIYA.name),
                                                                     ("vote.cast", PRIYA.name)]


async def test_truncate_is_refused_on_postgresql(uow: Any, sessions: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no TRUNCATE")
    await record(uow, event("vote.opened"))
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="audit_events is append-only"):
            await session.execute(text("TRUNCATE audit_events"))
    assert len(await stored_chain(sessions)) == 1


async def test_a_row_edited_past_the_trigger_is_named_by_verify(uow: Any, sessions: Any, database_url: str) -> None:
    await record(uow, event("vote.opened"), event("vote.cast", ballot="moderate"), event("vote.closed"))
    await record(uow, event("case.step_moved"))
    cast = (await stored_chain(sessions))[1]
    assert (await walk(sessions)).broken is None
    await tamper(database_url, "UPDATE audit_events SET details = '{\"ballot\": \"minor\"}' "
                               f"WHERE id = {cast.id}")
    report = await walk(sessions)
    assert report.broken is not None
    assert (report.broken.id, report.broken.reason) == (cast.id, "hash does not match its contents")
    assert report.count == 1  # vote.opened, the one event before it


async def test_a_row_removed_past_the_trigger_breaks_the_next_link(uow: Any, sessions: Any, database_url: str) -> None:
    await record(uow, event("vote.opened"), event("vote.cast"), event("vote.closed"))
    opened, cast, closed = await stored_chain(sessions)
    await tamper(database_url, f"DELETE FROM audit_events WHERE id = {cast.id}")
    report = await walk(sessions)
    assert report.broken is not None
    assert (report.broken.id, report.broken.reason) == (closed.id, f"prev_hash does not match event {opened.id}")


async def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(
    uow: Any, sessions: Any, database_url: str
) -> None:
    await record(uow, event("vote.opened"), event("vote.cast", ballot="moderate"), event("vote.closed"))
    _, cast, closed = await stored_chain(sessions)
    forged = event_hash(cast.prev_hash, replace(cast.event, subject_ref="PC-2026-0009"))
    await tamper(database_url, f"UPDATE audit_events SET subject_ref = 'PC-2026-0009', hash = '{forged}' "
                               f"WHERE id = {cast.id}")
    report = await walk(sessions)
    assert report.broken is not None
    assert (report.broken.id, report.broken.reason) == (closed.id, f"prev_hash does not match event {cast.id}")


async def test_concurrent_appends_give_one_unbroken_chain(uow: Any, sessions: Any) -> None:
    base = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)

    async def one(n: int) -> None:
        async with uow() as tx:
            await tx.audit.record(event("case.card_posted", at=base + timedelta(seconds=n), n=n))
            await asyncio.sleep(0)  # let the others interleave between record and commit
            await tx.commit()

    await asyncio.gather(*(one(n) for n in range(20)))
    chain = await stored_chain(sessions)
    assert sorted(c.event.details["n"] for c in chain) == list(range(20))
    assert len({c.prev_hash for c in chain}) == 20  # no two events chained onto the same predecessor
    assert (await walk(sessions)).broken is None


async def test_concurrent_use_cases_that_interleave_audit_and_row_locks_neither_deadlock_nor_fork(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    # Raising about a new provider records provider.created before it takes the reference counter's row;
    # raising about a known provider takes that row first. The chain is appended at commit, so neither waits
    # on the other while holding what the other needs.
    await raise_one(uow, clock, "first")
    raises = [raise_one(uow, clock, f"new-{n}", provider_name=f"Elm Tree House {n}", service_type="residential")
              for n in range(6)] + [raise_one(uow, clock, f"known-{n}", actor=TOM) for n in range(6)]
    results = await asyncio.wait_for(asyncio.gather(*raises), timeout=60)
    assert all(r.created for r in results)
    report = await walk(sessions)
    assert (report.count, report.broken) == (2 + 6 * 2 + 6, None)


AUDIT_0011 = sa.table(
    "audit_events",
    sa.column("occurred_at", UTCDateTime()), sa.column("tenant_id", sa.String()), sa.column("actor_id", sa.String()),
    sa.column("actor_name", sa.String()), sa.column("action", sa.String()), sa.column("subject_type", sa.String()),
    sa.column("subject_ref", sa.String()), sa.column("conversation_id", sa.String()), sa.column("details", sa.JSON()),
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'before.db'}"
    return await empty_postgres_database(request.getfixturevalue("postgres_admin_url"))


async def test_the_migration_chains_the_events_already_stored(unmigrated_url: str) -> None:
    await upgrade(unmigrated_url, "0011")
    start = datetime(2026, 4, 1, 8, 0, 0, 1, tzinfo=ZoneInfo("Europe/London"))
    rows = [{"occurred_at": start + timedelta(minutes=n, microseconds=n), "tenant_id": TENANT,
             "actor_id": PRIYA.id if n % 2 else TOM.id, "actor_name": PRIYA.name if n % 2 else TOM.name,
             "action": "concern.raised", "subject_type": "concern", "subject_ref": f"C-2026-{n:04d}",
             "conversation_id": None if n % 3 else "19:general@thread.tacv2",
             "details": {"categories": ["medication", "staffing"], "provider": "Zoë's Home Care", "n": n,
                         "members": {"b": "chair", "a": "member"}}}
            for n in range(1, 2501)]  # more than one batch of the backfill
    engine = create_engine(unmigrated_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(AUDIT_0011), rows)
    finally:
        await engine.dispose()

    await upgrade(unmigrated_url)

    engine = create_engine(unmigrated_url)
    sessions = session_factory(engine)
    try:
        report = await walk(sessions)
        assert (report.count, report.broken) == (2500, None)
        assert report.last is not None and report.last.event.subject_ref == "C-2026-2500"
        await record(lambda: SqlUnitOfWork(sessions), event("case.opened"))  # the application carries it on
        chain = await stored_chain(sessions)
        assert chain[0].prev_hash == GENESIS and chain[-1].prev_hash == report.last.hash
        assert (await walk(sessions)).broken is None
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="audit_events is append-only"):
                await session.execute(text("DELETE FROM audit_events"))
    finally:
        await engine.dispose()
