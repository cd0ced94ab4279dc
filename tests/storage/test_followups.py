"""What people do from reminders, against real databases: snooze, not mine, and what ends a snooze."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from concerns import followups, services
from concerns.calendar import WorkingCalendar
from concerns.cases import Person
from concerns.model import Actor
from concerns.validation import FormErrors
from concerns.votes import NotAllowed
from tests.storage.test_cases import HELEN, TOM, open_one
from tests.storage.test_services import TENANT, raise_one
from tests.support.clock import FixedClock

ENGLAND = WorkingCalendar("england")
CHAIR = Actor(HELEN.user_id, HELEN.name, TENANT)
OWNER = Actor(TOM.user_id, TOM.name, TENANT)


async def toms_action(uow: Any, clock: FixedClock) -> Any:
    raised = await raise_one(uow, clock, "k1")
    case = await open_one(uow, clock, raised.concern.provider.id)
    async with uow() as tx:
        return next(a for a in await tx.cases.actions(case.id) if a.owner and a.owner.user_id == TOM.user_id)


async def test_a_snooze_is_the_owners_recorded_and_ended_by_a_new_date_or_owner(uow: Any, clock: FixedClock) -> None:
    action = await toms_action(uow, clock)  # Monday 23 November 2026
    _, snoozed = await followups.snooze_action(uow(), clock, ENGLAND, OWNER, action.id, "2026-11-26",
                                               conversation_id="a:tom")
    assert snoozed.snoozed_until == date(2026, 11, 26)
    _, redated = await services.redate_action(uow(), clock, ENGLAND, CHAIR, action.id, "2026-12-04",
                                              "The provider asked for more time.", conversation_id="c")
    assert redated.snoozed_until is None
    await followups.snooze_action(uow(), clock, ENGLAND, OWNER, action.id, "2026-11-25", conversation_id="a:tom")
    _, reassigned = await services.reassign_action(uow(), clock, CHAIR, action.id, Person(HELEN.user_id, HELEN.name),
                                                   conversation_id="c")
    assert reassigned.snoozed_until is None and reassigned.owner == Person(HELEN.user_id, HELEN.name)
    async with uow() as tx:
        events = [e.action for e in await tx.audit.for_subject("case", "PC-2026-0001")]
    assert events.count("action.snoozed") == 2


@pytest.mark.parametrize("until", ["2026-11-28", "2026-11-23", "2026-12-25", "2026-12-21", "next week", ""])
async def test_a_snooze_must_be_a_working_day_after_today_within_ten(uow: Any, clock: FixedClock, until: str) -> None:
    action = await toms_action(uow, clock)
    with pytest.raises(FormErrors) as refused:
        await followups.snooze_action(uow(), clock, ENGLAND, OWNER, action.id, until, conversation_id="a:tom")
    assert "until" in refused.value.errors
    async with uow() as tx:
        assert (await tx.cases.action(TENANT, action.id)).snoozed_until is None


async def test_only_the_owner_snoozes_or_disowns(uow: Any, clock: FixedClock) -> None:
    action = await toms_action(uow, clock)
    with pytest.raises(NotAllowed):
        await followups.snooze_action(uow(), clock, ENGLAND, CHAIR, action.id, "2026-11-25", conversation_id="c")
    with pytest.raises(NotAllowed):
        await followups.disown_action(uow(), clock, CHAIR, action.id, conversation_id="c")
    disowned = await followups.disown_action(uow(), clock, OWNER, action.id, conversation_id="a:tom")
    assert disowned.action.owner is None and disowned.chair == Person(HELEN.user_id, HELEN.name)
    async with uow() as tx:
        actions = [e.action for e in await tx.audit.for_subject("case", "PC-2026-0001")]
    assert actions.count("refused") == 2 and "action.disowned" in actions


async def test_a_queued_reminder_is_not_due_once_its_action_is_done_given_away_or_re_dated(
    uow: Any, clock: FixedClock,
) -> None:
    """Checked at the moment of sending (concerns.reminders.no_longer_due): one reason each, and None while the
    action stands as the reminder says."""
    from datetime import datetime

    from concerns.reminders import OutboxMessage, ReminderKind, Target, action_facts, no_longer_due

    action = await toms_action(uow, clock)

    def message(kind: ReminderKind, **facts: Any) -> OutboxMessage:
        at = datetime(2026, 11, 23, 9, tzinfo=clock.now().tzinfo)
        return OutboxMessage(1, "k", kind, TENANT, Target.PERSONAL, "lane", "s",
                             action_facts(action, date(2026, 11, 23), ENGLAND) | facts,
                             Person(TOM.user_id, TOM.name), None, "PC-2026-0001", "sending", 1, at, None, at)

    due = message(ReminderKind.ACTION_BEFORE)
    assert await no_longer_due(uow().reader(), due) is None
    assert await no_longer_due(uow().reader(), message(ReminderKind.DIGEST)) is None  # not about one action
    assert await no_longer_due(uow().reader(), message(ReminderKind.ACTION_BEFORE, action_id=10_000)) == \
        "the action is no longer on the record"

    await services.redate_action(uow(), clock, ENGLAND, CHAIR, action.id, "2026-12-04", "More time asked for.",
                                 conversation_id="c")
    assert await no_longer_due(uow().reader(), due) == f"'{action.title}' was re-dated"
    assert await no_longer_due(uow().reader(), message(ReminderKind.ACTION_BEFORE, due_on="2026-12-04")) is None

    redated = message(ReminderKind.ACTION_DUE, due_on="2026-12-04")
    await services.reassign_action(uow(), clock, CHAIR, action.id, Person(HELEN.user_id, HELEN.name),
                                   conversation_id="c")
    assert await no_longer_due(uow().reader(), redated) == f"'{action.title}' is no longer theirs"
    # The case thread's escalation prompt is no one person's: it stands while the action is open and as dated.
    assert await no_longer_due(uow().reader(), message(ReminderKind.ACTION_ESCALATE, due_on="2026-12-04")) is None

    # The chair's nudge lists the case's overdue actions: wanted while one of them is still open and as dated (one
    # given more time is no longer overdue, and the nudge would list it as overdue once more).
    async with uow() as tx:
        now = await tx.cases.action(TENANT, action.id)
    nudge = message(ReminderKind.CASE_OVERDUE, actions=[action_facts(now, date(2026, 11, 23), ENGLAND)])
    assert await no_longer_due(uow().reader(), nudge) is None
    stale = message(ReminderKind.CASE_OVERDUE, actions=[action_facts(action, date(2026, 11, 23), ENGLAND)])
    assert await no_longer_due(uow().reader(), stale) == f"'{action.title}' was re-dated"
    # So is a case thread's prompt listing several actions: by its list, not by the facts of the one it leads with.
    shared = message(ReminderKind.ACTION_ESCALATE, action_id=10_000,
                     actions=[action_facts(now, date(2026, 11, 23), ENGLAND)])
    assert await no_longer_due(uow().reader(), shared) is None
    # And the chair's one nudge about several cases, by every case's list.
    several = message(ReminderKind.CASE_OVERDUE, cases=[{"case": "PC-2026-0002", "actions": []},
                                                        {"case": "PC-2026-0001", "actions": nudge.facts["actions"]}])
    assert await no_longer_due(uow().reader(), several) is None

    await services.close_action(uow(), clock, Actor(HELEN.user_id, HELEN.name, TENANT), action.id, "done", "",
                                conversation_id="c")
    assert await no_longer_due(uow().reader(), message(ReminderKind.ACTION_ESCALATE, due_on="2026-12-04")) == \
        f"'{action.title}' was marked done"
    assert await no_longer_due(uow().reader(), nudge) == f"'{action.title}' was marked done"
    assert await no_longer_due(uow().reader(), shared) == f"'{action.title}' was marked done"
    assert await no_longer_due(uow().reader(), several) == f"'{action.title}' was marked done"
