"""Reminders over real HTTP: the sweep sends through the connector, and the buttons act on the case.

The sweep is driven by hand (`app[SWEEPER].sweep(at)`) with the clock set to the same moment, as the
scheduler would run it then. The case is PC-2026-0001 from `open_case_via_prompt`: chair Helen,
coordinator Tom (who owns several of the decision step's actions), member Priya; opened Monday
23 November 2026. London is on GMT then, so the UTC times below are local times.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from bot.app import DELIVER_SOON, SWEEPER
from concerns import services
from concerns.actions import NOT_APPLICABLE, CaseAction
from concerns.cases import Person
from concerns.model import Actor
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_http import submit_data
from tests.support.activities import HELEN, PRIYA, TENANT, TOM, User
from tests.support.cards import typed
from tests.support.clock import FixedClock
from tests.support.connector import Sent

CASE = "PC-2026-0001"
TUESDAY, THURSDAY = date(2026, 11, 24), date(2026, 11, 26)


# -- helpers ---------------------------------------------------------------------------------------

async def sweep(bot: RunningBot, clock: FixedClock, when: str) -> list[Sent]:
    """One sweep at `when` (the clock set there too); what the bot sent through the connector."""
    clock.at = datetime.fromisoformat(when + "+00:00")
    before = len(bot.connector.sent)
    await bot.app[SWEEPER].sweep(clock.at)
    return bot.connector.sent[before:]


async def case_with_chats(bot: RunningBot, *people: User) -> Any:
    """Open the case; each of `people` then talks to the bot 1:1, so it keeps their personal chat."""
    case_post, _ = await open_case_via_prompt(bot)
    for person in people:
        await bot.send(bot.teams.personal_message(person, "actions"))
    return case_post


def personal_id(user: User) -> str:
    return f"a:personal-{user.aad}"


async def owned_action(bot: RunningBot, owner: User, due_on: date) -> CaseAction:
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
        actions = await uow.cases.actions(case.id)
    return next(a for a in actions if a.owner and a.owner.user_id == owner.aad and a.due_on == due_on)


async def action_now(bot: RunningBot, action_id: int) -> CaseAction:
    async with bot.uow() as uow:
        found = await uow.cases.action(bot.teams.tenant, action_id)
    assert found is not None
    return found


async def open_actions(bot: RunningBot) -> list[CaseAction]:
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
        return [a for a in await uow.cases.actions(case.id) if a.status == "open"]


async def set_aside(bot: RunningBot, clock: FixedClock, action_id: int) -> None:
    """The chair marks an action not applicable, as from the checklist."""
    await services.close_action(bot.uow(), clock, Actor(HELEN.aad, HELEN.name, bot.teams.tenant), action_id,
                                NOT_APPLICABLE, "Covered by the visit on Monday", conversation_id="c")


async def case_events(bot: RunningBot) -> list[Any]:
    async with bot.uow() as uow:
        return list(await uow.audit.for_subject("case", CASE))


def verbs(card: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Every Action.Submit on the card (inside Action.ShowCard too), by verb."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Submit" and isinstance(node.get("data"), dict):
                found.setdefault(node["data"].get("verb"), node["data"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def buttons(card: dict[str, Any]) -> list[str]:
    return [action["title"] for action in card.get("actions", [])]


def lines(card: dict[str, Any] | None) -> list[str]:
    """Every text a person reads on the card, one string per block, run or fact."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun") and isinstance(node.get("text"), str):
                found.append(node["text"])
            if "title" in node and "value" in node and isinstance(node["value"], str):
                found.append(f"{node['title']}: {node['value']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def shown(card: dict[str, Any] | None) -> str:
    return "\n".join(lines(card))


def owner_reminders(sent: list[Sent], action_id: int) -> list[Sent]:
    """The owner's reminder cards (Done / Snooze / Not mine) about one action."""
    return [s for s in sent if verbs(s.card).get("reminder.done", {}).get("action") == str(action_id)]


def escalations(sent: list[Sent], action_id: int) -> list[Sent]:
    return [s for s in sent if verbs(s.card).get("action.escalate", {}).get("action") == str(action_id)]


def mentioned(sent: Sent) -> list[str]:
    return [e["mentioned"]["id"] for e in sent.body.get("entities") or [] if e.get("type") == "mention"]


def updates_of(sent: list[Sent], activity_id: str | None) -> list[Sent]:
    return [s for s in sent if s.method == "PUT" and s.activity_id == activity_id]


async def press(bot: RunningBot, user: User, data: dict[str, Any], card: Sent) -> list[Sent]:
    """`user` presses a button on a reminder in their 1:1 chat; what the bot sent in answer."""
    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(user, data, reply_to=card.activity_id,
                                         conversation=bot.teams.personal_conversation(user), channel=False))
    return bot.connector.sent[before:]


