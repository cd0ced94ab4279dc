"""Delivery through the real Teams sender against a connector that throttles, fails and hangs.

The whole path is real: the Deliverer claims from the SQL outbox (SQLite and PostgreSQL), TeamsSender
looks up the conversation stored in the database and sends through botbuilder's CloudAdapter (no app
id, as in dev) to the serviceUrl in the stored reference, which is a FaultConnector on 127.0.0.1.
Time is simulated: one VirtualTime gives the outbox its `at`, the rate limiter its monotonic clock and
the connector the instant it stamps each request with; it moves when the test advances it or when
the deliverer sleeps for the rate limiter. Only a hung request takes real time (the send timeout).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity

from bot.proactive import TeamsSender
from bot.scheduling import admin_channel_finder, calendar_for
from bot.settings import BotFrameworkConfig, Settings
from bot.teams import conversation_of
from concerns.cases import Person
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import OutboxMessage, Reminder, ReminderKind, Target
from scheduler.delivery import Delivered, Deliverer, DeliveryPolicy, DeliveryReport
from scheduler.ratelimit import RateLimiter
from storage.outbox import SqlOutbox
from storage.uow import SqlUnitOfWork
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TENANT, TOM, Teams, User
from tests.support.fault_connector import Accepted, Answer, FaultConnector

T0 = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # a Monday, mid-morning in London: working time
PACK = load_packs(default_packs_dir())["croydon-provider-concerns"]
ADMIN = CHANNEL_ID  # the team's General channel, where dead letters are reported
PEOPLE = (PRIYA, TOM, HELEN)
# A loaded 2-core CI machine can take more than half a second just to reach the local connector: a
# timeout that short turns a slow 500 into "no answer". Two seconds is still well below the hangs.
QUICK = DeliveryPolicy(send_timeout=2.0, first_backoff=2.0, longest_backoff=60.0)
TITLE = re.compile(r"Reminder (\d{3})")


class VirtualTime:
    """One simulated time for the outbox, the rate limiter and the connector.

    A sleep waits until no send is in flight (from the limiter's record to the connector's answer)
    before it moves time on, and moves it to the sleeper's wake-up instant, not by its own length
    again: as in real time, where a POST takes milliseconds and sleepers wait side by side, each send
    reaches the connector at the instant the limiter let it through.
    """

    def __init__(self, start: datetime = T0) -> None:
        self.start = start
        self.at = start
        self.in_flight = 0
        self.sleeps: list[float] = []
        self._idle = asyncio.Event()
        self._idle.set()

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - self.start).total_seconds()

    def advance_to(self, when: datetime) -> None:
        self.at = max(self.at, when)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = self.at + timedelta(microseconds=math.ceil(seconds * 1_000_000))
        while self.in_flight:
            await self._idle.wait()
        self.advance_to(wake)
        await asyncio.sleep(0)

    def send_started(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def send_finished(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self._idle.set()


class CountingLimiter(RateLimiter):
    """Teams' real limits on the virtual clock; a recorded send is in flight until its sender returns."""

    def __init__(self, time: VirtualTime) -> None:
        super().__init__(monotonic=time.monotonic)
        self.time = time

    def record(self, lane: str) -> None:
        super().record(lane)
        self.time.send_started()


class InFlight:
    """The real TeamsSender, telling the virtual clock when its send is over (answered, failed or cut off)."""

    def __init__(self, sender: TeamsSender, time: VirtualTime) -> None:
        self.sender = sender
        self.time = time

    async def send(self, message: OutboxMessage) -> Delivered:
        try:
            return await self.sender.send(message)
        finally:
            self.time.send_finished()


