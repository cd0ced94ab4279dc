"""Opening a case over real HTTP: from a pattern prompt, chair and coordinator from the Teams roster."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import update

from bot.app import SERVICES
from concerns import services
from storage.models import CaseActionRow, CaseRow
from tests.bot.conftest import RunningBot
from tests.bot.test_http import inputs, submit_data, texts
from tests.bot.test_screening_http import raise_concern
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TOM, Teams, roster_entry
from tests.support.cards import body_actions, schema_errors


def thread_of(sent: Any, tenant: str) -> dict[str, Any]:
    return {"id": sent.conversation_id, "conversationType": "channel", "isGroup": True, "tenantId": tenant}


async def prompt_for_a_case(bot: RunningBot) -> Any:
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN)]
    await raise_concern(bot)
    await raise_concern(bot, description="Second CQC report: call bells unanswered at night.")
    return next(s for s in bot.connector.sent if s.card and "A pattern of concerns" in texts(s.card))


async def test_open_a_case_from_a_prompt(running_bot: RunningBot) -> None:
    bot = running_bot
    prompt = await prompt_for_a_case(bot)
    open_button = next(a for a in prompt.card["actions"] if a["title"] == "Open a case")
    thread = thread_of(prompt, bot.teams.tenant)
    await bot.send(bot.teams.card_submit(PRIYA, open_button["data"], reply_to=prompt.activity_id, conversation=thread))
    form = bot.connector.sent[-1]
    people = [c["title"] for c in inputs(form.card)["chair"]["choices"]]
    assert people == ["Helen Ward", "Priya Shah", "Tom Okafor"]  # all three pages of the roster, sorted

    choice = {"chair": HELEN.aad, "coordinator": TOM.aad, "lead_agency": "council"}
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(form.card) | choice, reply_to=form.activity_id,
                                         conversation=thread))
    case_post = next(s for s in bot.connector.sent if s.card and "Provider concerns case PC-2026-0001" in texts(s.card))
    assert case_post.method == "CREATE" and case_post.conversation_id.startswith(CHANNEL_ID + ";messageid=")
    shown = texts(case_post.card)
    for fact in ("Oakwood Lodge Nursing Home", "Helen Ward", "Tom Okafor", "Decision", "Not yet agreed",
                 "C-2026-0001, C-2026-0002"):
        assert fact in shown
    # The form becomes the confirmation; the new owners' word is sent beside it, in either order.
    assert any(s.card and "Case PC-2026-0001 opened" in texts(s.card) and s.method == "PUT"
               and s.activity_id == form.activity_id for s in bot.connector.sent)
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        prompt_row = await uow.patterns.get(bot.teams.tenant, int(open_button["data"]["prompt"]))
    assert case is not None and case.card_activity_id == case_post.activity_id
    assert prompt_row.status == "case_opened"

    # A second attempt is told which case is open.
    await bot.send(bot.teams.channel_message(TOM, "open case oakwood"))
    assert "already has an open case, PC-2026-0001" in bot.connector.sent[-1].text
    await bot.send(bot.teams.channel_message(TOM, "case pc-2026-0001"))
    assert "Provider concerns case PC-2026-0001" in texts(bot.connector.sent[-2].card)
    assert "Timeline of PC-2026-0001" in texts(bot.connector.sent[-1].card)


async def test_a_chair_who_is_not_in_the_team_is_refused(running_bot: RunningBot) -> None:
    bot = running_bot
    await prompt_for_a_case(bot)
    await bot.send(bot.teams.channel_message(PRIYA, "open case Oakwood Lodge Nursing Home"))
    form = bot.connector.sent[-1]
    forged = {"chair": "aad-of-someone-outside-the-team", "coordinator": TOM.aad, "lead_agency": "council"}
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(form.card) | forged, reply_to=form.activity_id,
                                         conversation={"id": form.conversation_id, "conversationType": "channel",
                                                       "isGroup": True, "tenantId": bot.teams.tenant}))
    assert "Choose the chair from the team's members" in texts(bot.connector.sent[-1].card)
    async with bot.uow() as uow:
        assert await uow.cases.open_for_provider(bot.teams.tenant, 1) is None


async def test_cases_are_opened_in_a_channel_not_in_personal_chat(running_bot: RunningBot) -> None:
    bot = running_bot
    await raise_concern(bot)
    await bot.send(bot.teams.personal_message(PRIYA, "open case oakwood"))
    assert "open it there" in bot.connector.sent[-1].text


async def test_actions_lists_mine_soonest_first_and_marks_overdue(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    assert "Tuesday 24 November 2026" in texts(case_post.card)  # the first step's earliest deadline

    await bot.send(bot.teams.personal_message(TOM, "actions"))
    shown = texts(bot.connector.sent[-1].card)
    assert "Actions for Tom Okafor" in shown and "PC-2026-0001" in shown and "OVERDUE" not in shown
    bot.app[SERVICES].clock.advance(days=10)  # Thursday 3 December: the decision step's deadlines have passed
    await bot.send(bot.teams.personal_message(TOM, "actions"))
    shown = texts(bot.connector.sent[-1].card)
    assert "OVERDUE" in shown and "overdue" in shown
    await bot.send(bot.teams.personal_message(PRIYA, "actions"))
    assert "You have no open actions." in texts(bot.connector.sent[-1].card)


async def test_owners_confirm_actions_on_the_checklist_in_the_case_thread(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, checklist = await open_case_via_prompt(bot)
    assert checklist.conversation_id == case_post.conversation_id  # in the case's own thread
    assert "Unassigned" in texts(checklist.card) and "Tom Okafor" in texts(checklist.card)

    def row_action(card: dict[str, Any], who: str, title: str) -> dict[str, Any]:
        for container in card["body"]:
            # The row's detail line names the owner (the Assign list names everyone, so look only there).
            detail = next((i for i in container.get("items", []) if i.get("type") == "TextBlock"), {})
            if container.get("type") == "Container" and who in detail.get("text", ""):
                action_set = next(i for i in container["items"] if i.get("type") == "ActionSet")
                show = next(a for a in action_set["actions"] if a["title"] == title)
                return show["card"]["actions"][0]["data"]
        raise AssertionError(f"no open action for {who}")

    checklist_thread = thread_of(checklist, bot.teams.tenant)
    toms = row_action(checklist.card, "Tom Okafor", "Done")
    await bot.send(bot.teams.card_submit(PRIYA, toms, reply_to=checklist.activity_id, conversation=checklist_thread))
    assert "Tom Okafor's to confirm" in bot.connector.created[-1]["activity"]["text"]

    evidence = {f"note_{toms['action']}": "Meeting booked for 30 Nov, invite sent"}
    await bot.send(bot.teams.card_submit(TOM, toms | evidence, reply_to=checklist.activity_id,
                                         conversation=checklist_thread))
    updated = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == checklist.activity_id][-1]
    assert "done · Meeting booked for 30 Nov, invite sent" in texts(updated.card)

    assign = row_action(updated.card, "Unassigned", "Assign")
    await bot.send(bot.teams.card_submit(HELEN, assign | {f"owner_{assign['action']}": PRIYA.aad},
                                         reply_to=checklist.activity_id, conversation=checklist_thread))
    latest = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == checklist.activity_id][-1]
    assert texts(latest.card).count("Priya Shah") >= 1
    async with bot.uow() as uow:
        events = [e.action for e in await uow.audit.for_subject("case", "PC-2026-0001")]
    assert {"action.done", "action.reassigned", "refused"} <= set(events)


async def test_the_chair_moves_the_case_to_the_next_step(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    assert "Open · Amber" in texts(case_post.card)  # the first action is due tomorrow
    case_thread = thread_of(case_post, bot.teams.tenant)
    next_step = next(a for a in case_post.card["actions"] if a["title"] == "Next step")["data"]
    await bot.send(bot.teams.card_submit(TOM, next_step, reply_to=case_post.activity_id, conversation=case_thread))
    assert "Only the chair" in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(HELEN, next_step, reply_to=case_post.activity_id, conversation=case_thread))
    move = bot.connector.sent[-1]
    assert "Required actions still open" in texts(move.card)
    await bot.send(bot.teams.card_submit(HELEN, submit_data(move.card) | {"step": "initial_meeting"},
                                         reply_to=move.activity_id, conversation=case_thread))
    assert "resolve them, or record why" in texts(bot.connector.sent[-1].card)
    # The reason goes on the case's timeline in the channel: a name with a title waits for the box.
    await bot.send(bot.teams.card_submit(
        HELEN, submit_data(move.card) | {"step": "initial_meeting", "override_reason": "Mr Shah's family agreed."},
        reply_to=move.activity_id, conversation=case_thread))
    assert inputs(bot.connector.sent[-1].card)["names_are_staff"]["value"] == "false"
    await bot.send(bot.teams.card_submit(
        HELEN, submit_data(move.card) | {"step": "initial_meeting", "override_reason": "Agreed with Dr Okafor.",
                                         "names_are_staff": "true"},
        reply_to=move.activity_id, conversation=case_thread))
    case_update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert "Initial" in json.dumps(case_update.card["body"][2])  # the Step fact
    # The new step's checklist says its target: 10 working days from Monday 23 November.
    assert any(s.card and "PC-2026-0001 actions" in texts(s.card)
               and "step: Initial provider concerns meeting · target Mon 7 Dec" in texts(s.card)
               for s in bot.connector.sent)


async def open_case_via_prompt(bot: RunningBot) -> tuple[Any, Any]:
    """Open PC-2026-0001 (chair Helen, coordinator Tom) from a pattern prompt; return its card and checklist."""
    prompt = await prompt_for_a_case(bot)
    thread = thread_of(prompt, bot.teams.tenant)
    open_button = next(a for a in prompt.card["actions"] if a["title"] == "Open a case")
    await bot.send(bot.teams.card_submit(PRIYA, open_button["data"], reply_to=prompt.activity_id, conversation=thread))
    form = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(
        PRIYA, submit_data(form.card) | {"chair": HELEN.aad, "coordinator": TOM.aad, "lead_agency": "council"},
        reply_to=form.activity_id, conversation=thread))
    case_post = next(s for s in bot.connector.sent if s.card and "Provider concerns case PC-2026-0001" in texts(s.card))
    checklist = next(s for s in bot.connector.sent if s.card and "PC-2026-0001 actions" in texts(s.card))
    return case_post, checklist


async def test_the_coordinator_re_dates_an_action_from_the_checklist(running_bot: RunningBot) -> None:
    bot = running_bot
    _, checklist = await open_case_via_prompt(bot)
    row = next(c for c in checklist.card["body"] if c.get("type") == "Container")
    action_set = next(i for i in row["items"] if i.get("type") == "ActionSet")
    redate = next(a for a in action_set["actions"] if a["title"] == "Re-date")["card"]["actions"][0]["data"]
    number = redate["action"]
    await bot.send(bot.teams.card_submit(
        TOM, redate | {f"due_{number}": "2026-12-02", f"why_{number}": "Manager on leave until December"},
        reply_to=checklist.activity_id, conversation=thread_of(checklist, bot.teams.tenant)))
    updated = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == checklist.activity_id][-1]
    assert "due Wed 2 Dec (first due Tue 24 Nov)" in texts(updated.card)


async def test_commissioning_status_by_the_head_of_service_and_the_embargo_list(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    await bot.send(bot.teams.bot_added_to_team(PRIYA))  # Priya installed the bot: she is its team admin
    await bot.send(bot.teams.channel_message(PRIYA, "team roles"))  # Helen becomes Head of Service
    roles = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(roles.card) | {"role": "head_of_service",
                                                                            "person": HELEN.aad},
                                         reply_to=roles.activity_id, conversation=thread_of(roles, bot.teams.tenant)))
    await bot.send(bot.teams.channel_message(TOM, "status oakwood"))
    form = bot.connector.sent[-1]
    assert "Only the Head of Service" in texts(form.card)
    change = {"status": "new_placements_suspended", "reason": "Major threshold confirmed"}
    await bot.send(bot.teams.card_submit(TOM, submit_data(form.card) | change, reply_to=form.activity_id,
                                         conversation=thread_of(form, bot.teams.tenant)))
    assert "Only the Head of Service" in bot.connector.created[-1]["activity"]["text"]
    named = {"status": "new_placements_suspended", "reason": "Mrs Patel's death is under review"}
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | named, reply_to=form.activity_id,
                                         conversation=thread_of(form, bot.teams.tenant)))
    assert inputs(bot.connector.sent[-1].card)["names_are_staff"]["value"] == "false"  # stopped: on the list
    await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | change, reply_to=form.activity_id,
                                         conversation=thread_of(form, bot.teams.tenant)))
    assert "New placements suspended" in texts(bot.connector.sent[-1].card)
    case_update = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == case_post.activity_id][-1]
    assert '"title": "Commissioning", "value": "New placements suspended"' in texts(case_update.card)
    await bot.send(bot.teams.channel_message(TOM, "embargo list"))
    listing = texts(bot.connector.sent[-1].card)
    assert "Oakwood Lodge Nursing Home" in listing and "New placements suspended" in listing


async def test_an_action_naming_an_adult_is_stopped_until_the_chair_says_they_are_staff(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    await bot.send(bot.teams.channel_message(TOM, "add action PC-2026-0001"))
    form = bot.connector.sent[-1]
    thread = thread_of(form, bot.teams.tenant)
    fields = {"title": "Visit Mrs Jones weekly", "owner": TOM.aad, "due_on": "2026-11-27"}
    await bot.send(bot.teams.card_submit(TOM, submit_data(form.card) | fields, reply_to=form.activity_id,
                                         conversation=thread))
    again = bot.connector.sent[-1].card
    assert schema_errors(again) == [] and inputs(again)["names_are_staff"]["value"] == "false"
    assert "\u201cMrs Jones\u201d" in json.dumps(again, ensure_ascii=False)
    _, actions = await services.case_actions(bot.uow(), bot.teams.tenant, "PC-2026-0001")
    assert not [a for a in actions if "Jones" in a.title]

    vouched = {"title": "Ask Dr Okafor for the GP's review", "names_are_staff": "true"}
    await bot.send(bot.teams.card_submit(TOM, submit_data(again) | fields | vouched, reply_to=form.activity_id,
                                         conversation=thread))
    assert "Ask Dr Okafor for the GP's review (Tom Okafor" in texts(bot.connector.sent[-1].card)
    async with bot.uow() as uow:
        [added] = [e for e in await uow.audit.for_subject("case", "PC-2026-0001") if e.action == "action.added"]
    assert added.details["names_are_staff"] is True


async def test_the_minute_taker_adds_an_action_and_others_are_refused(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    await bot.send(bot.teams.channel_message(PRIYA, "add action PC-2026-0001"))
    form = bot.connector.sent[-1]
    fields = {"title": "Ask the provider for four weeks of rotas", "owner": TOM.aad, "due_on": "2026-11-27"}
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(form.card) | fields, reply_to=form.activity_id,
                                         conversation=thread_of(form, bot.teams.tenant)))
    assert "Only the chair, the coordinator or the minute taker" in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(TOM, submit_data(form.card) | fields, reply_to=form.activity_id,
                                         conversation=thread_of(form, bot.teams.tenant)))
    assert "Ask the provider for four weeks of rotas (Tom Okafor, due Friday 27 November 2026)" in texts(
        bot.connector.sent[-1].card)


def list_rows(card: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """The `actions` list's rows: each action's title, and its Done submit if it has one."""
    rows = []
    for container in card["body"]:
        if container.get("type") != "Container":
            continue
        block = container["items"][0]["columns"][0]["items"][0]  # plain text: a RichTextBlock of one run
        title = "".join(run["text"] for run in block["inlines"]) if "inlines" in block else block["text"]
        action_set = next((i for i in container["items"] if i.get("type") == "ActionSet"), None)
        done = next((a["card"]["actions"][0]["data"] for a in action_set["actions"] if a["title"] == "Done"),
                    None) if action_set else None
        rows.append((title, done))
    return rows


async def test_the_actions_list_confirms_mine_and_shows_the_chair_what_waits_for_an_owner(
        running_bot: RunningBot) -> None:
    bot = running_bot
    _, checklist = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        actions = await uow.cases.actions(case.id)
    unowned = [a.title for a in sorted(actions, key=lambda a: (a.due_on, a.id)) if a.owner is None]
    toms = [a for a in actions if a.owner is not None and a.owner.user_id == TOM.aad]
    assert unowned and toms

    # The chair owns nothing yet, but sees the step's actions nobody owns, soonest due first.
    await bot.send(bot.teams.personal_message(HELEN, "actions"))
    chairs = bot.connector.sent[-1].card
    assert schema_errors(chairs) == []
    assert "You have no open actions." in texts(chairs) and "Waiting for you to assign" in texts(chairs)
    assert [title for title, done in list_rows(chairs)] == unowned
    assert all(done is None for _, done in list_rows(chairs))  # given out on the checklist, not confirmed here

    # The coordinator confirms one of his own from the list, with evidence.
    chat = bot.teams.personal_conversation(TOM)
    await bot.send(bot.teams.personal_message(TOM, "actions"))
    listing = bot.connector.sent[-1]
    assert schema_errors(listing.card) == []
    first_title, done = list_rows(listing.card)[0]
    assert done is not None and "Waiting for you to assign" in texts(listing.card)  # he coordinates the case
    await bot.send(bot.teams.card_submit(TOM, done | {f"note_{done['action']}": "Visit booked for Tuesday"},
                                         reply_to=listing.activity_id, conversation=chat, channel=False))
    shown_again = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == listing.activity_id][-1]
    assert f"Done: '{first_title}' is recorded on PC-2026-0001." in texts(shown_again.card)
    assert first_title not in [title for title, _ in list_rows(shown_again.card)]
    in_thread = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == checklist.activity_id][-1]
    assert "done · Visit booked for Tuesday" in texts(in_thread.card)
    async with bot.uow() as uow:
        closed = await uow.cases.action(bot.teams.tenant, int(done["action"]))
        events = [e.action for e in await uow.audit.for_subject("case", "PC-2026-0001")]
    assert closed is not None and closed.status == "done" and closed.note == "Visit booked for Tuesday"
    assert events.count("action.done") == 1

    # Someone else's button (a forged or forwarded card) is refused on the server and changes nothing.
    _, another = list_rows(listing.card)[1]
    assert another is not None
    await bot.send(bot.teams.card_submit(HELEN, another, reply_to=listing.activity_id,
                                         conversation=bot.teams.personal_conversation(HELEN), channel=False))
    async with bot.uow() as uow:
        untouched = await uow.cases.action(bot.teams.tenant, int(another["action"]))
    assert untouched is not None and untouched.status == "open"


async def test_the_chair_gives_out_an_action_from_the_list_to_someone_on_the_case(running_bot: RunningBot) -> None:
    bot = running_bot
    _, checklist = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom, member Priya
    await bot.send(bot.teams.personal_message(HELEN, "actions"))
    listing = bot.connector.sent[-1]
    rows = [c for c in listing.card["body"] if c.get("type") == "Container"]
    first = rows[0]
    title = list_rows(listing.card)[0][0]
    show = next(a for i in first["items"] if i.get("type") == "ActionSet" for a in i["actions"]
                if a["title"] == "Assign")
    choice = show["card"]["body"][0]
    assert sorted(c["title"] for c in choice["choices"]) == ["Helen Ward", "Priya Shah", "Tom Okafor"]
    assign = show["card"]["actions"][0]["data"]
    chat = bot.teams.personal_conversation(HELEN)

    # Someone not on the case (a forged choice) is refused; so is a member pressing a forwarded card.
    await bot.send(bot.teams.card_submit(HELEN, assign | {choice["id"]: "aad-of-someone-else"},
                                         reply_to=listing.activity_id, conversation=chat, channel=False))
    assert "Choose someone on PC-2026-0001" in bot.connector.created[-1]["activity"]["text"]
    await bot.send(bot.teams.card_submit(PRIYA, assign | {choice["id"]: PRIYA.aad}, reply_to=listing.activity_id,
                                         conversation=bot.teams.personal_conversation(PRIYA), channel=False))
    async with bot.uow() as uow:
        untouched = await uow.cases.action(bot.teams.tenant, int(assign["action"]))
    assert untouched is not None and untouched.owner is None

    await bot.send(bot.teams.card_submit(HELEN, assign | {choice["id"]: PRIYA.aad}, reply_to=listing.activity_id,
                                         conversation=chat, channel=False))
    shown_again = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == listing.activity_id][-1]
    assert f"'{title}' is now Priya Shah's, on PC-2026-0001." in texts(shown_again.card)
    assert title not in [t for t, _ in list_rows(shown_again.card)]
    in_thread = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == checklist.activity_id][-1]
    assert "Priya Shah" in texts(in_thread.card)
    async with bot.uow() as uow:
        given = await uow.cases.action(bot.teams.tenant, int(assign["action"]))
        events = [e for e in await uow.audit.for_subject("case", "PC-2026-0001") if e.action == "action.reassigned"]
    assert given is not None and given.owner is not None and given.owner.user_id == PRIYA.aad
    assert [(e.actor_name, e.details["owner"]) for e in events] == [("Helen Ward", "Priya Shah")]


async def test_a_chair_with_large_case_teams_still_gets_a_list_that_fits(running_bot: RunningBot) -> None:
    from concerns.cases import Person
    from concerns.model import Actor

    bot = running_bot
    await open_case_via_prompt(bot)  # chair Helen
    helen = Actor(HELEN.aad, HELEN.name, bot.teams.tenant)
    clock = bot.app[SERVICES].clock
    for n in range(60):  # a large team on the case: every row to give out lists them all
        await services.change_role(bot.uow(), clock, helen, "PC-2026-0001",
                                   Person(f"aad-member-{n:02d}", f"Member number {n:02d} with a long surname"),
                                   "member", conversation_id="c")
    for n in range(20):
        await bot.send(bot.teams.channel_message(HELEN, "add action PC-2026-0001"))
        form = bot.connector.sent[-1]
        await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {
            "title": f"Follow-up visit number {n:02d} to check night staffing against the rota, with the ICB",
            "owner": "", "due_on": "2026-12-18"}, reply_to=form.activity_id, conversation=thread_of(form,
                                                                                                  bot.teams.tenant)))
    await bot.send(bot.teams.personal_message(HELEN, "actions"))
    listing = bot.connector.sent[-1].card
    assert listing is not None and schema_errors(listing) == []
    shown = texts(listing)
    assert "Waiting for you to assign" in shown and "shown)" in shown  # fewer rows, and it says so
    assert len(list_rows(listing)) < 25  # all 25 would be far over the limit with 60 names each
    assert len(json.dumps(listing).encode()) <= 80_000


async def test_a_large_teams_checklist_offers_the_cases_members_to_assign_to(running_bot: RunningBot) -> None:
    from tests.support.activities import User

    bot = running_bot
    await prompt_for_a_case(bot)
    team = [PRIYA, TOM, HELEN] + [User(f"Colleague {n:03d} Longsurname-Example", f"aad-colleague-{n:03d}")
                                  for n in range(150)]
    bot.connector.roster = [roster_entry(u) for u in team]
    bot.connector.roster_page_size = 500  # as Teams pages it
    prompt = next(s for s in bot.connector.sent if s.card and "A pattern of concerns" in texts(s.card))
    thread = thread_of(prompt, bot.teams.tenant)
    await bot.send(bot.teams.card_submit(PRIYA, next(a for a in prompt.card["actions"]
                                                     if a["title"] == "Open a case")["data"],
                                         reply_to=prompt.activity_id, conversation=thread))
    form = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(
        PRIYA, submit_data(form.card) | {"chair": HELEN.aad, "coordinator": TOM.aad, "lead_agency": "council"},
        reply_to=form.activity_id, conversation=thread))
    checklist = next(s for s in bot.connector.sent if s.card and "PC-2026-0001 actions" in texts(s.card))
    assert schema_errors(checklist.card) == []
    assert "Assign lists the case's members" in texts(checklist.card)
    choices = {c["title"] for c in inputs(checklist.card).values() if c.get("type") == "Input.ChoiceSet"
               for c in c["choices"]}
    assert choices == {"Helen Ward", "Tom Okafor", "Priya Shah"}


def case_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Each listed case: its texts and its Open button's data."""
    rows = []
    for container in (c for c in card["body"] if c.get("type") == "Container"):
        [button] = next(i for i in container["items"] if i["type"] == "ActionSet")["actions"]
        rows.append({"texts": texts({"body": container["items"]}), "open": button["data"]})
    return rows


