"""The sweep's queries and the busiest reads find their rows through indexes, never by reading a whole table.

Each query is captured as the code sends it and given to EXPLAIN QUERY PLAN (SQLite) or EXPLAIN with
sequential scans priced out (PostgreSQL, whose planner would otherwise scan these tiny test tables).
A table read from end to end fails the test, naming the query: a missing index grows with what exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from concerns.reminders import reminder_window
from storage.reminders import SqlReminderSource
from tests.storage.test_reminder_window import CROYDON, MONDAY, PACKS, TENANT, calendar_for, london, seed

# Tables that grow with the years: a full read of any of them is a regression. Small per-team tables
# (roles, conversations) are read whole on purpose.
GROWING = {"case_actions", "case_documents", "cases", "case_members", "meetings", "audit_events", "screenings",
           "concerns", "providers", "votes", "ballots", "case_concerns", "outbox"}


async def captured(sessions: Any, work: Callable[[], Awaitable[Any]]) -> list[tuple[str, Any]]:
    """The SELECT statements `work` sends, with their parameters."""
    engine = sessions.kw["bind"].sync_engine
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        await work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sent
    return sent


async def full_scans(sessions: Any, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement that reads a growing table whole, with the plan line that does it."""
    found = []
    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            await connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            if postgres:
                lines = [row[0] for row in await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
                bad = [line for line in lines if "Seq Scan on" in line
                       and line.split("Seq Scan on ")[1].split()[0] in GROWING]
            else:
                lines = [row[3] for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                            parameters)]
                # A search on the status alone ("open") reads nearly as much as a scan: SQLite, with no
                # statistics, takes it when no index fits the query better.
                bad = [line for line in lines if line.split()[0] in ("SCAN", "SEARCH") and line.split()[1] in GROWING
                       and (line.startswith("SCAN ") or line.endswith("(status=?)"))]
            if bad:
                found.append(f"{' '.join(statement.split())[:300]}\n    -> {bad}")
    return found


async def test_the_sweep_reads_deadlines_through_indexes(sessions: Any) -> None:
    await seed(sessions)
    source = SqlReminderSource(sessions)
    at = london(MONDAY, 10, 30)

    # Whose digest may be owed is one pass over the open cases' chairs (by the status index) each sweep
    # after the digest time: the one read that grows with the open cases, left out of this check.
    chairs = await source.chairs()

    async def sweep_reads() -> None:
        window = reminder_window(at, PACKS, CROYDON, calendar_for)
        # As the steady sweep reads: digests sent to all but one chair, whose cases are read for theirs.
        await source.state(at, window.owing_digests(chairs, [f"digest:{TENANT}:aad-chair-{n}:{MONDAY}"
                                                             for n in range(1, 4)]))
        await source.state(london(MONDAY, 8, 10), reminder_window(london(MONDAY, 8, 10), PACKS, CROYDON,
                                                                  calendar_for))

    statements = await captured(sessions, sweep_reads)
    # The owed digest's cases, read from its chair's side (storage.reminders._digest_cases), are among them.
    assert any("holder" in statement for statement, _ in statements)
    assert await full_scans(sessions, statements) == []


async def test_the_busiest_reads_use_indexes(sessions: Any, uow: Any) -> None:
    await seed(sessions)

    async def reads() -> None:
        async with uow().reader() as tx:
            await tx.cases.open_actions_of(TENANT, "aad-helen")
            await tx.cases.actions_to_assign_by(TENANT, "aad-helen")
            open_cases = await tx.cases.open_cases(TENANT)
            await tx.cases.open_action_counts([c.id for c in open_cases], MONDAY)
            await tx.cases.get_by_reference(TENANT, "PC-2026-0101")
            await tx.cases.open_for_provider(TENANT, 101)
            await tx.concerns.unscreened(TENANT, 20)
            await tx.concerns.count_unscreened(TENANT)
            await tx.concerns.for_provider(TENANT, 101, 20)
            await tx.concerns.count_for_provider(TENANT, 101)
            await tx.providers.recent(TENANT, 15)
            await tx.providers.find_by_name(TENANT, "oakwood nursing home")
            await tx.patterns.facts(TENANT, 101, london(MONDAY, 9) - timedelta(days=365))
            await tx.votes.get(1)
            await tx.votes.case_id_of(1)
            await tx.audit.for_subjects([("case", "PC-2026-0101")], 50, tenant_id=TENANT)

    assert await full_scans(sessions, await captured(sessions, reads)) == []