@dataclass
class World:
    time: VirtualTime
    connector: FaultConnector
    teams: Teams
    outbox: SqlOutbox
    sender: InFlight
    uow: Callable[[], SqlUnitOfWork]

    def deliverer(self, policy: DeliveryPolicy = QUICK, seed: int = 7) -> Deliverer:
        return Deliverer(self.outbox, self.sender, self.time, PACK, calendar_for(PACK.nation), "worker-1",
                         limiter=CountingLimiter(self.time), policy=policy,
                         admin_channel=admin_channel_finder(self.uow, ""), sleep=self.time.sleep,
                         rng=random.Random(seed))

    async def rows(self) -> dict[int, OutboxMessage]:
        return {message.id: message for message in await self.outbox.listing(limit=10_000)}

    async def next_due(self) -> datetime | None:
        """When the next row may be claimed: the earliest send_after of the first owed row of each lane."""
        first: dict[str, OutboxMessage] = {}
        for message in sorted((await self.rows()).values(), key=lambda m: m.id):
            if message.status in ("pending", "sending"):
                first.setdefault(message.lane, message)
        return min((m.send_after for m in first.values()), default=None)

    async def run_until_settled(self, deliverer: Deliverer, rounds: int = 500) -> DeliveryReport:
        """Deliver, move time to the next row due, and again, until nothing is owed."""
        total = DeliveryReport()
        for _ in range(rounds):
            total.merge(await deliverer.deliver_due(self.time.now()))
            due = await self.next_due()
            if due is None:
                return total
            self.time.advance_to(due)
        raise AssertionError(f"the outbox did not settle in {rounds} rounds")


def personal(user: User) -> str:
    return f"a:personal-{user.aad}"


def reminder(number: int, user: User) -> Reminder:
    """An action-due reminder to `user`'s 1:1 chat, titled so the connector's record says which it was."""
    facts = {"action_id": number, "title": f"Reminder {number:03d}", "case": "PC-2026-0001",
             "provider": "Oakwood Lodge", "owner": user.name, "due_on": "2026-11-23", "working_days_overdue": 0,
             "meeting": False, "kind": str(ReminderKind.ACTION_DUE)}
    return Reminder(key=f"{ReminderKind.ACTION_DUE}:{number}:2026-11-23:2026-11-23", kind=ReminderKind.ACTION_DUE,
                    tenant_id=TENANT, target=Target.PERSONAL,
                    recipient=Person(user.aad, user.name), case_reference="PC-2026-0001", facts=facts,
                    summary=f"{user.name}: PC-2026-0001 action due Mon 23 Nov: Reminder {number:03d}")


def number_in(body: dict[str, Any]) -> int:
    found = set(TITLE.findall(json.dumps(body)))
    assert len(found) == 1, f"expected one reminder in the message, found {found}"
    return int(found.pop())


def busiest(times: Iterable[float], window: float) -> int:
    """The most sends in any window of `window` seconds (a send at t counts in (t - window, t])."""
    ordered = sorted(times)
    return max((sum(1 for s in ordered if t - window < s <= t) for t in ordered), default=0)


@pytest.fixture
async def world(sessions: Any, database_url: str) -> AsyncIterator[World]:
    time = VirtualTime()
    connector = FaultConnector(clock=time.monotonic)
    server = TestServer(connector.app(), host="127.0.0.1")
    await server.start_server()
    teams = Teams(str(server.make_url("/")))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions)

    async with uow() as tx:
        for activity in (teams.bot_added_to_team(PRIYA), *(teams.bot_added_to_personal_chat(p) for p in PEOPLE)):
            await tx.conversations.save(conversation_of(Activity().deserialize(activity)))
        await tx.commit()
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(
        BotFrameworkConfig(Settings(database_url=database_url, dev=True))))
    sender = TeamsSender(adapter, "", uow, time, calendar_for(PACK.nation))
    yield World(time, connector, teams, SqlOutbox(sessions), InFlight(sender, time), uow)
    await server.close()


async def enqueue(world: World, *reminders: Reminder) -> list[int]:
    await world.outbox.enqueue(reminders, world.time.now())
    by_key = {m.key: m.id for m in (await world.rows()).values()}
    return [by_key[r.key] for r in reminders]


