"""End to end: the chair of two cases with overdue actions gets one message about both in her personal chat, in
the Agents Playground and Chromium at a phone's width, and opens a case from it.

The sweep is `concerns-bot tick --dev --at` on the bot's database, as in test_reminders_in_playground.py. Priya
chairs both cases here: the Playground shows messages the bot posts to the current user's stored personal chat.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import (
    card_button,
    open_channel,
    open_personal_chat,
    open_playground,
    wait_for_bot_reply_containing,
)
from tests.e2e.test_case_to_closure_in_playground import set_clock
from tests.e2e.test_reminders_in_playground import tick
from tests.e2e.test_step_target_in_playground import PHONE
from tests.e2e.test_vote_in_playground import PROVIDER, open_case_from_pattern, raise_in_channel

pytestmark = pytest.mark.e2e
SECOND = "Elm House"


def test_a_chair_of_two_cases_behind_gets_one_nudge_about_both_and_opens_a_case_from_it(stack: Stack) -> None:
    set_clock(stack, "2026-11-23T09:30:00+00:00")  # Monday 23 November 2026
    priya = open_playground(stack.browser, stack.playground.base_url)
    with closed_after("e2e-nudge", ("priya",), (priya,)):
        open_channel(priya, "General")
        raise_in_channel(priya, "Monitoring visit: bedrails fitted without assessment on the first floor.")
        raise_in_channel(priya, "Complaint: a resident went without fluids for a morning, second time.")
        open_case_from_pattern(priya, "Priya Shah", "Tom Okafor")
        first = wait_for_bot_reply_containing(priya, "Provider concerns case PC-", timeout=20_000).inner_text()
        raise_in_channel(priya, "Safeguarding referral: medicines given late on every round observed.", SECOND)
        raise_in_channel(priya, "Contract monitoring: no registered nurse on two night shifts last week.", SECOND)
        open_case_from_pattern(priya, "Priya Shah", "Tom Okafor", SECOND)
        wait_for_bot_reply_containing(priya, "Provider concerns case PC-2026-0002", timeout=20_000)
        assert PROVIDER in first

        # Wednesday: each case's actions due Tuesday are overdue. One sweep, one nudge about both.
        open_personal_chat(priya)
        priya.set_viewport_size(PHONE)
        set_clock(stack, "2026-11-25T09:05:00+00:00")
        out = tick(stack, "2026-11-25T09:00")
        assert "overdue actions on 2 cases" in out, out
        nudge = wait_for_bot_reply_containing(priya, "of your cases", timeout=20_000)
        text = nudge.inner_text()
        assert "on 2 of your cases" in text and PROVIDER in text and SECOND in text, text
        assert "PC-2026-0001" in text and "PC-2026-0002" in text
        nudge.screenshot(path=str(ARTIFACTS / "e2e-nudge.png"))

        card_button(nudge, "Open PC-2026-0002").click()
        case = wait_for_bot_reply_containing(priya, "Provider concerns case PC-2026-0002", timeout=20_000)
        assert SECOND in case.inner_text()

    with sqlite3.connect(stack.database) as db:
        nudges = sorted(db.execute("SELECT status, case_reference FROM outbox WHERE kind = 'case.overdue'"))
    assert nudges == [("covered", "PC-2026-0002"), ("sent", "PC-2026-0001")]
