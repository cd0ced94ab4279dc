"""End to end: a case's step overruns its target; the case thread is prompted, and the chair, on her phone, extends
the target saying why, in the Agents Playground and Chromium at a phone's width.

The sweep is `concerns-bot tick --dev --at` on the bot's database, as in test_reminders_in_playground.py; the
bot's own clock is moved with it (`/dev/clock`), so the extension is judged on the same day as the prompt.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import card_button, card_textbox, open_channel, open_playground, wait_for_bot_reply_containing
from tests.e2e.test_case_to_closure_in_playground import set_clock
from tests.e2e.test_reminders_in_playground import tick, wait_for_bot_message_with
from tests.e2e.test_vote_in_playground import PROVIDER, open_case_from_pattern, raise_in_channel

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
DECISION = "Decision for provider concerns"


def open_case_for_helen(priya: Any, helen: Any, first: str, second: str) -> Any:
    """Priya raises two concerns in General, the pattern prompt opens a case with Helen as chair, and Helen (on her
    phone) sees its card: returned."""
    for page in (priya, helen):
        open_channel(page, "General")
    helen.set_viewport_size(PHONE)
    raise_in_channel(priya, first)
    raise_in_channel(priya, second)
    open_case_from_pattern(priya, "Helen Ward", "Tom Okafor")
    return wait_for_bot_reply_containing(helen, "Provider concerns case PC-", timeout=20_000)


def test_the_thread_is_prompted_when_a_step_overruns_and_the_chair_extends_its_target(stack: Stack) -> None:
    set_clock(stack, "2026-11-23T09:30:00+00:00")  # Monday 23 November 2026: the decision is due by Monday 30th
    base = stack.playground.base_url
    priya = open_playground(stack.browser, base)
    helen = open_playground(stack.browser, base, as_user="Helen Ward")
    pages = (priya, helen)
    with closed_after("e2e-step-target", ("priya", "helen"), pages):
        case = open_case_for_helen(priya, helen, "Monitoring visit: fire doors wedged open on the dementia unit.",
                                   "Second visit: fire risk assessment two years out of date.")
        assert f"{DECISION} · target Mon 30 Nov" in case.inner_text()

        # Thursday 3 December, three working days past the target: one sweep prompts the case thread.
        set_clock(stack, "2026-12-03T09:05:00+00:00")
        out = tick(stack, "2026-12-03T09:00")
        assert "step.overdue" in out, out
        prompt = wait_for_bot_reply_containing(helen, "step is past its target of Mon 30 Nov", timeout=20_000)
        assert "Helen Ward" in prompt.inner_text()  # @mentioned, and named in what to do
        prompt.screenshot(path=str(ARTIFACTS / "e2e-step-overdue.png"))

        card_button(prompt, "Extend the target").click()
        target = prompt.locator('input[aria-label="Select a date..."]').first
        target.fill("December 11, 2026")
        target.press("Enter")
        helen.keyboard.press("Escape")  # the date picker stays open over the card otherwise
        card_textbox(prompt, "Why the step needs longer").fill("Police advice on the fire service visit due Tuesday.")
        card_button(prompt, "Extend").last.click()
        done = wait_for_bot_reply_containing(helen, "step's target is now Fri 11 Dec", timeout=20_000)
        assert "Extended by Helen Ward (it was Mon 30 Nov): Police advice" in done.inner_text()
        done.screenshot(path=str(ARTIFACTS / "e2e-step-extended.png"))
        # The case card in the channel shows the new target.
        wait_for_bot_message_with(helen, "Provider concerns case PC-", f"{DECISION} · target Fri 11 Dec")

    with sqlite3.connect(stack.database) as db:
        [target_now] = db.execute("SELECT c.step_due_on FROM cases c JOIN providers p ON p.id = c.provider_id "
                                  "WHERE p.name = ?", (PROVIDER,)).fetchone()
        moved = db.execute("SELECT actor_name FROM audit_events WHERE action = 'step.target_moved'").fetchall()
    assert target_now == "2026-12-11" and moved == [("Helen Ward",)]

