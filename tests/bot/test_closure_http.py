"""Closing a case over real HTTP: the chair's card, the closure in the thread, lessons learned, and the
notices, board report and case file behind signed, expiring links."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import time_machine

from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_http import inputs, submit_data, texts
from tests.support.activities import HELEN, PRIYA, TOM, User
from tests.support.cards import schema_errors

OUTSIDER = User("Sam Jones", "a1f2c3d4-0009-4b5c-9d8e-000000000009")


def private_card(bot: RunningBot) -> dict[str, Any]:
    """The card the bot last sent someone in a new 1:1 chat."""
    attachment = bot.connector.created[-1]["activity"]["attachments"][0]
    return attachment["content"]


def links(card: dict[str, Any]) -> dict[str, str]:
    return {a["title"]: a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"}


async def fetch(bot: RunningBot, url: str) -> tuple[int, str, dict[str, str]]:
    """Open a file link against the test server (the link names the configured public address)."""
    async with bot.http.get(bot.url + urlsplit(url).path) as response:
        return response.status, await response.text(), dict(response.headers)


async def close_with_override(bot: RunningBot, case_post: Any) -> Any:
    thread = thread_of(case_post, bot.teams.tenant)
    await bot.send(bot.teams.channel_message(HELEN, "close case PC-2026-0001", thread=case_post.conversation_id))
    form = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {
        "outcome": "Unannounced visits on 3 and 10 December found MAR charts complete; staffing stable.",
        "override_reason": "Improvement evidenced by monitoring; quality assurance agreed as not needed.",
    }, reply_to=form.activity_id, conversation=thread))
    return form


async def test_only_the_chair_closes_and_before_quality_assurance_needs_a_reason(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    thread = thread_of(case_post, bot.teams.tenant)

    close_button = next(a for a in case_post.card["actions"] if a["title"] == "Close case")["data"]
    await bot.send(bot.teams.card_submit(TOM, close_button, reply_to=case_post.activity_id, conversation=thread))
    assert "Only the chair of PC-2026-0001 can close it" in bot.connector.created[-1]["activity"]["text"]

    await bot.send(bot.teams.card_submit(HELEN, close_button, reply_to=case_post.activity_id, conversation=thread))
    form = bot.connector.sent[-1]
    assert "has not reached the Quality assurance step" in texts(form.card)
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {"outcome": "Improved."},
                                         reply_to=form.activity_id, conversation=thread))
    assert "Finish it, or record why the case closes anyway" in texts(bot.connector.sent[-1].card)
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {"override_reason": "Agreed."},
                                         reply_to=form.activity_id, conversation=thread))
    assert "Say what improvement was evidenced" in texts(bot.connector.sent[-1].card)
    # The coordinator presses the chair's card: the server checks who is acting, not whose card it was.
    await bot.send(bot.teams.card_submit(TOM, submit_data(form.card) | {"outcome": "Improved.",
                                                                        "override_reason": "Agreed."},
                                         reply_to=form.activity_id, conversation=thread))
    assert "Only the chair of PC-2026-0001 can close it" in bot.connector.created[-1]["activity"]["text"]
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        events = [e.action for e in await uow.audit.for_subject("case", "PC-2026-0001")]
    assert case.status.value == "open" and "case.closed" not in events
    assert events.count("refused") == 1  # Tom's submission


async def test_an_outcome_naming_an_adult_is_stopped_until_the_chair_says_they_are_staff(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    thread = thread_of(case_post, bot.teams.tenant)
    await bot.send(bot.teams.channel_message(HELEN, "close case PC-2026-0001", thread=case_post.conversation_id))
    form = bot.connector.sent[-1]
    named = {"outcome": "Visits found MAR charts complete.", "override_reason": "Mrs Jones has moved home."}
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | named, reply_to=form.activity_id,
                                         conversation=thread))
    again = bot.connector.sent[-1].card
    assert schema_errors(again) == [] and inputs(again)["names_are_staff"]["value"] == "false"
    assert "\u201cMrs Jones\u201d" in json.dumps(again, ensure_ascii=False)
    async with bot.uow() as uow:
        assert (await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")).status.value == "open"

    vouched = {"override_reason": "Dr Okafor's audit found quality assurance not needed.", "names_are_staff": "true"}
    await bot.send(bot.teams.card_submit(HELEN, submit_data(again) | named | vouched, reply_to=form.activity_id,
                                         conversation=thread))
    async with bot.uow() as uow:
        [closed] = [e for e in await uow.audit.for_subject("case", "PC-2026-0001") if e.action == "case.closed"]
    assert closed.details["names_are_staff"] is True


async def test_closing_posts_the_closure_asks_for_lessons_and_sends_the_chair_the_notices(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    await close_with_override(bot, case_post)
    assert "PC-2026-0001 is closed" in texts(bot.connector.sent[-1].card if bot.connector.sent[-1].card else {}) or \
        any(s.card and "PC-2026-0001 is closed" in texts(s.card) for s in bot.connector.sent)

    in_thread = [s for s in bot.connector.sent if s.conversation_id == case_post.conversation_id and s.card]
    closed_post = next(s for s in in_thread if "Case PC-2026-0001 is closed" in texts(s.card))
    assert "Unannounced visits on 3 and 10 December" in texts(closed_post.card)
    lessons = next(s for s in in_thread if "Lessons learned: PC-2026-0001" in texts(s.card))
    case_update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert "Closed" in texts(case_update.card) and "Helen Ward" in texts(case_update.card)
    assert "actions" not in case_update.card  # no votes or steps on a closed case

    files = links(private_card(bot))
    assert bot.connector.created[-1]["members"][0]["id"] == HELEN.id  # only the chair gets the links
    assert set(files) == {
        "Notice to The provider (HTML)", "Notice to The provider (text)",
        "Notice to The Care Quality Commission (CQC) (HTML)", "Notice to The Care Quality Commission (CQC) (text)",
        "Summary report to Croydon Safeguarding Adults Board"}

    status, notice, headers = await fetch(bot, files["Notice to The provider (HTML)"])
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-store"
    for fact in ("Oakwood Lodge Nursing Home", "PC-2026-0001", "Unannounced visits on 3 and 10 December",
                 "Helen Ward", "London Borough of Croydon", "Monday 23 November 2026", "To: The provider"):
        assert fact in notice
    status, letter, headers = await fetch(bot, files["Notice to The Care Quality Commission (CQC) (text)"])
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "To: The Care Quality Commission (CQC)" in letter and "<" not in letter

    status, report, _ = await fetch(bot, files["Summary report to Croydon Safeguarding Adults Board"])
    assert status == 200
    for fact in ("To Croydon Safeguarding Adults Board", "2 concerns", "Medication", "<td>CQC</td><td>2</td>",
                 "Decision for provider concerns", "Closing the provider concerns process",
                 "quality assurance agreed as not needed"):
        assert fact in report, fact

    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        actions = await uow.cases.actions(case.id)
        events = await uow.audit.for_subject("case", "PC-2026-0001")
    assert case.status.value == "closed" and case.step == "closure"
    assert any(a.source == "step:closure" and "Notify the relevant parties" in a.title for a in actions)
    closed = next(e for e in events if e.action == "case.closed")
    assert closed.details["override_reason"].startswith("Improvement evidenced")
    opened = [e for e in events if e.action == "file.opened"]
    assert [e.details["file"] for e in opened] == ["notice-0.html", "notice-1.txt", "board-report.html"]
    assert {e.actor_name for e in opened} == {"Helen Ward"}

    # Lessons learned: members answer on the card in the thread; others are refused.
    answer = {"verb": "lessons.give", "case": "PC-2026-0001", "went_well": "Fast joint visits with the ICB.",
              "do_differently": "Share reports with the provider earlier."}
    lessons_thread = thread_of(lessons, bot.teams.tenant)
    await bot.send(bot.teams.card_submit(OUTSIDER, answer, reply_to=lessons.activity_id, conversation=lessons_thread))
    assert "Only members of PC-2026-0001" in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(PRIYA, answer, reply_to=lessons.activity_id, conversation=lessons_thread))
    updated = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == lessons.activity_id][-1]
    assert "1 of 3 members have answered" in texts(updated.card)
    status, report, _ = await fetch(bot, files["Summary report to Croydon Safeguarding Adults Board"])
    assert "Share reports with the provider earlier." in report


async def test_file_links_are_signed_expire_and_are_audited(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    await close_with_override(bot, case_post)
    url = links(private_card(bot))["Notice to The provider (HTML)"]
    path = urlsplit(url).path
    token = path.split("/")[2]

    async with bot.http.get(bot.url + path.replace("notice-0.html", "case-file.html")) as response:
        assert response.status == 403  # a link names its file: it cannot be reused for another
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    async with bot.http.get(bot.url + path.replace(token, tampered)) as response:
        assert response.status == 403
    with time_machine.travel(timedelta(hours=25), tick=False):
        async with bot.http.get(bot.url + path) as response:
            assert response.status == 410 and "expired" in await response.text()
    async with bot.http.get(bot.url + path) as response:
        assert response.status == 200


async def test_the_case_file_export_is_for_the_chair_and_coordinator(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    await bot.send(bot.teams.channel_message(PRIYA, "case PC-2026-0001 export"))
    assert "Only the chair or the coordinator" in bot.connector.created[-1]["activity"]["text"]

    await bot.send(bot.teams.personal_message(TOM, "case PC-2026-0001 export"))
    files = links(private_card(bot))
    assert set(files) == {"Case file (HTML)", "Case file (JSON)"}
    status, body, headers = await fetch(bot, files["Case file (JSON)"])
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert "attachment" in headers["Content-Disposition"]
    data = json.loads(body)
    assert data["case"]["reference"] == "PC-2026-0001" and data["case"]["status"] == "open"
    assert {m["name"] for m in data["case"]["members"]} == {"Helen Ward", "Tom Okafor", "Priya Shah"}
    assert [c["reference"] for c in data["concerns"]] == ["C-2026-0001", "C-2026-0002"]
    assert data["steps"][0]["step"] == "decision"
    assert len(data["actions"]) == 14 and data["actions"][0]["due_on"] == "2026-11-24"
    assert any(e["action"] == "case.opened" for e in data["timeline"])

    status, page, _ = await fetch(bot, files["Case file (HTML)"])
    assert status == 200
    for fact in ("Case file PC-2026-0001", "Inspection found MAR charts unsigned on two units.",
                 "Immediate checks on the welfare", "Timeline"):
        assert fact in page


async def test_user_text_cannot_become_markup_in_a_letter(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    thread = thread_of(case_post, bot.teams.tenant)
    await bot.send(bot.teams.channel_message(HELEN, "close case PC-2026-0001", thread=case_post.conversation_id))
    form = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {
        "outcome": "<script>alert(1)</script> improved", "override_reason": "Agreed."},
        reply_to=form.activity_id, conversation=thread))
    status, notice, _ = await fetch(bot, links(private_card(bot))["Notice to The provider (HTML)"])
    assert status == 200 and "<script>" not in notice and "&lt;script&gt;alert(1)&lt;/script&gt; improved" in notice


async def test_a_closed_cases_follow_ups_are_reminded_and_nothing_else_on_it(running_bot: RunningBot, clock: Any
                                                                            ) -> None:
    """Closing makes the closing step's actions (written notice to the provider and the CQC, the report to the
    Safeguarding Adults Board): deadlines too. They were never reminded, because the sweep read open cases only.
    The actions an override left open from earlier steps are not chased, and nothing on a closed case is
    escalated in its thread (its prompt offers a vote on the level)."""
    from datetime import datetime

    from bot.app import SWEEPER

    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    await bot.send(bot.teams.personal_message(HELEN, "actions"))  # the chair's chat, kept by the bot
    await close_with_override(bot, case_post)
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        actions = await uow.cases.actions(case.id)
    notice = next(a for a in actions if a.source == "step:closure" and a.title.startswith("Notify the relevant"))
    # What the override left open closed with the case, saying so; nobody is reminded of it.
    left_open = [a for a in actions if a.source != "step:closure" and a.status == "not_applicable"
                 and a.note == "Still open when the case closed." and a.due_on]
    assert case.status.value == "closed" and notice.owner.user_id == HELEN.aad and left_open
    assert not [a for a in actions if a.source != "step:closure" and a.status == "open"]

    def about(sent: list[Any], title: str) -> list[Any]:
        return [s for s in sent if s.card and title in texts(s.card)]

    async def sweep(when: str) -> list[Any]:
        clock.at = datetime.fromisoformat(when + "+00:00")
        before = len(bot.connector.sent)
        await bot.app[SWEEPER].sweep(clock.at)
        return bot.connector.sent[before:]

    due_day = await sweep(f"{notice.due_on.isoformat()}T09:00")
    [reminder] = [s for s in about(due_day, notice.title) if "reminder.done" in texts(s.card)]
    assert "Due today" in texts(reminder.card)
    assert not any(about(due_day, a.title) for a in left_open)
    later = await sweep("2026-12-07T09:00")  # the notice is three working days late
    assert not any(s for s in later if s.card and "action.escalate" in texts(s.card))
    assert any("overdue" in texts(s.card).lower() and notice.title in texts(s.card) for s in later if s.card)
