"""The sweep finds the open cases whose step's target is near or past through an index, and no others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from concerns.reminders import ReminderKind, reminder_window
from storage.models import CaseRow
from storage.reminders import SqlReminderSource
from tests.storage.test_reminder_window import (
    CROYDON,
    MONDAY,
    PACKS,
    QUIET_CASES,
    calendar_for,
    keys,
    london,
    said,
    seed,
)


async def set_targets(sessions: Any) -> None:
    """Every quiet case's step is due a week or more from now; Willow Lodge's (nothing else due) on Wednesday."""
    async with sessions() as session:
        for n in range(1, QUIET_CASES + 1):
            await session.execute(update(CaseRow).where(CaseRow.id == n).values(
                step_due_on=MONDAY + timedelta(days=7 + n // 3)))
        await session.execute(update(CaseRow).where(CaseRow.id == 104).values(step_due_on=MONDAY + timedelta(days=2)))
        await session.commit()


async def test_only_the_cases_whose_step_target_is_coming_up_are_read(sessions: Any) -> None:
    ids = await seed(sessions)
    await set_targets(sessions)
    source = SqlReminderSource(sessions)
    at = london(MONDAY, 8, 10)
    state = await source.state(at, reminder_window(at, PACKS, CROYDON, calendar_for))
    assert {s.case.id for s in state.cases} == {ids["due_today"], ids["overdue"], ids["stale"], ids["active"]}
    assert [k for k in keys(state, at) if k.startswith("step.")] == [
        f"step.due:{ids['active']}:decision:{MONDAY.isoformat()}:{(MONDAY + timedelta(days=2)).isoformat()}"]


async def test_step_reminders_through_the_window_are_those_from_every_open_case(sessions: Any) -> None:
    await seed(sessions)
    await set_targets(sessions)
    source = SqlReminderSource(sessions)
    full = await source.state(london(MONDAY, 8))
    day, said = MONDAY, set()
    while day < MONDAY + timedelta(days=42):
        at = london(day, 9)
        narrow = await source.state(at, reminder_window(at, PACKS, CROYDON, calendar_for))
        assert keys(narrow, at) == keys(full, at), at
        said |= {k for k in keys(full, at) if k.startswith("step.")}
        day += timedelta(days=1)
    assert len([k for k in said if k.startswith(str(ReminderKind.STEP_DUE))]) >= 2 * QUIET_CASES
    assert len([k for k in said if k.startswith(str(ReminderKind.STEP_OVERDUE))]) >= QUIET_CASES


async def test_the_digests_give_each_cases_step_target_from_the_narrow_read_too(sessions: Any) -> None:
    await seed(sessions)
    await set_targets(sessions)
    source = SqlReminderSource(sessions)
    at = london(MONDAY, 10, 30)
    narrow = await source.state(at, reminder_window(at, PACKS, CROYDON, calendar_for).owing_digests(
        await source.chairs(), ()))
    assert narrow.digest_cases  # the quiet cases come as DigestCases, with their targets
    assert said(narrow, at) == said(await source.state(at), at)
    [digest] = [r for r in said(narrow, at) if r[1] is ReminderKind.DIGEST and r[6].user_id == "aad-chair-1"]
    assert {c["case"]: c["step_due_on"] for c in digest[5]["cases"]}["PC-2026-0001"] == "2026-11-30"