async def reminder_on_tuesday(bot: RunningBot, clock: FixedClock, due_on: date) -> tuple[CaseAction, Sent]:
    """Tom's action due on `due_on` and the one reminder about it that Tuesday's sweep sent him."""
    action = await owned_action(bot, TOM, due_on)
    [reminder] = owner_reminders(await sweep(bot, clock, "2026-11-24T09:00"), action.id)
    return action, reminder


# -- sending ---------------------------------------------------------------------------------------

async def test_an_owner_is_reminded_in_their_stored_chat_on_the_right_days_and_once(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM)
    created_before = len(bot.connector.created)
    thursdays = await owned_action(bot, TOM, THURSDAY)
    tuesdays = await owned_action(bot, TOM, TUESDAY)

    monday = await sweep(bot, clock, "2026-11-23T10:30")
    assert owner_reminders(monday, thursdays.id) == []  # too early: 2 working days before is Tuesday
    [coming] = owner_reminders(monday, tuesdays.id)
    assert coming.conversation_id == personal_id(TOM) and "Coming up: due Tue 24 Nov" in lines(coming.card)

    tuesday = await sweep(bot, clock, "2026-11-24T09:00")
    [reminder] = owner_reminders(tuesday, thursdays.id)
    assert reminder.method == "POST" and reminder.conversation_id == personal_id(TOM)
    assert "Coming up: due Thu 26 Nov" in lines(reminder.card)
    assert f"Action: {thursdays.title}" in lines(reminder.card)
    assert buttons(reminder.card) == ["Done", "Snooze", "Not mine"]
    snooze = next(a for a in reminder.card["actions"] if a["title"] == "Snooze")["card"]["body"][0]
    assert [c["value"] for c in snooze["choices"]][:3] == ["2026-11-25", "2026-11-26", "2026-11-27"]
    assert not any(m.get("id") in (TOM.aad, TOM.id) for c in bot.connector.created[created_before:]
                   for m in c.get("members") or [])  # his stored chat, not a new one
    [due_today] = owner_reminders(tuesday, tuesdays.id)
    assert "Due today" in lines(due_today.card)

    assert await sweep(bot, clock, "2026-11-24T09:00") == []  # the same moment again: nothing new
    assert await sweep(bot, clock, "2026-11-24T09:01") == []
    rows = await bot.app[SWEEPER].outbox.listing()
    row = next(r for r in rows if r.key.startswith(f"action.before:{thursdays.id}:"))
    assert row.status == "sent" and row.activity_id == reminder.activity_id
    assert row.sent_at == datetime.fromisoformat("2026-11-24T09:00:00+00:00")
    assert len([r for r in rows if f":{thursdays.id}:" in r.key]) == 1

    [on_the_day] = owner_reminders(await sweep(bot, clock, "2026-11-26T09:00"), thursdays.id)
    assert on_the_day.conversation_id == personal_id(TOM) and "Due today" in lines(on_the_day.card)


