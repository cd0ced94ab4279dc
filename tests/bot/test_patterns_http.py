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
    assert "Recorded: no case for now (Priya Shah): Same visit reported twice." in bot.connector.sent[-1].text
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("provider", "1")
    assert [e.action for e in events if e.action.startswith("pattern.")] == ["pattern.prompted", "pattern.declined"]

    # A third concern, from the police, meets "three in 90 days"; the declined CQC pair is unchanged
    # evidence, so it does not come back.
    await raise_concern(bot, source_agency="police")
    rules = [texts(p.card) for p in prompts(bot)[1:]]
    assert len(rules) == 1 and "Three or more concerns" in rules[0]
