"""`concerns-bot audit verify` as an operator runs it: a real process over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from concerns.model import AuditEvent
from tests.bot.test_cli import run
from tests.support.audit import stored_chain, tamper

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def verify(database_url: str) -> Any:
    return run("audit", "verify", env={"CONCERNS_DATABASE_URL": database_url})


async def record_case_history(uow: Any) -> None:
    at = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    for n, action in enumerate(["case.opened", "case.card_posted", "vote.opened", "vote.cast", "vote.closed"]):
        async with uow() as tx:
            await tx.audit.record(AuditEvent(
                occurred_at=at + timedelta(minutes=n), tenant_id=TENANT, actor_id="a1f2c3d4-0001",
                actor_name="Priya Shah", action=action, subject_type="case", subject_ref="PC-2026-0001",
                conversation_id="19:general@thread.tacv2", details={"step": "information-gathering"}))
            await tx.commit()


async def test_an_intact_chain_exits_0_with_the_count_and_last_hash(
    database_url: str, uow: Any, sessions: Any
) -> None:
    await record_case_history(uow)
    result = await asyncio.to_thread(verify, database_url)
    assert result.returncode == 0, result.stderr
    last = (await stored_chain(sessions))[-1]
    assert result.stdout.splitlines() == ["audit chain intact: 5 events", f"last event {last.id}, hash {last.hash}"]


async def test_an_empty_trail_is_intact(database_url: str) -> None:
    result = await asyncio.to_thread(verify, database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "audit chain intact: 0 events"


async def test_a_tampered_event_exits_1_naming_it(database_url: str, uow: Any, sessions: Any) -> None:
    await record_case_history(uow)
    vote = (await stored_chain(sessions))[3]
    assert vote.event.action == "vote.cast"
    await tamper(database_url, f"UPDATE audit_events SET actor_name = 'Tom Okafor' WHERE id = {vote.id}")
    result = await asyncio.to_thread(verify, database_url)
    assert result.returncode == 1
    assert (f"event {vote.id} (vote.cast on case PC-2026-0001 at 2026-11-23T10:33:00.000000+00:00): "
            "hash does not match its contents") in result.stderr
    assert "3 event(s) before it are intact" in result.stderr
    assert "intact:" not in result.stdout


async def test_a_removed_event_exits_1_naming_the_broken_link(database_url: str, uow: Any, sessions: Any) -> None:
    await record_case_history(uow)
    chain = await stored_chain(sessions)
    await tamper(database_url, f"DELETE FROM audit_events WHERE id = {chain[1].id}")
    result = await asyncio.to_thread(verify, database_url)
    assert result.returncode == 1
    assert f"event {chain[2].id} (vote.opened" in result.stderr
    assert f"prev_hash does not match event {chain[0].id}" in result.stderr


def test_a_database_not_migrated_is_refused(tmp_path: Path) -> None:
    result = verify(f"sqlite:///{tmp_path}/new.db")
    assert result.returncode == 2
    assert "concerns-bot db upgrade" in result.stderr
