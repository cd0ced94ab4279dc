"""A register entry's review is reminded like an action's deadline, and recorded from the reminder, over real HTTP.

PC-2026-0001 from `open_case_via_prompt`: chair Helen, coordinator Tom (who owns the risk management plan and is
the provider's point of contact for its plans), member Priya; opened Monday 23 November 2026 (London on GMT).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from concerns.calendar import WorkingCalendar
from concerns.reminders import no_longer_due
from storage.models import OutboxRow
from storage.outbox import _message
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import thread_of
from tests.bot.test_documents_http import show, update_data
from tests.bot.test_reminders_http import case_with_chats, press, shown, sweep, verbs
from tests.support.activities import HELEN, PRIYA, TOM, User
from tests.support.clock import FixedClock
from tests.support.connector import Sent

CASE = "PC-2026-0001"


async def set_next_review(bot: RunningBot, title: str, day: str) -> None:
    """Tom gives an entry its next review date on the register card in the case's channel."""
    register = await show(bot, TOM, f"documents {CASE}")
    data = update_data(register.card, title)
    await bot.send(bot.teams.card_submit(TOM, data | {f"next_review_on_{data['document']}": day},
                                         reply_to=register.activity_id, conversation=thread_of(register,
                                                                                               bot.teams.tenant)))


def review_cards(sent: list[Sent], to: User | None = None) -> list[Sent]:
    return [s for s in sent if "document.reviewed" in verbs(s.card)
            and (to is None or s.conversation_id == f"a:personal-{to.aad}")]


async def entry(bot: RunningBot, kind: str) -> Any:
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
        return next(d for d in await uow.documents.for_case(case.id) if d.kind == kind)


async def review_events(bot: RunningBot) -> list[Any]:
    async with bot.uow() as uow:
        return [e for e in await uow.audit.for_subject("case", CASE) if e.action == "document.updated"]


async def test_the_owner_is_reminded_before_the_review_and_records_it_from_the_reminder(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM, PRIYA)
    await set_next_review(bot, "Risk management plan", "2026-11-26")  # a Thursday
    assert review_cards(await sweep(bot, clock, "2026-11-23T09:00")) == []  # three working days ahead: not yet

    [reminder] = review_cards(await sweep(bot, clock, "2026-11-24T09:00"), TOM)
    said = shown(reminder.card)
    assert "Coming up: Review of Risk management plan due Thu 26 Nov" in said
    assert "Owner: Tom Okafor" in said and "Review due: Thursday 26 November 2026" in said
    assert "Last reviewed: Not yet" in said
    assert "the next one is set 20 working days on unless you give a date" in said
    data = verbs(reminder.card)["document.reviewed"]
    assert review_cards(await sweep(bot, clock, "2026-11-24T09:01")) == []  # once

    # A review in the future is refused on the card, and nothing is recorded.
    before = await entry(bot, "risk_management_plan")
    answer = await press(bot, TOM, data | {"reviewed_on": "2026-11-25"}, reminder)
    [again] = [s for s in answer if s.method == "PUT" and s.activity_id == reminder.activity_id]
    assert "Nothing was recorded: The review date cannot be in the future" in shown(again.card)
    assert "document.reviewed" in verbs(again.card)  # offered again
    assert await entry(bot, "risk_management_plan") == before

    # Someone who neither owns the entry nor keeps the register is refused privately.
    await press(bot, PRIYA, data | {"reviewed_on": "2026-11-24"}, reminder)
    assert "Only the chair or coordinator of PC-2026-0001" in bot.connector.created[-1]["activity"]["text"]
    assert await entry(bot, "risk_management_plan") == before

    answer = await press(bot, TOM, data | {"reviewed_on": "2026-11-24", "next_review_on": ""}, reminder)
    [done] = [s for s in answer if s.method == "PUT" and s.activity_id == reminder.activity_id]
    following = WorkingCalendar("england").add_working_days(date(2026, 11, 24), 20)
    assert f"Recorded on the register by Tom Okafor: reviewed 24 November 2026, next review {following:%A %-d %B %Y}" \
        in shown(done.card)
    assert "document.reviewed" not in verbs(done.card)
    stored = await entry(bot, "risk_management_plan")
    assert (stored.last_reviewed_on, stored.next_review_on) == (date(2026, 11, 24), following)
    [*_, event] = await review_events(bot)
    assert event.actor_name == "Tom Okafor" and event.conversation_id == f"a:personal-{TOM.aad}"
    assert event.details["changes"]["next_review_on"] == {"from": "2026-11-26", "to": following.isoformat()}

    # The reminder already queued for that date would not be sent now, and none comes on the old day.
    async with bot.uow() as uow:
        queued = _message(await uow._session.scalar(select(OutboxRow).where(OutboxRow.kind == "document.review")))
    assert await no_longer_due(bot.uow().reader(), queued) == \
        "'Risk management plan' was reviewed or its review re-dated"
    assert review_cards(await sweep(bot, clock, "2026-11-26T09:00")) == []


