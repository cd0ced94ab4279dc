"""Word to a new owner when someone else gives them actions: sent in their 1:1 chat straight after the change
(through the outbox, in the change's own transaction), one message a case at a time, with what an action's
reminder offers. Nobody learns of a task from its first reminder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.app import DELIVER_SOON
from storage.models import OutboxRow
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt
from tests.bot.test_http import texts
from tests.support.activities import HELEN, PRIYA, TOM, User
from tests.support.cards import schema_errors
from tests.support.connector import Sent


@dataclass(frozen=True)
class Notice:
    recipient_user_id: str
    status: str
    activity_id: str | None


async def notices(bot: RunningBot) -> list[tuple[Notice, Sent | None]]:
    """Every assignment notice in the outbox, oldest first, with what reached the connector for it."""
    await bot.app[DELIVER_SOON].settled()
    async with bot.uow() as uow:
        rows = [Notice(*row) for row in await uow._session.execute(
            select(OutboxRow.recipient_user_id, OutboxRow.status, OutboxRow.activity_id)
            .where(OutboxRow.kind == "action.assigned").order_by(OutboxRow.id))]
    by_id = {s.activity_id: s for s in bot.connector.sent if s.method == "POST"}
    return [(row, by_id.get(row.activity_id)) for row in rows]


def to(found: list[tuple[Notice, Sent | None]], user: User) -> list[tuple[Notice, Sent | None]]:
    return [(row, sent) for row, sent in found if row.recipient_user_id == user.aad]


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for action in card.get("actions") or []:
        found[action["title"]] = action["card"]["actions"][0]["data"] if action["type"] == "Action.ShowCard" \
            else action.get("data")
    return found


async def first_to_assign(bot: RunningBot) -> tuple[Sent, dict[str, Any], str]:
    """Helen's `actions` list, the first Assign on it (its submit data) and the id of its choice of person."""
    await bot.send(bot.teams.personal_message(HELEN, "actions"))
    listing = bot.connector.sent[-1]
    assert listing.card is not None
    first = next(c for c in listing.card["body"] if c.get("type") == "Container")
    show = next(a for i in first["items"] if i.get("type") == "ActionSet" for a in i["actions"]
                if a["title"] == "Assign")
    return listing, show["card"]["actions"][0]["data"], show["card"]["body"][0]["id"]


async def test_new_owners_are_told_at_once_and_the_person_giving_them_out_is_not(running_bot: RunningBot) -> None:
    bot = running_bot
    await open_case_via_prompt(bot)  # opened by Priya: chair Helen, coordinator Tom
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, "PC-2026-0001")
        actions = await uow.cases.actions(case.id)
    found = await notices(bot)
    assert {row.recipient_user_id for row, _ in found} <= {HELEN.aad, TOM.aad}
    for user in (HELEN, TOM):
        theirs = sorted(a.title for a in actions if a.owner and a.owner.user_id == user.aad)
        if not theirs:
            continue
        [(row, sent)] = to(found, user)  # one message for the case's whole checklist
        assert row.status == "sent" and sent is not None
        assert schema_errors(sent.card) == []
        shown = texts(sent.card)
        assert "PC-2026-0001 · Oakwood Lodge Nursing Home" in shown and "Given out by Priya Shah" in shown
        assert all(title in shown for title in theirs) or "more" in shown
        assert (f"{len(theirs)} new actions for you" in shown) if len(theirs) > 1 else "gave you an action" in shown
    assert to(found, TOM), "the coordinator owns some of the decision step's actions"

    # The chair gives one out from her list: the new owner is told, with Done, Snooze and Not mine.
    listing, assign, field = await first_to_assign(bot)
    given = next(a for a in actions if a.id == int(assign["action"]))
    before = len(to(await notices(bot), PRIYA))
    await bot.send(bot.teams.card_submit(HELEN, assign | {field: PRIYA.aad}, reply_to=listing.activity_id,
                                         conversation=bot.teams.personal_conversation(HELEN), channel=False))
    mine = to(await notices(bot), PRIYA)
    assert len(mine) == before + 1
    row, sent = mine[-1]
    assert sent is not None and schema_errors(sent.card) == []
    shown = texts(sent.card)
    assert "Helen Ward gave you an action" in shown and given.title in shown
    assert given.due_on is not None and f"{given.due_on:%A %-d %B %Y}" in shown
    pressed = buttons(sent.card)
    assert list(pressed) == ["Done", "Snooze", "Not mine"]

    # Done on the message records it, as on a reminder.
    await bot.send(bot.teams.card_submit(PRIYA, pressed["Done"] | {"note": "Police consulted by phone"},
                                         reply_to=sent.activity_id, conversation=bot.teams.personal_conversation(PRIYA),
                                         channel=False))
    async with bot.uow() as uow:
        done = await uow.cases.action(bot.teams.tenant, given.id)
    assert done is not None and done.status == "done" and done.note == "Police consulted by phone"

    # Giving an action to oneself, or a refused change, tells nobody.
    listing, assign, field = await first_to_assign(bot)
    count = len(await notices(bot))
    await bot.send(bot.teams.card_submit(PRIYA, assign | {field: PRIYA.aad}, reply_to=listing.activity_id,
                                         conversation=bot.teams.personal_conversation(PRIYA), channel=False))
    await bot.send(bot.teams.card_submit(HELEN, assign | {field: HELEN.aad}, reply_to=listing.activity_id,
                                         conversation=bot.teams.personal_conversation(HELEN), channel=False))
    async with bot.uow() as uow:
        mine_now = await uow.cases.action(bot.teams.tenant, int(assign["action"]))
    assert mine_now is not None and mine_now.owner is not None and mine_now.owner.user_id == HELEN.aad
    assert len(await notices(bot)) == count


