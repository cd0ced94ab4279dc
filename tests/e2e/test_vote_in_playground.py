"""End to end: a pattern becomes a case, and three people vote on its level from their own pages.

The Playground has no user switcher; each page is told it is a different mock user (see
tests/e2e/playground.py), so card presses arrive as Priya, Tom and Helen with their own AAD object
ids, exactly as three people in one Teams channel. Pages are opened before the bot posts the case,
because the Playground only delivers bot messages to pages already open.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import (
    BOT_NAME,
    USERS,
    card_button,
    card_choice,
    card_textbox,
    mention_bot_and_post,
    open_channel,
    open_playground,
    wait_for_bot_reply_containing,
)
from tests.e2e.test_raise_in_playground import pick

pytestmark = pytest.mark.e2e
PROVIDER = "Riverside Court Care Home"


def raise_in_channel(page: Any, description: str, new_provider: str | None = None) -> None:
    """Raise a concern about PROVIDER (or about `new_provider`, one the bot does not know yet) from the channel."""
    mention_bot_and_post(page, BOT_NAME, "raise")
    card = wait_for_bot_reply_containing(page, "Do not type the names of individual adults", timeout=20_000)
    listed = card.get_by_role("combobox", name="Provider", exact=True).count()
    if listed and new_provider is None:
        pick(page, card, "Provider", PROVIDER)
    else:
        if listed:
            card_button(card, "Provider not in the list").click()
        card_textbox(card, "Provider name" if listed else "Provider").fill(new_provider or PROVIDER)
        pick(page, card, "Service type (for a new provider)", "Residential home")
    pick(page, card, "Categories", "Staffing levels and agency use")
    pick(page, card, "Source of the concern", "Contract monitoring visit")
    card_textbox(card, "What happened").fill(description)
    card_button(card, "Submit concern").click()
    wait_for_bot_reply_containing(page, description[:30], timeout=20_000)


def open_case_from_pattern(page: Any, chair: str, coordinator: str, provider: str | None = None) -> None:
    """Open a case from the pattern prompt that the concerns just raised led to (the one about `provider`, where
    the channel has prompts about others: their threads are not in the order they were posted)."""
    about = f"{provider}\nTwo or more concerns" if provider else "A pattern of concerns"
    prompt = wait_for_bot_reply_containing(page, about, timeout=20_000)
    card_button(prompt, "Open a case").click()
    form = wait_for_bot_reply_containing(page, "Open a provider concerns case", timeout=20_000)
    pick(page, form, "Chair", chair)
    pick(page, form, "Coordinator (point of contact for the provider)", coordinator)
    card_button(form, "Open the case").click()


def cast(page: Any, level: str) -> None:
    vote = wait_for_bot_reply_containing(page, "Vote on the level of PC-", timeout=20_000)
    card_choice(vote, level).check()
    card_button(vote, "Cast my vote").click()


def test_three_members_vote_and_the_chair_confirms(stack: Stack) -> None:
    base = stack.playground.base_url
    priya = open_playground(stack.browser, base)
    tom = open_playground(stack.browser, base, as_user="Tom Okafor")
    helen = open_playground(stack.browser, base, as_user="Helen Ward")
    pages = (priya, tom, helen)
    with closed_after("e2e-vote", ("priya", "tom", "helen"), pages):
        for page in pages:
            open_channel(page, "General")
        raise_in_channel(priya, "Monitoring visit: night staffing below the agreed ratio on two floors.")
        raise_in_channel(priya, "Second monitoring visit: agency staff without induction records.")

        open_case_from_pattern(priya, "Helen Ward", "Tom Okafor")

        # Every page sees the case's thread; the chair starts the vote from her own page.
        case = wait_for_bot_reply_containing(helen, "Provider concerns case PC-", timeout=20_000)
        assert "Helen Ward" in case.inner_text() and "Not yet agreed" in case.inner_text()
        card_button(case, "Start a vote on the level").click()

        cast(priya, "Major")
        wait_for_bot_reply_containing(priya, "1 voted", timeout=20_000)
        cast(tom, "Moderate")
        wait_for_bot_reply_containing(tom, "2 voted", timeout=20_000)
        cast(helen, "Major")
        tally = wait_for_bot_reply_containing(priya, "3 voted, majority Major", timeout=20_000)
        tally.screenshot(path=str(ARTIFACTS / "e2e-vote-tally.png"))

        vote = wait_for_bot_reply_containing(helen, "3 voted, majority Major", timeout=20_000)
        card_button(vote, "Close vote (chair)").click()
        confirm = wait_for_bot_reply_containing(helen, "Confirm the level of PC-", timeout=20_000)
        card_button(confirm, "Confirm level").click()
        wait_for_bot_reply_containing(helen, "level confirmed as Major", timeout=20_000)
        # The vote card is updated in place on everyone's page.
        wait_for_bot_reply_containing(tom, "Closed by Helen Ward: level confirmed as Major", timeout=20_000)
        priya.screenshot(path=str(ARTIFACTS / "e2e-vote-channel.png"), full_page=True)

    with sqlite3.connect(stack.database) as db:
        level = db.execute("SELECT c.level FROM cases c JOIN providers p ON p.id = c.provider_id "
                           "WHERE p.name = ?", (PROVIDER,)).fetchone()
        ballots = dict(db.execute("SELECT user_id, level FROM ballots").fetchall())
    assert level == ("major",)
    assert ballots == {USERS["Priya Shah"]["aadObjectId"]: "major", USERS["Tom Okafor"]["aadObjectId"]: "moderate",
                       USERS["Helen Ward"]["aadObjectId"]: "major"}