async def test_an_owner_without_a_chat_gets_one_created_and_it_is_reused(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    # The chair has a 1:1 chat with the bot; Tom has none when the case opens and gives him its first actions.
    await case_with_chats(bot, HELEN)
    await bot.app[DELIVER_SOON].settled()
    created = [c for c in bot.connector.created if not (c.get("channelData") or {}).get("channel")]
    assert len(created) == 1  # the word of his new actions opened a chat with him
    assert created[0]["isGroup"] is False and [m["id"] for m in created[0]["members"]] in ([TOM.aad], [TOM.id])
    async with bot.uow() as uow:
        stored = await uow.conversations.personal_for(bot.teams.tenant, TOM.aad)
    assert stored is not None and personal_id(TOM) != stored.id
    created_before = len(bot.connector.created)

    tuesday = await sweep(bot, clock, "2026-11-24T09:00")
    assert bot.connector.created[created_before:] == []  # the stored chat, not another new one
    toms = [s for s in tuesday if "reminder.done" in verbs(s.card)]
    assert len(toms) >= 2  # several of Tom's actions: all in the one chat
    assert {s.conversation_id for s in toms} == {stored.id}

    wednesday = await sweep(bot, clock, "2026-11-25T09:00")
    assert bot.connector.created[created_before:] == []
    toms = [s for s in wednesday if "reminder.done" in verbs(s.card)]
    assert toms and {s.conversation_id for s in toms} == {stored.id}


# -- the buttons -----------------------------------------------------------------------------------

async def test_done_on_a_reminder_closes_the_action_and_updates_the_reminder_and_case_cards(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot, TOM)
    action, reminder = await reminder_on_tuesday(bot, clock, TUESDAY)

    answer = await press(bot, TOM, verbs(reminder.card)["reminder.done"] | {"note": "Emailed the QA officer"},
                         reminder)
    [replaced] = updates_of(answer, reminder.activity_id)
    assert replaced.conversation_id == personal_id(TOM)
    assert f"Done: recorded on {CASE} by Tom Okafor." in lines(replaced.card)
    assert "reminder.done" not in verbs(replaced.card)  # nothing left to press
    [case_card] = updates_of(answer, case_post.activity_id)
    assert case_card.conversation_id == case_post.conversation_id and f"Provider concerns case {CASE}" in shown(
        case_card.card)
    # The step checklist in the case thread shows it done too, with no Done button left for it.
    async with bot.uow() as uow:
        checklist_id = (await uow.cases.get_by_reference(TENANT, CASE)).checklist_activity_id
    [checklist] = updates_of(answer, checklist_id)
    assert checklist.conversation_id == case_post.conversation_id
    assert any(line.endswith("· done · Emailed the QA officer") for line in lines(checklist.card))
    assert f'"action": "{action.id}"' not in json.dumps(checklist.card)

    closed = await action_now(bot, action.id)
    assert closed.status == "done"
    [done] = [e for e in await case_events(bot) if e.action == "action.done"]
    assert done.details["action_id"] == action.id and done.details["note"] == "Emailed the QA officer"
    assert done.actor_name == "Tom Okafor"
    assert owner_reminders(await sweep(bot, clock, "2026-11-25T09:00"), action.id) == []


async def test_snooze_refuses_a_day_that_is_not_a_coming_working_day_and_waits_until_the_day_chosen(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM)
    action, reminder = await reminder_on_tuesday(bot, clock, THURSDAY)
    snooze = verbs(reminder.card)["reminder.snooze"]

    for until, error in (
        ("2026-11-28", "Saturday 28 November 2026 is not a working day."),
        ("2026-11-24", "Choose a day after today."),
        ("2026-11-20", "Choose a day after today."),
        ("2026-12-09", "Snooze for at most 10 working days; for longer, ask the chair to re-date or reassign "
                       "the action."),
        ("next tuesday", "Choose the working day to be reminded again."),
    ):
        [again] = await press(bot, TOM, snooze | {"until": until}, reminder)
        assert again.method == "PUT" and again.activity_id == reminder.activity_id, until
        assert error in lines(again.card), until
        assert buttons(again.card) == ["Done", "Snooze", "Not mine"]  # the reminder, to answer again
        assert (await action_now(bot, action.id)).snoozed_until is None
    assert "action.snoozed" not in {e.action for e in await case_events(bot)}

    [snoozed] = await press(bot, TOM, snooze | {"until": "2026-12-01"}, reminder)
    assert snoozed.method == "PUT" and snoozed.activity_id == reminder.activity_id
    assert any(line.startswith("Snoozed: I will remind you again on Tuesday 1 December.")
               for line in lines(snoozed.card))
    assert (await action_now(bot, action.id)).snoozed_until == date(2026, 12, 1)
    [event] = [e for e in await case_events(bot) if e.action == "action.snoozed"]
    assert event.details["action_id"] == action.id and event.details["until"] == "2026-12-01"

    for day in ("2026-11-25", "2026-11-26", "2026-11-27", "2026-11-30"):  # the due day (Thursday) included
        assert owner_reminders(await sweep(bot, clock, f"{day}T09:00"), action.id) == [], day
    [back] = owner_reminders(await sweep(bot, clock, "2026-12-01T09:00"), action.id)
    assert back.conversation_id == personal_id(TOM)
    assert any(line.startswith("Snoozed until today. Overdue since Thu 26 Nov") for line in lines(back.card))


async def test_only_the_owner_may_press_done_snooze_or_not_mine(running_bot: RunningBot, clock: FixedClock) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM)
    action, reminder = await reminder_on_tuesday(bot, clock, THURSDAY)
    buttons_of = verbs(reminder.card)

    for user, data in ((PRIYA, buttons_of["reminder.done"] | {"note": "Not mine to say"}),
                       (HELEN, buttons_of["reminder.snooze"] | {"until": "2026-12-01"}),
                       (PRIYA, buttons_of["reminder.not_mine"])):
        created_before = len(bot.connector.created)
        answer = await press(bot, user, data, reminder)
        assert updates_of(answer, reminder.activity_id) == [], data["verb"]
        [told] = bot.connector.created[created_before:]  # privately, to whoever pressed
        assert told["members"][0]["id"] == user.id
        assert "That action is Tom Okafor's to confirm." in told["activity"]["text"]

    unchanged = await action_now(bot, action.id)
    assert unchanged.status == "open" and unchanged.owner is not None and unchanged.owner.user_id == TOM.aad
    assert unchanged.snoozed_until is None
    events = await case_events(bot)
    refused = [e for e in events if e.action == "refused"]
    assert [(e.actor_name, e.details["attempted"]) for e in refused] == [
        ("Priya Shah", "action.done"), ("Helen Ward", "action.snooze"), ("Priya Shah", "action.disown")]
    assert not {"action.done", "action.snoozed", "action.disowned"} & {e.action for e in events}


