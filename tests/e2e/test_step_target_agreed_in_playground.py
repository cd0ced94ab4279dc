"""End to end: a step the procedure gives no timescale gets the target the chair agrees, on her phone, in the Agents
Playground and Chromium: first on the Move form when moving on (instead of the pack's timescale), then with Set the
step's target on the case card where the procedure leaves it open (Croydon's findings meeting).

Its own module, so its own bot and database: the stack is per module, and a provider with an open case gets a
prompt to raise the level, not to open a case.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import card_button, card_textbox, open_playground, wait_for_bot_reply_containing
from tests.e2e.test_case_to_closure_in_playground import set_clock
from tests.e2e.test_reminders_in_playground import wait_for_bot_message_with
from tests.e2e.test_step_target_in_playground import open_case_for_helen

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}

def move_on(page: object, case: object, step: str, *, target: str | None = None) -> None:
    """The chair moves the case on from its card: the step, the target agreed if any, and why with actions open."""
    card_button(case, "Next step").click()
    form = wait_for_bot_reply_containing(page, "to another step", timeout=20_000)
    form.get_by_text(step, exact=True).first.click()
    if target:
        day = form.locator('input[aria-label="Select a date..."]').first
        day.fill(target)
        day.press("Enter")
        page.keyboard.press("Escape")  # type: ignore[attr-defined]
    card_textbox(form, "Why move on with required actions open").fill("Police advice awaited; moving on regardless.")
    card_button(form, "Move the case").click()
    wait_for_bot_reply_containing(page, f"moved to {step}", timeout=20_000)


def test_the_chair_agrees_a_steps_target_moving_on_and_sets_one_the_procedure_leaves_open(stack: Stack) -> None:
    """Seed 001: strategy meetings with no agreed timeframe. Croydon's findings meeting has no timescale."""
    set_clock(stack, "2026-11-23T09:30:00+00:00")
    base = stack.playground.base_url
    priya = open_playground(stack.browser, base)
    helen = open_playground(stack.browser, base, as_user="Helen Ward")
    pages = (priya, helen)
    with closed_after("e2e-step-target-set", ("priya", "helen"), pages):
        case = open_case_for_helen(priya, helen, "Monitoring visit: call bells unanswered for twenty minutes at night.",
                                   "Second visit: night staffing below the agreed level three times.")

        # Moving on, the target the meeting agreed replaces the procedure's 10 working days.
        move_on(helen, case, "Initial provider concerns meeting", target="December 2, 2026")
        wait_for_bot_message_with(helen, "Provider concerns case PC-",
                                  "Initial provider concerns meeting · target Wed 2 Dec")
        case = wait_for_bot_reply_containing(helen, "Extend the step's target", timeout=20_000)
        move_on(helen, case, "Findings meeting")
        wait_for_bot_message_with(helen, "Provider concerns case PC-", "Findings meeting · no target agreed")

        case = wait_for_bot_reply_containing(helen, "Set the step's target", timeout=20_000)
        card_button(case, "Set the step's target").click()
        day = case.locator('input[aria-label="Select a date..."]').first
        day.fill("December 18, 2026")
        day.press("Enter")
        helen.keyboard.press("Escape")
        card_textbox(case, "How it was agreed (optional)").fill("Agreed with the police at the initial meeting.")
        case.screenshot(path=str(ARTIFACTS / "e2e-step-target-set.png"))
        card_button(case, "Save the target").click()
        told = wait_for_bot_reply_containing(helen, "step's target is now Fri 18 Dec", timeout=20_000)
        assert "Set by Helen Ward: Agreed with the police" in told.inner_text()
        wait_for_bot_message_with(helen, "Provider concerns case PC-", "Findings meeting · target Fri 18 Dec")

    with sqlite3.connect(stack.database) as db:
        moved = db.execute("SELECT json_extract(details, '$.step'), json_extract(details, '$.step_due_on'), "
                           "json_extract(details, '$.target_agreed') FROM audit_events WHERE action = 'step.changed' "
                           "ORDER BY id").fetchall()
        set_ = db.execute("SELECT actor_name, json_extract(details, '$.due_on') FROM audit_events "
                          "WHERE action = 'step.target_set'").fetchall()
    assert moved == [("initial_meeting", "2026-12-02", 1), ("findings_meeting", None, 0)]
    assert set_ == [("Helen Ward", "2026-12-18")]
