"""Pattern prompts against real databases: raised once per evidence, declines remembered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from concerns import services
from concerns.validation import FormErrors
from tests.storage.test_screening import CROYDON, ENGLAND, decision
from tests.storage.test_services import PRIYA, raise_one
from tests.support.clock import FixedClock


async def check(uow: Any, clock: FixedClock, provider_id: int) -> list[Any]:
    return await services.check_patterns(uow(), clock, CROYDON, PRIYA, provider_id, conversation_id="19:general")


async def test_the_third_concern_in_ninety_days_prompts_once(uow: Any, clock: FixedClock) -> None:
    sources = ("police", "icb_nhs", "family")
    provider_id = None
    for day, (key, source) in enumerate(zip(("k1", "k2", "k3"), sources, strict=True)):
        raised = await raise_one(uow, clock, key, source_agency=source)
        provider_id = raised.concern.provider.id
        prompts = await check(uow, clock, provider_id)
        clock.advance(days=10 + day)
    assert [p.prompt.rule_id for p in prompts] == ["several_concerns_in_90_days"]
    assert [f.reference for f in prompts[0].evidence] == ["C-2026-0001", "C-2026-0002", "C-2026-0003"]
    assert await check(uow, clock, provider_id) == []  # the same evidence never prompts twice


async def test_a_provider_first_named_by_a_concern_is_checked_on_that_concern_alone(
    uow: Any, clock: FixedClock
) -> None:
    first = await raise_one(uow, clock, "k1")
    provider_id = first.concern.provider.id
    async with uow().reader() as reader:
        stored = await reader.patterns.facts(PRIYA.tenant_id, provider_id, clock.now() - timedelta(days=90))
    assert first.new_provider and first.provider_facts() == stored
    assert await check(uow, clock, provider_id) == []
    # The provider now has a history, and a retried submit created nothing: both must be read from the store.
    assert (await raise_one(uow, clock, "k2")).provider_facts() is None
    assert (await raise_one(uow, clock, "k1")).provider_facts() is None


async def test_a_first_concern_that_meets_a_rule_on_its_own_still_prompts(uow: Any, clock: FixedClock) -> None:
    every_concern = CROYDON.model_copy(update={"patterns": (CROYDON.patterns[0].model_copy(update={"count": 1}),)})
    raised = await raise_one(uow, clock, "k1")
    prompts = await services.check_patterns(uow(), clock, every_concern, PRIYA, raised.concern.provider.id,
                                            conversation_id="19:general", known=raised.provider_facts())
    assert [p.prompt.rule_id for p in prompts] == ["several_concerns_in_90_days"]
    assert [f.reference for f in prompts[0].evidence] == ["C-2026-0001"]


async def test_a_declined_prompt_returns_only_with_new_evidence(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    raised = await raise_one(uow, clock, "k2")  # same source (CQC) twice in 30 days
    prompts = await check(uow, clock, raised.concern.provider.id)
    assert [p.prompt.rule_id for p in prompts] == ["repeat_source_in_30_days"]
    with pytest.raises(FormErrors):
        await services.decline_prompt(uow(), clock, PRIYA, prompts[0].prompt.id, "  ", conversation_id="c")
    with pytest.raises(FormErrors) as caught:  # the reason is shown on the prompt's card in the channel
        await services.decline_prompt(uow(), clock, PRIYA, prompts[0].prompt.id, "Mrs Jones's family complained twice",
                                      conversation_id="c")
    assert "\u201cMrs Jones\u201d" in caught.value.errors["reason"]
    declined = await services.decline_prompt(uow(), clock, PRIYA, prompts[0].prompt.id,
                                             "Both about the same visit; contract monitoring in hand.",
                                             conversation_id="c")
    assert declined.status == "declined" and declined.decided_by == "Priya Shah"
    assert await check(uow, clock, raised.concern.provider.id) == []
    await raise_one(uow, clock, "k3")
    again = await check(uow, clock, raised.concern.provider.id)
    assert {p.prompt.rule_id for p in again} == {"repeat_source_in_30_days", "several_concerns_in_90_days"}


async def test_screening_at_major_prompts(uow: Any, clock: FixedClock) -> None:
    raised = await raise_one(uow, clock, "k1")
    assert await check(uow, clock, raised.concern.provider.id) == []
    await services.screen_concern(uow(), clock, ENGLAND, CROYDON, PRIYA, "C-2026-0001",
                                  decision(outcome="provider_concerns", threshold="major"), conversation_id="c")
    prompts = await check(uow, clock, raised.concern.provider.id)
    assert [p.prompt.rule_id for p in prompts] == ["major_threshold"]


async def test_two_checks_at_once_prompt_once(uow: Any, clock: FixedClock) -> None:
    import asyncio

    await raise_one(uow, clock, "k1")
    raised = await raise_one(uow, clock, "k2")
    results = await asyncio.gather(*(check(uow, clock, raised.concern.provider.id) for _ in range(3)))
    assert sum(len(r) for r in results) == 1