async def test_the_providers_plan_goes_to_the_coordinator_and_the_chair_hears_once_it_is_well_overdue(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM, HELEN)
    await set_next_review(bot, "Service improvement plan (the provider's action plan; coordinator and provider each "
                               "keep a copy)", "2026-11-24")
    [due] = review_cards(await sweep(bot, clock, "2026-11-24T09:00"), TOM)
    assert "is due today" in shown(due.card) and "Owner: The provider" in shown(due.card)
    assert "The provider keeps this plan: review it with them (you are their point of contact)" in shown(due.card)
    assert review_cards(await sweep(bot, clock, "2026-11-26T09:00"), HELEN) == []  # two working days late

    [nudge] = review_cards(await sweep(bot, clock, "2026-11-27T09:00"), HELEN)  # three: the pack's limit
    said = shown(nudge.card)
    assert "overdue since Tue 24 Nov (3 working days late)" in said
    assert "Tom Okafor was reminded and it is past the procedure's limit of 3 working days" in said
    assert review_cards(await sweep(bot, clock, "2026-11-30T09:00"), HELEN) == []  # once

    # The chair keeps the register too, and records it from her card.
    answer = await press(bot, HELEN, verbs(nudge.card)["document.reviewed"] | {"reviewed_on": "2026-11-27",
                                                                             "next_review_on": "2027-01-08"}, nudge)
    assert any("reviewed 27 November 2026, next review Friday 8 January 2027" in shown(s.card) for s in answer)
    stored = await entry(bot, "service_improvement_plan")
    assert (stored.last_reviewed_on, stored.next_review_on) == (date(2026, 11, 27), date(2027, 1, 8))
    assert (await review_events(bot))[-1].actor_name == "Helen Ward"


async def test_a_button_that_is_not_valid_or_a_missing_date_records_nothing(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    bot = running_bot
    await case_with_chats(bot, TOM)
    await set_next_review(bot, "Risk management plan", "2026-11-24")
    [reminder] = review_cards(await sweep(bot, clock, "2026-11-24T09:00"), TOM)
    recorded, before = await review_events(bot), await entry(bot, "risk_management_plan")
    await press(bot, TOM, {"verb": "document.reviewed", "document": "not-a-number", "reviewed_on": "2026-11-24"},
                reminder)
    assert "That reminder button is not valid." in bot.connector.created[-1]["activity"]["text"]
    await press(bot, TOM, {"verb": "document.reviewed", "document": "99999", "reviewed_on": "2026-11-24"}, reminder)
    assert "no longer in a documents register" in bot.connector.created[-1]["activity"]["text"]
    await press(bot, TOM, verbs(reminder.card)["document.reviewed"] | {"reviewed_on": ""}, reminder)
    assert "Give the day it was reviewed." in shown(bot.connector.sent[-1].card)
    assert await review_events(bot) == recorded and await entry(bot, "risk_management_plan") == before


async def test_the_case_card_sums_up_the_register_and_the_communication_strategy(
    running_bot: RunningBot, clock: FixedClock,
) -> None:
    from concerns.packs import default_packs_dir, load_packs

    entries = len(load_packs(default_packs_dir())["croydon-provider-concerns"].documents)
    bot = running_bot
    await case_with_chats(bot, TOM)
    await set_next_review(bot, "Risk management plan", "2026-11-26")
    await bot.send(bot.teams.channel_message(HELEN, f"case {CASE}"))
    card = next(s.card for s in reversed(bot.connector.sent) if s.card and "Provider concerns case" in shown(s.card))
    # The business continuity plan and the service user register were asked of the provider when it opened.
    assert f"Documents: {entries} entries · 2 awaited from the provider" in shown(card)
    assert "Communication: 0 of 8 considered at this step" in shown(card)
    clock.advance(days=7)  # Monday 30 November: the plan's review was due on Thursday
    await bot.send(bot.teams.channel_message(HELEN, f"case {CASE}"))
    card = next(s.card for s in reversed(bot.connector.sent) if s.card and "Provider concerns case" in shown(s.card))
    assert f"Documents: {entries} entries · 1 review overdue · 2 awaited from the provider" in shown(card)
