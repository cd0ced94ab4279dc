"""The outbox: each owed message as a row, claimed under a lease so that one row is one delivery.

Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several schedulers share the work without
waiting on each other; SQLite (one process) ignores the clause and the same code runs. A row is only
claimable when no earlier row of its lane (its conversation) is still owed, which keeps messages in
order per conversation across replicas and means one conversation has one message in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    column,
    exists,
    func,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from concerns.cases import Person
from concerns.reminders import OutboxMessage, Reminder, ReminderKind, Target
from storage.db import reading, writing
from storage.models import OutboxRow

PENDING, SENDING, SENT, DEAD, VOID = "pending", "sending", "sent", "dead", "void"
COVERED = "covered"  # never sent itself: another row's message lists it (Reminder.covers)
OWED = (PENDING, SENDING)
_OUTBOX = OutboxRow.__table__
_ENQUEUED = ("key", "tenant_id", "kind", "target", "lane", "case_reference", "recipient_user_id", "recipient_name",
             "conversation_id", "facts", "summary", "status", "attempts", "send_after", "created_at")
# The outbox's columns without their types, for values `enqueue` has already converted as the types would.
_UNTYPED = table(_OUTBOX.name, *(column(name) for name in _ENQUEUED))
# Each column's values as an array on PostgreSQL: facts as their JSON text, cast back by the server.
_ARRAYS: dict[str, Any] = {name: DateTime(timezone=True) if name in ("send_after", "created_at") else
                           Integer() if name == "attempts" else Text() for name in _ENQUEUED}


def _binding(col: Any, dialect: Any) -> Callable[[Any], Any]:
    """What `col`'s type makes of a value bound to it on `dialect` (a TypeDecorator's step, then the dialect's)."""
    return col.type.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)


def _message(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id, key=row.key, kind=ReminderKind(row.kind), tenant_id=row.tenant_id, target=Target(row.target),
        lane=row.lane, summary=row.summary, facts=dict(row.facts or {}),
        recipient=Person(row.recipient_user_id, row.recipient_name or "") if row.recipient_user_id else None,
        conversation_id=row.conversation_id, case_reference=row.case_reference, status=row.status,
        attempts=row.attempts, send_after=row.send_after, last_error=row.last_error, created_at=row.created_at,
        sent_at=row.sent_at, activity_id=row.activity_id, claimed_by=row.claimed_by,
    )


