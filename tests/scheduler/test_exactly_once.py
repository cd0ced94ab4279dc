"""One deadline, one message: schedulers in separate processes, killed mid-send or racing on one database.

The schedulers are `tests/scheduler/worker_process.py` processes. Each delivery is a line the worker
appends to a shared file, so the file says what was delivered, by whom, however the process ended.
Time is simulated: every run is given the instant it runs as of, and nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from concerns.calendar import WorkingCalendar
from concerns.cases import Person
from concerns.clock import UK
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import Reminder, ReminderKind, Target, due_reminders
from scheduler.delivery import DeliveryPolicy
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import CaseActionRow, CaseMemberRow, CaseRow, OutboxRow, ProviderRow
from storage.outbox import SqlOutbox
from storage.reminders import SqlReminderSource
from tests.conftest import _create_database
from tests.scheduler.worker_process import CLAIMED, PACK_ID

ROOT = Path(__file__).resolve().parents[2]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
T0 = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # the conftest clock: Monday, mid-morning in London
LEASE = DeliveryPolicy().lease
WAIT = 60.0  # seconds a worker may take to answer before the test gives up on it
PACKS = load_packs(default_packs_dir())
CROYDON = PACKS[PACK_ID]


async def start_worker(database_url: str, worker: str, results: Path, *options: str) -> asyncio.subprocess.Process:
    errors = (results.parent / f"{worker}.stderr").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.scheduler.worker_process", database_url, worker, str(results), *options,
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=errors)
    finally:
        errors.close()


def stderr_of(results: Path, worker: str) -> str:
    path = results.parent / f"{worker}.stderr"
    return path.read_text()[-4000:] if path.exists() else ""


async def answer(process: asyncio.subprocess.Process, results: Path, worker: str) -> dict[str, Any]:
    """The worker's JSON line for one run; fails with its stderr if it died or hung."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=WAIT)
    except TimeoutError:
        process.kill()
        raise AssertionError(f"{worker} gave no answer in {WAIT} s:\n{stderr_of(results, worker)}") from None
    assert line, f"{worker} exited ({await process.wait()}):\n{stderr_of(results, worker)}"
    return json.loads(line)


async def run_worker(database_url: str, worker: str, results: Path, at: datetime) -> dict[str, Any]:
    """One sweep as of `at` in a fresh process, to its end."""
    process = await start_worker(database_url, worker, results, "--at", at.isoformat())
    try:
        reply = await answer(process, results, worker)
    finally:
        await stop(process)
    assert process.returncode == 0, stderr_of(results, worker)
    return reply


