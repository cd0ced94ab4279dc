"""A new concern about a provider already in the process joins its case, and the case hears of it, over real HTTP.

Before, the concern was linked to the case silently: nobody running the case knew a new concern had come in
until someone opened the case's card (seed 001: concerns raised without the people responsible knowing).
"""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt
from tests.bot.test_http import open_form_in_channel, submit_data, texts
from tests.bot.test_reminders_http import mentioned
from tests.bot.test_screening_http import GOOD
from tests.support.activities import HELEN, PRIYA, TOM

CASE = "PC-2026-0001"
DESCRIPTION = "Police attended after a resident was found on the floor overnight."


async def raise_one(bot: RunningBot, **change: str) -> tuple[Any, list[Any]]:
    """Priya raises a concern in the channel; the form's final state and everything sent meanwhile."""
    card, card_id, thread = await open_form_in_channel(bot)
    before = len(bot.connector.sent)
    data = submit_data(card) | GOOD | change
    await bot.send(bot.teams.card_submit(PRIYA, data, reply_to=card_id, conversation=thread))
    sent = bot.connector.sent[before:]
    confirmation = [s for s in sent if s.method == "PUT" and s.activity_id == card_id][-1]
    return (confirmation, sent), (data, card_id, thread)


def in_thread(sent: list[Any], case_post: Any) -> list[Any]:
    return [s for s in sent if s.conversation_id == case_post.conversation_id and s.method != "PUT"]


async def test_the_chair_and_coordinator_hear_of_a_new_concern_in_the_case_thread(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    (confirmation, sent), (data, card_id, thread) = await raise_one(
        bot, immediate_risk="true", source_agency="police", categories="police,medication", description=DESCRIPTION)

    [told] = in_thread(sent, case_post)
    assert told.text.startswith(f"<at>{HELEN.name}</at> <at>{TOM.name}</at> Immediate risk: act on it now, not at "
                                "the next meeting.")
    assert "A new concern about Oakwood Lodge Nursing Home is part of PC-2026-0001: C-2026-0003" in told.text
    assert "from Police; raised by Priya Shah" in told.text and "'screen C-2026-0003'" in told.text
    assert set(mentioned(told)) == {HELEN.aad, TOM.aad}
    assert DESCRIPTION not in told.text  # the description stays on the concern's own card
    # The case card counts it, and whoever raised it knows where it went.
    [card] = [s for s in sent if s.method == "PUT" and s.activity_id == case_post.activity_id]
    assert "C-2026-0001, C-2026-0002, C-2026-0003" in texts(card.card)
    assert "It is part of PC-2026-0001, the open case about this provider, and its thread is told." in texts(
        confirmation.card)

    # The case's timeline has it.
    await bot.send(bot.teams.channel_message(HELEN, f"case {CASE}"))
    assert any("Priya Shah raised C-2026-0003 about the provider: it joined the case." in texts(s.card)
               for s in bot.connector.sent[-3:] if s.card)

    # Teams retrying the same submit stores nothing new and tells nobody again.
    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(PRIYA, data, reply_to=card_id, conversation=thread))
    assert in_thread(bot.connector.sent[before:], case_post) == []


async def test_a_concern_about_another_provider_is_not_posted_in_the_case(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    (confirmation, sent), _ = await raise_one(bot, provider_name="Riverside Court Care Home")
    assert in_thread(sent, case_post) == []
    assert "part of" not in texts(confirmation.card)
    # Not at immediate risk: no urgency said.
    (_, sent), _ = await raise_one(bot)
    [told] = in_thread(sent, case_post)
    assert "Immediate risk" not in told.text and "is part of PC-2026-0001: C-2026-0004" in told.text


async def test_a_case_whose_thread_is_gone_hears_of_it_in_a_new_thread_where_the_concern_went(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    bot.connector.gone.add(case_post.conversation_id)  # the case's thread was deleted in Teams
    (_, sent), _ = await raise_one(bot)
    [told] = [s for s in sent if s.method == "CREATE" and "is part of PC-2026-0001: C-2026-0003" in s.text]
    assert set(mentioned(told)) == {HELEN.aad, TOM.aad}


async def test_the_chair_raising_it_is_not_mentioned_about_their_own_concern(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    before = len(bot.connector.sent)
    # Helen, the chair, raises it herself: only the coordinator is @mentioned.
    card, card_id, thread = await open_form_in_channel(bot, HELEN)
    await bot.send(bot.teams.card_submit(HELEN, submit_data(card) | GOOD, reply_to=card_id, conversation=thread))
    [told] = in_thread(bot.connector.sent[before:], case_post)
    assert mentioned(told) == [TOM.aad] and "raised by Helen Ward" in told.text
