"""The level vote over real HTTP: three members vote, a stranger is refused privately, the chair confirms."""

from __future__ import annotations

import json
from typing import Any

from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_http import inputs, submit_data, texts
from tests.support.activities import HELEN, PRIYA, TOM, User


async def open_case_with_vote(bot: RunningBot) -> tuple[Any, Any]:
    """A case chaired by Helen, coordinated by Tom, with Priya as member; Tom starts a vote."""
    case_post, _ = await open_case_via_prompt(bot)
    start = next(a for a in case_post.card["actions"] if a["title"] == "Start a vote on the level")
    case_thread = thread_of(case_post, bot.teams.tenant)
    await bot.send(bot.teams.card_submit(TOM, start["data"], reply_to=case_post.activity_id, conversation=case_thread))
    vote_post = bot.connector.sent[-1]
    assert "Vote on the level of PC-2026-0001" in texts(vote_post.card)
    assert vote_post.conversation_id == case_post.conversation_id  # in the case's own thread
    return case_post, vote_post


async def press(bot: RunningBot, user: User, post: Any, data: dict[str, Any]) -> None:
    await bot.send(bot.teams.card_submit(user, data, reply_to=post.activity_id,
                                         conversation=thread_of(post, bot.teams.tenant)))


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    return next(a for a in card["actions"] if a["title"] == title)["data"]


async def test_three_members_vote_and_the_chair_confirms(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, vote_post = await open_case_with_vote(bot)
    cast = button(vote_post.card, "Cast my vote")
    await press(bot, HELEN, vote_post, cast | {"level": "major"})
    await press(bot, TOM, vote_post, cast | {"level": "moderate"})
    await press(bot, PRIYA, vote_post, cast | {"level": "major", "reason": "CQC enforcement expected"})
    update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == vote_post.activity_id][-1]
    shown = texts(update.card)
    assert "3 voted, majority Major" in shown
    assert '"title": "Major", "value": "2"' in shown and '"title": "Moderate", "value": "1"' in shown
    assert "Priya Shah: Major (CQC enforcement expected)" in shown

    # The coordinator may not close the vote: told privately, nothing changes.
    await press(bot, TOM, vote_post, button(vote_post.card, "Close vote (chair)"))
    private = bot.connector.created[-1]
    assert private["isGroup"] is False and private["members"][0]["id"] == TOM.id
    assert "Only the chair" in private["activity"]["text"]

    await press(bot, HELEN, vote_post, button(vote_post.card, "Close vote (chair)"))
    confirm = bot.connector.sent[-1]
    assert "Confirm the level of PC-2026-0001" in texts(confirm.card)
    await press(bot, HELEN, confirm, submit_data(confirm.card) | {"level": "major"})
    done = texts(bot.connector.sent[-3].card) + texts(bot.connector.sent[-2].card) + texts(bot.connector.sent[-1].card)
    assert "level confirmed as Major" in done and "suspension" in done.lower()
    case_update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert '"title": "Level", "value": "Major"' in texts(case_update.card)

    # After closing, a late vote is refused privately and not counted.
    await press(bot, PRIYA, vote_post, cast | {"level": "minor"})
    assert "has closed" in bot.connector.created[-1]["activity"]["text"]


async def test_a_non_member_is_told_privately_and_nothing_is_counted(running_bot: RunningBot) -> None:
    bot = running_bot
    _, vote_post = await open_case_with_vote(bot)
    stranger = User("Sam Reid", "a1f2c3d4-0009-4b5c-9d8e-000000000009")
    await press(bot, stranger, vote_post, button(vote_post.card, "Cast my vote") | {"level": "major"})
    assert "not a member of case PC-2026-0001" in bot.connector.created[-1]["activity"]["text"]
    assert not [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == vote_post.activity_id]


async def test_overriding_the_majority_needs_a_rationale(running_bot: RunningBot) -> None:
    bot = running_bot
    _, vote_post = await open_case_with_vote(bot)
    cast = button(vote_post.card, "Cast my vote")
    await press(bot, TOM, vote_post, cast | {"level": "minor"})
    await press(bot, HELEN, vote_post, button(vote_post.card, "Close vote (chair)"))
    confirm = bot.connector.sent[-1]
    await press(bot, HELEN, confirm, submit_data(confirm.card) | {"level": "moderate"})
    assert "record the rationale" in texts(bot.connector.sent[-1].card)
    # A rationale naming someone by title is on the vote's card in the channel: stopped until vouched as staff.
    named = {"level": "moderate", "rationale": "Mrs Lee's fall; agency use rising."}
    await press(bot, HELEN, confirm, submit_data(confirm.card) | named)
    again = bot.connector.sent[-1].card
    assert inputs(again)["names_are_staff"]["value"] == "false" and "\u201cMrs Lee\u201d" in json.dumps(
        again, ensure_ascii=False)
    await press(bot, HELEN, confirm, submit_data(confirm.card) | {"level": "moderate",
                                                                   "rationale": "Dr Okafor: agency use rising.",
                                                                   "names_are_staff": "true"})
    assert "level confirmed as Moderate" in texts(bot.connector.sent[-3].card) + texts(
        bot.connector.sent[-2].card) + texts(bot.connector.sent[-1].card)


