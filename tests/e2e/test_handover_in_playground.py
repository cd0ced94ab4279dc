"""End to end: a chair going on leave hands her case to a colleague, who hears it in the case's thread, and gets it
back on her return, in the Agents Playground and Chromium at a phone's width."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import (
    BOT_NAME,
    USERS,
    card_button,
    mention_bot_and_post,
    open_channel,
    open_playground,
    wait_for_bot_reply_containing,
)
from tests.e2e.test_raise_in_playground import pick
from tests.e2e.test_vote_in_playground import PROVIDER, open_case_from_pattern, raise_in_channel

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def chair_of(stack: Stack) -> str | None:
    with sqlite3.connect(stack.database) as db:
        found = db.execute("SELECT m.user_id FROM case_members m JOIN cases c ON c.id = m.case_id JOIN providers p "
                           "ON p.id = c.provider_id WHERE p.name = ? AND m.role = 'chair'", (PROVIDER,)).fetchone()
    return found[0] if found else None


def test_a_chair_on_leave_hands_her_case_over_and_gets_it_back(stack: Stack) -> None:
    base = stack.playground.base_url
    helen = open_playground(stack.browser, base, as_user="Helen Ward")
    sam = open_playground(stack.browser, base, as_user="Sam Reid")
    pages = (helen, sam)
    with closed_after("e2e-handover", ("helen", "sam"), pages):
        for page in pages:
            open_channel(page, "General")
        helen.set_viewport_size(PHONE)
        raise_in_channel(helen, "Monitoring visit: controlled drugs register not countersigned for a week.")
        raise_in_channel(helen, "Second visit: medicine fridge above 8C with insulin inside, no action taken.")
        open_case_from_pattern(helen, "Helen Ward", "Tom Okafor")
        wait_for_bot_reply_containing(helen, "Provider concerns case PC-", timeout=20_000)
        assert chair_of(stack) == USERS["Helen Ward"]["aadObjectId"]

        # Going on leave, from her phone: she sees what would move before anything does.
        mention_bot_and_post(helen, BOT_NAME, "handover")
        card = wait_for_bot_reply_containing(helen, "Hand over someone's work", timeout=20_000)
        pick(helen, card, "Whose work", "Helen Ward")
        pick(helen, card, "To whom", "Sam Reid")
        card.get_by_text("They are away for a while").click()
        card_button(card, "See what would move").click()
        preview = wait_for_bot_reply_containing(helen, "Hand over Helen Ward's work to Sam Reid?", timeout=20_000)
        assert "The chair role" in preview.inner_text() and "Nothing has moved yet." in preview.inner_text()
        assert chair_of(stack) == USERS["Helen Ward"]["aadObjectId"]
        preview.screenshot(path=str(ARTIFACTS / "e2e-handover-preview.png"))
        card_button(preview, "Hand over").click()
        done = wait_for_bot_reply_containing(helen, "Helen Ward's work is handed over to Sam Reid", timeout=20_000)
        assert chair_of(stack) == USERS["Sam Reid"]["aadObjectId"]

        # Sam hears it in the case's thread, and the case card names him as chair.
        told = wait_for_bot_reply_containing(sam, "takes over from Helen Ward", timeout=20_000)
        assert "Sam Reid" in told.inner_text()
        case = wait_for_bot_reply_containing(sam, "Provider concerns case PC-", timeout=20_000)
        for _ in range(100):  # the card is updated in place once the thread has been told
            if "Sam Reid" in case.inner_text():
                break
            sam.wait_for_timeout(200)
        assert "Sam Reid" in case.inner_text() and "Helen Ward" not in case.inner_text()

        # Back from leave: Hand back on the same card.
        card_button(done, "Hand back").click()
        wait_for_bot_reply_containing(helen, "Helen Ward's work is handed back from Sam Reid", timeout=20_000)
        wait_for_bot_reply_containing(sam, "Helen Ward is back on PC-", timeout=20_000)
        assert chair_of(stack) == USERS["Helen Ward"]["aadObjectId"]
        helen.screenshot(path=str(ARTIFACTS / "e2e-handover-channel.png"), full_page=True)