class SqlNotices:
    """Messages a change owes people, written to the outbox in the change's own transaction: they are sent if and
    only if the change is kept, and retried like every other outbox row."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.added = 0

    async def add(self, notices: Iterable[Reminder], at: datetime) -> None:
        for notice in notices:
            self.session.add(OutboxRow(
                key=notice.key, tenant_id=notice.tenant_id, kind=str(notice.kind), target=str(notice.target),
                lane=notice.lane, case_reference=notice.case_reference,
                recipient_user_id=notice.recipient.user_id if notice.recipient else None,
                recipient_name=notice.recipient.name if notice.recipient else None,
                conversation_id=notice.conversation_id, facts=notice.facts, summary=notice.summary[:2000],
                status=PENDING, attempts=0, send_after=at, created_at=at))
            self.added += 1
        await self.session.flush()


class SqlOutbox:
    """Each method is its own short transaction: a claim must be committed before the send starts."""

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def known_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        async with reading(self._sessions) as session:
            if session.bind.dialect.name == "postgresql" and keys:
                # One join against the keys as an array: costs in proportion to both sides whatever the planner
                # believes, where IN-lists of 500 were compared row by row against an outbox whose statistics
                # still said empty (autovacuum had not caught up with a burst of thousands of rows): 2.7 s a sweep.
                keys_array = (func.unnest(bindparam("keys", list(keys), type_=ARRAY(String)))
                              .table_valued("key").render_derived())
                found.update(await session.scalars(select(OutboxRow.key).join(keys_array,
                                                                              OutboxRow.key == keys_array.c.key)))
                return found
            for start in range(0, len(keys), 500):
                chunk = list(keys[start:start + 500])
                found.update(await session.scalars(select(OutboxRow.key).where(OutboxRow.key.in_(chunk))))
        return found

    async def enqueue(self, reminders: Iterable[Reminder], at: datetime) -> list[str]:
        """Add a row for each reminder whose key is new; returns the keys added (another replica may race us).

        A reminder's covered ones get rows too, marked covered, so their keys are known and never sent alone."""
        reminders = list(reminders)
        if not reminders:
            return []
        listed_in = {covered.key: lead.key for lead in reminders for covered in lead.covers}
        reminders.extend(covered for lead in list(reminders) for covered in lead.covers)
        async with writing(self._sessions) as session:
            dialect = session.bind.dialect
            # Each value already as the column's type would bind it, and `at` converted once, not twice a row:
            # thousands of rows a morning, and the per-row conversions cost more than the insert itself.
            when = _binding(_OUTBOX.c.send_after, dialect)(at)
            facts = _binding(_OUTBOX.c.facts, dialect)
            rows = [
                {
                    "key": r.key, "tenant_id": r.tenant_id, "kind": str(r.kind), "target": str(r.target),
                    "lane": r.lane, "case_reference": r.case_reference,
                    "recipient_user_id": r.recipient.user_id if r.recipient else None,
                    "recipient_name": r.recipient.name if r.recipient else None,
                    "conversation_id": r.conversation_id, "facts": facts(r.facts),
                    "summary": (f"{r.summary} (listed in {listed_in[r.key]})" if r.key in listed_in
                                else r.summary)[:2000],
                    "status": COVERED if r.key in listed_in else PENDING, "attempts": 0, "send_after": when,
                    "created_at": when,
                }
                for r in reminders
            ]
            connection = await session.connection()
            if dialect.name == "postgresql":
                # The rows as one array per column, unnested by the server: one statement to prepare and send,
                # where VALUES lists of a thousand rows (15,000 parameters) were each prepared and planned anew.
                arrays = (func.unnest(*(bindparam(name, [row[name] for row in rows], type_=ARRAY(_ARRAYS[name]))
                                        for name in _ENQUEUED))
                          .table_valued(*_ENQUEUED, with_ordinality="n").render_derived())
                # In the given order, as before: ids order the rows of a lane for delivery.
                source = select(*(cast(arrays.c.facts, JSON) if name == "facts" else arrays.c[name]
                                  for name in _ENQUEUED)).order_by(arrays.c.n)
                statement = (pg_insert(_UNTYPED).from_select(list(_ENQUEUED), source)
                             .on_conflict_do_nothing(index_elements=["key"]).returning(_UNTYPED.c.key))
                new = set((await connection.execute(statement)).scalars().all())
            else:
                # One statement executed for many rows: SQLAlchemy batches it and compiles it once, where a
                # multi-row VALUES of literal rows was compiled afresh for every batch (seconds for thousands).
                statement = (sqlite_insert(_UNTYPED).on_conflict_do_nothing(index_elements=["key"])
                             .returning(_UNTYPED.c.key))
                new = set((await connection.execute(statement, rows)).scalars().all())
            await session.commit()
        return [row["key"] for row in rows if row["key"] in new]

    async def claim(self, worker: str, at: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        """Take up to `limit` due rows for `worker` until `at + lease`; a row whose lease ran out is due again."""
        older = aliased(OutboxRow)
        earlier_owed = exists(select(older.id).where(
            older.lane == OutboxRow.lane, older.id < OutboxRow.id, older.status.in_(OWED)))
        async with writing(self._sessions) as session:
            ids = list(await session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.status.in_(OWED), OutboxRow.send_after <= at,
                       or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= at),
                       ~earlier_owed)
                .order_by(OutboxRow.id).limit(limit)
                .with_for_update(skip_locked=True, of=OutboxRow)
            ))
            if not ids:
                await session.rollback()
                return []
            await session.execute(
                update(OutboxRow).where(OutboxRow.id.in_(ids))
                .values(status=SENDING, claimed_by=worker, lease_until=at + lease, attempts=OutboxRow.attempts + 1)
            )
            rows = (await session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids)).order_by(OutboxRow.id)))
            claimed = [_message(row) for row in rows]
            await session.commit()
        return claimed

    async def _finish(self, message_id: int, worker: str, **values: Any) -> bool:
        async with writing(self._sessions) as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == message_id, OutboxRow.claimed_by == worker, OutboxRow.status == SENDING)
                .values(lease_until=None, **values))
            await session.commit()
            return bool(result.rowcount)

    async def sent(self, message_id: int, worker: str, at: datetime, activity_id: str | None,
                   sent_to: str | None) -> bool:
        """Record delivery; False if the lease was lost to another worker meanwhile."""
        return await self._finish(message_id, worker, status=SENT, sent_at=at, activity_id=activity_id,
                                  sent_to=sent_to, last_error=None)

    async def retry_later(self, message_id: int, worker: str, send_after: datetime, error: str) -> bool:
        return await self._finish(message_id, worker, status=PENDING, send_after=send_after, last_error=error[:2000])

    async def defer(self, message_id: int, worker: str, send_after: datetime) -> bool:
        """Put a claimed row back untried (quiet time, or the conversation's rate limit): not an attempt."""
        return await self._finish(message_id, worker, status=PENDING, send_after=send_after,
                                  attempts=OutboxRow.attempts - 1)

    async def void(self, message_id: int, worker: str, at: datetime, reason: str, *,
                   release_key: bool = False) -> bool:
        """Not sent, and never to be: what it was about changed before its time came (an action done meanwhile).

        With `release_key` the row keeps its record under a key of its own, and its key is free for the same
        occurrence to be owed to someone else (the action's new owner)."""
        released = {"key": OutboxRow.key + f" (void {message_id})"} if release_key else {}
        return await self._finish(message_id, worker, status=VOID, sent_at=None,
                                  last_error=f"not sent: {reason}"[:2000], **released)

    async def dead(self, message_id: int, worker: str, at: datetime, error: str) -> bool:
        return await self._finish(message_id, worker, status=DEAD, sent_at=None, last_error=error[:2000])

    async def get(self, message_id: int) -> OutboxMessage | None:
        async with reading(self._sessions) as session:
            row = await session.get(OutboxRow, message_id)
            return _message(row) if row else None

    async def listing(self, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
        async with reading(self._sessions) as session:
            statement = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
            if status:
                statement = statement.where(OutboxRow.status == status)
            return [_message(row) for row in await session.scalars(statement)]

    async def counts(self) -> dict[str, int]:
        async with reading(self._sessions) as session:
            rows = await session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
            return {status: count for status, count in rows.all()}

    async def retry_dead(self, ids: Sequence[int] | None, at: datetime) -> list[int]:
        """Give dead letters (these, or all) a fresh set of attempts from `at`."""
        async with writing(self._sessions) as session:
            # An anonymised row has lost what it would say: sending it again would post a blank message.
            condition = and_(OutboxRow.status == DEAD, OutboxRow.anonymised_at.is_(None))
            if ids is not None:
                condition = and_(condition, OutboxRow.id.in_(list(ids)))
            chosen = list(await session.scalars(select(OutboxRow.id).where(condition)))
            if chosen:
                await session.execute(update(OutboxRow).where(OutboxRow.id.in_(chosen)).values(
                    status=PENDING, attempts=0, send_after=at, lease_until=None, claimed_by=None))
            await session.commit()
        return chosen