async def test_a_429_is_retried_no_earlier_than_retry_after_then_delivered_once(world: World) -> None:
    [row] = await enqueue(world, reminder(1, PRIYA))
    world.connector.script(Answer.throttled(30), conversation=personal(PRIYA))
    deliverer = world.deliverer()
    report = await deliverer.deliver_due(T0)
    assert report.retried == [row] and report.sent == []
    waiting = (await world.rows())[row]
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.send_after == T0 + timedelta(seconds=30)  # the connector's Retry-After, not our backoff
    assert waiting.last_error is not None and waiting.last_error.startswith("HTTP 429")
    # Just before Retry-After nothing is claimed or sent, however often the deliverer runs.
    for seconds in (1, 15, 29.999):
        world.time.advance_to(T0 + timedelta(seconds=seconds))
        assert await deliverer.deliver_due(world.time.now()) == DeliveryReport()
    assert world.connector.answers_to(personal(PRIYA)) == ["429"]
    world.time.advance_to(T0 + timedelta(seconds=30))
    assert (await deliverer.deliver_due(world.time.now())).sent == [row]
    requests = world.connector.requests
    assert [r.answer.label for r in requests] == ["429", "ok"] and requests[1].at - requests[0].at >= 30
    [accepted] = world.connector.accepted
    assert number_in(accepted.body) == 1 and accepted.conversation_id == personal(PRIYA)
    sent = (await world.rows())[row]
    assert (sent.status, sent.attempts, sent.activity_id) == ("sent", 2, accepted.activity_id)
    assert await deliverer.deliver_due(T0 + timedelta(hours=1)) == DeliveryReport()
    assert len(world.connector.accepted) == 1


async def test_server_errors_and_timeouts_back_off_further_each_time_and_deliver_once(world: World) -> None:
    [row] = await enqueue(world, reminder(1, PRIYA))
    world.connector.script(Answer.error(500), Answer.hang(5), Answer.error(502), Answer.error(503),
                           Answer.hang(5), conversation=personal(PRIYA))
    deliverer = world.deliverer()
    delays: list[float] = []
    errors: list[str] = []
    while True:
        at = world.time.now()
        report = await deliverer.deliver_due(at)
        message = (await world.rows())[row]
        if report.sent:
            break
        assert report.retried == [row] and message.status == "pending"
        delays.append((message.send_after - at).total_seconds())
        errors.append(message.last_error or "")
        world.time.advance_to(message.send_after)
    assert [e.split(":", 1)[0] for e in errors] == ["HTTP 500", "no answer", "HTTP 502", "HTTP 503", "no answer"]
    # A hang is the deliverer's own timeout, said as such (not a botbuilder turn that swallowed the cancellation).
    assert errors[1] == errors[4] == "no answer: no answer from the connector in time"
    # Exponential backoff with jitter: the k-th wait is 0.5 to 1.5 times first_backoff * 2^(k-1).
    for attempt, delay in enumerate(delays, start=1):
        step = QUICK.first_backoff * 2 ** (attempt - 1)
        assert 0.5 * step <= delay <= 1.5 * step, (attempt, delays)
    assert all(later > earlier for earlier, later in zip(delays, delays[2:], strict=False)), delays
    assert world.connector.answers_to(personal(PRIYA)) == ["500", "timeout", "502", "503", "timeout", "ok"]
    [accepted] = world.connector.accepted
    assert number_in(accepted.body) == 1
    sent = (await world.rows())[row]
    assert (sent.status, sent.attempts, sent.activity_id, sent.last_error) == ("sent", 6, accepted.activity_id, None)


