"""Individual-level details over real HTTP: shown in personal chat only, to whoever raised or screened the
concern and the chair and coordinator of its case; every view in the case's access log (chair and team admins);
and never an individual reference in a channel."""

from __future__ import annotations

import json
from typing import Any

from bot.app import SERVICES
from concerns.individuals import DETAILS_VIEWED
from tests.bot.conftest import RunningBot
from tests.bot.test_http import GOOD, open_form_in_channel, submit_data, texts
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TENANT, TOM, User, roster_entry

SAM = User("Sam Patel", "a1f2c3d4-0004-4b5c-9d8e-000000000004")  # screens the concern
RAVI = User("Ravi Kumar", "a1f2c3d4-0005-4b5c-9d8e-000000000005")  # the case's coordinator
ANNE = User("Anne Hughes", "a1f2c3d4-0006-4b5c-9d8e-000000000006")  # installed the bot: team admin
INDIVIDUAL = "LAS-771905"  # not the raise form's placeholder example
CASE = "PC-2026-0001"
RATIONALE = "Resident found with unexplained bruising; family says care staff were rough."
GROUP_CHAT = "19:group-chat-safeguarding@unq.gbl.spaces"


def thread_of(sent: Any, bot: RunningBot) -> dict[str, Any]:
    return {"id": sent.conversation_id, "conversationType": "channel", "isGroup": True, "tenantId": bot.teams.tenant}


async def raise_as(bot: RunningBot, user: User, **change: str) -> Any:
    card, card_id, thread = await open_form_in_channel(bot, user)
    await bot.send(bot.teams.card_submit(user, submit_data(card) | GOOD | change, reply_to=card_id,
                                         conversation=thread))
    created = bot.connector.created[-1]
    return next(s for s in bot.connector.sent if s.method == "CREATE" and s.body is created["activity"])


async def press(bot: RunningBot, user: User, sent: Any, data: dict[str, Any]) -> None:
    assert await bot.send(bot.teams.card_submit(user, data, reply_to=sent.activity_id,
                                                conversation=thread_of(sent, bot))) == 201


async def a_case_with_an_s42_enquiry(bot: RunningBot) -> None:
    """Anne installs the bot; Priya raises C-2026-0001 naming an adult; Sam screens it to an s42 enquiry; Tom
    raises C-2026-0002; Helen opens PC-2026-0001 from the pattern prompt (chair Helen, coordinator Ravi) and
    makes Tom a member."""
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM, RAVI, ANNE)]
    await bot.send(bot.teams.bot_added_to_team(ANNE))
    first = await raise_as(bot, PRIYA, individual_reference=INDIVIDUAL)
    screen = next(a for a in first.card["actions"] if a["title"] == "Screen")
    await press(bot, SAM, first, screen["data"])
    form = bot.connector.sent[-1]
    await press(bot, SAM, form, submit_data(form.card) | {
        "outcome": "s42_enquiry", "s42_confirmed": "true", "threshold": "major", "rationale": RATIONALE,
        "referrer_told": "false"})
    await raise_as(bot, TOM, description="Second CQC report: call bells unanswered at night.")
    prompt = next(s for s in bot.connector.sent if s.card and "A pattern of concerns" in texts(s.card))
    await press(bot, HELEN, prompt, next(a for a in prompt.card["actions"] if a["title"] == "Open a case")["data"])
    form = bot.connector.sent[-1]
    await press(bot, HELEN, form, submit_data(form.card) | {"chair": HELEN.aad, "coordinator": RAVI.aad,
                                                             "lead_agency": "council"})
    await bot.send(bot.teams.channel_message(HELEN, f"roles {CASE}"))
    roles = bot.connector.sent[-1]
    await press(bot, HELEN, roles, submit_data(roles.card) | {"person": TOM.aad, "role": "member"})
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(TENANT, CASE)
    assert case is not None and case.concerns == ("C-2026-0001", "C-2026-0002")
    assert case.role_of(TOM.aad) is not None and case.role_of(RAVI.aad) is not None


async def ask(bot: RunningBot, user: User, text: str) -> Any:
    """Send `text` in the user's personal chat; return the one reply."""
    before = len(bot.connector.sent)
    assert await bot.send(bot.teams.personal_message(user, text)) == 201
    [reply] = bot.connector.sent[before:]
    assert reply.conversation_id == f"a:personal-{user.aad}"
    return reply


