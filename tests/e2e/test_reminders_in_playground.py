"""End to end: an action falls due, the owner is reminded in her personal chat, presses Done, the case moves on.

The bot runs with its scheduler off (see conftest), so the sweep is one `concerns-bot tick --dev --at`
run as a separate process on the same SQLite file, as a developer would run it: it delivers through
the conversation references the serving bot stored, i.e. straight to the Playground's connector. The
reminder goes to Priya Shah (the Playground's current user) in her personal chat, which the
Playground stored when her page opened; a POST to that existing conversation is broadcast to the open
pages (a 1:1 chat the bot *creates* is not shown: tools/playground/NOTES.md).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, ROOT, Stack, closed_after
from tests.e2e.playground import (
    PERSONAL_CHAT_ID,
    USERS,
    bot_message_texts,
    card_button,
    card_textbox,
    open_channel,
    open_personal_chat,
    open_playground,
    wait_for_bot_reply_containing,
)
from tests.e2e.test_case_to_closure_in_playground import set_clock
from tests.e2e.test_vote_in_playground import PROVIDER, open_case_from_pattern, raise_in_channel

pytestmark = pytest.mark.e2e

NOTIFY = "Notify the Market Facing"  # the coordinator's decision-step action due in 1 working day
WELFARE = "Immediate checks on the welfare"  # the other action due in 1 working day (unassigned)


def tick(stack: Stack, at: str) -> str:
    """`concerns-bot tick --dev --at <at>` on the bot's database; returns its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONCERNS_"))}
    env["CONCERNS_DATABASE_URL"] = f"sqlite:///{stack.database}"
    result = subprocess.run([sys.executable, "-m", "bot.cli", "tick", "--dev", "--at", at], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-tick.log").write_text(f"$ concerns-bot tick --dev --at {at}\n{result.stdout}\n{result.stderr}")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def wait_for_bot_message_with(page: Any, *parts: str, timeout: float = 20.0) -> str:
    """The text of a bot message holding all of `parts` (e.g. a card after update_activity)."""
    deadline = time.monotonic() + timeout
    while True:
        for text in bot_message_texts(page):
            if all(part in text for part in parts):
                return text
        if time.monotonic() > deadline:
            raise AssertionError(f"no bot message with {parts!r}; on screen: {bot_message_texts(page)!r}")
        time.sleep(0.2)


def checklist_row(page: Any, checklist: Any, title: str, button: str) -> Any:
    """The innermost element of the checklist card holding an action's title and one of its buttons."""
    return checklist.locator("div").filter(has_text=title).filter(
        has=page.get_by_role("button", name=button, exact=True)).last


def test_a_due_action_is_reminded_and_done_from_personal_chat(stack: Stack) -> None:
    set_clock(stack, "2026-11-23T09:30:00+00:00")  # Monday 23 November 2026 (UK time is UTC in November)
    base = stack.playground.base_url
    started = time.monotonic()
    # Loading the page opens Priya's Personal Chat and announces the install: the bot stores that chat.
    priya = open_playground(stack.browser, base)
    tom = open_playground(stack.browser, base, as_user="Tom Okafor")
    pages = (priya, tom)
    with closed_after("e2e-reminder", ("priya", "tom"), pages):
        for page in pages:
            open_channel(page, "General")
        raise_in_channel(priya, "Monitoring visit: residents left in night clothes until midday, two floors.")
        raise_in_channel(priya, "Complaint: a resident's call bell was out of reach overnight, third time.")
        open_case_from_pattern(priya, "Tom Okafor", "Priya Shah")

        case = wait_for_bot_reply_containing(tom, "Provider concerns case PC-", timeout=20_000)
        assert "Tuesday 24 November 2026" in case.inner_text()  # the next deadline: due in 1 working day
        # The chair records that the other action due tomorrow does not apply, so Priya's is the next one.
        checklist = wait_for_bot_reply_containing(tom, NOTIFY, timeout=20_000)
        row = checklist_row(tom, checklist, WELFARE, "Not applicable")
        card_button(row, "Not applicable").click()
        card_textbox(row, "Why it does not apply").fill("Commissioning visited on Friday; covered by that visit.")
        card_button(row, "Confirm not applicable").click()
        wait_for_bot_reply_containing(tom, "covered by that visit", timeout=20_000)

        with sqlite3.connect(stack.database) as db:
            action_id, owner, due_on = db.execute(
                "SELECT id, owner_name, due_on FROM case_actions WHERE action_id = 'notify_quality_assurance_officer'"
            ).fetchone()
            stored = db.execute("SELECT id FROM conversations WHERE kind = 'personal' AND user_id = ? AND installed",
                                (USERS["Priya Shah"]["aadObjectId"],)).fetchall()
        assert (owner, due_on) == ("Priya Shah", "2026-11-24")
        assert stored, "Priya's personal chat was not stored by the install event"

        # The due day: one sweep at 09:00, from the command line.
        open_personal_chat(priya)
        swept = time.monotonic()
        out = tick(stack, "2026-11-24T09:00")
        sent = int(re.search(r"(\d+) sent", out).group(1))  # type: ignore[union-attr]
        assert sent >= 1, out
        assert re.search(r"action\.due\s+personal\s+Priya Shah: PC-\S+ action due Tue 24 Nov: Notify", out), out

        reminder = wait_for_bot_reply_containing(priya, "Due today", timeout=20_000)
        text = reminder.inner_text()
        assert NOTIFY in text and PROVIDER in text and "Tuesday 24 November 2026" in text
        reminder_seen = time.monotonic() - swept
        reminder.screenshot(path=str(ARTIFACTS / "e2e-reminder.png"))

        # The bot's own clock moves to the due day too, as it would have overnight.
        set_clock(stack, "2026-11-24T09:05:00+00:00")
        card_button(reminder, "Done").click()
        card_textbox(reminder, "Evidence (optional note or link)").fill("Emailed the QA officer at 09:02.")
        card_button(reminder, "Confirm done").click()
        done = wait_for_bot_reply_containing(priya, "Done: recorded on PC-", timeout=20_000)
        assert "by Priya Shah" in done.inner_text()
        assert card_button(done, "Done").count() == 0  # the buttons go once it is done
        done.screenshot(path=str(ARTIFACTS / "e2e-reminder-done.png"))
        priya.screenshot(path=str(ARTIFACTS / "e2e-reminder-chat.png"), full_page=True)

        # The case card in the channel is updated in place: the next deadline moves on.
        card = wait_for_bot_message_with(tom, "Provider concerns case PC-", "Wednesday 25 November 2026")
        assert "Tuesday 24 November 2026" not in card
        wait_for_bot_reply_containing(tom, "Provider concerns case PC-", timeout=5_000).screenshot(
            path=str(ARTIFACTS / "e2e-reminder-case-card.png"))
        tom.screenshot(path=str(ARTIFACTS / "e2e-reminder-channel.png"), full_page=True)
        print(f"\nreminder on screen {reminder_seen:.1f}s after the tick started; "
              f"whole flow {time.monotonic() - started:.1f}s")

    with sqlite3.connect(stack.database) as db:
        status, closed_by, note = db.execute(
            "SELECT status, closed_by_name, note FROM case_actions WHERE id = ?", (action_id,)).fetchone()
        delivered = db.execute("SELECT status, sent_to FROM outbox WHERE kind = 'action.due' AND recipient_name = ?",
                               ("Priya Shah",)).fetchall()
    assert (status, closed_by, note) == ("done", "Priya Shah", "Emailed the QA officer at 09:02.")
    assert delivered == [("sent", PERSONAL_CHAT_ID)]  # her stored chat, not a new one
