"""The audit trail's hash chain: the one rule for an event's hash, and the check that walks the chain.

Every event carries the hash of the event before it (`prev_hash`) and its own hash, SHA-256 over a
canonical JSON of its fields and `prev_hash`. Storage computes the hash with `event_hash` when it
appends and `verify_chain` recomputes it, so the rule is written once. Never change the rule: every
stored chain was computed with it (a new rule would need a version stored with each event).

A chain shows that no event was altered, removed or inserted between its first and its last event.
Removing the newest events leaves a shorter chain that is still whole, so an operator who wants to
notice that keeps the last hash that `concerns-bot audit verify` prints somewhere else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from concerns.model import AuditEvent

GENESIS = "0" * 64  # the prev_hash of the very first event


def canonical_time(moment: datetime) -> str:
    """The instant as stored: UTC, ISO 8601, always with microseconds (both databases keep them)."""
    if moment.tzinfo is None:
        raise ValueError("an audit event's time must carry its zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def stored_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details as they come back from the JSON column (tuples become lists, keys become strings)."""
    return json.loads(json.dumps(details))


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 (hex) of the event's fields and the previous event's hash, as canonical JSON."""
    fields = {
        "prev_hash": prev_hash,
        "occurred_at": canonical_time(event.occurred_at),
        "tenant_id": event.tenant_id,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_ref": event.subject_ref,
        "conversation_id": event.conversation_id,
        "details": stored_details(event.details),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainedEvent:
    """An event as stored: its row id and the two hashes."""

    id: int
    event: AuditEvent
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first event at which the chain does not hold, and why."""

    id: int
    event: AuditEvent
    reason: str

    def __str__(self) -> str:
        e = self.event
        return (f"event {self.id} ({e.action} on {e.subject_type} {e.subject_ref} at "
                f"{canonical_time(e.occurred_at)}): {self.reason}")


def verify_chain(events: Iterable[ChainedEvent], previous: ChainedEvent | None = None) -> ChainBreak | None:
    """The first event (in id order) whose link or hash is wrong, else None; `previous` continues a chain."""
    for current in events:
        expected = previous.hash if previous is not None else GENESIS
        if current.prev_hash != expected:
            reason = (f"prev_hash does not match event {previous.id}" if previous is not None
                      else "prev_hash of the first event is not the chain's start")
            return ChainBreak(current.id, current.event, reason)
        # The stored prev_hash goes into the recomputation, so an edited row is named as itself.
        if event_hash(current.prev_hash, current.event) != current.hash:
            return ChainBreak(current.id, current.event, "hash does not match its contents")
        previous = current
    return None


@dataclass(frozen=True)
class ChainReport:
    count: int  # events checked (before the break, if there is one)
    last: ChainedEvent | None  # the last good event
    broken: ChainBreak | None


async def verify_log(read: Callable[[int, int], Awaitable[list[ChainedEvent]]], batch: int = 1000) -> ChainReport:
    """Walk a stored chain batch by batch: `read(after_id, limit)` gives the next events in id order."""
    count, last = 0, None
    while events := await read(last.id if last else 0, batch):
        broken = verify_chain(events, last)
        if broken is not None:
            good = [e for e in events if e.id < broken.id]
            return ChainReport(count + len(good), good[-1] if good else last, broken)
        count, last = count + len(events), events[-1]
    return ChainReport(count, last, None)
