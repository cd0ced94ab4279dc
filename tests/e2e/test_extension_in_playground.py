"""End to end: "Log a concern" from the compose box of the Agents Playground's team channel, in Chromium.

What this covers: the action message extension as the Playground emulates it - the compose box's
"Trigger Message Extension App" -> "Action Command" with the command id typed in (the Playground does not
read the manifest, so nothing here checks manifest/: tests/manifest does) -> a real
`composeExtension/fetchTask` (commandContext "compose", in a channel of the bot's team) -> the dialog
renders the bot's raise form -> a server-side validation error shown again in the dialog -> the corrected
submit (`composeExtension/submitAction`) stores the concern, and its card is posted in the channel.

What it does not cover: the message's "..." menu ("Log this message as a concern", commandContext
"message", with messagePayload) and the command box, which the Playground does not offer; how Teams closes
the dialog (the Playground leaves a blank dialog open after the closing `task: message` answer, as it does
after an empty one, so the test closes it); Teams mobile clients; the 5-second deadline and Teams' retries.
Those are covered over HTTP with the payloads Teams documents (tests/bot/test_extension_http.py) and by
tests/bot/test_mobile_cards.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack
from tests.e2e.playground import (
    card_button,
    card_textbox,
    dialog_pick,
    open_action_command,
    open_channel,
    open_playground,
    wait_for_bot_reply_containing,
)

pytestmark = pytest.mark.e2e

COMMAND_ID = "logConcern"


def test_log_a_concern_from_the_compose_box_posts_its_card_in_the_channel(stack: Stack) -> None:
    page = open_playground(stack.browser, stack.playground.base_url)
    try:
        open_channel(page, "General")  # the team's install event tells the bot it is in this team
        dialog = open_action_command(page, COMMAND_ID, "Log a concern")
        dialog.get_by_text("Do not type the names of individual adults").wait_for()
        assert dialog.get_by_role("combobox", name="Post to channel").count() == 0  # it goes to this channel

        card_textbox(dialog, "Provider").fill("Birchwood Care Home")
        dialog_pick(page, dialog, "Service type (for a new provider)", "Residential home")
        dialog_pick(page, dialog, "Categories", "Moving and handling", "Staffing levels and agency use")
        dialog_pick(page, dialog, "Source of the concern", "Contract monitoring visit")
        card_textbox(dialog, "What happened").fill("Hoist used by one carer alone on the night shift, twice.")
        card_button(dialog, "More details (optional)").click()
        # A name where a case reference belongs: only the server refuses it, so the dialog comes back.
        card_textbox(dialog, "Individual's case reference (optional, never a name)").fill("Jean Smith")
        card_button(dialog, "Submit concern").click()
        dialog.get_by_text("Use a case-system reference such as LAS-104233, never a name.").wait_for()
        assert _count(stack, "SELECT count(*) FROM concerns") == 0

        card_textbox(dialog, "Individual's case reference (optional, never a name)").fill("LAS-220871")
        dialog.screenshot(path=str(_artifact("e2e-extension-dialog.png")))
        card_button(dialog, "Submit concern").click()
        card_button(dialog, "Submit concern").wait_for(state="detached")  # the form is gone from the dialog
        page.get_by_role("dialog").get_by_role("button", name="Close").last.click()

        posted = wait_for_bot_reply_containing(page, "Hoist used by one carer alone", timeout=20_000)
        text = posted.inner_text()
        assert "Birchwood Care Home" in text and "LAS-220871" not in text  # never in a channel
        page.screenshot(path=str(_artifact("e2e-extension-channel.png")), full_page=True)
    finally:
        page.context.close()

    with sqlite3.connect(stack.database) as db:
        rows = db.execute("SELECT c.reference, p.name, c.raised_by_name, c.individual_reference, "
                          "c.card_activity_id FROM concerns c JOIN providers p ON p.id = c.provider_id").fetchall()
        actions = [r[0] for r in db.execute("SELECT action FROM audit_events ORDER BY id")]
    [(reference, provider, raised_by, individual, card_id)] = rows
    assert (provider, raised_by, individual) == ("Birchwood Care Home", "Priya Shah", "LAS-220871")
    assert reference.startswith("C-") and card_id
    assert actions.count("concern.raised") == 1 and actions.count("concern.card_posted") == 1


def _count(stack: Stack, sql: str) -> int:
    with sqlite3.connect(stack.database) as db:
        return db.execute(sql).fetchone()[0]


def _artifact(name: str) -> object:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
