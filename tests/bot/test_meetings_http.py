"""Meetings over real HTTP: scheduling from the card, the meeting card in the case thread, minutes, the list,
and (optionally) the Teams meeting created through Microsoft Graph."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import graph
from concerns import services
from concerns.cases import Person
from concerns.model import Actor
from storage.models import CaseActionRow, MeetingRow
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_http import count, inputs, submit_data, texts
from tests.support.activities import HELEN, PRIYA, TOM, User, roster_entry
from tests.support.cards import schema_errors

SAM = User("Sam Reid", "a1f2c3d4-0004-4b5c-9d8e-000000000004")

GOOD = {"kind": "initial", "date": "2026-12-02", "starts": "10:00", "ends": "12:00",
        "venue": "Bernard Weatherill House, room 6.01", "online_link": "", "chair": HELEN.aad,
        "minute_taker": PRIYA.aad, "attendees": f"{TOM.aad},{PRIYA.aad},{SAM.aad}", "provider_attends": "second_part"}


@pytest.fixture(autouse=True)
def graph_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the environment says, Graph is off unless a test turns it on."""
    monkeypatch.setattr(graph, "_configured", None)


async def a_case_with_an_observer(bot: RunningBot) -> Any:
    """PC-2026-0001 (chair Helen, coordinator Tom, member Priya) with Sam added as an observer."""
    case_post, _ = await open_case_via_prompt(bot)
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM)]
    chair = Actor(HELEN.aad, HELEN.name, bot.teams.tenant)
    await services.change_role(bot.uow(), _clock(bot), chair, "PC-2026-0001", Person(SAM.aad, SAM.name), "observer",
                               conversation_id="c")
    return case_post


def _clock(bot: RunningBot) -> Any:
    from bot.app import SERVICES

    return bot.app[SERVICES].clock


async def schedule_form(bot: RunningBot, user: User = TOM) -> Any:
    await bot.send(bot.teams.channel_message(user, "meeting PC-2026-0001"))
    return bot.connector.sent[-1]


async def submit(bot: RunningBot, user: User, form: Any, values: dict[str, str]) -> Any:
    await bot.send(bot.teams.card_submit(user, submit_data(form.card) | values, reply_to=form.activity_id,
                                         conversation=thread_of(form, bot.teams.tenant)))
    return bot.connector.sent[-1]


async def audit(bot: RunningBot) -> list[Any]:
    async with bot.uow() as uow:
        return await uow.audit.for_subject("case", "PC-2026-0001")


