"""The use cases against real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from concerns import services
from concerns.model import Actor, Conversation, ConversationKind
from concerns.validation import FormErrors, parse_raise_form
from storage.models import AuditEventRow, ConcernRow, ProviderRow
from tests.support.clock import FixedClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PRIYA = Actor(id="a1f2c3d4-0001", name="Priya Shah", tenant_id=TENANT)
TODAY = date(2026, 11, 23)


def form(**overrides: str) -> Any:
    values = {
        "provider_name": "Oakwood Lodge Nursing Home",
        "service_type": "nursing",
        "categories": "medication",
        "source_agency": "cqc",
        "description": "Unsigned MAR charts on the first floor.",
        "occurred_on": "2026-11-20",
    }
    values.update(overrides)
    return parse_raise_form(values, TODAY)


async def raise_one(uow: Any, clock: FixedClock, key: str, actor: Actor = PRIYA, **overrides: str) -> Any:
    return await services.raise_concern(uow(), clock, actor, form(**overrides), conversation_id="19:general",
                                        submission_key=key)


async def count(sessions: Any, model: Any) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_raising_a_concern_stores_it_with_a_yearly_reference_and_an_audit_event(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    first = await raise_one(uow, clock, "k1")
    second = await raise_one(uow, clock, "k2", categories="staffing")
    assert (first.concern.reference, second.concern.reference) == ("C-2026-0001", "C-2026-0002")
    assert first.created and second.created
    assert first.concern.provider.id == second.concern.provider.id  # same name: same provider
    async with uow() as tx:
        events = await tx.audit.for_subject("concern", "C-2026-0001")
    assert [e.action for e in events] == ["concern.raised"]
    assert events[0].actor_id == PRIYA.id and events[0].conversation_id == "19:general"
    assert events[0].details["categories"] == ["medication"]
    assert await count(sessions, ProviderRow) == 1


async def test_references_restart_each_year(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    clock.at = clock.at.replace(year=2027, month=1, day=4)
    assert (await raise_one(uow, clock, "k2")).concern.reference == "C-2027-0001"


async def test_the_audit_trail_never_holds_the_individual_reference(uow: Any, sessions: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1", individual_reference="LAS-104233")
    async with sessions() as session:
        details = (await session.scalars(select(AuditEventRow.details))).all()
    assert details and "LAS-104233" not in repr(details)
    assert details[-1]["individual_involved"] is True


async def test_the_same_submission_twice_stores_one_concern(uow: Any, sessions: Any, clock: FixedClock) -> None:
    first = await raise_one(uow, clock, "same-key")
    again = await raise_one(uow, clock, "same-key")
    assert again.created is False and again.concern.reference == first.concern.reference
    assert await count(sessions, ConcernRow) == 1


async def test_simultaneous_submissions_get_distinct_references(uow: Any, sessions: Any, clock: FixedClock) -> None:
    results = await asyncio.gather(*(raise_one(uow, clock, f"key-{i}") for i in range(8)))
    references = sorted(r.concern.reference for r in results)
    assert references == [f"C-2026-{n:04d}" for n in range(1, 9)]
    assert await count(sessions, ConcernRow) == 8


async def test_simultaneous_retries_of_one_submission_store_it_once(uow: Any, sessions: Any, clock: FixedClock) -> None:
    results = await asyncio.gather(*(raise_one(uow, clock, "retried") for _ in range(4)))
    assert len({r.concern.reference for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await count(sessions, ConcernRow) == 1


async def test_an_unknown_provider_id_is_a_form_error_and_stores_nothing(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    with pytest.raises(FormErrors) as caught:
        await raise_one(uow, clock, "k1", provider_name="", provider_id="999")
    assert "provider_id" in caught.value.errors
    assert await count(sessions, ConcernRow) == 0
    assert await count(sessions, AuditEventRow) == 0


async def test_a_provider_from_another_tenant_is_unknown(uow: Any, sessions: Any, clock: FixedClock) -> None:
    theirs = await raise_one(uow, clock, "k1", actor=Actor("x", "Other council", "other-tenant"))
    with pytest.raises(FormErrors):
        await raise_one(uow, clock, "k2", provider_name="", provider_id=str(theirs.concern.provider.id))


async def test_unscreened_list_is_oldest_first_and_per_tenant(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    clock.advance(hours=1)
    await raise_one(uow, clock, "k2", provider_name="Riverside Domiciliary Care", service_type="domiciliary_care")
    await raise_one(uow, clock, "k3", actor=Actor("x", "Other council", "other-tenant"))
    page = await services.unscreened_concerns(uow(), TENANT)
    assert [c.reference for c in page.concerns] == ["C-2026-0001", "C-2026-0002"]
    assert page.total == 2


async def test_provider_history_is_newest_first_and_found_by_part_of_the_name(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    clock.advance(days=1)
    await raise_one(uow, clock, "k2", categories="infection_control")
    await raise_one(uow, clock, "k3", provider_name="Riverside Domiciliary Care", service_type="domiciliary_care")
    history = await services.provider_history(uow(), TENANT, "oakwood")
    assert history.provider is not None and history.provider.name == "Oakwood Lodge Nursing Home"
    assert [c.reference for c in history.concerns] == ["C-2026-0002", "C-2026-0001"]
    assert history.total == 2


async def test_provider_history_offers_candidates_when_the_name_is_ambiguous(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1", provider_name="Oakwood Lodge")
    await raise_one(uow, clock, "k2", provider_name="Oakwood Court")
    history = await services.provider_history(uow(), TENANT, "oakwood")
    assert history.provider is None
    assert sorted(p.name for p in history.candidates) == ["Oakwood Court", "Oakwood Lodge"]


async def test_provider_search_treats_wildcards_literally(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1", provider_name="Oakwood Lodge")
    history = await services.provider_history(uow(), TENANT, "%")
    assert history.provider is None and history.candidates == []


async def test_welcome_is_claimed_once_per_conversation(uow: Any, sessions: Any, clock: FixedClock) -> None:
    channel = Conversation(id="19:general", tenant_id=TENANT, kind=ConversationKind.CHANNEL,
                           reference={"conversation": {"id": "19:general"}}, team_name="Safeguarding Adults")
    assert await services.note_conversation(uow(), clock, PRIYA, channel, installing=True) is True
    assert await services.note_conversation(uow(), clock, PRIYA, channel, installing=True) is False
    assert [c.id for c in await services.channels(uow(), TENANT)] == ["19:general"]
    await services.note_removed(uow(), clock, PRIYA, "19:general")
    assert await services.channels(uow(), TENANT) == []
    async with sessions() as session:
        actions = (await session.scalars(select(AuditEventRow.action).order_by(AuditEventRow.id))).all()
    assert actions == ["bot.installed", "bot.removed"]


async def test_a_message_records_the_conversation_without_a_welcome(uow: Any, clock: FixedClock) -> None:
    chat = Conversation(id="a:personal", tenant_id=TENANT, kind=ConversationKind.PERSONAL, reference={})
    assert await services.note_conversation(uow(), clock, PRIYA, chat, installing=False) is False
    # A later install event still gets its one welcome.
    assert await services.note_conversation(uow(), clock, PRIYA, chat, installing=True) is True
