"""End to end: a case from the decision step to closure, with the bot's clock moved forward.

The bot runs as its own process, so time-machine in this process cannot move its clock; `serve --dev`
has `POST /dev/clock` for that (the same thing a person uses to watch deadlines fall due). The chair's
notices arrive in a 1:1 chat the bot creates, which the Playground does not display (see
tools/playground/NOTES.md), so the test opens the notice through a link signed with the bot's key.
"""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
from datetime import date
from typing import Any

import pytest

from bot.links import FileLink, FileLinks
from tests.e2e.conftest import ARTIFACTS, LINK_SECRET, Stack, closed_after
from tests.e2e.playground import (
    USERS,
    card_button,
    card_choice,
    card_textbox,
    open_channel,
    open_playground,
    wait_for_bot_reply_containing,
)
from tests.e2e.test_vote_in_playground import open_case_from_pattern, raise_in_channel

pytestmark = pytest.mark.e2e
PROVIDER = "Riverside Court Care Home"


def set_clock(stack: Stack, when: str) -> None:
    request = urllib.request.Request(f"{stack.bot_url}/dev/clock", data=json.dumps({"now": when}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def move_step(page: Any, to: str, reason: str) -> None:
    case = wait_for_bot_reply_containing(page, "Provider concerns case PC-", timeout=20_000)
    card_button(case, "Next step").click()
    form = wait_for_bot_reply_containing(page, "to another step", timeout=20_000)
    card_choice(form, to).check()
    card_textbox(form, "Why move on with required actions open").fill(reason)
    card_button(form, "Move the case").click()
    wait_for_bot_reply_containing(page, f"moved to {to}", timeout=20_000)


def test_a_case_goes_from_decision_to_closure(stack: Stack) -> None:
    set_clock(stack, "2026-11-23T09:30:00+00:00")  # Monday
    base = stack.playground.base_url
    priya = open_playground(stack.browser, base)
    tom = open_playground(stack.browser, base, as_user="Tom Okafor")
    pages = (priya, tom)
    with closed_after("e2e-closure", ("priya", "tom"), pages):
        for page in pages:
            open_channel(page, "General")
        raise_in_channel(priya, "Monitoring visit: call bells unanswered for over ten minutes at night.")
        raise_in_channel(priya, "Complaint: medicines given late on the first floor, three days running.")
        open_case_from_pattern(priya, "Priya Shah", "Tom Okafor")

        # The coordinator confirms one of his decision-step actions from the checklist in the thread.
        checklist = wait_for_bot_reply_containing(tom, "Notify the Market Facing", timeout=20_000)
        # The innermost element holding both the action's title and a Done button is its row.
        row = checklist.locator("div").filter(has_text="Notify the Market Facing").filter(
            has=tom.get_by_role("button", name="Done", exact=True)).last
        card_button(row, "Done").click()
        card_button(row, "Confirm done").click()
        wait_for_bot_reply_containing(tom, "done", timeout=20_000)

        # The chair moves the case on, a week at a time.
        set_clock(stack, "2026-11-30T09:30:00+00:00")
        move_step(priya, "Initial provider concerns meeting", "Decision meeting held; the rest is in hand.")
        set_clock(stack, "2026-12-14T09:30:00+00:00")
        move_step(priya, "Findings meeting", "Initial meeting held on 11 December.")
        set_clock(stack, "2027-01-11T09:30:00+00:00")
        move_step(priya, "Quality assurance", "Findings agreed; no update meetings needed.")

        set_clock(stack, "2027-01-25T09:30:00+00:00")
        case = wait_for_bot_reply_containing(priya, "Provider concerns case PC-", timeout=20_000)
        card_button(case, "Close case").click()
        close = wait_for_bot_reply_containing(priya, "Close case PC-", timeout=20_000)
        assert re.search(r"\d+ required actions? of the Quality assurance step (is|are) still open", close.inner_text())
        card_textbox(close, "Outcome: what improvement was evidenced").fill(
            "Unannounced visits in January found call bells answered promptly and medicines on time.")
        card_textbox(close, "Why the case closes anyway").fill("Quality assurance visits done; recording follows.")
        card_button(close, "Close the case").click()
        wait_for_bot_reply_containing(priya, "is closed", timeout=20_000)

        # Members give lessons learned on the card in the thread.
        lessons = wait_for_bot_reply_containing(tom, "Lessons learned: PC-", timeout=20_000)
        card_textbox(lessons, "What went well").fill("Joint unannounced visits with the ICB.")
        card_button(lessons, "Send my feedback").click()
        wait_for_bot_reply_containing(tom, "1 of 2 members have answered", timeout=20_000)
        priya.screenshot(path=str(ARTIFACTS / "e2e-closure-channel.png"), full_page=True)

        # The chair's notice, as the link she was sent opens it.
        with sqlite3.connect(stack.database) as db:
            tenant, reference = db.execute("SELECT tenant_id, reference FROM cases").fetchone()
        url = FileLinks(LINK_SECRET, stack.bot_url).url(
            FileLink(tenant, reference, "notice-0.html", USERS["Priya Shah"]["aadObjectId"], "Priya Shah"))
        notice = priya.context.new_page()
        notice.goto(url)
        text = notice.locator("body").inner_text()
        for fact in (PROVIDER, "Unannounced visits in January", "Priya Shah", "Monday 25 January 2027",
                     "To: The provider"):
            assert fact in text
        notice.screenshot(path=str(ARTIFACTS / "e2e-closure-notice.png"), full_page=True)

    with sqlite3.connect(stack.database) as db:
        status, step, closed_at = db.execute(
            "SELECT c.status, c.step, c.closed_at FROM cases c JOIN providers p ON p.id = c.provider_id "
            "WHERE p.name = ?", (PROVIDER,)).fetchone()
        entries = db.execute("SELECT s.step, s.entered_at FROM case_steps s JOIN cases c ON c.id = s.case_id "
                             "JOIN providers p ON p.id = c.provider_id WHERE p.name = ? ORDER BY s.id",
                             (PROVIDER,)).fetchall()
        done = db.execute("SELECT a.status, a.closed_by_name FROM case_actions a WHERE a.action_id = "
                          "'notify_quality_assurance_officer'").fetchall()
        lessons_rows = db.execute("SELECT name FROM lessons_feedback").fetchall()
    assert (status, step) == ("closed", "closure") and closed_at.startswith("2027-01-25")
    assert [(s, date.fromisoformat(at[:10])) for s, at in entries] == [
        ("decision", date(2026, 11, 23)), ("initial_meeting", date(2026, 11, 30)),
        ("findings_meeting", date(2026, 12, 14)), ("quality_assurance", date(2027, 1, 11)),
        ("closure", date(2027, 1, 25))]
    assert ("done", "Tom Okafor") in done
    assert lessons_rows == [("Tom Okafor",)]