async def audit_trail(bot: RunningBot) -> list[Any]:
    """Every stored event, in the order of the chain, but those noting a new chat with the bot."""
    async with bot.uow() as uow:
        return [chained.event for chained in await uow.audit.chained(0, 100_000)
                if chained.event.subject_type != "conversation"]


def sent_to_shared_places(bot: RunningBot) -> list[dict[str, Any]]:
    """Every message and card the bot sent to a channel (posts, threads, updates) or a group chat."""
    shared = [s.body for s in bot.connector.sent if s.conversation_id.startswith((CHANNEL_ID, GROUP_CHAT))]
    return shared + [c for c in bot.connector.created if (c.get("channelData") or {}).get("channel")]


def assert_no_individual_in_shared_places(bot: RunningBot) -> None:
    shared = sent_to_shared_places(bot)
    assert len(shared) > 5  # the scenario did post in the channel
    assert not [body for body in shared if INDIVIDUAL in json.dumps(body)]


async def test_whoever_raised_or_screened_and_the_chair_and_coordinator_see_the_details(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    for user, basis in ((PRIYA, "raised it"), (SAM, "screened it"), (HELEN, f"chair of {CASE}"),
                        (RAVI, f"coordinator of {CASE}")):
        reply = await ask(bot, user, "details c-2026-0001")
        shown = texts(reply.card)
        assert "Individual details of C-2026-0001" in shown and f'"text": "{INDIVIDUAL}"' in shown
        assert "A Care Act s42 enquiry was started from this concern." in shown
        assert "Screening 1: Individual safeguarding enquiry (Care Act s42)" in shown
        assert RATIONALE in shown and "Sam Patel, 23 Nov 2026 10:30; threshold Major" in shown
        assert f"because you {basis}" in shown
    # Tom raised the other concern: he sees its details (it names nobody and started no enquiry).
    shown = texts((await ask(bot, TOM, "details C-2026-0002")).card)
    assert '"text": "None recorded"' in shown and "No Care Act s42 enquiry has been started" in shown
    views = [e for e in await audit_trail(bot) if e.action == DETAILS_VIEWED]
    assert [(v.actor_id, v.subject_ref, v.details["basis"]) for v in views] == [
        (PRIYA.aad, "C-2026-0001", "raised it"), (SAM.aad, "C-2026-0001", "screened it"),
        (HELEN.aad, "C-2026-0001", f"chair of {CASE}"), (RAVI.aad, "C-2026-0001", f"coordinator of {CASE}"),
        (TOM.aad, "C-2026-0002", "raised it")]
    assert all(v.conversation_id == f"a:personal-{v.actor_id}" for v in views)
    # The audit trail names no individual, not even in the events of viewing them.
    assert not [e.action for e in await audit_trail(bot) if INDIVIDUAL in json.dumps(e.details)]
    assert_no_individual_in_shared_places(bot)


async def test_people_not_entitled_are_refused_privately_and_audited(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    stranger = User("Kim Lee", "a1f2c3d4-0007-4b5c-9d8e-000000000007")
    before = len(await audit_trail(bot))
    # A member of the case, a team admin and someone with no part in it see nothing.
    for user in (TOM, ANNE, stranger):
        reply = await ask(bot, user, "details C-2026-0001")
        assert reply.card is None and INDIVIDUAL not in json.dumps(reply.body)
        assert reply.text == ("The individual details of C-2026-0001 are shown only to whoever raised or screened "
                              "it and to the chair and the coordinator of its case (need to know).")
    events = (await audit_trail(bot))[before:]
    assert [(e.action, e.actor_id, e.subject_type, e.subject_ref, e.details["attempted"]) for e in events] == [
        ("refused", user.aad, "concern", "C-2026-0001", "individual.details") for user in (TOM, ANNE, stranger)]
    assert "There is no concern C-2026-0404." == (await ask(bot, HELEN, "details C-2026-0404")).text
    assert (await ask(bot, HELEN, "details")).text == "Tell me which concern: for example, details C-2026-0001."
    assert len(await audit_trail(bot)) == before + 3


async def test_asked_in_a_channel_or_group_chat_nothing_is_shown_and_the_answer_is_private(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    before, events_before = len(bot.connector.sent), len(await audit_trail(bot))
    group = bot.teams.personal_message(HELEN, f"details C-2026-0001 {INDIVIDUAL}")
    group["conversation"] = {"id": GROUP_CHAT, "conversationType": "groupChat", "isGroup": True, "tenantId": TENANT}
    for activity in (bot.teams.channel_message(HELEN, "details C-2026-0001"), group):
        assert await bot.send(activity) == 201
        created = bot.connector.created[-1]
        assert created["isGroup"] is False and created["members"][0]["id"] == HELEN.id
        assert created["activity"]["text"] == ("Individual details are shown only in our personal chat, never in a "
                                               "channel or group chat: send me 'details C-2026-0001' here.")
    assert [s.method for s in bot.connector.sent[before:]] == ["CREATE", "CREATE"]  # the private answers only
    assert [e.action for e in (await audit_trail(bot))[events_before:]] == []  # nothing was looked up
    assert_no_individual_in_shared_places(bot)


async def test_the_chair_and_team_admins_read_the_access_log_newest_first(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    clock = bot.app[SERVICES].clock
    await ask(bot, PRIYA, "details C-2026-0001")
    clock.advance(minutes=5)
    await ask(bot, RAVI, "details C-2026-0001")
    clock.advance(minutes=5)
    await ask(bot, TOM, "details C-2026-0002")
    await ask(bot, TOM, "details C-2026-0001")  # refused: not a view

    for reader in (HELEN, ANNE):  # the chair; a team admin who is not on the case
        card = (await ask(bot, reader, f"case {CASE} access-log")).card
        shown = texts(card)
        assert f"Access log of {CASE}" in shown and "(C-2026-0001, C-2026-0002)" in shown
        rows = [c for c in card["body"] if c.get("type") == "ColumnSet"]
        who_what = [tuple(item["inlines"][0]["text"] for item in row["columns"][1]["items"]) for row in rows]
        assert who_what == [("Tom Okafor", "saw C-2026-0002 (raised it)"),
                            ("Ravi Kumar", f"saw C-2026-0001 (coordinator of {CASE})"),
                            ("Priya Shah", "saw C-2026-0001 (raised it)")]
        assert [row["columns"][0]["items"][0]["text"] for row in rows] == [
            "23 Nov 2026 10:40", "23 Nov 2026 10:35", "23 Nov 2026 10:30"]
        assert INDIVIDUAL not in shown

    reads = [e for e in await audit_trail(bot) if e.action == "case.access_log_read"]
    assert [(e.actor_id, e.subject_ref, e.details["as_role"], e.details["views"]) for e in reads] == [
        (HELEN.aad, CASE, "chair", 3), (ANNE.aad, CASE, "team admin", 3)]


async def test_others_are_refused_the_access_log_privately_and_audited(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    await ask(bot, PRIYA, "details C-2026-0001")
    for user in (RAVI, TOM, PRIYA):  # the coordinator, a member, the person who raised it
        reply = await ask(bot, user, f"case {CASE} access-log")
        assert reply.card is None
        assert reply.text == (f"Only the chair of {CASE} or a team admin of its team can read its access log "
                              "(who saw individual details).")
    refusals = [e for e in await audit_trail(bot) if e.action == "refused"]
    assert [(e.actor_id, e.subject_ref, e.details["attempted"]) for e in refusals] == [
        (user.aad, CASE, "case.access_log") for user in (RAVI, TOM, PRIYA)]
    assert not [e for e in await audit_trail(bot) if e.action == "case.access_log_read"]
    assert (await ask(bot, HELEN, "case PC-2026-0404 access-log")).text == "There is no case PC-2026-0404."

    # In the channel, even the chair is answered privately and nothing is read.
    before = len(bot.connector.sent)
    await bot.send(bot.teams.channel_message(HELEN, f"case {CASE} access-log"))
    assert [s.method for s in bot.connector.sent[before:]] == ["CREATE"]
    assert bot.connector.created[-1]["members"][0]["id"] == HELEN.id
    assert "shown only in our personal chat" in bot.connector.created[-1]["activity"]["text"]
    assert not [e for e in await audit_trail(bot) if e.action == "case.access_log_read"]


async def test_the_case_timeline_does_not_show_who_saw_individual_details(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    await ask(bot, HELEN, "details C-2026-0001")
    await ask(bot, HELEN, f"case {CASE} access-log")
    await bot.send(bot.teams.channel_message(TOM, f"case {CASE}"))
    timeline = texts(bot.connector.sent[-1].card)
    assert f"Timeline of {CASE}" in timeline and "Sam Patel started a Care Act s42 enquiry" in timeline
    assert "details viewed" not in timeline and "access log" not in timeline
    assert_no_individual_in_shared_places(bot)


async def test_an_empty_access_log_says_so(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_s42_enquiry(bot)
    shown = texts((await ask(bot, HELEN, f"case {CASE} access-log")).card)
    assert "Nobody has seen the individual details of its concerns." in shown
