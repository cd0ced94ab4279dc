"""The reminder commands as an operator runs them: `reminders preview`, `tick --dev`, `outbox list/retry`.

Each command is a real `concerns-bot` process (as in test_cli.py) on a SQLite file that the test has
upgraded and seeded through the services with one open case: Helen Ward chairs it, Tom Okafor
coordinates it and owns its first actions. On Monday 23 November 2026 at 10:45 that makes four
reminders due (three to Tom about actions due soon, Helen's daily digest).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from botbuilder.schema import Activity
from sqlalchemy import update

from bot.teams import conversation_of
from concerns.cases import Person
from concerns.reminders import Reminder, ReminderKind, Target
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxRow
from storage.outbox import SqlOutbox
from storage.uow import SqlUnitOfWork
from tests.storage.test_cases import open_one
from tests.storage.test_services import TENANT, raise_one
from tests.support.activities import PRIYA, Teams
from tests.support.clock import FixedClock
from tests.support.connector import ConnectorStub

ROOT = Path(__file__).resolve().parents[2]
WORKING = "2026-11-23T10:45"  # Monday, UK time: three action reminders and the chair's digest are due
SATURDAY = "2026-11-28T10:45"
EARLY = "2026-11-24T07:00"  # Tuesday, before the pack's working hours start at 08:00
CHANNEL = "19:general"  # where the case was opened


def environment(url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONCERNS_"))}
    return base | {"CONCERNS_DATABASE_URL": url}


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          env=environment(url), cwd=ROOT, timeout=120)


@dataclass
class Database:
    url: str
    sessions: Any

    @property
    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.sessions)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """An upgraded SQLite file with one open case, opened on Monday 23 November 2026 at 10:30."""
    url = f"sqlite:///{tmp_path / 'concerns.db'}"
    await upgrade(url)
    engine = create_engine(url)
    database = Database(url, session_factory(engine))
    clock = FixedClock("2026-11-23T10:30:00+00:00")
    raised = await raise_one(database.uow, clock, "k1")
    await open_one(database.uow, clock, raised.concern.provider.id)
    # Opening the case told Tom of his new actions; that went at the time, so here it is marked sent and the
    # outbox owes only what the commands add.
    async with database.uow() as tx:
        told = await tx._session.execute(update(OutboxRow).where(OutboxRow.kind == "action.assigned")
                                         .values(status="sent", sent_at=clock.now()))
        assert told.rowcount == 1
        await tx.commit()
    yield database
    await engine.dispose()


def due_lines(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.startswith("  ")]


async def test_preview_lists_what_would_be_sent_and_writes_nothing(database: Database) -> None:
    result = run(database.url, "reminders", "preview", "--at", WORKING)
    assert result.returncode == 0, result.stderr
    assert "At Mon 23 Nov 2026 10:45 (UK), 4 message(s) would be sent:" in result.stdout
    lines = due_lines(result.stdout)
    assert len(lines) == 4
    assert sum(line.startswith("action.before") and "Tom Okafor: PC-2026-0001" in line for line in lines) == 3
    assert any(line.startswith("digest") and "Helen Ward: digest of 1 case(s)" in line for line in lines)
    assert await database.outbox.counts() == {"sent": 1}  # a preview sends nothing and owes nothing


@pytest.mark.parametrize("at", [SATURDAY, EARLY])
async def test_preview_in_quiet_time_lists_nothing(database: Database, at: str) -> None:
    result = run(database.url, "reminders", "preview", "--at", at)
    assert result.returncode == 0, result.stderr
    assert "0 message(s) would be sent" in result.stdout and due_lines(result.stdout) == []
    assert await database.outbox.counts() == {"sent": 1}


async def test_tick_without_dev_refuses_and_touches_nothing(database: Database) -> None:
    result = run(database.url, "tick", "--at", WORKING)
    assert result.returncode == 2
    assert "--dev" in result.stderr
    assert await database.outbox.counts() == {"sent": 1}


def test_outbox_list_on_a_database_not_upgraded_says_to_upgrade(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'old.db'}", "outbox", "list")
    assert result.returncode == 2
    assert "db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


async def dead_letter(database: Database) -> int:
    """A reminder that could not be delivered, as the deliverer leaves it."""
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    reminder = Reminder(key="action.due:77:2026-11-23:2026-11-23", kind=ReminderKind.ACTION_DUE, tenant_id=TENANT,
                        target=Target.PERSONAL, recipient=Person("aad-tom", "Tom Okafor"),
                        case_reference="PC-2026-0001", facts={"action_id": 77},
                        summary="Tom Okafor: PC-2026-0001 action due Mon 23 Nov: Undeliverable test action")
    outbox = database.outbox
    await outbox.enqueue([reminder], at)
    [claimed] = await outbox.claim("worker-x", at, timedelta(minutes=2), 10)
    assert await outbox.dead(claimed.id, "worker-x", at, "HTTP 403: ErrorResponseException: (MessageWritesBlocked)")
    return claimed.id


async def test_outbox_list_shows_a_dead_letter_and_retry_makes_it_pending(database: Database) -> None:
    row = await dead_letter(database)
    listed = run(database.url, "outbox", "list", "--status", "dead")
    assert listed.returncode == 0, listed.stderr
    assert "outbox: 1 dead" in listed.stdout
    [line] = due_lines(listed.stdout)
    assert line.split()[:2] == [str(row), "dead"]
    assert "Undeliverable test action" in line and "MessageWritesBlocked" in line
    assert due_lines(run(database.url, "outbox", "list", "--status", "pending").stdout) == []

    retried = run(database.url, "outbox", "retry", str(row))
    assert retried.returncode == 0, retried.stderr
    assert "1 dead letter(s) will be retried" in retried.stdout
    message = await database.outbox.get(row)
    assert message is not None and (message.status, message.attempts) == ("pending", 0)
    assert await database.outbox.counts() == {"pending": 1, "sent": 1}


async def test_outbox_retry_of_a_row_that_is_not_a_dead_letter_fails(database: Database) -> None:
    row = await dead_letter(database)
    result = run(database.url, "outbox", "retry", "999999")
    assert result.returncode == 1
    assert "not dead letters (or unknown): 999999" in result.stdout
    assert (await database.outbox.get(row)).status == "dead"  # type: ignore[union-attr]
    assert run(database.url, "outbox", "retry").returncode == 2  # neither ids nor --all-dead


async def test_tick_dev_delivers_through_the_connector_of_the_stored_conversation(database: Database) -> None:
    connector = ConnectorStub()
    server = TestServer(connector.app(), host="127.0.0.1")
    await server.start_server()
    try:
        # The team's channel where the case was opened, installed with the connector's address.
        activity = Teams(str(server.make_url("/")), tenant=TENANT).bot_added_to_team(PRIYA)
        activity["conversation"]["id"] = CHANNEL
        activity["channelData"]["channel"]["id"] = CHANNEL
        async with database.uow() as tx:
            await tx.conversations.save(conversation_of(Activity().deserialize(activity)))
            await tx.commit()
        # The connector answers in this event loop while the command runs in its own process.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "tick", "--dev", "--at", WORKING, cwd=ROOT, env=environment(database.url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        await server.close()
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 0, stderr
    assert "Sweep at Mon 23 Nov 2026 10:45 (UK): 4 new, 4 sent, 0 to retry, 0 deferred, 0 dead" in stdout, stdout
    rows = [row for row in await database.outbox.listing() if row.kind is not ReminderKind.ACTION_ASSIGNED]
    assert len(rows) == 4 and {row.status for row in rows} == {"sent"}
    # Nobody had a 1:1 chat with the bot yet: each was created through the channel's connector, then posted to.
    assert {member["id"] for created in connector.created for member in created["members"]} == {"aad-tom",
                                                                                                "aad-helen"}
    posts = [sent for sent in connector.sent if sent.method == "POST"]
    assert sorted(row.activity_id for row in rows) == sorted(sent.activity_id for sent in posts)
    cards = {row.kind: sent.card for row in rows for sent in posts if sent.activity_id == row.activity_id}
    assert cards[ReminderKind.DIGEST] is not None and "Your cases on Monday 23 November" in str(cards[
        ReminderKind.DIGEST])
    assert cards[ReminderKind.ACTION_BEFORE] is not None and "Coming up" in str(cards[ReminderKind.ACTION_BEFORE])
    # A second tick at the same moment owes nothing and posts nothing.
    again = run(database.url, "tick", "--dev", "--at", WORKING)
    assert again.returncode == 0 and "0 new, 0 sent" in again.stdout
    assert len([sent for sent in connector.sent if sent.method == "POST"]) == 4
