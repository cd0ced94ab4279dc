"""Delivering the outbox: claim, respect quiet hours and rate limits, send, and record what happened.

A row is claimed (committed) before it is sent, under a lease. If this process dies between the
claim and the send, the row is claimed again by whoever sweeps after the lease ends, and sent then:
one delivery. Failures are retried with Retry-After or exponential backoff with jitter; after
`max_attempts`, or at once for an answer that will never change (403 MessageWritesBlocked, 404), the
row is a dead letter, and the team's admin channel is told once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from concerns.calendar import WorkingCalendar
from concerns.clock import Clock
from concerns.packs import ProcedurePack
from concerns.ports import Outbox
from concerns.reminders import (
    OutboxMessage,
    Reminder,
    ReminderKind,
    Target,
    is_quiet,
    next_working_start,
    owed_again_when_void,
)
from scheduler.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# Worth retrying (msteams-docs rate-limit guidance: 412, 429, 502, 503, 504; and any 5xx or no answer).
TRANSIENT = frozenset({408, 412, 429, 500, 502, 503, 504})


class SendFailed(Exception):
    """The connector refused or failed a send; `status` None means no answer (connection, timeout)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in TRANSIENT or self.status >= 500


@dataclass(frozen=True)
class Delivered:
    activity_id: str | None
    conversation_id: str | None


class Sender(Protocol):
    async def send(self, message: OutboxMessage) -> Delivered:
        """Post the message; raise SendFailed with the connector's status when it is not accepted."""
        ...


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=2)  # far longer than a send's timeout, so a live send keeps its row
    send_timeout: float = 20.0
    batch: int = 50
    parallel: int = 8
    first_backoff: float = 2.0
    longest_backoff: float = 1800.0
    longest_retry_after: float = 3600.0
    wait_in_process: float = 2.0  # a rate-limit wait shorter than this is slept; longer, the row is deferred


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    lost_lease: list[int] = field(default_factory=list)
    voided: list[int] = field(default_factory=list)  # no longer wanted when their time came

    def merge(self, other: DeliveryReport) -> None:
        for name in ("sent", "retried", "deferred", "dead", "lost_lease", "voided"):
            getattr(self, name).extend(getattr(other, name))