async def test_a_delivery_cancelled_mid_send_stays_cancelled_and_its_row_comes_back_after_the_lease(
    world: World,
) -> None:
    [row] = await enqueue(world, reminder(1, PRIYA))
    world.connector.script(Answer.hang(30), conversation=personal(PRIYA))
    deliverer = world.deliverer(replace(QUICK, send_timeout=30.0))
    delivering = asyncio.create_task(deliverer.deliver_due(T0))
    await asyncio.wait_for(world.connector.requested(), timeout=10)
    delivering.cancel()  # the process shutting down while the connector has not answered
    with pytest.raises(asyncio.CancelledError):
        await delivering
    claimed = (await world.rows())[row]
    assert (claimed.status, claimed.last_error) == ("sending", None)  # not recorded as a failed attempt
    assert await deliverer.deliver_due(T0 + QUICK.lease - timedelta(seconds=1)) == DeliveryReport()
    report = await deliverer.deliver_due(T0 + QUICK.lease)
    assert report.sent == [row] and len(world.connector.accepted) == 1
    assert (await world.rows())[row].attempts == 2
    assert world.time.in_flight == 0


async def alerts(world: World) -> list[OutboxMessage]:
    return [m for m in (await world.rows()).values() if m.kind is ReminderKind.DEAD_LETTER]


def alert_cards(world: World) -> list[Accepted]:
    return world.connector.to(ADMIN)


async def test_a_blocked_conversation_is_a_dead_letter_at_once_and_the_admin_channel_is_told_once(
    world: World,
) -> None:
    [row, other] = await enqueue(world, reminder(1, PRIYA), reminder(2, TOM))
    world.connector.script(Answer.blocked(), conversation=personal(PRIYA))
    deliverer = world.deliverer()
    report = await deliverer.deliver_due(T0)
    assert report.dead == [row] and report.retried == []
    dead = (await world.rows())[row]
    assert (dead.status, dead.attempts) == ("dead", 1)  # 403 will never change: no retries
    assert dead.last_error is not None and "HTTP 403" in dead.last_error and "MessageWritesBlocked" in dead.last_error
    [alert] = await alerts(world)
    assert (alert.target, alert.conversation_id, alert.status) == (Target.CHANNEL, ADMIN, "sent")
    assert alert.facts["outbox_id"] == row and sorted(report.sent) == sorted([other, alert.id])
    [card] = alert_cards(world)
    said = json.dumps(card.body)
    assert "A reminder could not be delivered" in said and f"concerns-bot outbox retry {row}" in said
    # Later sweeps neither retry the dead letter nor tell the channel again.
    assert await deliverer.deliver_due(T0 + timedelta(hours=2)) == DeliveryReport()
    assert len(await alerts(world)) == 1 and len(alert_cards(world)) == 1
    assert world.connector.answers_to(personal(PRIYA)) == ["403"]


async def test_after_max_attempts_of_transient_failures_the_row_is_dead_and_one_alert_is_delivered(
    world: World,
) -> None:
    policy = replace(QUICK, max_attempts=4)
    [row] = await enqueue(world, reminder(1, PRIYA))
    world.connector.script(Answer.error(503), Answer.throttled(5), Answer.hang(5), Answer.error(500),
                           conversation=personal(PRIYA))
    report = await world.run_until_settled(world.deliverer(policy))
    assert report.dead == [row] and len(report.retried) == 3
    dead = (await world.rows())[row]
    assert (dead.status, dead.attempts) == ("dead", 4)
    assert world.connector.answers_to(personal(PRIYA)) == ["503", "429", "timeout", "500"]
    [alert] = await alerts(world)
    assert alert.status == "sent" and alert.conversation_id == ADMIN and alert.facts["attempts"] == 4
    assert alert.facts["error"].startswith("HTTP 500") and report.sent == [alert.id]
    [card] = alert_cards(world)
    assert f"Outbox row {row}" in json.dumps(card.body)
    world.time.advance_to(T0 + timedelta(days=1))
    assert await world.deliverer(policy).deliver_due(world.time.now()) == DeliveryReport()
    assert len(await alerts(world)) == 1 and len(alert_cards(world)) == 1


