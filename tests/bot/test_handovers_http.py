"""Handing over a person's work over real HTTP: a chair who leaves can change nothing on their case, so a team admin
(or the Head of Service) moves their roles, open actions and documents register entries to a colleague, seen
first, applied as seen, told in each case's thread, on the record."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.app import DELIVER_SOON, SERVICES
from bot.timeline import describe
from concerns import services
from concerns.cases import CaseRole, Person
from concerns.model import Actor
from tests.bot.conftest import RunningBot
from tests.bot.test_assignment_notices_http import notices, to
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_http import submit_data, texts
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TEAM_ID, TOM, User, roster_entry
from tests.support.cards import schema_errors
from tests.support.connector import Sent

SAM = User("Sam Reid", "a1f2c3d4-0004-4b5c-9d8e-000000000004")  # joins the team; takes over


async def form(bot: RunningBot, user: User) -> Sent:
    await bot.send(bot.teams.channel_message(user, "handover"))
    card = bot.connector.sent[-1]
    assert schema_errors(card.card) == [] and "Hand over someone's work" in texts(card.card), texts(card.card)
    return card


async def press(bot: RunningBot, user: User, card: Sent, title: str, **values: str) -> Sent:
    """Press `title` on the card as it stands now (with `values` in its inputs); the card as it was replaced."""
    current = [s for s in bot.connector.sent if s.activity_id == card.activity_id and s.card][-1]
    data = next(a["data"] for a in current.card["actions"] if a["title"] == title)
    before = len(bot.connector.sent)
    await bot.send(bot.teams.card_submit(user, data | values, reply_to=card.activity_id,
                                         conversation=thread_of(card, bot.teams.tenant)))
    replaced = [s for s in bot.connector.sent[before:] if s.method == "PUT" and s.activity_id == card.activity_id]
    assert replaced, [s.text for s in bot.connector.sent[before:]]
    assert schema_errors(replaced[-1].card) == []
    return replaced[-1]


async def case_state(bot: RunningBot) -> tuple[Any, list[Any], list[Any]]:
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        return case, await uow.cases.actions(case.id), await uow.documents.for_case(case.id)


def owned_by(things: list[Any], user: User) -> list[int]:
    return [t.id for t in things if t.owner is not None and t.owner.user_id == user.aad
            and getattr(t, "status", "open") in ("open", "expected", "requested", "current")]


async def give(bot: RunningBot, by: User, owner: User, title: str) -> None:
    """`by` (the chair or coordinator) adds an action for `owner` on PC-2026-0001."""
    clock, calendar = bot.app[SERVICES].clock, bot.app[SERVICES].calendar
    await services.add_action(bot.uow(), clock, calendar, Actor(by.aad, by.name, bot.teams.tenant), "PC-2026-0001",
                              title, Person(owner.aad, owner.name), "2026-12-01", conversation_id="test")
    await bot.app[DELIVER_SOON].settled()  # the word to the new owner is sent before the test reads the connector


async def events(bot: RunningBot, action: str, subject_type: str = "case", ref: str = "PC-2026-0001") -> list[Any]:
    async with bot.uow() as uow:
        return [e for e in await uow.audit.for_subject(subject_type, ref) if e.action == action]


async def test_a_team_admin_hands_a_leaving_chairs_work_to_a_colleague(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom; Priya opened it
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM)]
    await bot.send(bot.teams.bot_added_to_team(PRIYA))  # Priya installed the bot: the team's admin
    await give(bot, TOM, HELEN, "Agree the chair of the concerns meeting")
    case, actions, _ = await case_state(bot)
    helens_actions = owned_by(actions, HELEN)
    assert case.role_of(HELEN.aad) is CaseRole.CHAIR and len(helens_actions) == 1

    # The coordinator is not above the chair: she sees why, and no Hand over button; a forged press changes nothing.
    card = await form(bot, TOM)
    preview = await press(bot, TOM, card, "See what would move", outgoing=HELEN.aad, incoming=SAM.aad, reason="left")
    shown = texts(preview.card)
    assert "Not handed over (1)" in shown and "ask a team admin" in shown
    assert [a["title"] for a in preview.card["actions"]] == ["Change"]
    await bot.send(bot.teams.card_submit(TOM, {"verb": "handover.confirm", "form": submit_data(preview.card)["form"]},
                                         reply_to=card.activity_id, conversation=thread_of(card, bot.teams.tenant)))
    assert "None of Helen Ward's work is yours to hand over" in bot.connector.created[-1]["activity"]["text"]
    [refused] = await events(bot, "refused", "team", TEAM_ID)
    assert refused.actor_id == TOM.aad and refused.details["attempted"] == "team.handover"
    assert (await case_state(bot))[0].role_of(HELEN.aad) is CaseRole.CHAIR

    # The form is shown again with what to fix; nothing moves.
    card = await form(bot, PRIYA)
    again = await press(bot, PRIYA, card, "See what would move", outgoing=HELEN.aad, incoming=HELEN.aad, reason="left")
    assert "Choose someone else to take the work over." in texts(again.card)
    again = await press(bot, PRIYA, card, "See what would move", outgoing=HELEN.aad, reason="left")
    assert "Choose who takes it over, from the team's members." in texts(again.card)

    # The team admin sees what would move, and nothing has moved yet.
    preview = await press(bot, PRIYA, card, "See what would move", outgoing=HELEN.aad, incoming=SAM.aad,
                          reason="left")
    shown = texts(preview.card)
    assert "Hand over Helen Ward's work to Sam Reid?" in shown and "Nothing has moved yet." in shown
    expected = "the chair role and 1 open action"
    assert "The chair role and 1 open action" in shown and "PC-2026-0001" in shown
    assert [a["title"] for a in preview.card["actions"]] == ["Hand over", "Change"]
    confirm = preview.card["actions"][0]["data"]
    assert (await case_state(bot))[0].role_of(HELEN.aad) is CaseRole.CHAIR and await events(
        bot, "case.handed_over") == []

    # Confirmed: Sam chairs, Helen has left the case, her actions and entries are Sam's, in one recorded change.
    before = len(bot.connector.sent)
    done = await press(bot, PRIYA, card, "Hand over")
    assert "Helen Ward's work is handed over to Sam Reid" in texts(done.card) and not done.card.get("actions")
    case, actions, _ = await case_state(bot)
    assert case.role_of(SAM.aad) is CaseRole.CHAIR and case.role_of(HELEN.aad) is None
    assert case.role_of(TOM.aad) is CaseRole.COORDINATOR
    assert owned_by(actions, HELEN) == [] and owned_by(actions, SAM) == helens_actions
    [handed] = await events(bot, "case.handed_over")
    assert handed.actor_id == PRIYA.aad and handed.details["reason"] == "left"
    assert (handed.details["outgoing_id"], handed.details["incoming_id"]) == (HELEN.aad, SAM.aad)
    assert [a["id"] for a in handed.details["actions"]] == helens_actions
    pack = bot.app[SERVICES].pack
    assert describe(handed, pack) == f"Priya Shah handed Helen Ward's work on the case to Sam Reid: {expected}."

    # The case thread hears it, @mentioning Sam (the reason is not posted), and the case card shows the new chair.
    [told] = [s for s in bot.connector.sent[before:] if "takes over from Helen Ward" in (s.text or "")]
    assert told.conversation_id == case_post.conversation_id and "left" not in told.text
    assert [e["mentioned"]["id"] for e in told.body["entities"]] == [SAM.aad]
    card_now = [s for s in bot.connector.sent[before:] if s.method == "PUT" and s.activity_id == case_post.activity_id]
    assert card_now and "Sam Reid" in texts(card_now[-1].card) and "Helen Ward" not in texts(card_now[-1].card)
    # Sam is told of the actions that are now his, as anyone given actions is.
    assert to(await notices(bot), SAM)

    # A second press (a phone that sends it again) does nothing more.
    await bot.send(bot.teams.card_submit(PRIYA, confirm, reply_to=card.activity_id,
                                         conversation=thread_of(card, bot.teams.tenant)))
    assert "This handover was made already" in bot.connector.created[-1]["activity"]["text"]
    assert len(await events(bot, "case.handed_over")) == 1
    assert [s for s in bot.connector.sent if s.activity_id == card.activity_id][-1].card == done.card


async def test_a_handover_applies_only_what_was_seen_and_never_gives_one_person_chair_and_coordinator(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)  # chair Helen, coordinator Tom
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM)]

    # The chair hands the coordinator's work to herself? The chair and coordinator must be two people.
    card = await form(bot, HELEN)
    preview = await press(bot, HELEN, card, "See what would move", outgoing=TOM.aad, incoming=HELEN.aad,
                          reason="workload")
    assert "Helen Ward is already its chair, and the chair and the coordinator must be two people" in texts(
        preview.card)
    assert [a["title"] for a in preview.card["actions"]] == ["Change"]

    # To Sam instead: seen, then the case changes (Tom is given another action) before she confirms. The new plan is
    # shown and nothing moves until she confirms that.
    await press(bot, HELEN, card, "Change")
    preview = await press(bot, HELEN, card, "See what would move", outgoing=TOM.aad, incoming=SAM.aad,
                          reason="away")
    seen = texts(preview.card)
    _, actions, documents = await case_state(bot)
    toms_actions, toms_documents = owned_by(actions, TOM), owned_by(documents, TOM)
    assert (f"The coordinator role, {len(toms_actions)} open actions and {len(toms_documents)} documents register "
            "entries") in seen
    await give(bot, HELEN, TOM, "Call the home's registered manager")
    changed = await press(bot, HELEN, card, "Hand over")
    assert "has changed since you looked" in texts(changed.card) and texts(changed.card) != seen
    assert (await case_state(bot))[0].role_of(TOM.aad) is CaseRole.COORDINATOR
    assert await events(bot, "case.handed_over") == []
    done = await press(bot, HELEN, card, "Hand over")
    assert "Tom Okafor's work is handed over to Sam Reid" in texts(done.card)
    case, actions, documents = await case_state(bot)
    assert case.role_of(SAM.aad) is CaseRole.COORDINATOR and case.role_of(TOM.aad) is None
    assert owned_by(actions, TOM) == [] and owned_by(documents, TOM) == []
    assert set(toms_actions) < set(owned_by(actions, SAM)) and owned_by(documents, SAM) == toms_documents
    assert any(a.title == "Call the home's registered manager" and a.owner.user_id == SAM.aad for a in actions)


async def test_handover_is_made_in_a_team_channel(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.personal_message(PRIYA, "handover"))
    assert "Work is handed over in the team's channel" in bot.connector.sent[-1].text


def test_a_plan_for_someone_on_many_cases_fits_on_one_card() -> None:
    """Forty cases with five long actions each would pass Teams' card limit with every title listed: the titles go,
    the counts stay."""
    from bot.cards import renderer
    from bot.handovers import plan_values
    from concerns.actions import CaseAction
    from concerns.handovers import CaseHandover, HandoverPlan, HandoverReason
    from tests.concerns.test_permissions import CASE

    helen, sam = Person(HELEN.aad, HELEN.name), Person(SAM.aad, SAM.name)
    handed = []
    for n in range(40):
        case = replace(CASE, id=n + 1, reference=f"PC-2026-{n + 1:04d}")
        actions = tuple(CaseAction(n * 10 + i, case.reference, "Oakwood", "step:decision", "x" * 480 + str(i),
                                   "chair", helen, None, True, "open", case.id) for i in range(6))
        handed.append(CaseHandover(case, CaseRole.CHAIR, None, CaseRole.CHAIR, actions, ()))
    plan = HandoverPlan(helen, sam, HandoverReason.LEFT, tuple(handed), (), (), ())
    values = plan_values(plan, form_key="k")
    card = renderer.render("handover", **values)
    assert schema_errors(card) == [] and len(values["cases"]) == 40
    assert all(row["moves"] == "The chair role and 6 open actions" and row["items"] == [] for row in values["cases"])
    few = plan_values(replace(plan, cases=plan.cases[:1]), form_key="k")
    assert few["cases"][0]["items"][-1] == "and 1 more" and len(few["cases"][0]["items"]) == 6


async def test_the_head_of_service_replaces_a_chair_who_has_left(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)  # chair Helen, coordinator Tom
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM)]
    await bot.send(bot.teams.bot_added_to_team(PRIYA))  # the team admin names Sam the Head of Service
    await bot.send(bot.teams.channel_message(PRIYA, "team roles"))
    roles = bot.connector.sent[-1]
    chosen = {"role": "head_of_service", "person": SAM.aad}
    await bot.send(bot.teams.card_submit(PRIYA, submit_data(roles.card) | chosen, reply_to=roles.activity_id,
                                         conversation=thread_of(roles, bot.teams.tenant)))

    # Sam has no role on the case, and is above it: Priya, a member of the team, chairs it from now.
    card = await form(bot, SAM)
    await press(bot, SAM, card, "See what would move", outgoing=HELEN.aad, incoming=PRIYA.aad, reason="left")
    done = await press(bot, SAM, card, "Hand over")
    assert "Helen Ward's work is handed over to Priya Shah" in texts(done.card)
    case, _, _ = await case_state(bot)
    assert case.role_of(PRIYA.aad) is CaseRole.CHAIR and case.role_of(HELEN.aad) is None
    assert case.role_of(SAM.aad) is None  # handing over does not put its maker on the case

    # Whose team roles a handover leaves as they are, it says so.
    card = await form(bot, SAM)
    preview = await press(bot, SAM, card, "See what would move", outgoing=PRIYA.aad, incoming=HELEN.aad,
                          reason="away")
    assert ("Priya Shah is also one of the team's admins; a handover leaves that as it is (another admin can revoke "
            "it with 'team roles').") in texts(preview.card)
    assert "is also the team's" not in texts(preview.card)
    card = await form(bot, PRIYA)
    await give(bot, PRIYA, SAM, "Decide on suspending new placements")
    preview = await press(bot, PRIYA, card, "See what would move", outgoing=SAM.aad, incoming=HELEN.aad,
                          reason="away")
    [note] = [b["text"] for b in preview.card["body"] if "is also the team's" in b.get("text", "")]
    assert note.startswith("Sam Reid is also the team's Head of Service") and note.endswith(
        "; a handover leaves that as it is (a team admin changes them with 'team roles').")


async def test_a_case_whose_thread_is_gone_hears_of_the_handover_in_a_new_thread_in_its_channel(
    running_bot: RunningBot,
) -> None:
    """It used to go where the handover was made: a thread of whichever channel that was, not the case's."""
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM)]
    bot.connector.gone.add(case_post.conversation_id)  # the case's thread was deleted in Teams
    card = await form(bot, HELEN)
    await press(bot, HELEN, card, "See what would move", outgoing=HELEN.aad, incoming=SAM.aad, reason="away")
    before = len(bot.connector.sent)
    await press(bot, HELEN, card, "Hand over")
    [told] = [s for s in bot.connector.sent[before:] if "takes over from Helen Ward" in (s.text or "")]
    assert told.method == "CREATE" and told.conversation_id.startswith(CHANNEL_ID + ";messageid=")
    assert told.conversation_id != card.conversation_id
    assert [e["mentioned"]["id"] for e in told.body["entities"]] == [SAM.aad]
    assert (await case_state(bot))[0].role_of(SAM.aad) is CaseRole.CHAIR