async def test_the_case_timeline_shows_the_votes_and_the_decision(running_bot: RunningBot) -> None:
    bot = running_bot
    _, vote_post = await open_case_with_vote(bot)
    cast = button(vote_post.card, "Cast my vote")
    await press(bot, HELEN, vote_post, cast | {"level": "moderate"})
    await press(bot, PRIYA, vote_post, cast | {"level": "major", "dissent": "true", "dissent_reason": "Death linked"})
    await press(bot, HELEN, vote_post, button(vote_post.card, "Close vote (chair)"))
    confirm = bot.connector.sent[-1]
    await press(bot, HELEN, confirm, submit_data(confirm.card) | {"level": "moderate",
                                                                   "rationale": "Tied; the provider is engaging."})
    await bot.send(bot.teams.channel_message(TOM, "case PC-2026-0001"))
    timeline = texts(bot.connector.sent[-1].card)
    for line in ("Priya Shah raised C-2026-0001.", "Priya Shah opened the case.",
                 "Tom Okafor started a vote on the level.", "Helen Ward voted Moderate.",
                 "Priya Shah voted Major, dissenting: Death linked.",
                 "Helen Ward closed the vote and confirmed the level as Moderate. "
                 "Rationale: Tied; the provider is engaging."):
        assert line in timeline
    # Where the bot posted its cards is bookkeeping for updating them, not something a member did.
    assert "card posted" not in timeline and "card_posted" not in timeline
    assert "started the documents register with the" in timeline


async def test_the_chair_changes_roles_and_others_cannot(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_with_vote(bot)
    await press(bot, HELEN, case_post, button(case_post.card, "Roles"))
    roles = bot.connector.sent[-1]
    assert "Roles on PC-2026-0001" in texts(roles.card)
    await press(bot, TOM, roles, submit_data(roles.card) | {"person": PRIYA.aad, "role": "minute_taker"})
    assert "Only the chair" in bot.connector.created[-1]["activity"]["text"]
    await press(bot, HELEN, roles, submit_data(roles.card) | {"person": TOM.aad, "role": "remove"})
    assert "give that role to someone else first" in texts(bot.connector.sent[-1].card)
    await press(bot, HELEN, roles, submit_data(roles.card) | {"person": PRIYA.aad, "role": "coordinator"})
    case_update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert '"title": "Coordinator", "value": "Priya Shah"' in texts(case_update.card)
    assert "Tom Okafor (member)" in texts(case_update.card)


async def test_a_ballot_without_a_level_is_explained_privately_and_nothing_is_counted(running_bot: RunningBot) -> None:
    """The ballot is checked against the case's pack inside the transaction that would count it."""
    bot = running_bot
    _, vote_post = await open_case_with_vote(bot)
    cast = button(vote_post.card, "Cast my vote")
    updates = len([s for s in bot.connector.sent if s.method == "PUT"])
    await press(bot, PRIYA, vote_post, cast | {"level": "", "dissent": "true"})
    private = bot.connector.created[-1]
    assert private["isGroup"] is False and private["members"][0]["id"] == PRIYA.id
    assert "Choose a level." in private["activity"]["text"] and "Say why you dissent" in private["activity"]["text"]
    assert len([s for s in bot.connector.sent if s.method == "PUT"]) == updates  # the tally did not change
    async with bot.uow() as uow:
        events = await uow.audit.for_subject("case", "PC-2026-0001")
    assert not [e for e in events if e.action.startswith("vote.c")]


async def test_a_ballot_is_one_transaction(running_bot: RunningBot) -> None:
    # Counted, audited, read back and the card's place found in the transaction that counts it: each further
    # transaction is a writer's turn on SQLite and a round trip on PostgreSQL, in every press of a busy vote.
    from tests.bot.test_metrics_http import counter, metrics

    bot = running_bot
    _, vote_post = await open_case_with_vote(bot)
    cast = button(vote_post.card, "Cast my vote")
    await press(bot, HELEN, vote_post, cast | {"level": "major"})
    first, before = await metrics(bot), await metrics(bot)  # /metrics reads the outbox: a transaction of its own
    await press(bot, TOM, vote_post, cast | {"level": "moderate"})
    after = await metrics(bot)
    count = [counter(m, "db_transactions_total") for m in (first, before, after)]
    assert (count[2] - count[1]) - (count[1] - count[0]) == 1
    update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == vote_post.activity_id][-1]
    assert "2 voted" in texts(update.card)


async def test_a_vote_of_two_hundred_long_ballots_lists_every_ballot_and_the_reasons_that_fit(
    running_bot: RunningBot,
) -> None:
    """Two hundred ballots with cut reasons are still over the limit: every ballot is listed, the dissents' reasons
    first, and as many others' as fit."""
    from dataclasses import replace
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from bot.app import SERVICES
    from bot.cards.renderer import MAX_CARD_BYTES, render
    from bot.votes import vote_card_values
    from concerns.votes import Ballot, Vote

    bot = running_bot
    await open_case_via_prompt(bot)
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    reason = "The improvement plan's dates have slipped twice and night staffing is still short. " * 12
    ballots = tuple(Ballot(f"u{n}", f"Member {n:03d}", "major" if n % 4 else "moderate", reason,
                           reason if n % 10 == 0 else None, at) for n in range(200))
    vote = Vote(1, case.reference, "open", None, "Helen Ward", at, ballots)
    values = vote_card_values(SimpleNamespace(services=bot.app[SERVICES]), case, vote)
    card = render("vote", **values)
    assert len(json.dumps(card)) <= MAX_CARD_BYTES
    lines = values["ballots"]
    assert len(lines) == 200
    with_reasons = {n for n, line in enumerate(lines) if "(" in line}
    assert set(range(0, 200, 10)) <= with_reasons  # the 20 dissents' reasons come first
    assert 20 < len(with_reasons) < 200 and "dissents: The improvement" in lines[0]
    assert lines[199] == "Member 199: Major"  # listed, its reason left to the case file
    bare = vote_card_values(SimpleNamespace(services=bot.app[SERVICES]), case, replace(vote, ballots=ballots[:5]))
    assert all("(" in line for line in bare["ballots"])  # a small vote shows every reason
