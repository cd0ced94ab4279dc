"""What one statement and one transaction cost through storage.db, in CPU, against a raw driver call.

A turn's database work is a handful of short transactions of a few indexed statements each, so their fixed
costs (session, pool, driver trips) decide a turn's CPU more than SQLite or PostgreSQL do. This measures them
in one process, nothing else running on its event loop:

    .venv/bin/python -m bench.statements                      # SQLite (a file in a temporary folder)
    .venv/bin/python -m bench.statements --db postgresql      # a throwaway PostgreSQL cluster

Then the repository reads of the busiest turns (a case, a person's fifty open actions, a vote) on the
harness's generated world. Prints microseconds of CPU (process time: every thread, so aiosqlite's
included) and of wall time per operation, the mean of `--count` after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.db import create_engine, reading, session_factory, writing
from storage.migrate import upgrade
from storage.models import BotStateRow

_ABSENT = select(BotStateRow.key).where(BotStateRow.key == "absent")


async def _measure(label: str, operation: Callable[[], Awaitable[Any]], count: int) -> dict[str, Any]:
    for _ in range(max(50, count // 20)):
        await operation()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await operation()
    found = {"operation": label, "cpu_us": round((time.process_time() - cpu) * 1e6 / count, 1),
             "wall_us": round((time.perf_counter() - wall) * 1e6 / count, 1)}
    print(f"  {label:<52} cpu {found['cpu_us']:>7.1f} us   wall {found['wall_us']:>7.1f} us", flush=True)
    return found


async def measure(url: str, count: int, sqlite_file: Path | None) -> list[dict[str, Any]]:
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    results = []
    try:
        async def read_transaction() -> None:
            async with reading(sessions) as session:
                await session.execute(_ABSENT)

        async def write_transaction() -> None:
            async with writing(sessions) as session:
                await session.execute(_ABSENT)
                await session.commit()

        async with reading(sessions) as session:
            async def orm_statement() -> None:
                await session.execute(_ABSENT)
            results.append(await _measure("statement in an open ORM session", orm_statement, count))
        async with engine.connect() as connection:
            async def core_statement() -> None:
                await connection.execute(_ABSENT)
            results.append(await _measure("statement on an open Core connection", core_statement, count))
        results.append(await _measure("read transaction with one statement", read_transaction, count))
        results.append(await _measure("write transaction with one statement, committed", write_transaction,
                                      count // 2))
        results += await _domain_reads(url, sessions, count // 4)
    finally:
        await engine.dispose()
    if sqlite_file is not None:
        raw = sqlite3.connect(sqlite_file)

        async def driver_statement() -> None:
            raw.execute("SELECT key FROM bot_state WHERE key = ?", ("absent",)).fetchall()
        results.append(await _measure("the same statement, sqlite3 directly", driver_statement, count))
        raw.close()
    return results


async def _domain_reads(url: str, sessions: Any, count: int) -> list[dict[str, Any]]:
    """The repository reads of the busiest turns, each in a read transaction of its own, on the harness's
    world (bench.generate with no concerns: 32 open cases with votes of ten members, fifty open actions of
    one person)."""
    from bench import world
    from bench.generate import generate
    from storage.models import CaseRow, VoteRow
    from storage.repositories import SqlCaseRepository, SqlVoteRepository

    await generate(url, concerns=0, migrate=False)
    async with reading(sessions) as session:
        vote_id, case_id = (await session.execute(select(VoteRow.id, VoteRow.case_id).limit(1))).one()
        tenant = await session.scalar(select(CaseRow.tenant_id).where(CaseRow.id == case_id))

    async def case() -> None:
        async with reading(sessions) as session:
            assert await SqlCaseRepository(session).get(tenant, case_id) is not None

    async def actions() -> None:
        async with reading(sessions) as session:
            found = await SqlCaseRepository(session).open_actions_of(tenant, world.OWNER.aad)
            assert len(found) == world.OWNER_ACTIONS

    async def vote() -> None:
        async with reading(sessions) as session:
            assert await SqlVoteRepository(session).get(vote_id) is not None

    return [await _measure("a case (provider, 10 members, concerns), in a read transaction", case, count),
            await _measure("a person's 50 open actions, in a read transaction", actions, count),
            await _measure("a vote with its ballots, in a read transaction", vote, count)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if args.db == "sqlite":
            file = folder / "statements.db"
            url, sqlite_file = f"sqlite+aiosqlite:///{file}", file
        else:
            from bench.pg import create_database, running_postgres

            admin = stack.enter_context(running_postgres())
            url, sqlite_file = asyncio.run(create_database(admin, "statements")), None
        print(f"{args.db}: {args.count} of each", flush=True)
        asyncio.run(measure(url, args.count, sqlite_file))


if __name__ == "__main__":
    main()
