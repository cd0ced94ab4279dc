"""The level vote against real databases, including simultaneous ballots."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from concerns import services
from concerns.model import Actor
from concerns.votes import NotAllowed, VoteClosed, parse_ballot, parse_confirmation
from storage.models import AuditEventRow
from tests.storage.test_cases import HELEN, TOM, open_one
from tests.storage.test_screening import CROYDON
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

CHAIR = Actor(HELEN.user_id, HELEN.name, TENANT)
COORDINATOR = Actor(TOM.user_id, TOM.name, TENANT)
STRANGER = Actor("aad-stranger", "Alex Stranger", TENANT)


async def case_with_vote(uow: Any, clock: FixedClock) -> Any:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    _, vote = await services.start_vote(uow(), clock, COORDINATOR, case.reference, conversation_id="c")
    return case, vote


async def cast(uow: Any, clock: FixedClock, actor: Actor, vote_id: int, **values: str) -> Any:
    return await services.cast_ballot(uow(), clock, actor, vote_id, parse_ballot(values, CROYDON),
                                      conversation_id="c")


async def test_members_vote_and_may_change_their_vote(uow: Any, clock: FixedClock) -> None:
    _, vote = await case_with_vote(uow, clock)
    await cast(uow, clock, CHAIR, vote.id, level="moderate")
    await cast(uow, clock, PRIYA, vote.id, level="minor", reason="Manager responsive")
    _, after = await cast(uow, clock, PRIYA, vote.id, level="moderate")
    assert after.tally() == {"moderate": 2} and after.majority() == "moderate"
    async with uow() as tx:
        actions = [e.action for e in await tx.audit.for_subject("case", "PC-2026-0001")]
    assert actions.count("vote.cast") == 2 and actions.count("vote.changed") == 1


async def test_a_double_click_counts_once_and_is_recorded_once(uow: Any, sessions: Any, clock: FixedClock) -> None:
    _, vote = await case_with_vote(uow, clock)
    await cast(uow, clock, CHAIR, vote.id, level="major")
    _, after = await cast(uow, clock, CHAIR, vote.id, level="major")
    assert after.tally() == {"major": 1}
    async with sessions() as session:
        casts = (await session.scalars(select(AuditEventRow.action).where(AuditEventRow.action == "vote.cast"))).all()
    assert len(casts) == 1


async def test_presses_at_the_same_moment_are_one_vote_and_one_record(uow: Any, sessions: Any,
                                                                      clock: FixedClock) -> None:
    # The ballot before is read under the vote's lock: read ahead of it, every press found none and each
    # recorded a "vote.cast" of its own (PostgreSQL, where writers do not queue for the whole database).
    _, vote = await case_with_vote(uow, clock)
    await asyncio.gather(*(cast(uow, clock, CHAIR, vote.id, level="major") for _ in range(6)))
    _, after = await services.vote_with_case(uow(), TENANT, vote.id)
    assert after.tally() == {"major": 1}
    async with sessions() as session:
        recorded = (await session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.action.in_(["vote.cast", "vote.changed"])))).all()
    assert recorded == ["vote.cast"]


async def test_non_members_are_refused_nothing_counted_and_the_refusal_recorded(uow: Any, clock: FixedClock) -> None:
    _, vote = await case_with_vote(uow, clock)
    with pytest.raises(NotAllowed, match="not a member"):
        await cast(uow, clock, STRANGER, vote.id, level="major")
    _, current = await services.vote_with_case(uow(), TENANT, vote.id)
    assert current.ballots == ()
    async with uow() as tx:
        refusals = [e for e in await tx.audit.for_subject("case", "PC-2026-0001") if e.action == "refused"]
    assert refusals[0].actor_id == STRANGER.id and refusals[0].details["attempted"] == "vote.cast"


async def test_only_the_chair_or_coordinator_starts_and_only_the_chair_confirms(uow: Any, clock: FixedClock) -> None:
    case, vote = await case_with_vote(uow, clock)
    with pytest.raises(NotAllowed):
        await services.start_vote(uow(), clock, PRIYA, case.reference, conversation_id="c")
    _, vote = await cast(uow, clock, CHAIR, vote.id, level="moderate")
    confirmation = parse_confirmation({"level": "moderate"}, CROYDON, vote)
    with pytest.raises(NotAllowed, match="Only the chair"):
        await services.confirm_level(uow(), clock, CROYDON, COORDINATOR, vote.id, confirmation, conversation_id="c")


async def test_confirming_sets_the_level_adds_its_actions_and_closes_the_vote(uow: Any, clock: FixedClock) -> None:
    case, vote = await case_with_vote(uow, clock)
    await cast(uow, clock, CHAIR, vote.id, level="major")
    await cast(uow, clock, COORDINATOR, vote.id, level="major")
    _, vote = await services.vote_with_case(uow(), TENANT, vote.id)
    confirmed = await services.confirm_level(uow(), clock, CROYDON, CHAIR, vote.id,
                                             parse_confirmation({"level": "major"}, CROYDON, vote),
                                             conversation_id="c")
    assert confirmed.case.level == "major" and confirmed.vote.status == "closed"
    assert any("suspension" in a.title.lower() for a in confirmed.actions)
    async with uow() as tx:
        stored = [a for a in await tx.cases.actions(case.id) if a.source == "level:major"]
    assert len(stored) == len(CROYDON.level("major").required_actions) and stored[0].status == "open"
    with pytest.raises(VoteClosed):
        await cast(uow, clock, PRIYA, vote.id, level="minor")
    # A new vote starts from the confirmed level.
    _, second = await services.start_vote(uow(), clock, CHAIR, case.reference, conversation_id="c")
    assert second.id != vote.id and second.level_at_start == "major"


async def test_starting_twice_returns_the_open_vote(uow: Any, clock: FixedClock) -> None:
    case, vote = await case_with_vote(uow, clock)
    _, again = await services.start_vote(uow(), clock, CHAIR, case.reference, conversation_id="c")
    assert again.id == vote.id


async def test_simultaneous_votes_all_count(uow: Any, clock: FixedClock) -> None:
    _, vote = await case_with_vote(uow, clock)
    voters = [CHAIR, COORDINATOR, PRIYA]
    levels = ["major", "moderate", "major"]
    await asyncio.gather(*(cast(uow, clock, v, vote.id, level=lv) for v, lv in zip(voters, levels, strict=True)),
                         *(cast(uow, clock, CHAIR, vote.id, level="major") for _ in range(3)))
    _, after = await services.vote_with_case(uow(), TENANT, vote.id)
    assert after.tally() == {"major": 2, "moderate": 1}
    assert len(after.ballots) == 3


async def test_a_vote_racing_the_close_is_either_counted_before_or_refused(uow: Any, clock: FixedClock) -> None:
    _, vote = await case_with_vote(uow, clock)
    await cast(uow, clock, CHAIR, vote.id, level="moderate")
    _, vote = await services.vote_with_case(uow(), TENANT, vote.id)
    confirmation = parse_confirmation({"level": "moderate", "rationale": "agreed"}, CROYDON, vote)
    results = await asyncio.gather(
        services.confirm_level(uow(), clock, CROYDON, CHAIR, vote.id, confirmation, conversation_id="c"),
        cast(uow, clock, PRIYA, vote.id, level="major"),
        return_exceptions=True,
    )
    _, final = await services.vote_with_case(uow(), TENANT, vote.id)
    counted = any(b.user_id == PRIYA.id for b in final.ballots)
    assert counted != isinstance(results[1], VoteClosed)  # counted, or told it was not: never both, never neither
    assert final.status == "closed"