async def test_not_mine_unassigns_the_action_and_tells_the_chair_in_the_case_thread(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot, TOM)
    action, reminder = await reminder_on_tuesday(bot, clock, THURSDAY)

    answer = await press(bot, TOM, verbs(reminder.card)["reminder.not_mine"], reminder)
    [told] = [s for s in answer if s.method == "POST" and s.conversation_id == case_post.conversation_id]
    assert told.text.startswith("<at>Helen Ward</at> Tom Okafor says this action on PC-2026-0001 is not theirs")
    assert action.title in told.text
    assert mentioned(told) == [HELEN.aad]
    assert told.body["entities"][0]["text"] == "<at>Helen Ward</at>"
    [replaced] = updates_of(answer, reminder.activity_id)
    assert f"Not yours: {action.title}" in lines(replaced.card) and "reminder.done" not in verbs(replaced.card)
    assert updates_of(answer, case_post.activity_id)  # the case card shows it unassigned

    disowned = await action_now(bot, action.id)
    assert disowned.owner is None and disowned.status == "open"
    [event] = [e for e in await case_events(bot) if e.action == "action.disowned"]
    assert event.details["action_id"] == action.id and event.actor_name == "Tom Okafor"
    assert owner_reminders(await sweep(bot, clock, "2026-11-26T09:00"), action.id) == []  # nobody's to remind