async def test_the_coordinator_schedules_a_meeting_and_its_card_goes_in_the_case_thread(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    case_post = await a_case_with_an_observer(bot)

    await schedule_form(bot, PRIYA)  # a member
    assert "Only the chair or the coordinator" in bot.connector.created[-1]["activity"]["text"]
    form = await schedule_form(bot, TOM)
    fields = inputs(form.card)
    assert fields["chair"]["value"] == HELEN.aad  # the case's chair by default
    assert fields["attendees"]["isMultiSelect"] and len(fields["attendees"]["choices"]) == 4
    assert "by Thursday 3 December 2026" in texts(form.card)
    assert "Microsoft Graph is not configured" in texts(form.card)

    bad = GOOD | {"date": "2026-11-20", "ends": "09:00", "venue": "", "online_link": "ftp://files.example/x"}
    shown = await submit(bot, TOM, form, bad)
    assert "The date has passed." in texts(shown.card) and "https://" in texts(shown.card)
    shown = await submit(bot, TOM, form, GOOD | {"date": "2026-12-25"})
    assert "Christmas Day" in texts(shown.card)
    shown = await submit(bot, TOM, form, GOOD | {"starts": "14:00", "ends": "13:00"})
    assert "The meeting must end after it starts." in texts(shown.card)
    assert await count(bot, MeetingRow) == 0

    # Someone else pressing the coordinator's card is checked on the server, and it is on the record.
    await submit(bot, PRIYA, form, GOOD)
    assert "Only the chair or the coordinator" in bot.connector.created[-1]["activity"]["text"]
    assert await count(bot, MeetingRow) == 0
    assert any(e.action == "refused" and e.details["attempted"] == "meeting.schedule" for e in await audit(bot))

    # Later than 10 days from the decision: the card asks why, and nothing is stored until it is given.
    shown = await submit(bot, TOM, form, GOOD | {"date": "2026-12-04"})
    assert "record why it is later" in texts(shown.card) and await count(bot, MeetingRow) == 0
    actions_before = await count(bot, CaseActionRow)
    await submit(bot, TOM, form, GOOD | {"date": "2026-12-04", "late_reason": "Provider's manager in court"})
    assert any(s.card and "Initial meeting with the provider of PC-2026-0001 scheduled" in texts(s.card)
               for s in bot.connector.sent)

    card = next(s for s in bot.connector.sent if s.card and "Initial meeting with the provider: PC-2026-0001"
                in texts(s.card))
    assert card.conversation_id == case_post.conversation_id  # in the case's thread
    shown = texts(card.card)
    for fact in ("Friday 4 December 2026, 10:00 to 12:00 (UK time)", "Bernard Weatherill House, room 6.01",
                 "Second part only, after a professionals-only part", "Tom Okafor, Priya Shah, Sam Reid",
                 "Microsoft Graph is not configured", "Tell the provider the concerns", "due Fri 27 Nov 2026",
                 "Record the minutes and decisions", "due Fri 11 Dec 2026"):
        assert fact in shown, fact
    assert await count(bot, MeetingRow) == 1 and await count(bot, CaseActionRow) == actions_before + 2
    scheduled = next(e for e in await audit(bot) if e.action == "meeting.scheduled")
    assert scheduled.details["late_reason"] == "Provider's manager in court" and scheduled.actor_name == "Tom Okafor"
    async with bot.uow() as uow:
        meeting = (await uow.meetings.for_case(1))[0]
    assert meeting.card_activity_id == card.activity_id

    await submit(bot, TOM, form, GOOD | {"date": "2026-12-04", "late_reason": "again"})  # a second press
    assert await count(bot, MeetingRow) == 1
    # The next meeting's form no longer holds the team to the initial meeting's deadline: it is arranged.
    later = texts((await schedule_form(bot, TOM)).card)
    assert "should be by" not in later and "When the provider attends, they are told the concerns" in later


async def test_a_meeting_that_gives_the_provider_too_little_notice_asks_why(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    assert "short_notice_reason" not in inputs(form.card)  # asked for only when it applies

    soon = GOOD | {"date": "2026-11-26"}  # Thursday: three working days from Monday, the pack asks for five
    shown = await submit(bot, TOM, form, soon)
    assert schema_errors(shown.card) == []
    assert "short_notice_reason" in inputs(shown.card)
    assert "this date leaves 3 working days" in texts(shown.card) and await count(bot, MeetingRow) == 0
    await submit(bot, TOM, form, soon | {"short_notice_reason": "Immediate risk: the provider asked to meet now"})
    assert await count(bot, MeetingRow) == 1
    scheduled = next(e for e in await audit(bot) if e.action == "meeting.scheduled")
    assert scheduled.details["short_notice_reason"] == "Immediate risk: the provider asked to meet now"


async def test_minutes_from_the_meeting_card_create_actions_and_update_the_card(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, HELEN)
    await submit(bot, HELEN, form, GOOD | {"kind": "decision", "date": "2026-11-23", "starts": "11:00",
                                           "ends": "12:00", "provider_attends": "no", "minute_taker": ""})
    card = next(s for s in bot.connector.sent if s.card and "Concerns and decisions meeting: PC-2026-0001"
                in texts(s.card))
    record = next(a for a in card.card["actions"] if a["title"] == "Record minutes")["data"]
    _clock(bot).advance(hours=2)

    await bot.send(bot.teams.card_submit(SAM, record, reply_to=card.activity_id,
                                         conversation=thread_of(card, bot.teams.tenant)))
    assert "Only the chair, the coordinator or the minute taker" in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(HELEN, record, reply_to=card.activity_id,
                                         conversation=thread_of(card, bot.teams.tenant)))
    minutes = bot.connector.sent[-1]
    assert "Minutes of the concerns and decisions meeting of PC-2026-0001" in texts(minutes.card)

    link = "https://council.sharepoint.com/sites/safeguarding/Shared%20Documents/decision-minutes.docx"
    decisions = "Suspend new placements pending the initial meeting\nWeekly monitoring visits by the QA officer"
    # The observer submitting the chair's minutes card is refused on the server and recorded.
    await submit(bot, SAM, minutes, {"minutes_link": link, "decisions": decisions})
    assert "Only the chair, the coordinator or the minute taker" in bot.connector.created[-1]["activity"]["text"]
    refusals = [e for e in await audit(bot) if e.action == "refused"]
    assert refusals[-1].details["attempted"] == "meeting.minutes" and refusals[-1].actor_name == "Sam Reid"

    shown = await submit(bot, HELEN, minutes, {"minutes_link": "not a link", "decisions": decisions,
                                               "act_2": "true", "owner_2": PRIYA.aad, "due_2": "2026-12-26"})
    assert "https://" in texts(shown.card) and "not a working day" in texts(shown.card)
    # A decision naming an adult is on the meeting's card in the channel: stopped, with the box for staff.
    named = decisions + "\nVisit Mrs Jones weekly"
    shown = await submit(bot, HELEN, minutes, {"minutes_link": link, "decisions": named})
    assert inputs(shown.card)["names_are_staff"]["value"] == "false" and schema_errors(shown.card) == []
    assert "Mrs Jones" in next(e["text"] for e in shown.card["body"] if "never named" in e.get("text", ""))
    await submit(bot, HELEN, minutes, {"minutes_link": link, "decisions": decisions, "act_1": "false",
                                       "act_2": "true", "owner_2": PRIYA.aad, "due_2": "2026-11-30"})
    assert any(s.card and "New actions: Weekly monitoring visits by the QA officer (Priya Shah, due Mon 30 Nov)"
               in texts(s.card) for s in bot.connector.sent)

    updated = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == card.activity_id][-1]
    shown = texts(updated.card)
    assert '"Held"' in shown and "1. Suspend new placements pending the initial meeting" in shown
    assert "Record minutes" not in shown and "Open the minutes" in shown
    assert ("Record the minutes and decisions of the concerns and decisions meeting on Mon 23 Nov 2026: Helen Ward, "
            "done") in shown
    async with bot.uow() as uow:
        actions = [a for a in await uow.cases.actions(1) if a.source.startswith("meeting:")]
    assert [(a.title, a.owner.name, a.status) for a in actions][-1] == (
        "Weekly monitoring visits by the QA officer", "Priya Shah", "open")
    assert not [a for a in actions if "Jones" in a.title]
    assert next(e for e in await audit(bot) if e.action == "meeting.minutes_recorded").details[
        "names_are_staff"] is False
    assert actions[0].note == link and actions[0].status == "done"

    await bot.send(bot.teams.personal_message(PRIYA, "actions"))
    assert "Weekly monitoring visits by the QA officer" in texts(bot.connector.sent[-1].card)