async def test_word_held_over_a_weekend_is_not_sent_for_an_action_given_to_someone_else_meanwhile(
    running_bot: RunningBot, clock: Any,
) -> None:
    """Word given out on a Saturday waits for Monday's working hours; by then the action may be someone else's, and
    a message telling its first owner it is theirs would send them after work that is not. It is voided, and the
    outbox says why; the person it went to instead is told."""
    from datetime import datetime

    from bot.app import SERVICES, SWEEPER
    from concerns import services
    from concerns.cases import Person
    from concerns.model import Actor

    bot = running_bot
    await open_case_via_prompt(bot)  # chair Helen, coordinator Tom
    clock.at = datetime.fromisoformat("2026-11-28T10:00:00+00:00")  # Saturday
    tom = Actor(TOM.aad, TOM.name, bot.teams.tenant)
    title = "Check the home's agency staff induction records"
    _, action = await services.add_action(bot.uow(), clock, bot.app[SERVICES].calendar, tom, "PC-2026-0001", title,
                                          Person(HELEN.aad, HELEN.name), "2026-12-02", conversation_id="test")
    clock.advance(hours=1)
    await services.reassign_action(bot.uow(), clock, tom, action.id, Person(PRIYA.aad, PRIYA.name),
                                   conversation_id="test")
    await bot.app[DELIVER_SOON].settled()
    held = [row for row, _ in await notices(bot) if row.status == "pending"]
    assert {row.recipient_user_id for row in held} == {HELEN.aad, PRIYA.aad}  # both wait for Monday

    clock.at = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
    await bot.app[SWEEPER].sweep(clock.at)
    [(helens, not_sent)] = to(await notices(bot), HELEN)[-1:]
    assert helens.status == "void" and not_sent is None
    async with bot.uow() as uow:
        why = await uow._session.scalar(select(OutboxRow.last_error).where(
            OutboxRow.kind == "action.assigned", OutboxRow.recipient_user_id == HELEN.aad, OutboxRow.status == "void"))
    assert why == f"not sent: '{title}' is no longer theirs"
    [(priyas, sent)] = to(await notices(bot), PRIYA)[-1:]
    assert priyas.status == "sent" and sent is not None and title in texts(sent.card)
    told = [s for s in bot.connector.sent if s.card and title in texts(s.card) and "gave you" in texts(s.card)]
    assert told == [sent]  # Priya's word only; her own reminder of it comes too, as for any action
