"""Challenging a decision on a case over real HTTP (seed 001, learning point 8): on the record, an answer owed
by a date, given from the challenge's card, and escalated to the Head of Service when the chair has answered."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.app import SERVICES, SWEEPER
from concerns import services
from concerns.model import Actor
from concerns.validation import FormErrors
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_closure_http import fetch, links, private_card
from tests.bot.test_http import submit_data, texts
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TOM, User
from tests.support.cards import schema_errors
from tests.support.connector import Sent


async def challenge(bot: RunningBot, user: User, where: dict[str, Any], **values: str) -> Sent:
    """`user` types `challenge PC-2026-0001` in `where` and submits the card with `values`; the card as it was
    replaced (the form again with what to fix, or the notice that it is recorded)."""
    await bot.send(bot.teams.channel_message(user, "challenge PC-2026-0001") | {"conversation": where})
    form = bot.connector.sent[-1]
    assert schema_errors(form.card) == [] and "Challenge a decision on PC-2026-0001" in texts(form.card)
    await bot.send(bot.teams.card_submit(user, submit_data(form.card) | values, reply_to=form.activity_id,
                                         conversation=where))
    return [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == form.activity_id][-1]


def answer_data(card: dict[str, Any], answer: str, text: str) -> dict[str, Any]:
    show = next(a for a in card["actions"] if a["title"] == "Answer")
    data = show["card"]["actions"][0]["data"]
    return data | {f"answer_{data['action']}": answer, f"text_{data['action']}": text}


async def events(bot: RunningBot, name: str) -> list[Any]:
    async with bot.uow() as uow:
        return [e for e in await uow.audit.for_subject("case", "PC-2026-0001") if e.action == name]


async def test_a_member_challenges_the_level_and_the_chair_answers_on_the_record(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom, member Priya
    thread = thread_of(case_post, bot.teams.tenant)

    # Without a reference it asks which case (it said "There is no case .").
    await bot.send(bot.teams.channel_message(TOM, "challenge") | {"conversation": thread})
    assert bot.connector.sent[-1].text == "Say which case, by its reference. For example: challenge PC-2026-0001."

    # No reason: the card comes back saying so, and nothing is recorded.
    again = await challenge(bot, TOM, thread, about="level")
    assert "Say why you disagree" in texts(again.card) and await events(bot, "case.challenged") == []

    before = len(bot.connector.sent)
    done = await challenge(bot, TOM, thread, about="level", reason="Two medication errors this week; the risk "
                           "to residents is higher than minor.", wanted="Moderate, with a monitoring visit.")
    assert "Your challenge is on PC-2026-0001's record" in texts(done.card)
    [posted] = [s for s in bot.connector.sent[before:] if s.card and "challenges the level of concern" in texts(s.card)]
    assert schema_errors(posted.card) == [] and posted.conversation_id == case_post.conversation_id
    shown = texts(posted.card)
    assert "Tom Okafor challenges the level of concern" in shown and "Moderate, with a monitoring visit." in shown
    assert "Helen Ward, by Wednesday 25 November" in shown  # two working days from Monday
    assert [e["mentioned"]["id"] for e in posted.body["entities"]] == [HELEN.aad]
    [raised] = await events(bot, "case.challenged")
    assert raised.actor_name == "Tom Okafor" and raised.details["about"] == "level"
    async with bot.uow() as uow:
        owed = await uow.cases.action(bot.teams.tenant, raised.details["action_id"])
    assert owed is not None and owed.owner is not None and owed.owner.user_id == HELEN.aad
    assert owed.due_on == date(2026, 11, 25) and owed.status == "open"  # reminded and escalated like any action

    # The case card says an answer is owed while it is.
    card = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert "1 challenge awaiting an answer (Helen Ward, by Wed 25 Nov)" in texts(card.card)
    await bot.send(bot.teams.personal_message(HELEN, "cases"))
    assert "· 1 challenge awaiting an answer" in texts(bot.connector.sent[-1].card)

    # Her `actions` list and the reminder before it is due point to the card rather than offer Done.
    await bot.send(bot.teams.personal_message(HELEN, "actions"))
    listing = bot.connector.sent[-1].card
    [row] = [c for c in listing["body"] if c.get("type") == "Container" and owed.title in texts(c)]
    assert "Answer it with Answer on the challenge's card in the case thread." in texts(row) and '"Done"' not in texts(
        row)
    before = len(bot.connector.sent)
    await bot.app[SWEEPER].sweep(bot.app[SERVICES].clock.now())  # two working days before Wednesday: today
    [reminder] = [s for s in bot.connector.sent[before:] if s.card and owed.title in texts(s.card)
                  and "reminder.snooze" in texts(s.card)]
    assert schema_errors(reminder.card) == []
    assert [a["title"] for a in reminder.card["actions"]] == ["Snooze", "Not mine"]

    # It is answered from its card, not closed with a bare Done.
    helen = Actor(HELEN.aad, HELEN.name, bot.teams.tenant)
    try:
        await services.close_action(bot.uow(), bot.app[SERVICES].clock, helen, owed.id, "done", "",
                                    conversation_id="test")
        raise AssertionError("a challenge closed with Done")
    except FormErrors as refused:
        assert "Answer a challenge with Answer on its card" in refused.errors["note"]

    # Only the person it is owed by (or the chair) answers; a member is refused and nothing changes.
    await bot.send(bot.teams.card_submit(PRIYA, answer_data(posted.card, "reviewed", "I agree with Tom."),
                                         reply_to=posted.activity_id, conversation=thread))
    assert "can answer this challenge" in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(HELEN, answer_data(posted.card, "stands", " "),
                                         reply_to=posted.activity_id, conversation=thread))
    assert "Give your answer" in bot.connector.created[-1]["activity"]["text"]
    assert await events(bot, "case.challenge_answered") == []

    reasons = "Both errors were recorded and reported by the home; a monitoring visit is booked."
    await bot.send(bot.teams.card_submit(HELEN, answer_data(posted.card, "stands", reasons),
                                         reply_to=posted.activity_id, conversation=thread))
    updated = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == posted.activity_id][-1]
    assert "The decision stands (Helen Ward)" in texts(updated.card) and reasons in texts(updated.card)
    assert not updated.card.get("actions")  # answered: no second answer
    told = bot.connector.sent[-1] if "answered your challenge" in bot.connector.sent[-1].text else next(
        s for s in reversed(bot.connector.sent) if "answered your challenge" in s.text)
    assert [e["mentioned"]["id"] for e in told.body["entities"]] == [TOM.aad]
    async with bot.uow() as uow:
        answered = await uow.cases.action(bot.teams.tenant, owed.id)
    assert answered is not None and answered.status == "done" and answered.note == f"The decision stands: {reasons}"
    [recorded] = await events(bot, "case.challenge_answered")
    assert recorded.details["answer"] == "stands" and recorded.details["challenger"] == "Tom Okafor"

    card = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert "awaiting an answer" not in texts(card.card)

    # The board report counts it, with its answer and whether it came in time.
    await bot.send(bot.teams.personal_message(HELEN, "case PC-2026-0001 report"))
    files = links(private_card(bot))
    status, report, _ = await fetch(bot, next(url for title, url in files.items() if "Safeguarding Adults Board" in
                                              title))
    assert status == 200 and "<h2>Challenges to decisions</h2>" in report
    assert ("1 challenge: 1 answered in time, 0 answered late, 0 awaiting an answer; 0 taken above the chair."
            in report)
    assert "Tom Okafor" in report and "the level of concern" in report and "The decision stands, Monday 23" in report

    # The timeline tells it in sentences.
    await bot.send(bot.teams.channel_message(TOM, "case PC-2026-0001"))
    timeline = texts(bot.connector.sent[-1].card)
    assert "Tom Okafor challenged the level of concern: Two medication errors" in timeline
    assert "Helen Ward answered Tom Okafor's challenge: the decision stands." in timeline


async def test_when_the_chair_has_answered_the_head_of_service_is_asked(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    thread = thread_of(case_post, bot.teams.tenant)
    escalate = {"about": "screening", "reason": "C-2026-0001 met the s42 threshold.", "to_senior": "true"}

    # Nobody holds the Head of Service role yet: the card says so and nothing is recorded.
    refused = await challenge(bot, TOM, thread, **escalate)
    assert "Nobody holds the Head of Service, Adult Safeguarding" in texts(refused.card)
    refused = await challenge(bot, HELEN, thread, about="other", reason="The findings meeting date slipped.")
    assert "You are the chair of PC-2026-0001, so the Head of Service" in texts(refused.card)
    assert await events(bot, "case.challenged") == []

    await bot.send(bot.teams.bot_added_to_team(PRIYA))  # Priya installed the bot: she is its team admin
    await bot.send(bot.teams.channel_message(PRIYA, "team roles"))
    roles = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(roles.card) | {"role": "head_of_service",
                                                                            "person": PRIYA.aad},
                                         reply_to=roles.activity_id, conversation=thread_of(roles, bot.teams.tenant)))
    before = len(bot.connector.sent)
    await challenge(bot, TOM, thread, **escalate)
    [posted] = [s for s in bot.connector.sent[before:] if s.card and "challenges how a concern was screened"
                in texts(s.card)]
    assert "Priya Shah, by Wednesday 25 November" in texts(posted.card) and "The chair had answered" in texts(
        posted.card)
    assert [e["mentioned"]["id"] for e in posted.body["entities"]] == [PRIYA.aad]

    # The chair challenging a decision on her own case goes to the Head of Service too.
    before = len(bot.connector.sent)
    await challenge(bot, HELEN, thread, about="other", reason="The findings meeting date slipped.")
    [_, chairs] = await events(bot, "case.challenged")
    assert chairs.details["answer_by"] == "Priya Shah"
    [own] = [s for s in bot.connector.sent[before:] if s.card and "Helen Ward challenges" in texts(s.card)]
    assert "The chair's own challenge" in texts(own.card)

    # Nobody answers their own challenge, though the chair answers those owed by others on her case.
    await bot.send(bot.teams.card_submit(HELEN, answer_data(own.card, "stands", "I withdraw it."),
                                         reply_to=own.activity_id, conversation=thread))
    assert "You raised this challenge: Priya Shah answers it." in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(HELEN, answer_data(posted.card, "reviewed", "We will look again."),
                                         reply_to=posted.activity_id, conversation=thread))
    assert [e.details["answer"] for e in await events(bot, "case.challenge_answered")] == ["reviewed"]


async def test_a_challenge_whose_thread_is_gone_starts_a_thread_in_the_cases_channel(running_bot: RunningBot) -> None:
    """Recorded either way; whoever owes the answer must still be @mentioned where the team works. It was posted
    where the challenge was made, which from a personal chat is where the chair never looks."""
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    bot.connector.gone.add(case_post.conversation_id)  # the case's thread was deleted in Teams
    for where in ({"id": "19:general-safeguarding@thread.tacv2;messageid=99", "conversationType": "channel",
                   "isGroup": True, "tenantId": bot.teams.tenant}, bot.teams.personal_conversation(TOM)):
        before = len(bot.connector.sent)
        await challenge(bot, TOM, where, about="step", reason="The initial meeting should be sooner.")
        [posted] = [s for s in bot.connector.sent[before:] if s.card and "challenges the step" in texts(s.card)]
        assert posted.method == "CREATE" and posted.conversation_id.startswith(CHANNEL_ID + ";messageid="), where
        assert [e["mentioned"]["id"] for e in posted.body["entities"]] == [HELEN.aad]
    assert len(await events(bot, "case.challenged")) == 2