async def stop(process: asyncio.subprocess.Process) -> None:
    """End a worker: at the end of its input if it serves, by SIGKILL if it will not end by itself."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), timeout=WAIT)
    except TimeoutError:
        process.kill()
        await process.wait()


def deliveries(results: Path) -> list[dict[str, Any]]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text().splitlines()]


# -- a worker killed between its claim and its send -----------------------------------------------


async def test_a_worker_killed_between_claim_and_send_leaves_exactly_one_delivery(
    database_url: str, sessions: Any, tmp_path: Path
) -> None:
    outbox = SqlOutbox(sessions)
    owed = Reminder(key="action.due:1:2026-11-23:2026-11-23", kind=ReminderKind.ACTION_DUE, tenant_id=TENANT,
                    target=Target.PERSONAL, recipient=Person("aad-helen", "Helen Ward"),
                    summary="Helen Ward: action due today", facts={"action_id": 1})
    assert await outbox.enqueue([owed], T0) == [owed.key]
    (row_id,) = [message.id for message in await outbox.listing()]
    results = tmp_path / "deliveries.jsonl"

    hung = await start_worker(database_url, "w1", results, "--at", T0.isoformat(), "--hang-after-claim")
    try:
        assert hung.stdout is not None
        marker = await asyncio.wait_for(hung.stdout.readline(), timeout=WAIT)
        assert marker.decode().split() == [CLAIMED, str(row_id)], stderr_of(results, "w1")
        claimed = await outbox.get(row_id)  # the claim is committed before the send begins
        assert (claimed.status, claimed.claimed_by, claimed.attempts) == ("sending", "w1", 1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            hung.send_signal(signal.SIGKILL)  # between its claim and its send
        await stop(hung)
    assert hung.returncode == -signal.SIGKILL
    assert deliveries(results) == []

    # Another scheduler within w1's lease leaves the row alone: w1 might still be sending it.
    early = await run_worker(database_url, "w2", results, T0 + LEASE - timedelta(seconds=1))
    assert early["sent"] == [] and deliveries(results) == []
    # After the lease, the next sweep delivers it: once.
    late = await run_worker(database_url, "w3", results, T0 + LEASE + timedelta(seconds=1))
    assert late["sent"] == [row_id] and late["lost_lease"] == []
    # And later sweeps find nothing more to do.
    again = await run_worker(database_url, "w4", results, T0 + timedelta(hours=2))
    assert again["sent"] == []

    delivered = deliveries(results)
    assert [(line["id"], line["key"], line["worker"]) for line in delivered] == [(row_id, owed.key, "w3")]
    row = await outbox.get(row_id)
    assert (row.status, row.claimed_by, row.attempts, row.activity_id) == ("sent", "w3", 2, f"w3:{row_id}")
    assert row.sent_at == T0 + LEASE + timedelta(seconds=1)


# -- two schedulers, one PostgreSQL, a week of deadlines ------------------------------------------

WEEK = [date(2026, 11, 30) + timedelta(days=n) for n in range(5)]  # Mon 30 Nov - Fri 4 Dec 2026
SWEEPS = [time(8, 0), time(8, 30), time(12, 0)]  # London time; 08:30 is the digest time
CASES, CHAIRS, OWNERS, ACTIONS_PER_CASE = 50, 10, 100, 20  # 1,000 action deadlines
OPENED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # recent enough that no case is stale this week


async def seed_week_of_deadlines(sessions: Any) -> list[tuple[int, int, date]]:
    """Open cases with 1,000 owned actions due across the week; returns (action id, case id, due)."""
    async with sessions() as session:
        for n in range(CASES):
            chair = n % CHAIRS
            session.add(ProviderRow(id=n + 1, tenant_id=TENANT, name=f"Provider {n}", name_key=f"provider {n}",
                                    service_type="nursing", created_at=OPENED))
            session.add(CaseRow(
                id=n + 1, tenant_id=TENANT, reference=f"PC-2026-{n + 1:04}", provider_id=n + 1, pack_id=PACK_ID,
                pack_version=CROYDON.version, status="open", step=CROYDON.first_step.id, lead_agency="council",
                opened_by_id="aad-priya", opened_by_name="Priya Shah", opened_at=OPENED,
                channel_id="19:general@thread.tacv2", card_conversation_id=f"19:general@thread.tacv2;messageid={n}"))
            session.add(CaseMemberRow(case_id=n + 1, user_id=f"aad-chair-{chair}", name=f"Chair {chair}",
                                      role="chair", added_at=OPENED))
            session.add(CaseMemberRow(case_id=n + 1, user_id="aad-tom", name="Tom Okafor", role="coordinator",
                                      added_at=OPENED))
        await session.flush()
        number = 0
        for n in range(CASES):
            for _ in range(ACTIONS_PER_CASE):
                owner = number % OWNERS
                session.add(CaseActionRow(
                    case_id=n + 1, source="test", title=f"Action {number}", owner_role="member",
                    owner_user_id=f"aad-owner-{owner}", owner_name=f"Owner {owner}",
                    due_on=WEEK[number % len(WEEK)], original_due_on=WEEK[number % len(WEEK)], required=False,
                    status="open", created_at=OPENED))
                number += 1
        await session.commit()
        rows = await session.execute(select(CaseActionRow.id, CaseActionRow.case_id, CaseActionRow.due_on))
        return [(action_id, case_id, due) for action_id, case_id, due in rows]


def predicted_keys(actions: Sequence[tuple[int, int, date]]) -> Counter[str]:
    """What the pack's rules say this week brings, worked out by hand (2 working days' notice, escalation
    after 3 working days overdue, a daily overdue note and digest to each chair)."""
    before = {WEEK[1]: date(2026, 11, 27), WEEK[2]: WEEK[0], WEEK[3]: WEEK[1], WEEK[4]: WEEK[2]}
    escalated = {WEEK[0], WEEK[1]}  # overdue by 3 working days on Thursday and on Friday
    keys: Counter[str] = Counter()
    for action_id, _, due in actions:
        if due in before:  # the notice day of Monday's actions was last week, before the first sweep
            keys[f"action.before:{action_id}:{before[due].isoformat()}:{due.isoformat()}"] += 1
        keys[f"action.due:{action_id}:{due.isoformat()}:{due.isoformat()}"] += 1
        if due in escalated:
            keys[f"action.escalate:{action_id}:{due.isoformat()}"] += 1
    for case_id in {case_id for _, case_id, _ in actions}:
        for day in WEEK[1:]:  # every case has an action due on Monday: overdue from Tuesday on
            keys[f"case.overdue:{case_id}:{day.isoformat()}"] += 1
    for chair in range(CHAIRS):
        for day in WEEK:
            keys[f"digest:{TENANT}:aad-chair-{chair}:{day.isoformat()}"] += 1
    return keys


async def test_two_scheduler_processes_deliver_a_week_of_1000_deadlines_exactly_once(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    url = await _create_database(postgres_admin_url)
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        actions = await seed_week_of_deadlines(sessions)
        assert len(actions) == 1000
        instants = [datetime.combine(day, moment, tzinfo=UK) for day in WEEK for moment in SWEEPS]
        results = tmp_path / "deliveries.jsonl"
        names = ("s1", "s2")
        workers = [await start_worker(url, name, results, "--serve") for name in names]
        reports: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        try:
            for at in instants:
                # Both schedulers sweep as of the same instant, at the same time, as two replicas would.
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write(f"{at.isoformat()}\n".encode())
                await asyncio.gather(*(worker.stdin.drain() for worker in workers if worker.stdin))
                replies = await asyncio.gather(*(answer(w, results, n) for w, n in zip(workers, names, strict=True)))
                for name, reply in zip(names, replies, strict=True):
                    reports[name].append(reply)
        finally:
            await asyncio.gather(*(stop(worker) for worker in workers))
        assert [worker.returncode for worker in workers] == [0, 0], [stderr_of(results, n) for n in names]

        async with sessions() as session:
            rows = {row.id: row for row in await session.scalars(select(OutboxRow))}
        delivered = deliveries(results)
        by_id = Counter(line["id"] for line in delivered)
        # Every row delivered but those another row's message lists, none twice, and every delivery recorded as such
        # by the one who made it. A case's four actions due the same day cross the escalation limit together:
        # one prompt in its thread lists them, the other three are covered by it (50 cases, two such days); and
        # each chair's daily nudge about their five cases is one, covering four (10 chairs, four days).
        assert [id_ for id_, times in by_id.items() if times > 1] == []
        covered = {id_: row for id_, row in rows.items() if row.status == "covered"}
        assert set(by_id) == set(rows) - set(covered)
        assert {row.status for row in rows.values()} == {"sent", "covered"}
        assert Counter(row.kind for row in covered.values()) == {"action.escalate": 300, "case.overdue": 160}
        sent_keys = {row.key: row for row in rows.values() if row.status == "sent"}
        for row in covered.values():
            lead = sent_keys[row.summary.rsplit("(listed in ", 1)[1].rstrip(")")]
            assert lead.kind == row.kind
            if row.kind == "action.escalate":
                assert lead.case_reference == row.case_reference and len(lead.facts["actions"]) == 4
            else:
                assert lead.recipient_user_id == row.recipient_user_id and len(lead.facts["cases"]) == 5
        assert all(rows[line["id"]].claimed_by == line["worker"] for line in delivered)
        assert all(rows[line["id"]].key == line["key"] for line in delivered)
        for name in names:
            outcomes = [reply[field] for reply in reports[name] for field in ("retried", "dead", "lost_lease")]
            assert all(outcome == [] for outcome in outcomes), (name, stderr_of(results, name))
        # Each reminder was written to the outbox once, by one or the other.
        assert sum(reply["enqueued"] for replies in reports.values() for reply in replies) == len(rows)
        # Both schedulers took part in the delivering.
        workers_used = Counter(line["worker"] for line in delivered)
        assert workers_used["s1"] > 0 and workers_used["s2"] > 0, workers_used
        # Per conversation, the messages went out in the order they were owed.
        by_lane: dict[str, list[int]] = {}
        for line in delivered:
            by_lane.setdefault(line["lane"], []).append(line["id"])
        assert all(ids == sorted(ids) for ids in by_lane.values())

        # What was sent is what the rules predict: by hand for this week, and by the rules run at each sweep.
        stored = Counter(row.key for row in rows.values())
        expected = predicted_keys(actions)
        assert sum(1 for key in stored if key.startswith(("action.before:", "action.due:"))) == 1800
        assert stored == expected, (sorted(set(stored) - set(expected))[:5], sorted(set(expected) - set(stored))[:5])
        state = await SqlReminderSource(sessions).state(instants[0])  # nothing the week does changes it
        calendar = WorkingCalendar(CROYDON.nation)
        ruled = {r.key for at in instants for r in due_reminders(state, at, PACKS, CROYDON, lambda _: calendar)}
        assert set(stored) == ruled
    finally:
        await engine.dispose()
