"""Screening over real HTTP: from the concern card's button to the updated card and the alert."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from storage.models import ScreeningRow
from tests.bot.conftest import RunningBot
from tests.bot.test_http import GOOD, _flatten, inputs, open_form_in_channel, submit_data, texts
from tests.support.activities import HELEN, PRIYA, TOM
from tests.support.cards import body_actions, schema_errors


async def raise_concern(bot: RunningBot, **change: str) -> dict[str, Any]:
    """Raise a concern in the channel; return where its card was posted (conversation and activity)."""
    card, card_id, thread = await open_form_in_channel(bot)
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(card) | GOOD | change, reply_to=card_id,
                                         conversation=thread))
    created = bot.connector.created[-1]
    posted = next(s for s in bot.connector.sent if s.method == "CREATE" and s.body is created["activity"])
    return {"conversation": {"id": posted.conversation_id, "conversationType": "channel", "isGroup": True,
                             "tenantId": bot.teams.tenant},
            "activity_id": posted.activity_id, "card": posted.card}


async def open_screening(bot: RunningBot, concern: dict[str, Any], user: Any = TOM) -> tuple[dict[str, Any], str]:
    screen_button = next(a for a in concern["card"]["actions"] if a["title"] == "Screen")
    await bot.send(bot.teams.card_submit(user, screen_button["data"], reply_to=concern["activity_id"],
                                         conversation=concern["conversation"]))
    sent = bot.connector.sent[-1]
    assert "Screen concern C-2026-0001" in texts(sent.card)
    return sent.card, sent.activity_id


async def screenings(bot: RunningBot) -> int:
    async with bot.uow() as uow:
        return await uow._session.scalar(select(func.count()).select_from(ScreeningRow))  # type: ignore[attr-defined]


SCREENING = {"outcome": "quality_concern", "threshold": "moderate",
             "rationale": "Repeated medication errors; new manager.", "referrer_told": "false",
             "s42_confirmed": "false"}


async def test_the_screening_card_shows_history_and_the_threshold_matrix(running_bot: RunningBot) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, _ = await open_screening(bot, concern)
    shown = texts(card)
    assert "1 concern about this provider" in shown and "Medication (1)" in shown
    for label in ("Minor", "Moderate", "Major"):
        assert f'"text": "{label}' in shown
    assert {"outcome", "threshold", "rationale", "referrer_told", "s42_confirmed"} <= set(inputs(card))


async def test_screening_updates_the_concern_card_and_alerts_commissioning(running_bot: RunningBot) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, card_id = await open_screening(bot, concern)
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING, reply_to=card_id,
                                         conversation=concern["conversation"]))
    assert await screenings(bot) == 1
    updates = [s for s in bot.connector.sent if s.method == "PUT"]
    confirmation = next(u for u in updates if u.activity_id == card_id)
    assert "C-2026-0001 screened" in texts(confirmation.card) and "Due by Monday 30 November 2026" in texts(
        confirmation.card)
    concern_update = next(u for u in updates if u.activity_id == concern["activity_id"])
    assert "Screened: Quality concern (contract monitoring) (Moderate)" in texts(concern_update.card)
    assert [a["title"] for a in concern_update.card["actions"]] == ["Screen again", "Referrer told"]
    alert = bot.connector.sent[-1]
    assert alert.conversation_id == concern["conversation"]["id"]
    assert "For commissioning" in texts(alert.card) and "C-2026-0001" in texts(alert.card)


async def test_screening_without_a_rationale_is_shown_again_and_saves_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, card_id = await open_screening(bot, concern)
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING | {"rationale": " "}, reply_to=card_id,
                                         conversation=concern["conversation"]))
    again = bot.connector.sent[-1]
    assert again.method == "PUT" and "Give the rationale" in texts(again.card)
    assert await screenings(bot) == 0


async def test_choosing_s42_without_confirming_saves_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, card_id = await open_screening(bot, concern)
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING | {"outcome": "s42_enquiry"},
                                         reply_to=card_id, conversation=concern["conversation"]))
    assert "tick to confirm" in texts(bot.connector.sent[-1].card)
    assert await screenings(bot) == 0


async def test_a_rationale_naming_an_adult_is_stopped_until_the_screener_says_they_are_staff(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, card_id = await open_screening(bot, concern)
    named = {"rationale": "Mrs Jean Smith's daughter confirms missed doses; the home's Dr Okafor agrees."}
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING | named, reply_to=card_id,
                                         conversation=concern["conversation"]))
    again = bot.connector.sent[-1].card
    assert schema_errors(again) == []
    body = _flatten(again["body"])
    at = [e.get("id") for e in body].index("names_are_staff")
    assert "\u201cMrs Jean Smith\u201d, \u201cDr Okafor\u201d" in body[at - 1]["text"]
    assert inputs(again)["names_are_staff"]["value"] == "false"
    assert inputs(again)["rationale"]["value"] == named["rationale"]  # what was typed is kept
    assert await screenings(bot) == 0

    vouched = {"rationale": "Dr Okafor, the home's GP, confirms missed doses.", "names_are_staff": "true"}
    await bot.send(bot.teams.card_submit(TOM, submit_data(again) | SCREENING | vouched, reply_to=card_id,
                                         conversation=concern["conversation"]))
    assert await screenings(bot) == 1
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("concern", "C-2026-0001")
    [screened] = [e for e in events if e.action == "concern.screened"]
    assert screened.details["names_are_staff"] is True


async def test_screening_again_asks_why(running_bot: RunningBot) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, card_id = await open_screening(bot, concern)
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING, reply_to=card_id,
                                         conversation=concern["conversation"]))
    await bot.send(bot.teams.channel_message(HELEN, "screen C-2026-0001"))
    second = bot.connector.sent[-1]
    assert "rescreen_reason" in inputs(second.card) and "Screened 23 Nov 2026 by Tom Okafor" in texts(second.card)
    await bot.send(bot.teams.card_submit(HELEN, submit_data(second.card) | SCREENING, reply_to=second.activity_id,
                                         conversation=bot.teams.channel_conversation("x")))
    # Submitted from another conversation than the one the form was issued in: refused.
    assert await screenings(bot) == 1


async def test_the_referrer_told_button_and_indicators(running_bot: RunningBot) -> None:
    bot = running_bot
    concern = await raise_concern(bot)
    card, card_id = await open_screening(bot, concern)
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING, reply_to=card_id,
                                         conversation=concern["conversation"]))
    await bot.send(bot.teams.channel_message(TOM, "indicators"))
    assert "No feedback due yet" in texts(bot.connector.sent[-1].card)
    await bot.send(bot.teams.card_submit(PRIYA, {"verb": "referrer.told", "reference": "C-2026-0001"},
                                         reply_to=concern["activity_id"], conversation=concern["conversation"]))
    told = [s for s in bot.connector.sent if "has been told" in s.text]
    assert told and "Priya Shah" in told[-1].text
    await bot.send(bot.teams.channel_message(TOM, "indicators"))
    assert "100% told in time" in texts(bot.connector.sent[-1].card)


async def test_screening_an_unknown_reference_says_so(running_bot: RunningBot) -> None:
    await running_bot.send(running_bot.teams.channel_message(TOM, "screen C-2026-0404"))
    assert "There is no concern C-2026-0404" in running_bot.connector.sent[-1].text


async def test_the_commissioning_role_holder_is_mentioned_at_screening(running_bot: RunningBot) -> None:
    from tests.support.activities import roster_entry

    bot = running_bot
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN)]
    concern = await raise_concern(bot)
    await bot.send(bot.teams.bot_added_to_team(PRIYA))  # Priya installed the bot: she is its team admin
    await bot.send(bot.teams.channel_message(PRIYA, "team roles"))
    roles = bot.connector.sent[-1]
    assert "Not recorded" in texts(roles.card)
    await bot.send(bot.teams.card_submit(
        PRIYA, submit_data(roles.card) | {"role": "commissioning_manager", "person": HELEN.aad},
        reply_to=roles.activity_id, conversation=roles_thread(roles, bot)))
    assert "Saved: Helen Ward is Head of Adult Placements" in texts(bot.connector.sent[-1].card)

    card, card_id = await open_screening(bot, concern)
    await bot.send(bot.teams.card_submit(TOM, submit_data(card) | SCREENING, reply_to=card_id,
                                         conversation=concern["conversation"]))
    alert = bot.connector.sent[-1]
    assert alert.conversation_id == concern["conversation"]["id"]
    assert alert.text.startswith("<at>Helen Ward</at>") and "C-2026-0001" in alert.text
    assert alert.body["entities"][0]["mentioned"] == {"id": HELEN.id, "name": "Helen Ward"}
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("team", "19:team-safeguarding@thread.tacv2")
    assert [e.action for e in events] == ["team.admin_granted", "team.role_holder_set"]


def roles_thread(sent: Any, bot: RunningBot) -> dict[str, Any]:
    return {"id": sent.conversation_id, "conversationType": "channel", "isGroup": True, "tenantId": bot.teams.tenant}


async def test_business_failure_with_immediate_risk_posts_the_packs_prompt_prominently(running_bot: RunningBot) -> None:
    bot = running_bot
    await raise_concern(bot, categories="finance", immediate_risk="true",
                        description="Staff unpaid for two months; agency refuses further shifts from Friday.")
    posted = [s for s in bot.connector.sent if s.card and "BUSINESS FAILURE" in texts(s.card)]
    assert len(posted) == 1 and posted[0].method == "CREATE"
    assert "Business Failure Continuity Plan" in texts(posted[0].card)
    await raise_concern(bot, categories="finance", description="Finance query, no immediate risk.")
    assert len([s for s in bot.connector.sent if s.card and "BUSINESS FAILURE" in texts(s.card)]) == 1


def list_buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Screen buttons on a list's rows (ActionSets in the body), by title."""
    return {a["title"]: a for a in body_actions(card)}