def backoff(attempt: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """Exponential backoff with full jitter around the doubling step, bounded."""
    step = min(policy.longest_backoff, policy.first_backoff * 2 ** max(0, attempt - 1))
    return min(policy.longest_backoff, step * (0.5 + rng.random()))


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        sender: Sender,
        clock: Clock,
        hours_pack: ProcedurePack,
        calendar: WorkingCalendar,
        worker: str,
        *,
        limiter: RateLimiter | None = None,
        policy: DeliveryPolicy | None = None,
        admin_channel: Callable[[str], Awaitable[str | None]] | None = None,
        no_longer_due: Callable[[OutboxMessage], Awaitable[str | None]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.sender = sender
        self.clock = clock
        self.hours = hours_pack.reminders
        self.calendar = calendar
        self.worker = worker
        self.limiter = limiter or RateLimiter()
        self.policy = policy or DeliveryPolicy()
        self.admin_channel = admin_channel
        self.no_longer_due = no_longer_due
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._lanes: dict[str, asyncio.Lock] = {}

    async def deliver_due(self, at: datetime | None = None) -> DeliveryReport:
        """Deliver what is due, batch after batch, until nothing more can be claimed now."""
        report = DeliveryReport()
        gate = asyncio.Semaphore(self.policy.parallel)

        async def one(message: OutboxMessage) -> DeliveryReport:
            async with gate, self._lanes.setdefault(message.lane, asyncio.Lock()):
                return await self._deliver(message, at)

        while True:
            now = at or self.clock.now()
            claimed = await self.outbox.claim(self.worker, now, self.policy.lease, self.policy.batch)
            if not claimed:
                return report
            for part in await asyncio.gather(*(one(message) for message in claimed)):
                report.merge(part)

    async def _deliver(self, message: OutboxMessage, at: datetime | None) -> DeliveryReport:
        report = DeliveryReport()
        now = at or self.clock.now()
        if message.kind is not ReminderKind.DEAD_LETTER and is_quiet(self.hours, self.calendar, now):
            await self.outbox.defer(message.id, self.worker, next_working_start(self.hours, self.calendar, now))
            report.deferred.append(message.id)
            return report
        # Asked at the moment of sending, not when queued: a reminder held over a night or a weekend must not
        # chase an action done, given to someone else or re-dated meanwhile.
        reason = await self.no_longer_due(message) if self.no_longer_due else None
        if reason is not None:
            await self.outbox.void(message.id, self.worker, now, reason, release_key=owed_again_when_void(message))
            report.voided.append(message.id)
            return report
        wait = self.limiter.wait(message.lane)
        if wait > self.policy.wait_in_process:
            await self.outbox.defer(message.id, self.worker, now + timedelta(seconds=wait))
            report.deferred.append(message.id)
            return report
        if wait > 0:
            await self.sleep(wait)
        self.limiter.record(message.lane)
        try:
            delivered = await asyncio.wait_for(self.sender.send(message), timeout=self.policy.send_timeout)
        except TimeoutError:
            await self._failed(message, SendFailed("no answer from the connector in time"), report, at)
            return report
        except SendFailed as failure:
            await self._failed(message, failure, report, at)
            return report
        except Exception as error:  # a bug or an unexpected answer: keep the row, say what happened
            log.exception("sending outbox row %s failed unexpectedly", message.id)
            await self._failed(message, SendFailed(f"{type(error).__name__}: {error}"), report, at)
            return report
        finished = at or self.clock.now()
        if await self.outbox.sent(message.id, self.worker, finished, delivered.activity_id, delivered.conversation_id):
            report.sent.append(message.id)
        else:
            log.warning("outbox row %s was sent after its lease ran out; another worker may have sent it too",
                        message.id)
            report.lost_lease.append(message.id)
        return report

    async def _failed(self, message: OutboxMessage, failure: SendFailed, report: DeliveryReport,
                      at: datetime | None) -> None:
        now = at or self.clock.now()
        status = f"HTTP {failure.status}" if failure.status else "no answer"
        error = f"{status}: {failure}"
        if failure.transient and message.attempts < self.policy.max_attempts:
            if failure.retry_after is not None:
                delay = min(max(failure.retry_after, 0.0), self.policy.longest_retry_after)
            else:
                delay = backoff(message.attempts, self.policy, self.rng)
            log.info("outbox row %s (%s): %s; retry %d in %.1f s", message.id, message.kind, error,
                     message.attempts + 1, delay)
            await self.outbox.retry_later(message.id, self.worker, now + timedelta(seconds=delay), error)
            report.retried.append(message.id)
            return
        log.error("outbox row %s (%s) is a dead letter after %d attempt(s): %s", message.id, message.kind,
                  message.attempts, error)
        await self.outbox.dead(message.id, self.worker, now, error)
        report.dead.append(message.id)
        if message.kind is not ReminderKind.DEAD_LETTER:
            await self._alert(message, error, now)

    async def _alert(self, message: OutboxMessage, error: str, now: datetime) -> None:
        channel = await self.admin_channel(message.tenant_id) if self.admin_channel else None
        if channel is None:
            log.error("no admin channel known for tenant %s: dead letter %s is only in the outbox",
                      message.tenant_id, message.id)
            return
        alert = Reminder(
            # One alert per death: a row an operator retries that dies again is told about again.
            key=f"{ReminderKind.DEAD_LETTER}:{message.id}:{now.isoformat()}", kind=ReminderKind.DEAD_LETTER,
            tenant_id=message.tenant_id, target=Target.CHANNEL, conversation_id=channel,
            case_reference=message.case_reference,
            facts={"outbox_id": message.id, "kind": str(message.kind), "summary": message.summary,
                   "error": error, "attempts": message.attempts, "case": message.case_reference},
            summary=f"could not deliver outbox row {message.id}: {message.summary}",
        )
        await self.outbox.enqueue([alert], now)


class DeliverSoon:
    """Delivers the outbox straight after a turn commits messages for people (an action given to someone), rather
    than at the next minute's sweep. One delivery at a time: a ring while one runs asks for one more pass."""

    def __init__(self) -> None:
        self.deliverer: Deliverer | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def ring(self) -> None:
        if self.deliverer is None:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(self.deliverer))

    async def _run(self, deliverer: Deliverer) -> None:
        while True:
            self._again = False
            try:
                await deliverer.deliver_due()
            except Exception:  # the minute's sweep delivers what this could not
                log.exception("delivering the outbox after a turn failed")
            if not self._again:
                return

    async def settled(self) -> None:
        """Wait for the delivery under way, if any (at shutdown, and in tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