async def test_three_working_days_overdue_prompts_the_chair_in_the_thread_and_the_chair_escalates(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot)
    action = await owned_action(bot, TOM, TUESDAY)
    # The step's other action due that Tuesday is done, so this one crosses the limit alone (several at once share
    # one prompt: the next test).
    [other] = [a for a in await open_actions(bot) if a.due_on == TUESDAY and a.id != action.id]
    await set_aside(bot, clock, other.id)

    assert escalations(await sweep(bot, clock, "2026-11-26T09:00"), action.id) == []  # 2 working days late
    [prompt] = escalations(await sweep(bot, clock, "2026-11-27T09:00"), action.id)  # 3: Wed, Thu, Fri
    assert prompt.method == "POST" and prompt.conversation_id == case_post.conversation_id
    assert buttons(prompt.card)[:3] == ["Extend", "Reassign", "Raise the level"]
    assert buttons(prompt.card)[3].startswith("Escalate to Head of Service") and len(buttons(prompt.card)) == 4
    assert f"Overdue (3 working days late): {action.title}" in lines(prompt.card)
    assert prompt.text == f"<at>Helen Ward</at> please decide what happens next on {CASE}."
    assert mentioned(prompt) == [HELEN.aad]
    assert escalations(await sweep(bot, clock, "2026-11-30T09:00"), action.id) == []  # once per action

    escalate = verbs(prompt.card)["action.escalate"]
    thread = thread_of(prompt, bot.teams.tenant)
    created_before = len(bot.connector.created)
    await bot.send(bot.teams.card_submit(PRIYA, escalate, reply_to=prompt.activity_id, conversation=thread))
    [refusal] = bot.connector.created[created_before:]
    assert refusal["activity"]["text"].startswith(f"Only the chair or the coordinator of {CASE} can")
    events = await case_events(bot)
    assert "action.escalated" not in {e.action for e in events}
    assert [e.details["attempted"] for e in events if e.action == "refused"] == ["action.escalate"]

    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(HELEN, escalate, reply_to=prompt.activity_id, conversation=thread))
    [reply] = bot.connector.sent[before:]
    assert reply.conversation_id == case_post.conversation_id
    assert reply.text.startswith("Escalated on the record, but nobody holds Head of Service")
    assert "record them with 'team roles'" in reply.text
    [first] = [e for e in await case_events(bot) if e.action == "action.escalated"]
    assert first.details["action_id"] == action.id and first.details["to"] is None
    assert first.actor_name == "Helen Ward"

    await bot.send(bot.teams.bot_added_to_team(HELEN))  # Helen installed the bot: she is its team admin
    await bot.send(bot.teams.channel_message(HELEN, "team roles"))
    roles = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(HELEN, submit_data(roles.card) | {"role": "head_of_service",
                                                                            "person": PRIYA.aad},
                                         reply_to=roles.activity_id, conversation=thread_of(roles, bot.teams.tenant)))
    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(HELEN, escalate, reply_to=prompt.activity_id, conversation=thread))
    [reply] = bot.connector.sent[before:]
    assert reply.conversation_id == case_post.conversation_id
    assert reply.text.startswith(f"<at>Priya Shah</at> escalated by Helen Ward: '{action.title}' on {CASE}")
    assert mentioned(reply) in ([PRIYA.id], [PRIYA.aad])
    second = [e for e in await case_events(bot) if e.action == "action.escalated"][-1]
    assert second.details["to"] == "Priya Shah"

    # Extend on the same prompt re-dates the action (the card's inputs are the ones the verb reads).
    extend = verbs(prompt.card)["action.redate"]
    await bot.send(bot.teams.card_submit(HELEN, extend | {f"due_{action.id}": "2026-12-02",
                                                          f"why_{action.id}": "Provider's manager back on Tuesday"},
                                         reply_to=prompt.activity_id, conversation=thread))
    assert (await action_now(bot, action.id)).due_on == date(2026, 12, 2)