async def test_cases_lists_the_open_cases_needing_attention_first_and_opens_one(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.personal_message(TOM, "cases"))
    assert "No provider concerns case is open" in texts(bot.connector.sent[-1].card)

    await open_case_via_prompt(bot)  # PC-2026-0001, Oakwood: chair Helen, coordinator Tom
    await raise_concern(bot, provider_name="Sunrise Court", service_type="residential")
    await bot.send(bot.teams.channel_message(PRIYA, "open case Sunrise Court"))
    form = bot.connector.sent[-1]
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(form.card) | {"chair": PRIYA.aad, "coordinator": HELEN.aad,
                                                                          "lead_agency": "icb_nhs"},
                                         reply_to=form.activity_id, conversation=thread_of(form, bot.teams.tenant)))
    async with bot.uow() as uow:
        first = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        second = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0002")
        assert first is not None and second is not None and second.provider.name == "Sunrise Court"
        # The older case's deadlines are a month off, so the newer one's fall due first.
        await uow._session.execute(update(CaseActionRow).where(CaseActionRow.case_id == first.id)
                                   .values(due_on=date(2027, 1, 4)))
        await uow.commit()
        second_open = [a for a in await uow.cases.actions(second.id) if a.status == "open"]

    await bot.send(bot.teams.personal_message(TOM, "cases"))
    listing = bot.connector.sent[-1]
    assert schema_errors(listing.card) == []
    assert "2 open, those needing attention first" in texts(listing.card)
    newer, older = case_rows(listing.card)
    assert "PC-2026-0002" in newer["texts"] and "Sunrise Court" in newer["texts"] and "Amber" in newer["texts"]
    assert f"{len(second_open)} open actions · next due Tue 24 Nov" in newer["texts"]  # five working days
    assert "Amber" not in older["texts"] and "Green" in older["texts"]
    assert "next due Mon 4 Jan" in older["texts"] and "you: coordinator" in older["texts"]
    assert "Chair Helen Ward · Coordinator Tom Okafor" in older["texts"]
    assert "Step: Decision for provider concerns · target Mon 30 Nov" in older["texts"]
    assert "you:" not in newer["texts"]  # Tom is not on Sunrise Court's case

    # Ten days on, the newer case is overdue (red) and still first; the older one's actions are a month off, but its
    # step is past its target (a deadline too), so it is red as well.
    bot.app[SERVICES].clock.advance(days=10)
    await bot.send(bot.teams.channel_message(TOM, "cases"))
    newer, older = case_rows(bot.connector.sent[-1].card)
    assert "PC-2026-0002" in newer["texts"] and "Red" in newer["texts"]
    assert f"{len(second_open)} overdue of {len(second_open)} open actions" in newer["texts"]
    assert "PC-2026-0001" in older["texts"] and "Red" in older["texts"] and "next due Mon 4 Jan" in older["texts"]
    # Both are still at the decision step, past its target (5 working days from Monday 23 November).
    assert "Step: Decision for provider concerns · PAST ITS TARGET: Mon 30 Nov" in older["texts"]

    # The button shows the case's card and timeline; `case` alone lists the cases too.
    chat = bot.teams.personal_conversation(TOM)
    await bot.send(bot.teams.card_submit(TOM, older["open"], reply_to=listing.activity_id, conversation=chat,
                                         channel=False))
    assert "Provider concerns case PC-2026-0001" in texts(bot.connector.sent[-2].card)
    assert "Timeline of PC-2026-0001" in texts(bot.connector.sent[-1].card)
    await bot.send(bot.teams.personal_message(TOM, "case"))
    assert [r["open"]["reference"] for r in case_rows(bot.connector.sent[-1].card)] == ["PC-2026-0002", "PC-2026-0001"]

    # Only the cases with a role for me, by typing it or from the card's button, and back.
    await bot.send(bot.teams.personal_message(TOM, "cases mine"))
    mine = bot.connector.sent[-1]
    assert "My open cases" in texts(mine.card) and "1 open with a role for you" in texts(mine.card)
    assert [r["open"]["reference"] for r in case_rows(mine.card)] == ["PC-2026-0001"]
    [toggle] = mine.card["actions"]
    assert toggle["title"] == "All open cases"
    await bot.send(bot.teams.card_submit(TOM, toggle["data"], reply_to=mine.activity_id, conversation=chat,
                                         channel=False))
    everything = bot.connector.sent[-1].card
    assert len(case_rows(everything)) == 2 and everything["actions"][0]["title"] == "Only mine"
    await bot.send(bot.teams.card_submit(TOM, everything["actions"][0]["data"], reply_to=mine.activity_id,
                                         conversation=chat, channel=False))
    assert [r["open"]["reference"] for r in case_rows(bot.connector.sent[-1].card)] == ["PC-2026-0001"]

    # A closed case is not listed, and another tenant's cases are not either.
    async with bot.uow() as uow:
        await uow._session.execute(update(CaseRow).where(CaseRow.id == first.id).values(status="closed"))
        await uow.commit()
    await bot.send(bot.teams.personal_message(TOM, "cases"))
    assert [r["open"]["reference"] for r in case_rows(bot.connector.sent[-1].card)] == ["PC-2026-0002"]
    elsewhere = Teams(bot.teams.service_url, tenant="tenant-of-another-council")
    await bot.send(elsewhere.personal_message(TOM, "cases"))
    assert "No provider concerns case is open" in texts(bot.connector.sent[-1].card)


