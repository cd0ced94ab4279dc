"""Commissioning status: only the pack's named roles change it, always with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from concerns import services, team_admins
from concerns.cases import Person
from concerns.model import Actor
from concerns.validation import FormErrors
from concerns.vocabulary import CommissioningStatus
from concerns.votes import NotAllowed
from tests.storage.test_cases import HELEN, open_one
from tests.storage.test_screening import CROYDON
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

TEAM = "19:team-safeguarding@thread.tacv2"


async def test_only_the_head_of_service_suspends_placements_and_says_why(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    provider_id = raised.concern.provider.id
    case = await open_one(uow, clock, provider_id)
    head = Actor(HELEN.user_id, HELEN.name, TENANT)
    with pytest.raises(NotAllowed, match="Head of Service"):
        await services.set_commissioning_status(uow(), clock, CROYDON, head, provider_id, "new_placements_suspended",
                                                "Major threshold confirmed", team_id=TEAM, conversation_id="c")
    await team_admins.bootstrap(uow(), clock, PRIYA, TEAM, conversation_id="c")  # Priya installed the bot
    await services.set_role_holder(uow(), clock, CROYDON, PRIYA, TEAM, "head_of_service",
                                   Person(HELEN.user_id, HELEN.name), conversation_id="c")
    with pytest.raises(FormErrors) as caught:
        await services.set_commissioning_status(uow(), clock, CROYDON, head, provider_id, "embargoed", " ",
                                                team_id=TEAM, conversation_id="c")
    assert "reason" in caught.value.errors
    provider = await services.set_commissioning_status(
        uow(), clock, CROYDON, head, provider_id, "new_placements_suspended",
        "Major threshold confirmed at the decision meeting", team_id=TEAM, conversation_id="c")
    assert provider.commissioning_status is CommissioningStatus.NEW_PLACEMENTS_SUSPENDED
    assert [p.name for p in await services.providers_not_normal(uow(), TENANT)] == [provider.name]
    async with uow() as tx:
        on_case = [e for e in await tx.audit.for_subject("case", case.reference)
                   if e.action == "provider.commissioning_status"]
        refusals = [e for e in await tx.audit.for_subject("provider", str(provider_id)) if e.action == "refused"]
    assert on_case[0].details["status"] == "new_placements_suspended" and on_case[0].details["as_role"] == \
        "head_of_service"
    assert len(refusals) == 1