async def test_the_unscreened_list_opens_each_concerns_screening(running_bot: RunningBot) -> None:
    bot = running_bot
    first = await raise_concern(bot)
    await raise_concern(bot, description="Second visit: staff rota gaps on nights.")
    await bot.send(bot.teams.channel_message(TOM, "concerns"))
    listing = bot.connector.sent[-1]
    assert schema_errors(listing.card) == []
    assert list(list_buttons(listing.card)) == ["Screen C-2026-0001", "Screen C-2026-0002"]

    # From the list, wherever it was asked for: the form opens there and screening it updates the concern's card.
    where = {"id": listing.conversation_id, "conversationType": "channel", "isGroup": True,
             "tenantId": bot.teams.tenant}
    await bot.send(bot.teams.card_submit(TOM, list_buttons(listing.card)["Screen C-2026-0001"]["data"],
                                         reply_to=listing.activity_id, conversation=where))
    form = bot.connector.sent[-1]
    assert "Screen concern C-2026-0001" in texts(form.card)
    await bot.send(bot.teams.card_submit(TOM, submit_data(form.card) | SCREENING, reply_to=form.activity_id,
                                         conversation=where))
    assert await screenings(bot) == 1
    assert any(s.method == "PUT" and s.activity_id == first["activity_id"] and "Screened:" in texts(s.card)
               for s in bot.connector.sent)

    # Screened concerns offer no Screen button: the list has one left, the provider's history only that one.
    await bot.send(bot.teams.channel_message(TOM, "concerns"))
    assert list(list_buttons(bot.connector.sent[-1].card)) == ["Screen C-2026-0002"]
    await bot.send(bot.teams.channel_message(TOM, "provider oakwood"))
    history = bot.connector.sent[-1].card
    assert "C-2026-0001" in texts(history) and list(list_buttons(history)) == ["Screen C-2026-0002"]