async def test_a_card_deleted_in_teams_does_not_fail_the_turn_that_would_refresh_it(
        running_bot: RunningBot, caplog: Any) -> None:
    """A change made from a 1:1 chat refreshes the cards in the case thread; if they are gone (404 from the
    connector), the change stands, the person sees it, and it is a warning, not a failed turn."""
    from bot.app import METRICS

    bot = running_bot
    case_post, checklist = await open_case_via_prompt(bot)
    bot.connector.gone |= {case_post.activity_id, checklist.activity_id}
    await bot.send(bot.teams.personal_message(TOM, "actions"))
    listing = bot.connector.sent[-1]
    title, done = list_rows(listing.card)[0]
    assert done is not None
    await bot.send(bot.teams.card_submit(TOM, done, reply_to=listing.activity_id,
                                         conversation=bot.teams.personal_conversation(TOM), channel=False))
    shown_again = [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == listing.activity_id][-1]
    assert f"Done: '{title}' is recorded on PC-2026-0001." in texts(shown_again.card)
    assert bot.app[METRICS]["turn_errors_total"] == 0
    assert {"could not update the checklist of PC-2026-0001", "could not update the card of PC-2026-0001"} <= {
        r.getMessage() for r in caplog.records}


async def test_a_case_moved_on_with_earlier_steps_open_still_gets_a_checklist_within_the_card_limit(
    running_bot: RunningBot,
) -> None:
    """Moved on twice with the earlier steps' actions left open (the chair's override), a case had some forty open
    rows of buttons: over the limit Teams takes, so the move failed to post its checklist. The closed actions are
    summed up by step, the buttons go to the most pressing open ones, and the card says so."""
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    thread = thread_of(case_post, bot.teams.tenant)
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        decision = await uow.cases.actions(case.id)
        await uow._session.execute(update(CaseActionRow).where(CaseActionRow.id.in_([a.id for a in decision[:5]]))
                                   .values(status="done"))
        await uow.commit()

    async def move(step: str) -> Any:
        await bot.send(bot.teams.card_submit(HELEN, {"verb": "step.offer", "case": "PC-2026-0001"},
                                             reply_to=case_post.activity_id, conversation=thread))
        form = bot.connector.sent[-1]
        before = len(bot.connector.sent)
        await bot.send(bot.teams.card_submit(HELEN, submit_data(form.card) | {
            "step": step, "override_reason": "Moving on while the police look into it."},
            reply_to=form.activity_id, conversation=thread))
        return next(s for s in bot.connector.sent[before:] if s.card and "PC-2026-0001 actions" in texts(s.card))

    await move("initial_meeting")
    await move("findings_meeting")
    await move("update_meeting")
    checklist = await move("update_meeting")  # a second update meeting: Croydon's repeat
    async with bot.uow() as uow:
        actions = await uow.cases.actions(case.id)
    open_ = [a for a in actions if a.status == "open"]
    assert len(open_) > 35
    assert schema_errors(checklist.card) == [] and len(json.dumps(checklist.card).encode()) <= 80_000
    shown = texts(checklist.card)
    assert "Decision for provider concerns: 5 done" in shown and "closed actions summed up by step" in shown
    done_buttons = {int(a["card"]["actions"][0]["data"]["action"]) for a in body_actions(checklist.card)
                    if a.get("title") == "Done"}
    now = [a for a in open_ if a.source == "step:update_meeting"]
    assert now and {a.id for a in now} <= done_buttons  # this step's, with their buttons
    assert len(done_buttons) < len(open_) and "buttons on the" in shown  # and fewer than all, said
    assert all(a.title in shown for a in open_)  # every open action still listed

