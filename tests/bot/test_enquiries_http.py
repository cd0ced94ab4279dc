"""The s42 enquiry matrix over real HTTP: in personal chat only, for the case's chair and coordinator, recorded
from its card (checked on the server), and never a word of it in a channel."""

from __future__ import annotations

from typing import Any

from concerns.individuals import DETAILS_VIEWED
from tests.bot.conftest import RunningBot
from tests.bot.test_http import inputs, texts
from tests.bot.test_individuals_http import CASE, INDIVIDUAL, RAVI, a_case_with_an_s42_enquiry, ask
from tests.support.activities import CHANNEL_ID, HELEN, TOM
from tests.support.cards import schema_errors


def save_button(card: dict[str, Any], concern: str) -> dict[str, Any]:
    for block in card["body"]:
        for item in block.get("items", []):
            for action in item.get("actions", []) if item.get("type") == "ActionSet" else []:
                if action["title"] == f"Record {concern}":
                    return action["card"]["actions"][0]["data"]
    raise AssertionError(f"no Record button for {concern}")


async def press_in_chat(bot: RunningBot, user: Any, sent: Any, data: dict[str, Any]) -> Any:
    assert await bot.send(bot.teams.card_submit(user, data, reply_to=sent.activity_id,
                                                conversation=bot.teams.personal_conversation(user),
                                                channel=False)) == 201
    return bot.connector.sent[-1]


async def test_the_coordinator_records_an_enquiry_and_the_chair_sees_the_matrix(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)

    matrix = await ask(bot, RAVI, f"enquiries {CASE}")
    assert schema_errors(matrix.card) == []
    shown = texts(matrix.card)
    assert f"C-2026-0001: {INDIVIDUAL}" in shown and "C-2026-0002" not in shown  # a quality concern, not s42
    assert "1 enquiry started from its concerns, 1 still open" in shown
    fields = inputs(matrix.card)
    assert {"categories_C-2026-0001", "caused_by_C-2026-0001", "status_C-2026-0001", "substantiated_C-2026-0001",
            "risk_C-2026-0001"} <= set(fields)
    assert not any(i.get("type") == "Input.Text" for i in fields.values())  # chosen from lists, never typed

    save = save_button(matrix.card, "C-2026-0001")
    # Concluded without saying what it found: nothing saved, the card says why.
    shown_again = await press_in_chat(bot, RAVI, matrix, save | {
        "categories_C-2026-0001": "physical", "caused_by_C-2026-0001": "provider_staff",
        "status_C-2026-0001": "concluded"})
    assert shown_again.method == "PUT" and "nothing was saved" in texts(shown_again.card)
    async with bot.uow() as uow:
        assert await uow.enquiries.outcome(1) is None

    recorded = await press_in_chat(bot, RAVI, matrix, save | {
        "categories_C-2026-0001": "physical,neglect", "caused_by_C-2026-0001": "provider_staff",
        "status_C-2026-0001": "concluded", "substantiated_C-2026-0001": "yes", "risk_C-2026-0001": "reduced"})
    after = texts(recorded.card)
    assert recorded.method == "PUT" and "C-2026-0001 recorded." in after
    for fact in ("Physical, Neglect and acts of omission", "A member of the provider's staff", "Concluded",
                 "Substantiated · Risk reduced", "Ravi Kumar", "0 still open"):
        assert fact in after, fact

    chairs = await ask(bot, HELEN, f"enquiries {CASE}")
    assert "Substantiated · Risk reduced" in texts(chairs.card)
    async with bot.uow() as uow:
        views = await uow.audit.for_subjects([("concern", "C-2026-0001")], only=(DETAILS_VIEWED,))
    assert [e.actor_name for e in views if e.details.get("via") == "s42 matrix"][-1] == "Helen Ward"

    # The case's timeline, which is read in the channel, says only that the matrix changed.
    await bot.send(bot.teams.channel_message(TOM, f"case {CASE}"))
    timeline = texts(bot.connector.sent[-1].card)
    assert "Ravi Kumar updated the s42 enquiry matrix for C-2026-0001." in timeline
    assert "provider_staff" not in timeline and "staff" not in timeline.split("s42 enquiry matrix")[1][:200]


async def test_a_member_is_refused_and_a_channel_gets_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    refused = await ask(bot, TOM, f"enquiries {CASE}")  # a member of the case
    assert "Only the chair or the coordinator" in refused.text and INDIVIDUAL not in refused.text

    # A Save button pressed by a member (a forwarded or forged card) changes nothing.
    matrix = await ask(bot, RAVI, f"enquiries {CASE}")
    data = save_button(matrix.card, "C-2026-0001") | {
        "categories_C-2026-0001": "physical", "caused_by_C-2026-0001": "unknown", "status_C-2026-0001": "open"}
    answer = await press_in_chat(bot, TOM, matrix, data)
    assert "Only the chair or the coordinator" in (answer.text or "")
    async with bot.uow() as uow:
        assert await uow.enquiries.outcome(1) is None

    before = len(bot.connector.sent)
    await bot.send(bot.teams.channel_message(HELEN, f"enquiries {CASE}"))
    for sent in bot.connector.sent[before:]:
        assert not sent.conversation_id.startswith(CHANNEL_ID)  # told privately, in a 1:1 chat
        assert INDIVIDUAL not in texts(sent.body)