async def test_a_reminder_voided_because_the_action_was_given_away_goes_to_its_new_owner(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    """Tom's due-day reminder is queued (held back, as one waiting for the connector or the next working start)
    when the chair gives the action to Priya: his is voided at sending, and she gets the same day's reminder."""
    bot = running_bot
    await case_with_chats(bot, TOM, PRIYA)
    action = await owned_action(bot, TOM, TUESDAY)
    sweeper = bot.app[SWEEPER]
    clock.at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    queued = [r for r in await sweeper.pending(clock.at) if r.facts.get("action_id") == action.id]
    assert [r.recipient for r in queued] == [Person(TOM.aad, TOM.name)]
    await sweeper.outbox.enqueue(queued, clock.at)
    await services.reassign_action(bot.uow(), clock, Actor(HELEN.aad, HELEN.name, bot.teams.tenant), action.id,
                                   Person(PRIYA.aad, PRIYA.name), conversation_id="c")

    first = await sweep(bot, clock, "2026-11-24T08:01")
    def due_today(sent: list[Sent]) -> list[Sent]:  # not the word that she was given it, which she gets too
        return [s for s in owner_reminders(sent, action.id) if "Due today" in lines(s.card)]

    # Voided at sending (by this sweep, or by the delivery the reassignment's word to Priya set off), then owed
    # to her by the next sweep at the latest; never to Tom.
    [reminder] = due_today(first + await sweep(bot, clock, "2026-11-24T08:02"))
    assert reminder.conversation_id == personal_id(PRIYA) and "Due today" in lines(reminder.card)
    assert due_today(await sweep(bot, clock, "2026-11-24T09:00")) == []  # once

    rows = [m for m in await sweeper.outbox.listing(limit=500) if m.kind == "action.due"
            and m.facts.get("action_id") == action.id]
    assert sorted((m.recipient.name if m.recipient else "", m.status) for m in rows) == [
        ("Priya Shah", "sent"), ("Tom Okafor", "void")]
    [voided] = [m for m in rows if m.status == "void"]
    assert voided.last_error == f"not sent: '{action.title}' is no longer theirs"


def prompts(sent: list[Sent]) -> list[Sent]:
    """Prompts listing several actions past the limit (their Escalate picks which)."""
    return [s for s in sent if "actions.escalate" in verbs(s.card)]


def row_verbs(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(verb, action) of each per-action button in the card's body, in order."""
    return [(a["data"]["verb"], a["data"]["action"]) for a in typed(card["body"], "Action.Submit")]


async def test_actions_crossing_the_limit_together_share_one_prompt_and_are_not_prompted_again(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot)
    actions = await open_actions(bot)
    by_due = {day: sorted(a.id for a in actions if a.due_on == day) for day in {a.due_on for a in actions}}
    tuesday, wednesday = by_due[TUESDAY], by_due[date(2026, 11, 25)]
    assert len(tuesday) == 2 and len(wednesday) == 4  # the decision step's checklist, as the pack dates it

    sent = await sweep(bot, clock, "2026-11-27T09:00")  # Tuesday's two are 3 working days late
    assert [s for s in sent if "action.escalate" in verbs(s.card)] == []  # no prompt of its own for either
    [prompt] = prompts(sent)
    assert prompt.method == "POST" and prompt.conversation_id == case_post.conversation_id
    assert mentioned(prompt) == [HELEN.aad]  # the chair, once
    assert prompt.text == f"<at>Helen Ward</at> please decide what happens next on {CASE}."
    text = shown(prompt.card)
    assert f"2 actions past the limit on {CASE}" in text
    for action in (a for a in actions if a.id in tuesday):
        assert f"{action.title} · {action.owner.name if action.owner else 'unassigned'} · was due Tue 24 Nov " \
               "(3 working days late)" in text
    # Each listed action keeps its own Extend and Reassign; Escalate picks among them, all picked at first.
    assert row_verbs(prompt.card) == [(verb, str(i)) for i in tuesday for verb in ("action.redate", "action.assign")]
    assert buttons(prompt.card) == ["Escalate to Head of Service, Adult Safeguarding and Quality Assurance",
                                    "Raise the level"]
    [choice] = typed(prompt.card["actions"], "Input.ChoiceSet")
    assert choice["isMultiSelect"] and choice["value"] == ",".join(map(str, tuesday))
    assert [c["value"] for c in choice["choices"]] == [str(i) for i in tuesday]

    # Monday: Wednesday's four are past the limit now; Tuesday's are not listed again.
    [monday] = prompts(await sweep(bot, clock, "2026-11-30T09:00"))
    assert f"4 actions past the limit on {CASE}" in shown(monday.card)
    assert {action for _, action in row_verbs(monday.card)} == set(map(str, wednesday))
    assert prompts(await sweep(bot, clock, "2026-11-30T11:00")) == []

    outbox = bot.app[SWEEPER].outbox
    rows = [m for m in await outbox.listing(limit=500) if m.kind == "action.escalate"]
    # Every action is on the record under its own key: the first of each prompt sent, the others covered by it.
    assert sorted(m.key.split(":")[1] for m in rows) == sorted(map(str, tuesday + wednesday))
    assert sorted(m.status for m in rows) == ["covered"] * 4 + ["sent"] * 2
    covered = next(m for m in rows if m.status == "covered" and m.key.split(":")[1] == str(tuesday[1]))
    assert covered.summary.endswith(f"(listed in action.escalate:{tuesday[0]}:2026-11-24)")


async def test_the_chair_escalates_the_actions_picked_on_a_shared_prompt_and_closed_ones_are_left_out(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot)
    [prompt] = prompts(await sweep(bot, clock, "2026-11-30T09:00"))  # Tuesday's 2 and Wednesday's 4
    [choice] = typed(prompt.card["actions"], "Input.ChoiceSet")
    listed = choice["value"].split(",")
    assert len(listed) == 6
    escalate = verbs(prompt.card)["actions.escalate"]
    thread = thread_of(prompt, bot.teams.tenant)

    before = len(bot.connector.created)
    await bot.send(bot.teams.card_submit(PRIYA, escalate | {"escalate": choice["value"]},
                                         reply_to=prompt.activity_id, conversation=thread))
    [refusal] = bot.connector.created[before:]
    assert refusal["activity"]["text"].startswith(f"Only the chair or the coordinator of {CASE} can")
    assert "action.escalated" not in {e.action for e in await case_events(bot)}

    # With nobody holding the role in the team, the chair's pick is on the record and she is told whom to record.
    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(HELEN, escalate | {"escalate": ",".join(listed[4:])},
                                         reply_to=prompt.activity_id, conversation=thread))
    [reply] = bot.connector.sent[before:]
    assert reply.text.startswith("Escalated on the record (2 actions), but nobody holds Head of Service")
    unheld = [e.details["action_id"] for e in await case_events(bot) if e.action == "action.escalated"]
    assert sorted(unheld) == sorted(map(int, listed[4:]))

    await bot.send(bot.teams.bot_added_to_team(HELEN))
    await bot.send(bot.teams.channel_message(HELEN, "team roles"))
    roles = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(HELEN, submit_data(roles.card) | {"role": "head_of_service",
                                                                            "person": PRIYA.aad},
                                         reply_to=roles.activity_id, conversation=thread_of(roles, bot.teams.tenant)))
    # One of the three picked is done before the chair presses Escalate.
    picked = [int(i) for i in listed[:3]]
    await set_aside(bot, clock, picked[2])
    titles = {a.id: a.title for a in await open_actions(bot)}
    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(HELEN, escalate | {"escalate": ",".join(map(str, picked))},
                                         reply_to=prompt.activity_id, conversation=thread))
    [reply] = bot.connector.sent[before:]
    assert reply.conversation_id == case_post.conversation_id
    assert reply.text.startswith(f"<at>Priya Shah</at> escalated by Helen Ward: 2 actions on {CASE}")
    assert f"'{titles[picked[0]]}' (due Tuesday 24 November)" in reply.text
    assert reply.text.endswith("(not applicable).")
    assert "Not escalated, closed meanwhile" in reply.text
    assert mentioned(reply) in ([PRIYA.id], [PRIYA.aad])
    events = [e for e in await case_events(bot) if e.action == "action.escalated"][len(unheld):]
    assert sorted(e.details["action_id"] for e in events) == picked[:2]
    assert {e.details["to"] for e in events} == {"Priya Shah"} and {e.actor_name for e in events} == {"Helen Ward"}

    # A made-up or mangled pick changes nothing and says so.
    for bad, said in (("", "tick the actions to escalate"), ("12,abc", "That button is not valid"),
                      (",".join(str(n) for n in range(1, 200)), "Choose the actions to escalate from the prompt")):
        before = len(bot.connector.created)
        await bot.send(bot.teams.card_submit(HELEN, escalate | {"escalate": bad}, reply_to=prompt.activity_id,
                                             conversation=thread))
        [told] = bot.connector.created[before:]
        assert said in told["activity"]["text"], (bad, told["activity"]["text"])
    assert len([e for e in await case_events(bot) if e.action == "action.escalated"]) == len(unheld) + 2

    # A row's Extend re-dates its action (the card's inputs are named after it).
    aid = listed[0]
    extend = next(a["data"] for a in typed(prompt.card["body"], "Action.Submit")
                  if a["data"] == {"verb": "action.redate", "action": aid})
    await bot.send(bot.teams.card_submit(HELEN, extend | {f"due_{aid}": "2026-12-04", f"why_{aid}": "Agreed"},
                                         reply_to=prompt.activity_id, conversation=thread))
    assert (await action_now(bot, int(aid))).due_on == date(2026, 12, 4)