@pytest.mark.parametrize("failure", ["blocked", "transient"])
async def test_an_alert_that_cannot_be_delivered_is_not_alerted_again(world: World, failure: str) -> None:
    policy = replace(QUICK, max_attempts=3)
    [row] = await enqueue(world, reminder(1, PRIYA))
    world.connector.script(Answer.blocked(), conversation=personal(PRIYA))
    admin = [Answer.blocked()] if failure == "blocked" else [Answer.error(502), Answer.hang(5), Answer.error(503)]
    world.connector.script(*admin, conversation=ADMIN)
    report = await world.run_until_settled(world.deliverer(policy))
    [alert] = await alerts(world)
    assert sorted(report.dead) == sorted([row, alert.id]) and report.sent == []
    assert (alert.status, alert.attempts) == ("dead", len(admin))
    assert len(await world.rows()) == 2  # the reminder and its alert; no alert about the alert
    assert world.connector.answers_to(ADMIN) == [a.label for a in admin] and world.connector.accepted == []
    assert await world.deliverer(policy).deliver_due(T0 + timedelta(hours=3)) == DeliveryReport()
    assert len(await world.rows()) == 2


async def test_many_reminders_with_random_faults_arrive_once_in_order_within_teams_limits(world: World) -> None:
    seed = 20261123
    numbers = range(1, 41)
    choose = random.Random(seed)
    owners = {n: choose.choice(PEOPLE) for n in numbers}
    ids = await enqueue(world, *(reminder(n, owners[n]) for n in numbers))
    row_of = dict(zip(numbers, ids, strict=True))
    # Each conversation's k-th request gets the same answer whatever order the conversations run in.
    streams = {personal(p): random.Random(f"{seed}:{p.aad}") for p in PEOPLE}

    def chooser(conversation: str) -> Answer | None:
        draw = streams[conversation].random()
        if draw < 0.08:
            return Answer.throttled(streams[conversation].choice([1, 2, 5]))
        if draw < 0.16:
            return Answer.error(500)
        if draw < 0.20:
            return Answer.error(502)
        if draw < 0.26:
            return Answer.error(503)
        if draw < 0.29:
            return Answer.hang(5)
        return None

    world.connector.chooser = chooser
    # Rate-limit waits up to half a second are slept, longer ones put the row back: both paths run.
    policy = replace(QUICK, first_backoff=0.5, longest_backoff=10.0, wait_in_process=0.5)
    report = await world.run_until_settled(world.deliverer(policy, seed=seed))

    rows = await world.rows()
    assert report.dead == [] and {m.status for m in rows.values()} == {"sent"} and len(rows) == 40
    delivered = Counter(number_in(a.body) for a in world.connector.accepted)
    assert delivered == Counter({n: 1 for n in numbers})  # every reminder exactly once
    assert sorted(report.sent) == sorted(ids)
    for person in PEOPLE:
        arrived = [row_of[number_in(a.body)] for a in world.connector.to(personal(person))]
        assert arrived == sorted(row_of[n] for n in numbers if owners[n] == person)  # in outbox order per lane
        times = [a.at for a in world.connector.to(personal(person))]
        assert busiest(times, 1.0) <= 7 and busiest(times, 2.0) <= 8, (person.name, times)
        assert busiest([r.at for r in world.connector.requests if r.conversation_id == personal(person)],
                       1.0) <= 7  # failed requests were counted too: Teams counts them
    # Each row's attempts are the requests made for it; its activity id is the one the connector gave.
    tries = Counter(number_in(r.body) for r in world.connector.requests)
    accepted_ids = {number_in(a.body): a.activity_id for a in world.connector.accepted}
    for n in numbers:
        assert (rows[row_of[n]].attempts, rows[row_of[n]].activity_id) == (tries[n], accepted_ids[n])
    # The faults and the limiter were exercised, not skipped.
    labels = Counter(r.answer.label for r in world.connector.requests)
    assert {"429", "500", "502", "503", "timeout"} <= set(labels), labels
    assert report.retried and report.deferred and world.time.sleeps
    assert world.time.in_flight == 0
