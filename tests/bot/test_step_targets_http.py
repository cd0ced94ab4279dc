"""A case's step has a target, shown on the case card and reminded like an action's deadline, over real HTTP.

PC-2026-0001 from `open_case_via_prompt` is opened on Monday 23 November 2026 at the Decision step, which seed 002
wants done within 5 working days: its target is Monday 30 November. Chair Helen, coordinator Tom.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from bot.app import SERVICES
from bot.cases import case_card_values
from bot.timeline import describe
from concerns.cases import CaseStatus
from concerns.packs import default_packs_dir, load_packs
from concerns.reminders import no_longer_due
from storage.models import OutboxRow
from storage.outbox import _message
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import thread_of
from tests.bot.test_http import submit_data, texts
from tests.bot.test_reminders_http import case_with_chats, mentioned, press, shown, sweep, verbs
from tests.support.activities import HELEN, TOM
from tests.support.clock import FixedClock
from tests.support.connector import Sent

CASE = "PC-2026-0001"
CROYDON = load_packs(default_packs_dir())["croydon-provider-concerns"]
DECISION = "Decision for provider concerns"


def step_cards(sent: list[Sent]) -> list[Sent]:
    return [s for s in sent if s.card and "step.offer" in verbs(s.card) and "target" in shown(s.card)]


def case_card_now(bot: RunningBot, case_post: Sent) -> dict[str, Any]:
    updates = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id]
    return (updates[-1] if updates else case_post).card


async def test_the_chair_is_reminded_of_the_steps_target_and_the_thread_prompted_once_it_is_well_past(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot, HELEN, TOM)
    assert f"{DECISION} · target Mon 30 Nov" in texts(case_post.card)
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
        opened = [e for e in await uow.audit.for_subject("case", CASE) if e.action == "case.opened"]
    assert case.step_due_on == date(2026, 11, 30) and opened[0].details["step_due_on"] == "2026-11-30"

    assert step_cards(await sweep(bot, clock, "2026-11-25T09:00")) == []  # three working days ahead
    [coming] = step_cards(await sweep(bot, clock, "2026-11-26T09:00"))
    assert coming.conversation_id == f"a:personal-{HELEN.aad}"
    assert f"Coming up: the {DECISION} step's target is Mon 30 Nov" in shown(coming.card)
    assert "Target: Monday 30 November 2026 (5 working days from its start)" in shown(coming.card)
    [today] = step_cards(await sweep(bot, clock, "2026-11-30T09:00"))
    assert f"The {DECISION} step's target is today" in shown(today.card)
    assert step_cards(await sweep(bot, clock, "2026-12-02T09:00")) == []  # two working days past: nothing new

    [prompt] = step_cards(await sweep(bot, clock, "2026-12-03T09:00"))  # three: the pack's limit
    assert prompt.conversation_id == case_post.conversation_id and mentioned(prompt) == [HELEN.aad]
    assert f"PC-2026-0001: the {DECISION} step is past its target of Mon 30 Nov (3 working days late)" \
        in shown(prompt.card)
    assert "Helen Ward: move the case on, raise the level, or extend the target, saying why the step needs longer." \
        in shown(prompt.card)
    assert set(verbs(prompt.card)) == {"step.offer", "vote.start", "step.extend"}
    assert step_cards(await sweep(bot, clock, "2026-12-04T09:00")) == []  # once
    await bot.send(bot.teams.channel_message(HELEN, f"case {CASE}"))
    assert f"{DECISION} · PAST ITS TARGET: Mon 30 Nov" in texts(bot.connector.sent[-2].card) + texts(
        bot.connector.sent[-1].card)

    # The chair moves the case on from her reminder: the next step's target is 10 working days from today.
    await press(bot, HELEN, verbs(today.card)["step.offer"], today)
    move = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(
        HELEN, submit_data(move.card) | {"step": "initial_meeting", "override_reason": "Police advice awaited."},
        reply_to=move.activity_id, conversation=bot.teams.personal_conversation(HELEN), channel=False))
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
        queued = _message(await uow._session.scalar(select(OutboxRow).where(OutboxRow.kind == "step.overdue")))
        moved = [e for e in await uow.audit.for_subject("case", CASE) if e.action == "step.changed"]
    assert (case.step, case.step_due_on) == ("initial_meeting", date(2026, 12, 18))
    assert moved[-1].details["step_due_on"] == "2026-12-18"
    assert "Initial provider concerns meeting · target Fri 18 Dec" in texts(case_card_now(bot, case_post))
    # A prompt still queued about the old step would not be sent now.
    assert await no_longer_due(bot.uow().reader(), queued) == f"{CASE} moved on to another step"
    assert step_cards(await sweep(bot, clock, "2026-12-07T09:00")) == []


async def test_a_closed_case_shows_no_target(running_bot: RunningBot) -> None:
    bot = running_bot
    await case_with_chats(bot, HELEN)
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
    turn = SimpleNamespace(services=bot.app[SERVICES])  # all case_card_values reads of a turn
    assert case_card_values(turn, case)["step"] == f"{DECISION} · target Mon 30 Nov"
    assert case_card_values(turn, replace(case, status=CaseStatus.CLOSED))["step"] == DECISION


async def test_the_chair_extends_the_steps_target_saying_why_and_its_reminders_follow(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    case_post = await case_with_chats(bot, HELEN, TOM)
    [prompt] = [s for s in step_cards(await sweep(bot, clock, "2026-12-03T09:00"))  # 3 days past: the thread's
                if s.conversation_id == case_post.conversation_id]
    extend = verbs(prompt.card)["step.extend"]
    assert extend == {"verb": "step.extend", "case": CASE}

    async def press_in_thread(user: Any, values: dict[str, str]) -> list[Sent]:
        before = len(bot.connector.sent)
        await bot.send(bot.teams.card_submit(user, extend | values, reply_to=prompt.activity_id,
                                             conversation=thread_of(case_post, bot.teams.tenant)))
        return bot.connector.sent[before:]

    async def target() -> date | None:
        async with bot.uow() as uow:
            return (await uow.cases.get_by_reference(bot.teams.tenant, CASE)).step_due_on

    # Only the chair; a date after today, on a working day; a reason, naming nobody by title.
    await press_in_thread(TOM, {"step_due": "2026-12-11", "step_why": "Waiting for the police."})
    assert "Only the chair" in bot.connector.created[-1]["activity"]["text"]
    for due, why, said in (("2026-12-03", "Waiting for the police.", "must be after today"),
                           ("2026-12-12", "Waiting for the police.", "is not a working day"),
                           ("2026-12-11", "", "Say why the step needs longer"),
                           ("2026-12-11", "Mrs Patel asked for more time.", "name")):
        await press_in_thread(HELEN, {"step_due": due, "step_why": why})
        assert said in bot.connector.created[-1]["activity"]["text"], due
    assert await target() == date(2026, 11, 30)

    answer = await press_in_thread(HELEN, {"step_due": "2026-12-11", "step_why": "Police advice due next week."})
    [done] = [s for s in answer if s.method == "PUT" and s.activity_id == prompt.activity_id]
    assert f"{CASE}: the {DECISION} step's target is now Fri 11 Dec" in shown(done.card)
    assert "Extended by Helen Ward (it was Mon 30 Nov): Police advice due next week." in shown(done.card)
    assert "step.extend" not in verbs(done.card)
    assert await target() == date(2026, 12, 11)
    assert f"{DECISION} · target Fri 11 Dec" in texts(case_card_now(bot, case_post))
    async with bot.uow() as uow:
        [moved] = [e for e in await uow.audit.for_subject("case", CASE) if e.action == "step.target_moved"]
        queued = _message(await uow._session.scalar(select(OutboxRow).where(OutboxRow.kind == "step.overdue")))
    assert (moved.details["previous"], moved.details["due_on"]) == ("2026-11-30", "2026-12-11")
    assert describe(moved, CROYDON) == (f"Helen Ward gave the {DECISION} step until Fri 11 Dec 2026 (its target was "
                                        "Mon 30 Nov 2026): Police advice due next week.")
    assert await no_longer_due(bot.uow().reader(), queued) == f"the target of {CASE}'s step was moved"
    # Its reminders follow the new date: the chair hears of it again on the day, and nothing before.
    assert step_cards(await sweep(bot, clock, "2026-12-08T09:00")) == []
    [again] = step_cards(await sweep(bot, clock, "2026-12-11T09:00"))
    assert f"The {DECISION} step's target is today" in shown(again.card)


def actions_titled(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in card.get("actions", [])]


async def test_the_chair_agrees_a_target_where_the_pack_sets_none_moving_on_or_from_the_case_card(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    """Seed 001: strategy meetings with no agreed timeframe. Croydon's findings meeting has no timescale: a case
    there says so everywhere it shows its step until the chair agrees one."""
    bot = running_bot
    case_post = await case_with_chats(bot, HELEN, TOM)
    thread = thread_of(case_post, bot.teams.tenant)
    assert "Extend the step's target" in actions_titled(case_post.card)  # the pack gave the decision step one

    async def press_on_case(user: Any, data: dict[str, Any]) -> list[Sent]:
        before = len(bot.connector.sent)
        await bot.send(bot.teams.card_submit(user, data, reply_to=case_post.activity_id, conversation=thread))
        return bot.connector.sent[before:]

    async def now() -> Any:
        async with bot.uow() as uow:
            return await uow.cases.get_by_reference(bot.teams.tenant, CASE)

    async def move(step: str, **values: str) -> Sent:
        [form] = [s for s in await press_on_case(HELEN, {"verb": "step.offer", "case": CASE}) if s.card]
        before = len(bot.connector.sent)
        await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {"step": step} | values,
                                             reply_to=form.activity_id, conversation=thread))
        return next(s for s in bot.connector.sent[before:] if s.card)

    # Moving on, the chair may give the target agreed instead of the pack's 10 working days: a working day after
    # today, or the form comes back with the error and nothing moves.
    clock.at = clock.at.replace(year=2026, month=11, day=24)
    refused = await move("initial_meeting", step_due="2026-12-05", override_reason="Police advice awaited.")
    assert "Saturday 5 December 2026 is not a working day." in shown(refused.card)
    assert (await now()).step == "decision"
    assert "Initial provider concerns meeting: 10 working days" in shown(refused.card)
    await move("initial_meeting", step_due="2026-12-04", override_reason="Police advice awaited.")
    case = await now()
    assert (case.step, case.step_due_on) == ("initial_meeting", date(2026, 12, 4))
    async with bot.uow() as uow:
        moved = [e for e in await uow.audit.for_subject("case", CASE) if e.action == "step.changed"][-1]
    assert moved.details["target_agreed"] is True
    assert "its target Fri 4 Dec 2026 as agreed" in describe(moved, CROYDON)

    # Into the findings meeting with no target given: the procedure sets none, so none is agreed yet, and the
    # case card, the checklist and `cases` say so.
    await move("findings_meeting", override_reason="Reports are in.")
    case = await now()
    assert (case.step, case.step_due_on) == ("findings_meeting", None)
    card = case_card_now(bot, case_post)
    assert "Findings meeting · no target agreed" in texts(card)
    assert "Set the step's target" in actions_titled(card)
    await bot.send(bot.teams.channel_message(HELEN, "cases"))
    assert "no target agreed" in shown(bot.connector.sent[-1].card)
    [digest] = [s for s in await sweep(bot, clock, "2026-11-25T08:30") if "The chair's daily digest" in shown(s.card)]
    assert f"{CASE} · Oakwood Lodge Nursing Home · step: Findings meeting (no target agreed)" in shown(digest.card)

    # Only the chair sets it; a first target needs no reason, and the thread is told (the case card stays).
    assert await press_on_case(TOM, verbs(card)["step.extend"] | {"step_due": "2026-12-18"})
    assert "Only the chair" in bot.connector.created[-1]["activity"]["text"]
    assert (await now()).step_due_on is None
    said = await press_on_case(HELEN, verbs(card)["step.extend"] | {"step_due": "2026-12-18", "step_why": ""})
    assert (await now()).step_due_on == date(2026, 12, 18)
    [told] = [s for s in said if s.method == "POST" and s.card]
    assert told.conversation_id == case_post.conversation_id
    assert f"{CASE}: the Findings meeting step's target is now Fri 18 Dec" in shown(told.card)
    assert "Set by Helen Ward." in shown(told.card)
    card = case_card_now(bot, case_post)
    assert "Findings meeting · target Fri 18 Dec" in texts(card)
    assert "Extend the step's target" in actions_titled(card)
    async with bot.uow() as uow:
        [set_] = [e for e in await uow.audit.for_subject("case", CASE) if e.action == "step.target_set"]
    assert set_.details["due_on"] == "2026-12-18" and set_.actor_id == HELEN.aad
    assert describe(set_, CROYDON) == "Helen Ward set the Findings meeting step's target: Fri 18 Dec 2026."
    # Its reminders follow as for any target.
    [coming] = step_cards(await sweep(bot, clock, "2026-12-16T09:00"))
    assert "Coming up: the Findings meeting step's target is Fri 18 Dec" in shown(coming.card)