# -- when ------------------------------------------------------------------------------------------

async def test_nothing_is_sent_in_quiet_time_and_the_reminder_goes_at_the_next_working_start(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM, HELEN)
    action = await owned_action(bot, TOM, THURSDAY)  # its 'coming up' reminder is due from Tuesday
    sweeper = bot.app[SWEEPER]

    for quiet in ("2026-11-24T19:00", "2026-11-24T18:00", "2026-11-25T07:59"):
        assert await sweep(bot, clock, quiet) == [], quiet
        assert await sweeper.pending(clock.at) == [], quiet  # nothing waits in the outbox either
    [reminder] = owner_reminders(await sweep(bot, clock, "2026-11-25T08:00"), action.id)
    assert reminder.conversation_id == personal_id(TOM) and "Coming up: due Thu 26 Nov" in lines(reminder.card)

    for weekend in ("2026-11-28T10:00", "2026-11-29T12:00"):
        assert await sweep(bot, clock, weekend) == [], weekend
    monday = await sweep(bot, clock, "2026-11-30T08:00")
    due_monday = [s for s in monday if "reminder.done" in verbs(s.card) and "Due today" in lines(s.card)]
    assert due_monday and {s.conversation_id for s in due_monday} == {personal_id(TOM)}


async def test_the_chairs_digest_comes_at_half_past_eight_with_overdue_and_this_weeks_actions(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, HELEN)
    overdue = await owned_action(bot, TOM, TUESDAY)
    this_week = await owned_action(bot, TOM, THURSDAY)

    def digests(sent: list[Sent]) -> list[Sent]:
        return [s for s in sent if s.card and "The chair's daily digest" in lines(s.card)]

    assert digests(await sweep(bot, clock, "2026-11-25T08:29")) == []
    [digest] = digests(await sweep(bot, clock, "2026-11-25T08:30"))
    assert digest.method == "POST" and digest.conversation_id == personal_id(HELEN)
    said = lines(digest.card)
    assert "Your cases on Wednesday 25 November" in said
    assert "Overdue (2)" in said
    assert f"{CASE}: {overdue.title} · Tom Okafor · due Tue 24 Nov (1 working day late)" in said
    assert "Due in the next 5 working days (12)" in said
    assert f"Thu 26 Nov · {CASE}: {this_week.title} · Tom Okafor" in said
    assert f"{CASE} · Oakwood Lodge Nursing Home · step: Decision for provider concerns (target Mon 30 Nov) · " \
           "level: Not yet agreed" in said
    assert digests(await sweep(bot, clock, "2026-11-25T08:31")) == []  # one a day
    assert digests(await sweep(bot, clock, "2026-11-28T08:30")) == []  # Saturday
    # Once the step is past its target, the digest says so beside the case.
    [later] = digests(await sweep(bot, clock, "2026-12-01T08:30"))
    assert "step: Decision for provider concerns (PAST ITS TARGET Mon 30 Nov)" in shown(later.card)


