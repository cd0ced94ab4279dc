"""End to end: two of a case's actions pass the escalation limit on the same morning; the case thread gets one
prompt listing both, and the chair, on her phone, escalates the one she ticks, in the Agents Playground and
Chromium at a phone's width.

The sweep is `concerns-bot tick --dev --at` on the bot's database, as in test_reminders_in_playground.py (its own
module: the Playground stack is per module, and the case here must be the provider's only one).
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import card_button, open_playground, wait_for_bot_reply_containing
from tests.e2e.test_case_to_closure_in_playground import set_clock
from tests.e2e.test_reminders_in_playground import NOTIFY, WELFARE, tick
from tests.e2e.test_step_target_in_playground import open_case_for_helen

pytestmark = pytest.mark.e2e


def test_actions_passing_the_limit_together_share_one_prompt_and_the_chair_escalates_the_one_she_ticks(
    stack: Stack,
) -> None:
    set_clock(stack, "2026-11-23T09:30:00+00:00")  # Monday 23 November 2026: two decision actions due Tuesday
    base = stack.playground.base_url
    priya = open_playground(stack.browser, base)
    helen = open_playground(stack.browser, base, as_user="Helen Ward")
    pages = (priya, helen)
    with closed_after("e2e-escalation", ("priya", "helen"), pages):
        open_case_for_helen(priya, helen, "Monitoring visit: medicines left unsecured in the lounge, two floors.",
                            "Complaint: a resident's pressure sore not reported to the district nurse.")

        # Friday 27 November: both are three working days late. One sweep, one prompt in the case thread.
        set_clock(stack, "2026-11-27T09:05:00+00:00")
        out = tick(stack, "2026-11-27T09:00")
        assert "2 actions past the limit" in out, out
        prompt = wait_for_bot_reply_containing(helen, "2 actions past the limit on PC-", timeout=20_000)
        text = prompt.inner_text()
        assert NOTIFY in text and WELFARE in text and "was due Tue 24 Nov (3 working days late)" in text
        assert card_button(prompt, "Extend").count() == 2 and card_button(prompt, "Reassign").count() == 2
        prompt.screenshot(path=str(ARTIFACTS / "e2e-escalation-prompt.png"))

        # Escalate: both are ticked at first; the chair unticks the welfare checks (a visit is booked).
        card_button(prompt, "Escalate to Head of Service, Adult Safeguarding and Quality Assurance").click()
        ticked = prompt.get_by_role("checkbox", checked=True)
        assert ticked.count() == 2
        prompt.get_by_role("checkbox", name=re.compile(re.escape(WELFARE))).click()
        assert ticked.count() == 1
        helen.screenshot(path=str(ARTIFACTS / "e2e-escalation-pick.png"))
        card_button(prompt, "Escalate").click()
        reply = wait_for_bot_reply_containing(helen, "Escalated on the record", timeout=20_000)
        assert "nobody holds Head of Service" in reply.inner_text()  # the Playground's team has no holder

    with sqlite3.connect(stack.database) as db:
        escalated = db.execute("SELECT actor_name, details FROM audit_events WHERE action = 'action.escalated'"
                               ).fetchall()
        outbox = sorted(db.execute("SELECT status FROM outbox WHERE kind = 'action.escalate'").fetchall())
    assert len(escalated) == 1 and escalated[0][0] == "Helen Ward" and NOTIFY in escalated[0][1]
    assert outbox == [("covered",), ("sent",)]
