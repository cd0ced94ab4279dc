"""The audit chain's rule: one hash per event, over its fields and the previous hash; the walk that checks it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from concerns.audit import GENESIS, ChainedEvent, event_hash, verify_chain, verify_log
from concerns.model import AuditEvent

OPENED = AuditEvent(
    occurred_at=datetime(2026, 11, 23, 10, 30, 0, 125000, tzinfo=UTC),
    tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    actor_id="a1f2c3d4-0001",
    actor_name="Priya Shah",
    action="case.opened",
    subject_type="case",
    subject_ref="PC-2026-0001",
    conversation_id="19:general@thread.tacv2",
    details={"provider": "Oakwood Lodge Nursing Home", "step": "information-gathering",
             "members": {"a1f2c3d4-0001": "chair"}, "concerns": ["C-2026-0001"]},
)


def chain(*events: AuditEvent) -> list[ChainedEvent]:
    chained, prev = [], GENESIS
    for number, event in enumerate(events, start=1):
        digest = event_hash(prev, event)
        chained.append(ChainedEvent(number, event, prev, digest))
        prev = digest
    return chained


def test_the_hash_is_stable() -> None:
    # Pinned: every stored chain was computed with this rule, so it must never change.
    assert event_hash(GENESIS, OPENED) == "b817a1a969fbcae0c95f9e7542ff5152250782d7b70bfbeb9e76412cfbd16c29"
    reordered = replace(OPENED, details=dict(reversed(OPENED.details.items())))
    assert event_hash(GENESIS, reordered) == event_hash(GENESIS, OPENED)  # key order is not content


@pytest.mark.parametrize("change", [
    {"occurred_at": datetime(2026, 11, 23, 10, 30, 0, 125001, tzinfo=UTC)},
    {"tenant_id": "0d2b4c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"},
    {"actor_id": "a1f2c3d4-0002"},
    {"actor_name": "Tom Okafor"},
    {"action": "case.closed"},
    {"subject_type": "concern"},
    {"subject_ref": "PC-2026-0002"},
    {"conversation_id": None},
    {"details": {**OPENED.details, "step": "action-planning"}},
    {"details": {**OPENED.details, "members": {"a1f2c3d4-0001": "coordinator"}}},
])
def test_the_hash_changes_when_any_field_changes(change: dict[str, object]) -> None:
    assert event_hash(GENESIS, replace(OPENED, **change)) != event_hash(GENESIS, OPENED)  # type: ignore[arg-type]


def test_the_hash_changes_with_the_previous_hash() -> None:
    assert event_hash(GENESIS, OPENED) != event_hash("f" * 64, OPENED)


def test_the_hash_is_over_the_stored_form_of_time_and_details() -> None:
    london = datetime(2026, 11, 23, 10, 30, 0, 125000, tzinfo=ZoneInfo("Europe/London"))
    as_read_back = replace(OPENED, occurred_at=london.astimezone(UTC),
                           details={**OPENED.details, "concerns": ["C-2026-0001"]})
    as_recorded = replace(OPENED, occurred_at=london, details={**OPENED.details, "concerns": ("C-2026-0001",)})
    assert event_hash(GENESIS, as_recorded) == event_hash(GENESIS, as_read_back)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="zone"):
        event_hash(GENESIS, replace(OPENED, occurred_at=datetime(2026, 11, 23, 10, 30)))


def test_an_intact_chain_has_no_break() -> None:
    events = chain(OPENED, replace(OPENED, action="case.card_posted"), replace(OPENED, action="vote.opened"))
    assert verify_chain(events) is None
    assert verify_chain(events[1:], previous=events[0]) is None


def test_an_edited_event_is_named_as_itself() -> None:
    events = chain(OPENED, replace(OPENED, action="vote.opened"), replace(OPENED, action="vote.closed"))
    events[1] = replace(events[1], event=replace(events[1].event, actor_name="Someone Else"))
    broken = verify_chain(events)
    assert broken is not None and broken.id == 2
    assert str(broken) == ("event 2 (vote.opened on case PC-2026-0001 at 2026-11-23T10:30:00.125000+00:00): "
                           "hash does not match its contents")


def test_a_removed_event_breaks_the_link_of_the_next() -> None:
    events = chain(OPENED, replace(OPENED, action="vote.opened"), replace(OPENED, action="vote.closed"))
    broken = verify_chain([events[0], events[2]])
    assert broken is not None and (broken.id, broken.reason) == (3, "prev_hash does not match event 1")


def test_a_chain_that_does_not_start_at_genesis_is_broken() -> None:
    events = chain(OPENED, replace(OPENED, action="vote.opened"))
    broken = verify_chain(events[1:])
    assert broken is not None and broken.id == 2 and "first event" in broken.reason


async def test_the_walk_carries_the_chain_across_batches() -> None:
    events = chain(*(replace(OPENED, details={"n": n}) for n in range(7)))

    async def read(after_id: int, limit: int) -> list[ChainedEvent]:
        return [e for e in events if e.id > after_id][:limit]

    report = await verify_log(read, batch=3)
    assert (report.count, report.last, report.broken) == (7, events[-1], None)

    events[4] = replace(events[4], hash="0" * 63 + "1")  # event 5's hash, so event 6's link fails
    report = await verify_log(read, batch=3)
    assert report.broken is not None and report.broken.id == 5
    assert report.count == 4 and report.last == events[3]