async def test_meetings_lists_those_to_come_first(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    await submit(bot, TOM, form, GOOD | {"kind": "update", "date": "2026-12-16", "provider_attends": "no"})
    form = await schedule_form(bot, TOM)
    await submit(bot, TOM, form, GOOD)
    form = await schedule_form(bot, TOM)
    await submit(bot, TOM, form, GOOD | {"kind": "decision", "date": "2026-11-23", "starts": "11:00", "ends": "11:30",
                                         "provider_attends": "no"})
    _clock(bot).advance(hours=3)
    await bot.send(bot.teams.channel_message(SAM, "meetings pc-2026-0001"))
    listing = bot.connector.sent[-1].card
    kinds = [c["items"][0]["columns"][0]["items"][0]["text"] for c in listing["body"] if c["type"] == "Container"]
    assert kinds == ["Initial meeting with the provider", "Update meeting", "Concerns and decisions meeting"]
    assert "Minutes due" in texts(listing) and "actions" not in listing  # an observer is not offered scheduling
    await bot.send(bot.teams.channel_message(TOM, "meetings PC-2026-0099"))
    assert "There is no case PC-2026-0099" in bot.connector.sent[-1].text


# -- Microsoft Graph -------------------------------------------------------------------------------


@dataclass
class FakeGraph:
    """A local stand-in for Microsoft Graph on 127.0.0.1, following its documented contract for
    `POST /v1.0/users/{userId}/onlineMeetings` (create onlineMeeting): a bearer token, a JSON body with
    subject, startDateTime and endDateTime, and 201 Created with the onlineMeeting (`id`, `joinWebUrl`).
    Errors come back as `{"error": {"code", "message"}}`, as Graph sends them."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1.0/users/{user}/onlineMeetings", self._create)
        return app

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"user": request.match_info["user"], "auth": request.headers.get("Authorization"),
                              "body": body})
        if self.fail_with:
            return web.json_response({"error": {"code": "Forbidden", "message": "Application access policy"}},
                                     status=self.fail_with)
        return web.json_response({
            "id": "MSo1N2Y5ZGFjYy03MWJmLTQ3NDMtYjQxMy01M2EdFGkdRWHJlQ",
            "subject": body["subject"], "startDateTime": body["startDateTime"], "endDateTime": body["endDateTime"],
            "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_MjA5YjFi%40thread.v2/0",
        }, status=201)


@pytest.fixture
async def fake_graph(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    settings = graph.GraphSettings("tenant-id", "client-id", "client-secret", "organizer-aad-id",
                                   graph_url=str(server.make_url("/v1.0")))

    async def token() -> str:
        # msal accepts only an https authority, so the token service is not faked here: the token source
        # is injected instead (bot/graph.py, msal_token_source).
        return "app-token-for-tests"

    monkeypatch.setattr(graph, "_configured", graph.OnlineMeetings(settings, token))
    yield fake
    await server.close()


async def test_with_graph_configured_the_teams_meeting_is_created_and_its_link_stored(
    running_bot: RunningBot, fake_graph: FakeGraph,
) -> None:
    bot = running_bot
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    assert "I will create a Teams meeting through Microsoft Graph" in texts(form.card)
    await submit(bot, TOM, form, GOOD | {"venue": ""})
    assert fake_graph.requests == [{"user": "organizer-aad-id", "auth": "Bearer app-token-for-tests", "body": {
        "subject": "PC-2026-0001: Initial meeting with the provider",
        "startDateTime": "2026-12-02T10:00:00.0000000Z", "endDateTime": "2026-12-02T12:00:00.0000000Z"}}]
    card = next(s for s in bot.connector.sent if s.card and "Initial meeting with the provider: PC-2026-0001"
                in texts(s.card))
    join = next(a for a in card.card["actions"] if a["title"] == "Join online")
    assert join["url"].startswith("https://teams.microsoft.com/l/meetup-join/")
    async with bot.uow() as uow:
        meeting = (await uow.meetings.for_case(1))[0]
    assert meeting.online_link == join["url"] and meeting.graph_meeting_id.startswith("MSo1")
    assert any(e.action == "meeting.online_created" for e in await audit(bot))


async def test_a_graph_failure_leaves_the_meeting_scheduled_and_the_card_says_so(
    running_bot: RunningBot, fake_graph: FakeGraph,
) -> None:
    bot = running_bot
    fake_graph.fail_with = 403
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    await submit(bot, TOM, form, GOOD | {"venue": ""})
    card = next(s for s in bot.connector.sent if s.card and "Initial meeting with the provider: PC-2026-0001"
                in texts(s.card))
    assert "Microsoft Graph could not create the online meeting (Graph answered 403: Forbidden)" in texts(card.card)
    async with bot.uow() as uow:
        meetings = await uow.meetings.for_case(1)
    assert len(meetings) == 1 and meetings[0].online_link is None and meetings[0].status.value == "scheduled"


def test_graph_settings_come_all_or_nothing_from_the_environment() -> None:
    from bot.settings import ConfigurationError, Settings

    assert Settings.from_environment(env={}).graph is None
    env = {"CONCERNS_GRAPH_TENANT_ID": "t", "CONCERNS_GRAPH_CLIENT_ID": "c", "CONCERNS_GRAPH_CLIENT_SECRET": "s",
           "CONCERNS_GRAPH_ORGANIZER_ID": "o"}
    configured = Settings.from_environment(env=env).graph
    assert configured is not None and configured.graph_url == "https://graph.microsoft.com/v1.0"
    with pytest.raises(ConfigurationError, match="CONCERNS_GRAPH_CLIENT_SECRET"):
        Settings.from_environment(env=env | {"CONCERNS_GRAPH_CLIENT_SECRET": ""})


def test_what_people_type_on_a_meeting_is_never_markdown() -> None:
    from bot.cards import renderer
    from tests.bot.test_cards import elements, samples

    hostile = "[click me](https://evil.example/steal)"
    values = samples("x")["meeting"] | {"venue": hostile, "decisions": [hostile], "attendees": hostile}
    card = renderer.render("meeting", **values)
    assert not any("evil.example" in block["text"] for block in elements(card, "TextBlock"))
    assert sum("evil.example" in run["text"] for run in elements(card, "TextRun")) == 3


async def test_msal_refuses_a_local_plain_http_authority_so_the_token_source_is_injected() -> None:
    # Why the Graph tests inject a token source: msal accepts only an https authority with a host name,
    # and a failure to get a token is reported as a GraphError (the card says so), not a crash.
    source = graph.msal_token_source(graph.GraphSettings("tenant-id", "client-id", "secret", "organizer",
                                                         authority_host="http://127.0.0.1:9"))
    with pytest.raises(graph.GraphError, match=r"no Graph token: .*https"):
        await source()


def show_card_submit(card: dict[str, Any], title: str) -> dict[str, Any]:
    show = next(a for a in card["actions"] if a["title"] == title)
    return show["card"]["actions"][0]["data"]


async def meeting_actions(bot: RunningBot, meeting_source: str) -> list[Any]:
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        return [a for a in await uow.cases.actions(case.id) if a.source == meeting_source]


async def test_a_meeting_moves_with_its_checks_and_those_invited_are_told(running_bot: RunningBot) -> None:
    """The provider asks for a later date: the coordinator moves the meeting from its card; the checks it brought
    follow it (told the concerns five working days before the new date, minutes after it), the reminder of the old
    day is not sent, and those invited are @mentioned with the new time and why."""
    from bot.app import SWEEPER
    from concerns.reminders import OutboxMessage, ReminderKind, Target, no_longer_due

    bot = running_bot
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    await submit(bot, TOM, form, GOOD)  # Wednesday 2 December, 10:00 to 12:00, the provider for the second part
    [notice] = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == form.activity_id][-1:]
    assert "Its card is in the case thread." in texts(notice.card)
    card = next(s for s in bot.connector.sent if s.card and "Initial meeting with the provider: PC-2026-0001"
                in texts(s.card))
    assert [a["title"] for a in card.card["actions"]] == ["Record minutes", "Move", "Cancel"]
    assert schema_errors(card.card) == []
    [meeting] = [e for e in await audit(bot) if e.action == "meeting.scheduled"]
    source = f"meeting:{meeting.details['meeting']}"
    before = {a.title.split(" before ")[0].split(" of ")[0]: a for a in await meeting_actions(bot, source)}
    assert before["Tell the provider the concerns"].due_on == date(2026, 11, 25)
    thread = thread_of(card, bot.teams.tenant)
    move = show_card_submit(card.card, "Move")
    later = {"date": "2026-12-09", "starts": "14:00", "ends": "15:30", "move_reason": "The provider's manager is on "
             "leave that week and asked for the following Wednesday."}

    # A member cannot; it is on the record. A reason is needed; a date that has passed is refused.
    await bot.send(bot.teams.card_submit(PRIYA, move | later, reply_to=card.activity_id, conversation=thread))
    assert "Only the chair or the coordinator" in bot.connector.created[-1]["activity"]["text"]
    assert [e.details["attempted"] for e in await audit(bot) if e.action == "refused"] == ["meeting.move"]
    await bot.send(bot.teams.card_submit(TOM, move | later | {"move_reason": " ", "date": "2026-11-20"},
                                         reply_to=card.activity_id, conversation=thread))
    refused = bot.connector.created[-1]["activity"]["text"]
    assert "The meeting was not moved." in refused and "The date has passed." in refused and "Say why" in refused

    before_sent = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(TOM, move | later, reply_to=card.activity_id, conversation=thread))
    updated = [s for s in bot.connector.sent[before_sent:] if s.method == "PUT" and s.activity_id == card.activity_id]
    assert updated and "Wednesday 9 December 2026, 14:00 to 15:30" in texts(updated[-1].card)
    assert schema_errors(updated[-1].card) == []
    [told] = [s for s in bot.connector.sent[before_sent:] if "has moved from" in (s.text or "")]
    assert "has moved from Wednesday 2 December, 10:00 to 12:00 to Wednesday 9 December, 14:00 to 15:30 (UK " \
           "time). Why: " + later["move_reason"] in told.text
    assert {e["mentioned"]["id"] for e in told.body["entities"]} == {HELEN.aad, PRIYA.aad, TOM.aad, SAM.aad}
    after = {a.title.split(" before ")[0].split(" of ")[0]: a for a in await meeting_actions(bot, source)}
    assert after["Tell the provider the concerns"].due_on == date(2026, 12, 2)  # five working days before the 9th
    assert "Wed 9 Dec 2026" in after["Tell the provider the concerns"].title
    assert after["Record the minutes and decisions"].due_on > before["Record the minutes and decisions"].due_on
    [moved] = [e for e in await audit(bot) if e.action == "meeting.moved"]
    assert moved.details["previous"].startswith("2026-12-02T10:00") and len(moved.details["actions"]) == 2
    from bot.app import SERVICES
    from bot.timeline import describe

    assert describe(moved, bot.app[SERVICES].pack) == ("Tom Okafor moved the initial meeting with the provider from "
                                                      f"Wed 2 Dec 2026 to Wed 9 Dec 2026: {later['move_reason']}")

    # The attendees' reminder of the old day, had it been queued, is not sent.
    old = OutboxMessage(1, "k", ReminderKind.MEETING_TOMORROW, bot.teams.tenant, Target.PERSONAL, "l", "s",
                        {"meeting_id": meeting.details["meeting"], "starts_at": meeting.details["starts_at"]},
                        None, None, "PC-2026-0001", "sending", 1, moved.occurred_at, None, moved.occurred_at)
    assert await no_longer_due(bot.uow().reader(), old) == "the meeting was moved"

    # The day before the new date, everyone invited is reminded of the new time.
    _clock(bot).at = datetime.fromisoformat("2026-12-08T09:00:00+00:00")
    before_sent = len(bot.connector.sent)
    await bot.app[SWEEPER].sweep(_clock(bot).at)
    reminded = [s for s in bot.connector.sent[before_sent:] if s.card and "Initial meeting with the provider"
                in texts(s.card) and "14:00" in texts(s.card)]
    assert reminded


async def test_a_cancelled_meeting_closes_its_checks_with_the_reason(running_bot: RunningBot) -> None:
    bot = running_bot
    await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    await submit(bot, TOM, form, GOOD)
    card = next(s for s in bot.connector.sent if s.card and "Initial meeting with the provider: PC-2026-0001"
                in texts(s.card))
    [meeting] = [e for e in await audit(bot) if e.action == "meeting.scheduled"]
    thread = thread_of(card, bot.teams.tenant)
    cancel = show_card_submit(card.card, "Cancel")
    await bot.send(bot.teams.card_submit(HELEN, cancel | {"cancel_reason": "Mrs Smith's family asked us to wait"},
                                         reply_to=card.activity_id, conversation=thread))
    assert "The meeting was not cancelled." in bot.connector.created[-1]["activity"]["text"]  # names an adult
    reason = "The provider has gone into administration; a contingency meeting replaces it."
    await bot.send(bot.teams.card_submit(HELEN, cancel | {"cancel_reason": reason}, reply_to=card.activity_id,
                                         conversation=thread))
    updated = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == card.activity_id][-1]
    assert "Cancelled" in texts(updated.card) and not any(a["title"] in ("Move", "Cancel", "Record minutes")
                                                          for a in updated.card.get("actions", []))
    checks = await meeting_actions(bot, f"meeting:{meeting.details['meeting']}")
    assert checks and all(a.status == "not_applicable" and a.note == f"The meeting was cancelled: {reason}"
                          for a in checks)
    [cancelled] = [e for e in await audit(bot) if e.action == "meeting.cancelled"]
    assert cancelled.actor_name == "Helen Ward" and cancelled.details["reason"] == reason
    from bot.app import SERVICES
    from bot.timeline import describe

    assert describe(cancelled, bot.app[SERVICES].pack) == (
        f"Helen Ward cancelled the initial meeting with the provider of Wed 2 Dec 2026: {reason}")
    # Pressed again from an old copy of the card: nothing more happens.
    await bot.send(bot.teams.card_submit(HELEN, show_card_submit(card.card, "Move") | {
        "date": "2026-12-09", "starts": "10:00", "ends": "11:00", "move_reason": "x"}, reply_to=card.activity_id,
        conversation=thread))
    assert "That meeting was cancelled." in bot.connector.created[-1]["activity"]["text"]


async def test_a_meeting_card_lost_with_its_thread_is_posted_where_it_was_scheduled_and_opened_from_the_list(
    running_bot: RunningBot,
) -> None:
    """Without its card a meeting's minutes cannot be recorded, nor the meeting moved: a case thread deleted in
    Teams must not lose it. The list of meetings opens the card again, wherever it is asked for."""
    bot = running_bot
    case_post = await a_case_with_an_observer(bot)
    form = await schedule_form(bot, TOM)
    bot.connector.gone.add(case_post.conversation_id)  # the case's thread was deleted in Teams
    await submit(bot, TOM, form, GOOD)
    [card] = [s for s in bot.connector.sent if s.card and "Initial meeting with the provider: PC-2026-0001"
              in texts(s.card) and s.method == "POST"]
    assert card.conversation_id == form.conversation_id  # where it was scheduled
    assert any("Its card is here: the case's thread could not be reached." in texts(s.card)
               for s in bot.connector.sent if s.card and "scheduled" in texts(s.card))

    await bot.send(bot.teams.channel_message(PRIYA, "meetings PC-2026-0001"))
    listing = bot.connector.sent[-1]
    assert schema_errors(listing.card) == []
    [open_card] = [a["data"] for c in listing.card["body"] if c.get("type") == "Container"
                   for i in c["items"] if i.get("type") == "ActionSet" for a in i["actions"]]
    await bot.send(bot.teams.card_submit(PRIYA, open_card, reply_to=listing.activity_id,
                                         conversation=thread_of(listing, bot.teams.tenant)))
    again = bot.connector.sent[-1]
    assert "Initial meeting with the provider: PC-2026-0001" in texts(again.card)
    assert [a["title"] for a in again.card["actions"]] == ["Record minutes", "Move", "Cancel"]
    async with bot.uow() as uow:
        [meeting] = await uow.meetings.for_case((await uow.cases.get_by_reference(bot.teams.tenant,
                                                                                   "PC-2026-0001")).id)
    assert meeting.card_activity_id == again.activity_id  # minutes and moves update this copy from now on
