"""The documents register and the communication strategy checklist over real HTTP, as Teams drives them."""

from __future__ import annotations

from typing import Any

from bot.app import SERVICES
from concerns import services
from concerns.calendar import WorkingCalendar
from concerns.model import Actor
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_http import inputs, texts
from tests.support.activities import HELEN, PRIYA, TOM

RMP_LINK = "https://croydon.sharepoint.com/sites/ProviderConcerns/Oakwood/RMP%20v2.docx"


def row(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The register entry whose title (the first TextRun of its container) is `title`."""
    for container in card["body"]:
        if container.get("type") == "Container":
            first = container["items"][0]
            if first.get("type") == "RichTextBlock" and first["inlines"][0]["text"] == title:
                return container
    raise AssertionError(f"no entry {title!r}")


def update_data(card: dict[str, Any], title: str) -> dict[str, Any]:
    action_set = next(i for i in row(card, title)["items"] if i.get("type") == "ActionSet")
    show = next(a for a in action_set["actions"] if a["title"] == "Update")
    return show["card"]["actions"][0]["data"]


def latest_put(bot: RunningBot, activity_id: str) -> Any:
    return [s for s in bot.connector.sent if s.method == "PUT" and s.activity_id == activity_id][-1]


async def show(bot: RunningBot, user: Any, command: str) -> Any:
    await bot.send(bot.teams.channel_message(user, command))
    return bot.connector.sent[-1]


async def test_the_register_is_seeded_and_the_coordinator_keeps_it_current(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    register = await show(bot, TOM, "documents pc-2026-0001")
    shown = texts(register.card)
    assert "Documents register: PC-2026-0001" in shown
    assert "Tom Okafor · Expected" in texts(row(register.card, "Risk management plan"))
    assert "The provider · Requested from the provider" in texts(row(register.card, "Business continuity plan"))
    assert "The provider · Requested from the provider" in texts(row(register.card, "Service user register"))
    assert "Unassigned (" in texts(row(register.card, "Monitoring report"))
    assert "Not reviewed yet (reviewed every 20 working days)" in texts(row(register.card, "Risk management plan"))

    thread = thread_of(register, bot.teams.tenant)
    data = update_data(register.card, "Risk management plan")
    number = data["document"]
    await bot.send(bot.teams.card_submit(TOM, data | {f"version_{number}": "2", f"link_{number}": RMP_LINK,
                                                      f"reviewed_on_{number}": "2026-11-23",
                                                      f"next_review_on_{number}": ""},
                                         reply_to=register.activity_id, conversation=thread))
    updated = latest_put(bot, register.activity_id)
    entry = row(updated.card, "Risk management plan")
    assert "Tom Okafor · Current · version 2" in texts(entry)
    assert "Last reviewed 23 Nov 2026 · next review Mon 21 Dec 2026" in texts(entry)
    assert {"type": "Action.OpenUrl", "title": "Open", "url": RMP_LINK} in next(
        i for i in entry["items"] if i.get("type") == "ActionSet")["actions"]
    assert "Linked file on croydon.sharepoint.com" in texts(entry)
    assert "updated by Tom Okafor" in texts(updated.card)

    # A link that is not a web address re-shows the card with the problem, and nothing changes.
    await bot.send(bot.teams.card_submit(TOM, data | {f"version_{number}": "3",
                                                      f"link_{number}": "javascript:alert(document.cookie)"},
                                         reply_to=register.activity_id, conversation=thread))
    refused = latest_put(bot, register.activity_id)
    assert "Nothing was saved" in texts(refused.card) and "https://" in texts(row(refused.card,
                                                                                   "Risk management plan"))
    assert inputs(refused.card)[f"version_{number}"]["value"] == "3"  # what was typed is kept
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        stored = next(d for d in await uow.documents.for_case(case.id) if d.kind == "risk_management_plan")
        events = [e for e in await uow.audit.for_subject("case", "PC-2026-0001")]
    assert (stored.version, stored.link) == ("2", RMP_LINK)
    assert [e.details["changes"]["version"] for e in events if e.action == "document.updated"] == [
        {"from": None, "to": "2"}]


async def test_a_member_who_does_not_own_an_entry_is_refused_privately(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    register = await show(bot, PRIYA, "documents PC-2026-0001")
    data = update_data(register.card, "Risk management plan")
    await bot.send(bot.teams.card_submit(PRIYA, data | {f"version_{data['document']}": "9"},
                                         reply_to=register.activity_id, conversation=thread_of(register,
                                                                                               bot.teams.tenant)))
    assert "Only the chair or coordinator of PC-2026-0001" in bot.connector.created[-1]["activity"]["text"]
    async with bot.uow() as uow:
        refusals = [e for e in await uow.audit.for_subject("case", "PC-2026-0001") if e.action == "refused"]
    assert refusals[-1].details["attempted"] == "document.update" and refusals[-1].actor_name == "Priya Shah"


async def test_a_member_adds_a_monitoring_report(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    register = await show(bot, PRIYA, "documents PC-2026-0001")
    add = next(a for a in register.card["actions"] if a["title"] == "Add a report")
    kinds = [c["value"] for c in inputs(add["card"])["kind_new"]["choices"]]
    assert kinds == ["enquiry_report", "monitoring_report"]  # only kinds a case holds several of
    thread = thread_of(register, bot.teams.tenant)
    submit = add["card"]["actions"][0]["data"]
    await bot.send(bot.teams.card_submit(PRIYA, submit | {"kind_new": "monitoring_report", "title_new": ""},
                                         reply_to=register.activity_id, conversation=thread))
    assert "Give the document a title" in texts(latest_put(bot, register.activity_id).card)
    await bot.send(bot.teams.card_submit(
        PRIYA, submit | {"kind_new": "monitoring_report", "title_new": "Unannounced visit, 20 Nov 2026",
                         "link_new": "https://croydon.sharepoint.com/visits/2026-11-20.pdf",
                         "reviewed_on_new": "2026-11-20"},
        reply_to=register.activity_id, conversation=thread))
    updated = latest_put(bot, register.activity_id)
    assert "Current" in texts(row(updated.card, "Unannounced visit, 20 Nov 2026"))
    assert "Unannounced visit, 20 Nov 2026 added by Priya Shah." in texts(updated.card)


async def test_the_checklist_is_answered_per_step(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)
    pack = bot.app[SERVICES].packs["croydon-provider-concerns"]
    items = [item.id for item in pack.communication_checklist]
    checklist = await show(bot, HELEN, "comms PC-2026-0001")
    assert "Step: Decision for provider concerns, entered 23 Nov 2026" in texts(checklist.card)
    assert "0 of 8 considered at this step" in texts(checklist.card)
    assert len([k for k in inputs(checklist.card) if k.startswith("answer_")]) == 8
    thread = thread_of(checklist, bot.teams.tenant)
    save = next(a for a in checklist.card["actions"] if a["title"] == "Save")["data"]

    await bot.send(bot.teams.card_submit(PRIYA, save | {f"answer_{items[0]}": "yes"},
                                         reply_to=checklist.activity_id, conversation=thread))
    assert "Only the chair or the coordinator" in bot.connector.created[-1]["activity"]["text"]

    every = {f"answer_{item}": "yes" for item in items} | {
        f"answer_{items[3]}": "not_applicable", f"note_{items[3]}": "No media interest; Head of Service agreed"}
    await bot.send(bot.teams.card_submit(HELEN, save | every, reply_to=checklist.activity_id, conversation=thread))
    saved = latest_put(bot, checklist.activity_id)
    assert "8 answers recorded by Helen Ward: 8 of 8 considered at this step." in texts(saved.card)
    assert inputs(saved.card)[f"answer_{items[3]}"]["value"] == "not_applicable"
    assert inputs(saved.card)[f"note_{items[3]}"]["value"] == "No media interest; Head of Service agreed"

    # Saving again with one change records one answer.
    await bot.send(bot.teams.card_submit(TOM, save | every | {f"answer_{items[0]}": "no"},
                                         reply_to=checklist.activity_id, conversation=thread))
    assert "1 answer recorded by Tom Okafor" in texts(latest_put(bot, checklist.activity_id).card)

    chair = Actor(HELEN.aad, HELEN.name, bot.teams.tenant)
    await services.move_step(bot.uow(), bot.app[SERVICES].clock, WorkingCalendar("england"), pack, chair,
                             "PC-2026-0001", "initial_meeting", "Agreed at the decision meeting.",
                             conversation_id="c")
    # The card from the decision step saves nothing at the initial meeting.
    await bot.send(bot.teams.card_submit(HELEN, save | every, reply_to=checklist.activity_id, conversation=thread))
    stale = texts(latest_put(bot, checklist.activity_id).card)
    assert "has moved to Initial" in stale and "0 of 8 considered at this step" in stale
    assert "Decision for provider concerns (23 Nov 2026): 8 of 8 considered" in stale


async def test_an_unknown_case_is_said_plainly(running_bot: RunningBot) -> None:
    bot = running_bot
    await bot.send(bot.teams.channel_message(TOM, "documents PC-2026-0042"))
    assert "There is no case PC-2026-0042" in bot.connector.sent[-1].text
    await bot.send(bot.teams.channel_message(TOM, "comms"))
    assert "For example: comms PC-2026-0001" in bot.connector.sent[-1].text
