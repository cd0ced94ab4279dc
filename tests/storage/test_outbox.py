"""The outbox against real databases: one row per key, claims under a lease, one message in flight per lane.

The tests taking `sessions` run on SQLite and on PostgreSQL; the concurrency tests need PostgreSQL's row
locks and make their own database. Time only moves by the `at` each call is given.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from concerns.cases import Person
from concerns.reminders import OutboxMessage, Reminder, ReminderKind, Target
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxRow
from storage.outbox import SqlOutbox
from tests.conftest import _create_database

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
T0 = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # the conftest clock: Monday, mid-morning in London
LEASE = timedelta(minutes=2)
MINUTE = timedelta(minutes=1)


def reminder(key: str, user: str = "aad-helen") -> Reminder:
    """A personal reminder to `user`: its lane is their 1:1 chat."""
    return Reminder(key=key, kind=ReminderKind.ACTION_DUE, tenant_id=TENANT, target=Target.PERSONAL,
                    summary=f"reminder {key}", facts={"key": key}, recipient=Person(user, f"Name of {user}"),
                    case_reference="PC-2026-0001")


def lane(user: str) -> str:
    return f"user:{TENANT}:{user}"


async def ids_by_key(outbox: SqlOutbox) -> dict[str, int]:
    return {message.key: message.id for message in await outbox.listing(limit=10_000)}


def keys(messages: list[OutboxMessage]) -> list[str]:
    return [message.key for message in messages]


async def test_enqueue_adds_one_row_per_key_and_returns_only_the_new_keys(sessions: Any) -> None:
    outbox = SqlOutbox(sessions)
    assert sorted(await outbox.enqueue([reminder("a"), reminder("b", "aad-tom")], T0)) == ["a", "b"]
    later = T0 + timedelta(hours=1)
    assert await outbox.enqueue([reminder("b", "aad-tom"), reminder("a"), reminder("c")], later) == ["c"]
    assert await outbox.enqueue([reminder("a"), reminder("b", "aad-tom")], later) == []
    assert await outbox.enqueue([], later) == []
    assert await outbox.counts() == {"pending": 3}
    assert await outbox.known_keys(["a", "c", "z"]) == {"a", "c"}
    stored = {message.key: message for message in await outbox.listing()}
    assert set(stored) == {"a", "b", "c"}
    # The first enqueue wins: a repeat changes nothing about the row already owed.
    assert stored["a"].send_after == T0 and stored["a"].created_at == T0 and stored["c"].send_after == later
    assert stored["b"].lane == lane("aad-tom") and stored["b"].recipient == Person("aad-tom", "Name of aad-tom")
    assert stored["a"].status == "pending" and stored["a"].attempts == 0 and stored["a"].facts == {"key": "a"}


async def test_a_claim_takes_due_rows_under_a_lease_and_a_dead_workers_rows_come_back_after_it(
    sessions: Any,
) -> None:
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder("now")], T0)
    await outbox.enqueue([reminder("later", "aad-tom")], T0 + timedelta(hours=1))
    first = await outbox.claim("w1", T0, LEASE, 10)
    assert keys(first) == ["now"]  # "later" is not due until its send_after
    assert (first[0].status, first[0].attempts, first[0].claimed_by) == ("sending", 1, "w1")
    async with sessions() as session:
        row = await session.get(OutboxRow, first[0].id)
        assert row.lease_until == T0 + LEASE
    # Within the lease nobody else may take it, however often they ask.
    assert await outbox.claim("w2", T0, LEASE, 10) == []
    assert await outbox.claim("w2", T0 + LEASE - timedelta(seconds=1), LEASE, 10) == []
    # w1 died without finishing: once its lease is over the row is claimed again, and the attempt counted.
    again = await outbox.claim("w2", T0 + LEASE + timedelta(seconds=1), LEASE, 10)
    assert keys(again) == ["now"] and (again[0].attempts, again[0].claimed_by) == (2, "w2")
    assert await outbox.sent(again[0].id, "w2", T0 + LEASE + timedelta(seconds=2), "activity-1", "a:1")
    at_later = await outbox.claim("w3", T0 + timedelta(hours=1), LEASE, 10)
    assert keys(at_later) == ["later"]
    assert await outbox.sent(at_later[0].id, "w3", T0 + timedelta(hours=1), "activity-2", "a:2")
    assert await outbox.claim("w4", T0 + timedelta(days=30), LEASE, 10) == []  # sent rows are never sent again


async def test_a_claim_takes_at_most_its_limit_oldest_first(sessions: Any) -> None:
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder(f"k{n}", f"user-{n}") for n in range(5)], T0)
    assert keys(await outbox.claim("w1", T0, LEASE, 2)) == ["k0", "k1"]
    assert keys(await outbox.claim("w2", T0, LEASE, 2)) == ["k2", "k3"]
    assert keys(await outbox.claim("w3", T0, LEASE, 2)) == ["k4"]


@pytest.mark.parametrize("outcome", ["sent", "dead", "void"])
async def test_a_row_waits_while_an_earlier_row_of_its_lane_is_owed(sessions: Any, outcome: str) -> None:
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder("a1", "aad-a"), reminder("a2", "aad-a"), reminder("b1", "aad-b"),
                          reminder("b2", "aad-b")], T0)
    ids = await ids_by_key(outbox)
    # One message in flight per conversation: the second of each lane waits for the first.
    assert keys(await outbox.claim("w1", T0, LEASE, 10)) == ["a1", "b1"]
    assert await outbox.retry_later(ids["a1"], "w1", T0 + 10 * MINUTE, "HTTP 503: busy")
    assert await outbox.sent(ids["b1"], "w1", T0, None, None)
    # a1 is owed again only later; a2 must not overtake it, while lane b goes on regardless.
    assert keys(await outbox.claim("w1", T0 + MINUTE, LEASE, 10)) == ["b2"]
    assert await outbox.sent(ids["b2"], "w1", T0 + MINUTE, None, None)
    assert await outbox.claim("w2", T0 + 5 * MINUTE, LEASE, 10) == []
    retried = await outbox.claim("w2", T0 + 10 * MINUTE, LEASE, 10)
    assert keys(retried) == ["a1"] and retried[0].attempts == 2 and retried[0].last_error == "HTTP 503: busy"
    assert await outbox.claim("w3", T0 + 10 * MINUTE, LEASE, 10) == []  # a1 in flight: a2 still waits
    if outcome == "sent":
        assert await outbox.sent(ids["a1"], "w2", T0 + 10 * MINUTE, None, None)
    elif outcome == "void":  # no longer wanted when its time came: the lane goes on
        assert await outbox.void(ids["a1"], "w2", T0 + 10 * MINUTE, "'x' was marked done")
        [row] = [m for m in await outbox.listing() if m.key == "a1"]
        assert row.status == "void" and row.last_error == "not sent: 'x' was marked done"
    else:
        assert await outbox.dead(ids["a1"], "w2", T0 + 10 * MINUTE, "HTTP 403: MessageWritesBlocked")
    assert keys(await outbox.claim("w3", T0 + 10 * MINUTE, LEASE, 10)) == ["a2"]


async def test_a_worker_that_lost_its_lease_cannot_finish_the_row(sessions: Any) -> None:
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder("a")], T0)
    (mine,) = await outbox.claim("w1", T0, LEASE, 10)
    (theirs,) = await outbox.claim("w2", T0 + LEASE + MINUTE, LEASE, 10)  # w1 was too slow: its lease ran out
    assert theirs.id == mine.id and theirs.attempts == 2
    late = T0 + LEASE + 2 * MINUTE
    assert not await outbox.sent(mine.id, "w1", late, "activity-w1", "conversation-w1")
    assert not await outbox.retry_later(mine.id, "w1", late, "HTTP 503")
    assert not await outbox.defer(mine.id, "w1", late)
    assert not await outbox.dead(mine.id, "w1", late, "HTTP 404")
    row = await outbox.get(mine.id)
    assert (row.status, row.claimed_by, row.attempts, row.activity_id, row.last_error) == (
        "sending", "w2", 2, None, None)
    assert await outbox.sent(mine.id, "w2", late, "activity-w2", "conversation-w2")
    row = await outbox.get(mine.id)
    assert (row.status, row.claimed_by, row.activity_id, row.sent_at) == ("sent", "w2", "activity-w2", late)
    # A finished row cannot be finished again, by its old worker or its new one.
    assert not await outbox.sent(mine.id, "w1", late, "activity-w1", None)
    assert not await outbox.sent(mine.id, "w2", late, "activity-again", None)
    assert (await outbox.get(mine.id)).activity_id == "activity-w2"
    async with sessions() as session:
        assert (await session.get(OutboxRow, mine.id)).sent_to == "conversation-w2"


async def test_deferring_a_row_puts_it_back_without_counting_an_attempt(sessions: Any) -> None:
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder("a")], T0)
    (claimed,) = await outbox.claim("w1", T0, LEASE, 10)
    assert claimed.attempts == 1
    assert await outbox.defer(claimed.id, "w1", T0 + timedelta(hours=1))
    row = await outbox.get(claimed.id)
    assert (row.status, row.attempts, row.send_after) == ("pending", 0, T0 + timedelta(hours=1))
    assert await outbox.claim("w2", T0 + 30 * MINUTE, LEASE, 10) == []
    for _ in range(3):  # deferred again and again (quiet hours, rate limits): still never an attempt
        (claimed,) = await outbox.claim("w2", T0 + timedelta(hours=1), LEASE, 10)
        assert claimed.attempts == 1
        assert await outbox.defer(claimed.id, "w2", T0 + timedelta(hours=1))
    assert (await outbox.get(claimed.id)).attempts == 0


async def test_dead_letters_are_listed_and_retrying_them_gives_fresh_attempts(sessions: Any) -> None:
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder("a", "aad-a"), reminder("b", "aad-b"), reminder("c", "aad-c")], T0)
    ids = await ids_by_key(outbox)
    assert len(await outbox.claim("w1", T0, LEASE, 10)) == 3
    assert await outbox.dead(ids["a"], "w1", T0, "HTTP 404: conversation not found")
    assert await outbox.dead(ids["b"], "w1", T0, "HTTP 403: MessageWritesBlocked")
    assert await outbox.sent(ids["c"], "w1", T0, "activity-c", None)
    dead = await outbox.listing("dead")
    assert keys(dead) == ["b", "a"]  # newest first
    assert dead[1].last_error == "HTTP 404: conversation not found" and dead[1].attempts == 1
    assert keys(await outbox.listing("sent")) == ["c"]
    assert await outbox.counts() == {"dead": 2, "sent": 1}
    assert await outbox.claim("w1", T0 + timedelta(days=1), LEASE, 10) == []  # dead letters stay dead
    assert await outbox.retry_dead([ids["a"]], T0 + timedelta(hours=1)) == [ids["a"]]
    row = await outbox.get(ids["a"])
    assert (row.status, row.attempts, row.send_after, row.claimed_by) == ("pending", 0, T0 + timedelta(hours=1), None)
    assert (await outbox.get(ids["b"])).status == "dead"
    assert await outbox.retry_dead(None, T0 + timedelta(hours=2)) == [ids["b"]]
    assert await outbox.retry_dead(None, T0 + timedelta(hours=2)) == []
    retried = await outbox.claim("w2", T0 + timedelta(hours=2), LEASE, 10)
    assert keys(retried) == ["a", "b"] and [m.attempts for m in retried] == [1, 1]


async def test_a_dead_letter_anonymised_by_retention_is_not_retried(sessions: Any) -> None:
    """Retention blanks old outbox rows: retrying one would post an empty reminder."""
    outbox = SqlOutbox(sessions)
    await outbox.enqueue([reminder("old", "aad-a"), reminder("new", "aad-b")], T0)
    ids = await ids_by_key(outbox)
    await outbox.claim("w1", T0, LEASE, 10)
    for key in ("old", "new"):
        assert await outbox.dead(ids[key], "w1", T0, "HTTP 404: conversation not found")
    async with sessions() as session:
        (await session.get(OutboxRow, ids["old"])).anonymised_at = T0 + timedelta(days=91)
        await session.commit()
    assert await outbox.retry_dead(None, T0 + timedelta(days=92)) == [ids["new"]]
    assert await outbox.retry_dead([ids["old"]], T0 + timedelta(days=92)) == []
    assert (await outbox.get(ids["old"])).status == "dead"


# -- PostgreSQL: several schedulers on one database ---------------------------------------------


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    url = await _create_database(postgres_admin_url)
    await upgrade(url)
    yield url


async def test_two_concurrent_claimers_on_postgresql_never_claim_the_same_row(postgres_url: str) -> None:
    engines = [create_engine(postgres_url) for _ in range(2)]
    outboxes = [SqlOutbox(session_factory(engine)) for engine in engines]
    rng = random.Random(20261123)
    users = [f"aad-{n:02}" for n in range(30)]
    # Lanes at random, so that neighbouring rows often share one: a batch must still take one row per lane.
    await outboxes[0].enqueue([reminder(f"k{n:04}", rng.choice(users)) for n in range(600)], T0)
    all_ids = set((await ids_by_key(outboxes[0])).values())
    assert len(all_ids) == 600
    claimed: dict[str, list[int]] = {"w1": [], "w2": []}
    order: dict[str, list[int]] = {}  # per lane, the ids in the order they were claimed
    held: dict[str, int] = {}  # lane -> the row a claimer holds now

    async def claimer(worker: str, outbox: SqlOutbox) -> None:
        for _ in range(5000):
            messages = await outbox.claim(worker, T0, LEASE, 10)
            if not messages:
                if set(await outbox.counts()) == {"sent"}:
                    return
                continue
            for message in messages:
                assert message.lane not in held, f"{message.id} claimed while {held.get(message.lane)} in flight"
                held[message.lane] = message.id
                order.setdefault(message.lane, []).append(message.id)
                claimed[worker].append(message.id)
            await asyncio.sleep(0)  # let the other claimer in while these rows are held
            for message in messages:
                del held[message.lane]
                assert await outbox.sent(message.id, worker, T0, None, None)
        raise AssertionError(f"{worker} did not finish")

    try:
        await asyncio.gather(claimer("w1", outboxes[0]), claimer("w2", outboxes[1]))
    finally:
        for engine in engines:
            await engine.dispose()
    every = claimed["w1"] + claimed["w2"]
    assert [id_ for id_, times in Counter(every).items() if times > 1] == []
    assert set(every) == all_ids
    assert claimed["w1"] and claimed["w2"], {worker: len(ids) for worker, ids in claimed.items()}
    assert all(ids == sorted(ids) for ids in order.values())  # each lane in order


async def test_a_claim_on_postgresql_skips_rows_locked_by_another_transaction(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    sessions = session_factory(engine)
    outbox = SqlOutbox(sessions)
    try:
        await outbox.enqueue([reminder("a1", "aad-a"), reminder("a2", "aad-a"), reminder("b1", "aad-b")], T0)
        ids = await ids_by_key(outbox)
        async with sessions() as locker:
            # Another scheduler is in the middle of claiming a1: its row lock is held, not yet committed.
            await locker.execute(select(OutboxRow.id).where(OutboxRow.id == ids["a1"]).with_for_update())
            claimed = await asyncio.wait_for(outbox.claim("w2", T0, LEASE, 10), timeout=10)
            assert keys(claimed) == ["b1"]  # not a1 (locked) and not a2 (a1 before it is still owed)
            await locker.rollback()
        assert keys(await outbox.claim("w3", T0, LEASE, 10)) == ["a1"]
    finally:
        await engine.dispose()


async def test_a_large_enqueue_keeps_every_value_and_the_given_order(sessions: Any) -> None:
    """Thousands at once (a morning's sweep) are stored as one at a time would be, ids in the order given."""
    outbox = SqlOutbox(sessions)
    given = [replace(reminder(f"k{n:05}", f"aad-{n % 7}"), facts={"n": n, "late": n % 2 == 0, "owner": None,
                                                                 "list": [{"é": "ü"}]},
                     summary="x" * 2100 if n == 3 else f"reminder {n}") for n in reversed(range(2500))]
    given.append(Reminder(key="thread", kind=ReminderKind.CASE_STALE, tenant_id=TENANT, target=Target.THREAD,
                          summary="stale", conversation_id="19:general;messageid=1"))
    assert await outbox.enqueue(given, T0) == [r.key for r in given]
    stored = await outbox.listing(limit=10_000)
    assert [m.key for m in sorted(stored, key=lambda m: m.id)] == [r.key for r in given]
    by_key = {m.key: m for m in stored}
    for r in given:
        m = by_key[r.key]
        assert (m.kind, m.tenant_id, m.target, m.lane, m.facts, m.recipient, m.conversation_id, m.case_reference,
                m.status, m.attempts, m.send_after, m.created_at) == (
            r.kind, r.tenant_id, r.target, r.lane, r.facts, r.recipient, r.conversation_id, r.case_reference,
            "pending", 0, T0, T0)
        assert m.summary == r.summary[:2000]
    assert await outbox.enqueue([*given[:10], reminder("new")], T0) == ["new"]


async def test_notices_a_change_queues_are_sent_only_if_it_commits_and_the_commit_rings_once(sessions: Any) -> None:
    from storage.uow import SqlUnitOfWork

    rings: list[int] = []
    uow = SqlUnitOfWork(sessions, on_notices=lambda: rings.append(1))
    async with uow:
        await uow.notices.add([reminder("given-1", "aad-tom")], T0)
        await uow.rollback()  # the change failed: nobody is told of it
    async with uow:
        await uow.notices.add([reminder("given-2", "aad-tom"), reminder("given-3", "aad-priya")], T0)
    assert rings == [] and await SqlOutbox(sessions).listing() == []  # left without a commit: rolled back

    async with uow:
        await uow.notices.add([reminder("given-4", "aad-tom"), reminder("given-5", "aad-priya")], T0)
        await uow.commit()
    assert rings == [1]
    async with uow:
        await uow.commit()  # a later commit that queued nothing does not ring
    assert rings == [1]
    queued = await SqlOutbox(sessions).listing()
    assert sorted(m.key for m in queued) == ["given-4", "given-5"]
    assert {m.status for m in queued} == {"pending"} and {m.lane for m in queued} == {lane("aad-tom"),
                                                                                     lane("aad-priya")}
    claimed = await SqlOutbox(sessions).claim("worker", T0, LEASE, 10)  # delivered like any other row
    assert sorted(keys(claimed)) == ["given-4", "given-5"]