async def test_someone_back_from_leave_gets_back_what_is_still_as_it_was_handed_over(running_bot: RunningBot) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom
    bot.connector.roster = [roster_entry(u) for u in (PRIYA, TOM, HELEN, SAM)]
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    for title in ("Agree the chair of the concerns meeting", "Write to the placing authorities"):
        await give(bot, TOM, HELEN, title)
    card = await form(bot, PRIYA)
    await press(bot, PRIYA, card, "See what would move", outgoing=HELEN.aad, incoming=SAM.aad, reason="away")
    covered = await press(bot, PRIYA, card, "Hand over")
    assert [a["title"] for a in covered.card["actions"]] == ["Hand back"]
    assert "When Helen Ward is back, Hand back returns what is still as it was handed over" in texts(covered.card)

    # While Helen is away Sam does one of her actions, and is given one of his own.
    _, actions, _ = await case_state(bot)
    done, left = sorted(owned_by(actions, SAM))
    await services.close_action(bot.uow(), bot.app[SERVICES].clock, Actor(SAM.aad, SAM.name, bot.teams.tenant),
                                done, "done", "Letter sent", conversation_id="test")
    await give(bot, TOM, SAM, "Visit the home unannounced")
    _, actions, _ = await case_state(bot)
    [his_own] = [a.id for a in actions if a.title == "Visit the home unannounced"]

    bot.app[SERVICES].clock.advance(hours=2)  # she is back (the same action given to her again later is news)
    # The coordinator cannot hand it back: it is the chair's role that would move, and it was not between her and him.
    await bot.send(bot.teams.card_submit(TOM, covered.card["actions"][0]["data"], reply_to=card.activity_id,
                                         conversation=thread_of(card, bot.teams.tenant)))
    assert "None of Helen Ward's work is yours to hand back." in bot.connector.created[-1]["activity"]["text"]
    assert (await case_state(bot))[0].role_of(SAM.aad) is CaseRole.CHAIR
    assert [e.details["attempted"] for e in await events(bot, "refused", "team", TEAM_ID)] == ["team.hand_back"]
    before = len(bot.connector.sent)
    returned = await press(bot, HELEN, card, "Hand back")  # she is neither chair nor admin now: it was hers
    assert "Helen Ward's work is handed back from Sam Reid" in texts(returned.card) and "By Helen Ward." in texts(
        returned.card)
    assert "The chair role and 1 open action" in texts(returned.card) and not returned.card.get("actions")
    case, actions, _ = await case_state(bot)
    assert case.role_of(HELEN.aad) is CaseRole.CHAIR and case.role_of(SAM.aad) is None  # he had no role before
    by_id = {a.id: a for a in actions}
    assert by_id[left].owner.user_id == HELEN.aad  # still open: back with her
    assert by_id[done].owner.user_id == SAM.aad and by_id[done].status == "done"  # done while covering: stays his
    assert by_id[his_own].owner.user_id == SAM.aad  # given to him since: his
    [back] = await events(bot, "case.handed_back")
    [over] = await events(bot, "case.handed_over")
    assert back.details["handover"] == over.details["handover"] and [a["id"] for a in back.details["actions"]] == [left]
    assert describe(back, bot.app[SERVICES].pack) == (
        "Helen Ward took their work on the case back from Sam Reid: the chair role and 1 open action.")
    assert describe(replace(back, actor_name="Priya Shah"), bot.app[SERVICES].pack) == (
        "Priya Shah handed Helen Ward's work on the case back from Sam Reid: the chair role and 1 open action.")
    [told] = [s for s in bot.connector.sent[before:] if "is back on PC-2026-0001" in (s.text or "")]
    assert told.conversation_id == case_post.conversation_id
    assert [e["mentioned"]["id"] for e in told.body["entities"]] == [HELEN.aad]

    # Once is enough: pressed again, nothing more moves.
    await bot.send(bot.teams.card_submit(PRIYA, covered.card["actions"][0]["data"], reply_to=card.activity_id,
                                         conversation=thread_of(card, bot.teams.tenant)))
    assert "handed back already" in bot.connector.created[-1]["activity"]["text"]
    assert len(await events(bot, "case.handed_back")) == 1
