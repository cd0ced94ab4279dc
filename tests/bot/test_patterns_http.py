"""Pattern prompts over real HTTP: posted with their evidence, declined with a reason, not repeated."""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import RunningBot
from tests.bot.test_http import texts
from tests.bot.test_screening_http import raise_concern
from tests.support.activities import CHANNEL_ID, PRIYA


def prompts(bot: RunningBot) -> list[Any]:
    return [s for s in bot.connector.sent if s.card and "A pattern of concerns" in texts(s.card)]


async def test_a_repeat_source_prompts_with_evidence_and_a_decline_sticks(running_bot: RunningBot) -> None:
    bot = running_bot
    await raise_concern(bot)
    assert prompts(bot) == []
    await raise_concern(bot, description="Second CQC report: call bells unanswered at night.")
    posted = prompts(bot)
    assert len(posted) == 1
    prompt = posted[0]
    assert prompt.method == "CREATE" and prompt.conversation_id.startswith(CHANNEL_ID + ";messageid=")
    shown = texts(prompt.card)
    assert "same source agency" in shown and "C-2026-0001" in shown and "C-2026-0002" in shown
    show_card = next(a for a in prompt.card["actions"] if a["title"] == "Not now")
    assert show_card["type"] == "Action.ShowCard"
    data = show_card["card"]["actions"][0]["data"]

    thread = {"id": prompt.conversation_id, "conversationType": "channel", "isGroup": True,
              "tenantId": bot.teams.tenant}
    await bot.send(bot.teams.card_submit(PRIYA, data | {"reason": ""}, reply_to=prompt.activity_id,
                                         conversation=thread))
    assert "Say why a case is not needed now" in bot.connector.sent[-1].text
    await bot.send(bot.teams.card_submit(PRIYA, data | {"reason": "Same visit reported twice."},
                                         reply_to=prompt.activity_id, conversation=thread))
    assert "Recorded: not now (Priya Shah): Same visit reported twice." in bot.connector.sent[-1].text
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("provider", "1")
    assert [e.action for e in events if e.action.startswith("pattern.")] == ["pattern.prompted", "pattern.declined"]

    # A third concern, from the police, meets "three in 90 days"; the declined CQC pair is unchanged
    # evidence, so it does not come back.
    await raise_concern(bot, source_agency="police")
    rules = [texts(p.card) for p in prompts(bot)[1:]]
    assert len(rules) == 1 and "Three or more concerns" in rules[0]


async def test_a_pattern_about_a_provider_with_an_open_case_asks_about_its_level(running_bot: RunningBot) -> None:
    from bot.app import SERVICES
    from concerns import services
    from concerns.model import Actor
    from tests.bot.test_cases_http import open_case_via_prompt, thread_of
    from tests.support.activities import HELEN

    bot = running_bot
    await open_case_via_prompt(bot)  # PC-2026-0001 for Oakwood from two CQC concerns; chair Helen
    bot.app[SERVICES].clock.advance(days=1)
    before = len(prompts(bot))
    await raise_concern(bot, source_agency="police")  # a third concern in 90 days
    assert len(prompts(bot)) == before + 1
    prompt = prompts(bot)[-1]
    shown = texts(prompt.card)
    assert "consider raising the level of PC-2026-0001" in shown and "consider a provider concerns case" not in shown
    titles = [a["title"] for a in prompt.card["actions"]]
    assert titles == ["Start a vote on the level", "Not now"]  # no "Open a case": one is open

    vote = next(a["data"] for a in prompt.card["actions"] if a["title"] == "Start a vote on the level")
    # A card edited to name another case records nothing on the prompt (the vote itself is checked on its own).
    helen = Actor(HELEN.aad, HELEN.name, bot.teams.tenant)
    assert await services.prompt_led_to_a_vote(bot.uow(), bot.app[SERVICES].clock, helen, int(vote["prompt"]),
                                               "PC-2026-0099", conversation_id="c") is None
    await bot.send(bot.teams.card_submit(HELEN, vote, reply_to=prompt.activity_id,
                                         conversation=thread_of(prompt, bot.teams.tenant)))
    assert any(s.card and "Vote on the level of PC-2026-0001" in texts(s.card) for s in bot.connector.sent)
    assert "started a vote on the level of PC-2026-0001" in bot.connector.sent[-1].text
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("provider", "1")
        decided = await uow.patterns.get(bot.teams.tenant, int(vote["prompt"]))
    assert decided is not None and decided.status == "vote_started"
    assert [e.details["case"] for e in events if e.action == "pattern.vote_started"] == ["PC-2026-0001"]