def test_the_digest_lists_the_chairs_cases_needing_attention_first() -> None:
    """Past its step's target, then no target agreed, then the nearest target: with 300 cases the digest shows 12
    and they were the first 12 by reference."""
    from bot.reminders import _digest

    def case(reference: str, due: str | None) -> dict[str, Any]:
        return {"case": reference, "provider": "Oakwood Lodge", "step": "Findings meeting", "level": "Moderate",
                "step_due_on": due}

    facts = {"date": "2026-11-25", "overdue": [], "due": [], "votes": [],
             "cases": [case("PC-2026-0001", "2026-12-10"), case("PC-2026-0002", None),
                       case("PC-2026-0003", "2026-11-20"), case("PC-2026-0004", "2026-11-30")]}
    [*_, mine] = _digest(facts)["sections"]
    assert [line.split(" · ")[0] for line in mine["lines"]] == ["PC-2026-0003", "PC-2026-0002", "PC-2026-0004",
                                                                 "PC-2026-0001"]


def test_the_chairs_nudge_about_a_case_with_hundreds_overdue_lists_the_longest_overdue_and_says_how_many() -> None:
    """About 350 bytes an action: a case with 250 overdue was a 90 KB nudge, which Teams refuses."""
    from bot.reminders import OVERDUE_LISTED, message_card
    from concerns.calendar import WorkingCalendar
    from concerns.reminders import ReminderKind

    actions = [{"action_id": n, "title": f"Audit ten MAR charts on the Rowan unit (ref {n})", "owner": "Tom Okafor",
                "due_on": f"2026-{10 + n % 2:02d}-{1 + n % 28:02d}", "working_days_overdue": 5}
               for n in range(250)]
    message = SimpleNamespace(kind=ReminderKind.CASE_OVERDUE, facts={
        "case": "PC-2026-0001", "provider": "Oakwood Lodge", "step": "Findings meeting", "level": "Moderate",
        "actions": actions})
    _, values = message_card(message, WorkingCalendar("england"), date(2026, 11, 25))
    assert values["title"] == "250 overdue actions on PC-2026-0001"
    assert len(values["lines"]) == OVERDUE_LISTED + 2
    assert values["lines"][OVERDUE_LISTED] == f"and {250 - OVERDUE_LISTED} more (the case's checklist lists them)"
    assert values["lines"][0].endswith("due Thu 1 Oct (5 working days late)")
