"""End to end: a person raises a concern in the Agents Playground's team channel, in Chromium."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack
from tests.e2e.playground import (
    BOT_NAME,
    card_button,
    card_textbox,
    mention_bot_and_post,
    open_channel,
    open_personal_chat,
    open_playground,
    send_personal,
    wait_for_bot_reply_containing,
)

pytestmark = pytest.mark.e2e


def test_help_in_the_channel_and_in_personal_chat(stack: Stack) -> None:
    page = open_playground(stack.browser, stack.playground.base_url)
    try:
        open_personal_chat(page)
        send_personal(page, "help")
        wait_for_bot_reply_containing(page, "Provider concerns: what I can do", timeout=20_000)
        open_channel(page, "General")
        mention_bot_and_post(page, BOT_NAME, "help")
        reply = wait_for_bot_reply_containing(page, "Provider concerns: what I can do", timeout=20_000)
        assert "provider NAME" in reply.inner_text()
    finally:
        page.context.close()


def test_raise_a_concern_in_the_general_channel(stack: Stack) -> None:
    page = open_playground(stack.browser, stack.playground.base_url)
    try:
        open_channel(page, "General")
        mention_bot_and_post(page, BOT_NAME, "raise")
        card = wait_for_bot_reply_containing(page, "Do not type the names of individual adults", timeout=20_000)

        card_textbox(card, "Provider").fill("Oakwood Lodge Nursing Home")
        pick(page, card, "Service type (for a new provider)", "Nursing home")
        pick(page, card, "Categories", "Medication", "Staffing levels and agency use")
        pick(page, card, "Source of the concern", "CQC")
        card_textbox(card, "What happened").fill(
            "Inspection found MAR charts unsigned on two units; agency nurses had no induction."
        )
        card.get_by_role("checkbox", name="Immediate risk People are at immediate risk").check()
        card.screenshot(path=str(_artifact("e2e-raise-card.png")))
        card_button(card, "Submit concern").click()

        concern_card = wait_for_bot_reply_containing(page, "Concern C-2026-0001", timeout=20_000)
        wait_for_bot_reply_containing(page, "C-2026-0001 raised", timeout=20_000)
        text = concern_card.inner_text()
        assert "Oakwood Lodge Nursing Home" in text and "IMMEDIATE RISK" in text
        concern_card.screenshot(path=str(_artifact("e2e-concern-card.png")))
        page.screenshot(path=str(_artifact("e2e-channel.png")), full_page=True)
    finally:
        page.context.close()

    with sqlite3.connect(stack.database) as db:
        rows = db.execute(
            "SELECT c.reference, p.name, c.categories, c.source_agency, c.immediate_risk, c.raised_by_name, "
            "c.occurred_on FROM concerns c JOIN providers p ON p.id = c.provider_id"
        ).fetchall()
        actions = [r[0] for r in db.execute("SELECT action FROM audit_events ORDER BY id")]
    reference, provider, categories, source, risk, raised_by, occurred_on = rows[0]
    uk_today = datetime.now(ZoneInfo("Europe/London")).date()  # the bot under test runs on the real clock
    assert len(rows) == 1 and reference.startswith(f"C-{uk_today.year}-")
    assert (provider, source, risk, raised_by) == ("Oakwood Lodge Nursing Home", "cqc", 1, "Priya Shah")
    assert sorted(json.loads(categories)) == ["medication", "staffing"]
    assert occurred_on == uk_today.isoformat()  # the form's default date
    assert {"bot.installed", "provider.created", "concern.raised", "concern.card_posted"} <= set(actions)


def test_raise_from_personal_chat_posts_in_the_chosen_channel(stack: Stack) -> None:
    page = open_playground(stack.browser, stack.playground.base_url)
    try:
        open_channel(page, "General")  # the team's install event tells the bot about its channels
        open_personal_chat(page)
        send_personal(page, "raise")
        card = wait_for_bot_reply_containing(page, "Do not type the names of individual adults", timeout=20_000)
        pick(page, card, "Post to channel", "Safeguarding Adults > General")
        pick(page, card, "Provider", "Oakwood Lodge Nursing Home")  # known since the channel test
        pick(page, card, "Categories", "Infection control")
        pick(page, card, "Source of the concern", "Family, friend or carer")
        card_textbox(card, "What happened").fill("Daughter reports soiled bedding left for a day, room 12.")
        card_button(card, "More details (optional)").click()
        card_textbox(card, "Individual's case reference (optional, never a name)").fill("LAS-104233")
        card_button(card, "Submit concern").click()
        confirmation = wait_for_bot_reply_containing(page, "raised", timeout=20_000)
        assert "posted in Safeguarding Adults > General" in confirmation.inner_text()
        confirmation.screenshot(path=str(_artifact("e2e-personal-confirmation.png")))
        open_channel(page, "General")
        posted = wait_for_bot_reply_containing(page, "Daughter reports soiled bedding", timeout=20_000)
        text = posted.inner_text()
        assert "Oakwood Lodge Nursing Home" in text and "reference held securely" in text
        assert "LAS-104233" not in text  # never in a channel
    finally:
        page.context.close()
    with sqlite3.connect(stack.database) as db:
        stored = db.execute("SELECT individual_reference FROM concerns WHERE source_agency = 'family'").fetchall()
    assert stored == [("LAS-104233",)]


def pick(page: Any, card: Any, box: str, *options: str) -> None:
    """Choose from a compact Input.ChoiceSet, which the renderer draws as a Fluent UI combobox."""
    combobox = card.get_by_role("combobox", name=box, exact=True)
    combobox.click()
    for option in options:
        # Single choice lists are options; the multi-select list is a menu of checkbox items.
        page.get_by_role("option", name=option, exact=True).or_(
            page.get_by_role("menuitemcheckbox", name=option, exact=True)).click()
    page.keyboard.press("Escape")


def _artifact(name: str) -> object:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
