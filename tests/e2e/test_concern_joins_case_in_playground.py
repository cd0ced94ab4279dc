"""End to end: a new concern about a provider already in the process reaches its case, in the Agents Playground
and Chromium at a phone's width: the coordinator is @mentioned in the case's thread, told it is at immediate risk,
and the case card, which shows the step's target, counts the concern."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, closed_after
from tests.e2e.playground import (
    BOT_NAME,
    card_button,
    card_textbox,
    mention_bot_and_post,
    open_channel,
    open_playground,
    wait_for_bot_reply_containing,
)
from tests.e2e.test_raise_in_playground import pick
from tests.e2e.test_vote_in_playground import PROVIDER, open_case_from_pattern, raise_in_channel

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
URGENT = "Police called overnight: a resident left unattended in the garden in freezing weather."


def test_a_new_concern_about_a_provider_in_the_process_reaches_its_case(stack: Stack) -> None:
    base = stack.playground.base_url
    priya = open_playground(stack.browser, base)
    tom = open_playground(stack.browser, base, as_user="Tom Okafor")
    pages = (priya, tom)
    with closed_after("e2e-concern-joins-case", ("priya", "tom"), pages):
        for page in pages:
            open_channel(page, "General")
        tom.set_viewport_size(PHONE)
        raise_in_channel(priya, "Monitoring visit: call bells unanswered for twenty minutes at night.")
        raise_in_channel(priya, "Second visit: night staff could not say who was on the fire rota.")
        open_case_from_pattern(priya, "Helen Ward", "Tom Okafor")
        case = wait_for_bot_reply_containing(tom, "Provider concerns case PC-", timeout=20_000)
        assert re.search(r"Decision for provider concerns · target \w{3} \d{1,2} \w{3}", case.inner_text())

        mention_bot_and_post(priya, BOT_NAME, "raise")
        card = wait_for_bot_reply_containing(priya, "Do not type the names of individual adults", timeout=20_000)
        pick(priya, card, "Provider", PROVIDER)
        pick(priya, card, "Categories", "Police or criminal matters")
        pick(priya, card, "Source of the concern", "Police")
        card_textbox(card, "What happened").fill(URGENT)
        card.get_by_role("checkbox", name="Immediate risk People are at immediate risk").check()
        card_button(card, "Submit concern").click()
        confirmed = wait_for_bot_reply_containing(priya, "It is part of PC-", timeout=20_000)
        assert "the open case about this provider, and its thread is told" in confirmed.inner_text()

        told = wait_for_bot_reply_containing(tom, f"A new concern about {PROVIDER} is part of PC-", timeout=20_000)
        text = told.inner_text()
        assert "Immediate risk: act on it now, not at the next meeting." in text
        assert "Helen Ward" in text and "Tom Okafor" in text  # both @mentioned; Priya raised it
        assert URGENT not in text  # the description stays on the concern's own card
        for _ in range(100):  # the case card is updated in place after the thread is told
            if "C-2026-0003" in case.inner_text():
                break
            tom.wait_for_timeout(200)
        assert "C-2026-0001, C-2026-0002, C-2026-0003" in case.inner_text()
        told.screenshot(path=str(ARTIFACTS / "e2e-concern-joins-case.png"))
