"""The team-wide views and the scheduler's messages at the size a large council reaches, over real HTTP.

tests/bot/test_case_at_scale_http.py looks at one big case. This file looks across a team's work: 300 open cases
(the chair of 200 of them), 500 concerns waiting to be screened, a provider with 300 concerns, a chair with 100
actions nobody owns yet across 30 cases of 40 members, someone with 200 open actions, 5,000 screenings in the
year, the morning's sweep for a chair of 300 cases with many overdue actions, a pattern of 60 concerns, a handover
across 40 cases, closing a case with 100 open actions, and a vote of 60 members with long reasons. Teams refuses a
message over about 100 KB and the renderer refuses a card over MAX_CARD_BYTES (80,000), which fails the turn.

Each view is its own test, so one failure hides no other. For each: no failed turn, a reply, every card sent at
most MAX_CARD_BYTES, nothing the bot logged as a card it could not send (the `view` helper of the case-scale
tests), and a list that shows fewer rows than it has says how many it shows. The sweep's messages are checked in
the outbox too: none dead, none waiting for a retry. The largest card of each test is recorded as the junit
property `largest_card_bytes` (`--junitxml=...` to read it).

The seed goes straight through the repositories (the 5,000 screenings in two bulk inserts of the same rows), so
that the file runs in about two minutes on both databases.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import insert, select

from bot.app import SERVICES, SWEEPER
from bot.cards.renderer import MAX_CARD_BYTES
from concerns import closure
from concerns.actions import PlannedAction
from concerns.cases import Case, CaseRole, LeadAgency, Member
from concerns.documents import PlannedDocument
from concerns.meetings import MeetingForm, MeetingKind, ProviderAttends
from concerns.model import AuditEvent, NewConcern, Provider
from concerns.references import CASE, CONCERN, Reference
from concerns.screening import ScreeningDecision
from concerns.vocabulary import Category, CommissioningStatus, ScreeningOutcome, ServiceType, SourceAgency
from concerns.votes import BallotForm
from scheduler.ratelimit import RateLimiter
from storage.models import ConcernRow, OutboxRow, ScreeningRow
from tests.bot.conftest import RunningBot
from tests.bot.test_case_at_scale_http import (
    DESCRIPTION,
    NOW,
    OTHERS,
    RATIONALE,
    TEAM,
    YEAR_AGO,
    actor,
    card_of,
    heading,
    person,
    size,
    view,
)
from tests.bot.test_cases_http import thread_of
from tests.bot.test_http import open_form_in_channel, submit_data, texts
from tests.support.activities import CHANNEL_ID, HELEN, PRIYA, TOM, User, roster_entry
from tests.support.cards import typed
from tests.support.clock import FixedClock
from tests.support.connector import Sent

BUSY = OTHERS[0]  # a member of many cases with many open actions
COVER = OTHERS[1]  # takes the busy member's work over

# -- realistic text ------------------------------------------------------------------------------------------------

_HOMES = ["Oakwood", "Birchfield", "Meadowbank", "Greenacres", "Ashdown", "Willowbrook", "Hawthorn", "Rosemount",
          "Kingsmead", "Elmhurst", "Fairview", "Cedar Lawn", "St Anne's", "Beechcroft", "Highgrove", "Larchwood",
          "Southlands", "Thornbury", "Westerley", "Abbeyfield"]
_BUILDINGS = ["House", "Lodge", "Court", "Manor"]
_KINDS = ["Residential and Nursing Home", "Care Home with Nursing", "Supported Living Service",
          "Domiciliary Care Agency", "Extra Care Housing Scheme"]
_PLACES = ["Addiscombe", "Coulsdon", "Purley", "Thornton Heath", "South Norwood", "Sanderstead", "Selsdon",
           "Kenley", "Norbury", "Shirley", "Waddon", "Broad Green"]


def provider_name(n: int) -> str:
    """A provider's name of 40 to 60 characters, different for each n below 4,800."""
    return (f"{_HOMES[n % 20]} {_BUILDINGS[n // 20 % 4]} {_KINDS[n // 80 % 5]}, {_PLACES[n // 400 % 12]}")


_ACTS = [
    "Check the night staffing rota on {unit} against the staff actually on shift, and report any gaps to the "
    "next meeting",
    "Audit ten MAR charts on {unit} for missed signatures and PRN protocols, and share the findings with the ICB "
    "pharmacist",
    "Visit {unit} unannounced in the evening to check call bell response times and the handover notes between "
    "shifts",
    "Review the falls log for {unit} with the registered manager, including post-falls observations and referrals",
    "Confirm that every resident on {unit} with a DoLS authorisation has its conditions written into the care plan",
]
_UNITS = ["the Rowan unit", "the Beech unit", "the Cedar unit", "the Willow unit"]


def task(n: int) -> str:
    """An action's title of about 120 characters."""
    return _ACTS[n % len(_ACTS)].format(unit=_UNITS[n // len(_ACTS) % len(_UNITS)]) + f" (ref {n + 1})"


def long_text(words: str, length: int = 1000) -> str:
    text = (words + " ") * (length // len(words) + 1)
    return text[:length].rsplit(" ", 1)[0] + "."


REASON = long_text("Four new concerns since the summer, two at immediate risk; the improvement plan dates have "
                   "slipped twice and the CQC rated the service inadequate for safe at its last inspection.")
DISSENT = long_text("The provider's own audit shows steady improvement on nights and in medicines; I would keep "
                    "the level where it is and review it at the next update meeting in a month.")

# -- seeding through the repositories ------------------------------------------------------------------------------


async def install(bot: RunningBot) -> None:
    """The bot in the team's channel (Priya, who installed it, is the team's admin), a team of 150."""
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    bot.connector.roster = [roster_entry(u) for u in TEAM]
    bot.connector.roster_page_size = 500


def member(user: User, role: CaseRole = CaseRole.MEMBER) -> Member:
    return Member(user.aad, user.name, role)


def adhoc(n: int, owner: User | None, due: date | None, *, source: str = "adhoc:update_meeting",
          required: bool = False) -> PlannedAction:
    return PlannedAction(source, "adhoc", task(n), "member", person(owner) if owner else None, due, required)


def thread_id(case: Case) -> str:
    """The message id of the case card, which starts the case's thread in the channel."""
    return f"1710{case.id:09d}"


def spread(i: int, n: int, start: datetime = YEAR_AGO, end: datetime = NOW - timedelta(days=3)) -> datetime:
    return start + (end - start) * i / max(n - 1, 1)


async def add_cases(
    bot: RunningBot, count: int, members: Callable[[int], list[Member]],
    actions: Callable[[int], list[PlannedAction]] = lambda i: [], *,
    step: Callable[[int], str] = lambda i: "update_meeting", step_due: Callable[[int], date | None] = lambda i: None,
) -> list[Case]:
    """`count` open cases, each about its own provider, with its card in the channel, its members and actions, and
    something recorded on it two days ago (so none is stale)."""
    services = bot.app[SERVICES]
    tenant = bot.teams.tenant
    ids = []
    async with bot.uow() as uow:
        for i in range(count):
            opened = spread(i, count, YEAR_AGO, NOW - timedelta(days=20))
            provider, _ = await uow.providers.add(tenant, provider_name(i), list(ServiceType)[i % 4], opened)
            if i % 7 == 3:
                await uow.providers.set_status(provider.id, list(CommissioningStatus)[1 + i % 3])
            number = await uow.references.next_number(tenant, CASE, 2026)
            case = await uow.cases.add(
                tenant_id=tenant, reference=str(Reference(CASE, 2026, number)), provider=provider,
                pack=services.pack, step=step(i), lead_agency=LeadAgency.COUNCIL, opened_by=actor(PRIYA), at=opened,
                channel_id=CHANNEL_ID, members=members(i), concern_ids=[], step_due_on=step_due(i))
            await uow.cases.set_card(case.id, f"{CHANNEL_ID};messageid={thread_id(case)}", thread_id(case))
            if i % 3:
                await uow.cases.set_level(case.id, ("minor", "moderate", "major")[i % 3])
            if planned := actions(i):
                await uow.cases.add_actions(case.id, planned, opened)
            await uow.audit.record(AuditEvent(NOW - timedelta(days=2), tenant, TOM.aad, TOM.name, "action.done",
                                              "case", case.reference, f"{CHANNEL_ID};messageid={thread_id(case)}",
                                              {"title": task(i), "note": "Done at the visit."}))
            ids.append(case.id)
        await uow.commit()
    async with bot.uow() as uow:
        return [await uow.cases.get(tenant, case_id) for case_id in ids]


def some_of(i: int, count: int, *, skip: tuple[User, ...] = ()) -> list[User]:
    """`count` of the team's 147 others for the i-th case, never those in `skip`."""
    chosen: list[User] = []
    k = 0
    while len(chosen) < count:
        user = OTHERS[(i * 7 + k) % len(OTHERS)]
        if user not in skip and user not in chosen:
            chosen.append(user)
        k += 1
    return chosen


STEPS = ["decision", "initial_meeting", "findings_meeting", "update_meeting", "quality_assurance"]


async def seed_council(bot: RunningBot, *, helen_chairs: Callable[[int], bool], big_overdue: int = 0) -> list[Case]:
    """300 open cases: Helen chairs those `helen_chairs` says, Tom coordinates every one, ten members each, four
    actions each (every tenth case with one overdue and a challenge, some unassigned), a fifth with a step target
    (some past). The first case also has `big_overdue` overdue actions."""
    chairs = OTHERS[100:120]

    def members(i: int) -> list[Member]:
        chair = HELEN if helen_chairs(i) else chairs[i % len(chairs)]
        return [member(chair, CaseRole.CHAIR), member(TOM, CaseRole.COORDINATOR),
                *(member(u) for u in some_of(i, 10, skip=(*chairs,)))]

    def actions(i: int) -> list[PlannedAction]:
        people = some_of(i, 10, skip=(*chairs,))
        planned = [adhoc(i * 4 + k, people[k] if (i + k) % 5 else None,
                         date(2026, 11, 10) if k == 0 and i % 10 == 0
                         else date(2026, 11, 30) + timedelta(days=i % 30 + k)) for k in range(4)]
        if i % 10 == 0:
            planned.append(PlannedAction("challenge:update_meeting", "challenge",
                                         f"Answer {people[0].name}'s challenge about the level of concern", "chair",
                                         person(HELEN if helen_chairs(i) else chairs[i % len(chairs)]),
                                         date(2026, 11, 26), False))
        if i == 0:
            planned += [adhoc(2000 + n, people[n % 10], date(2026, 11, 2) + timedelta(days=n % 12))
                        for n in range(big_overdue)]
        return planned

    return await add_cases(bot, 300, members, actions, step=lambda i: STEPS[i % len(STEPS)],
                           step_due=lambda i: date(2026, 11, 16) + timedelta(days=i % 25) if i % 5 == 0 else None)


async def add_concerns(bot: RunningBot, providers: list[Provider], count: int, *,
                       raised: Callable[[int], datetime], screened: Callable[[int], str | None] = lambda n: None,
                       source: Callable[[int], SourceAgency] = lambda n: list(SourceAgency)[n % len(SourceAgency)],
                       ) -> None:
    """`count` concerns, the n-th about providers[n % len(providers)], raised when `raised(n)` says; screened at the
    threshold `screened(n)` gives, if any."""
    services = bot.app[SERVICES]
    tenant = bot.teams.tenant
    async with bot.uow() as uow:
        for n in range(count):
            at = raised(n)
            raiser = OTHERS[n % len(OTHERS)]
            new = NewConcern(categories=(Category.MEDICATION, Category.STAFFING, Category.CARE_PLANNING)[: 1 + n % 3],
                             source_agency=source(n), description=DESCRIPTION,
                             occurred_on=(at - timedelta(days=2)).date(), immediate_risk=n % 11 == 0,
                             individual_reference=f"LAS-{200000 + n}" if n % 2 else None)
            number = await uow.references.next_number(tenant, CONCERN, 2026)
            concern = await uow.concerns.add(
                tenant_id=tenant, reference=str(Reference(CONCERN, 2026, number)),
                provider=providers[n % len(providers)], concern=new, raised_by=actor(raiser), raised_at=at,
                conversation_id=f"{CHANNEL_ID};messageid=1720{n:09d}", submission_key=f"team-scale-{n}")
            threshold = screened(n)
            if threshold is not None:
                await uow.screenings.add(
                    concern, ScreeningDecision(list(ScreeningOutcome)[n % 3], threshold, RATIONALE, n % 4 != 0, None),
                    services.pack, actor(OTHERS[6]), at + timedelta(hours=4),
                    services.calendar.add_working_days(at.date(), 5))
        await uow.commit()


async def add_screened_in_bulk(bot: RunningBot, providers: list[Provider], count: int) -> None:
    """`count` concerns screened over the last year, three in four with the referrer told (most in time): the rows
    the concern and screening repositories write, written at once (one by one, 5,000 took 15 seconds)."""
    services = bot.app[SERVICES]
    tenant = bot.teams.tenant
    raised = [spread(n, count, NOW - timedelta(days=360)) for n in range(count)]
    outcomes = [list(ScreeningOutcome)[n % 3].value for n in range(count)]
    async with bot.uow() as uow:
        session = uow._session
        await session.execute(insert(ConcernRow), [{
            "tenant_id": tenant, "reference": str(Reference(CONCERN, 2026, n + 1)),
            "provider_id": providers[n % len(providers)].id, "categories": ["medication", "staffing"][: 1 + n % 2],
            "source_agency": list(SourceAgency)[n % len(SourceAgency)].value, "description": DESCRIPTION,
            "occurred_on": (at - timedelta(days=2)).date(), "immediate_risk": n % 11 == 0,
            "individual_reference": None, "status": "screened", "raised_by_id": OTHERS[n % 147].aad,
            "raised_by_name": OTHERS[n % 147].name, "raised_at": at, "raised_in_conversation": CHANNEL_ID,
            "submission_key": f"bulk-{n}", "screening_outcome": outcomes[n]} for n, at in enumerate(raised)])
        ids = dict((await session.execute(select(ConcernRow.reference, ConcernRow.id))).all())
        await session.execute(insert(ScreeningRow), [{
            "tenant_id": tenant, "concern_id": ids[str(Reference(CONCERN, 2026, n + 1))], "sequence": 1,
            "outcome": outcomes[n], "threshold": ("minor", "moderate", "major")[n % 3], "pack_id": services.pack.id,
            "pack_version": services.pack.version, "rationale": RATIONALE, "rescreen_reason": None,
            "screened_by_id": OTHERS[6].aad, "screened_by_name": OTHERS[6].name, "screened_at": at + timedelta(hours=4),
            "feedback_due_on": services.calendar.add_working_days(at.date(), 5),
            "feedback_given_at": at + timedelta(days=1 + n % 9) if n % 4 else None,
            "feedback_given_by": OTHERS[6].aad if n % 4 else None} for n, at in enumerate(raised)])
        await uow.commit()


async def add_providers(bot: RunningBot, count: int, first: int = 0) -> list[Provider]:
    async with bot.uow() as uow:
        providers = [(await uow.providers.add(bot.teams.tenant, provider_name(first + n), ServiceType.NURSING,
                                              YEAR_AGO))[0] for n in range(count)]
        await uow.commit()
    return providers


# -- looking at what came back -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _largest_card(running_bot: RunningBot, request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    request.node.user_properties.append(("largest_card_bytes",
                                         max((size(c) for c in running_bot.connector.cards()), default=0)))


def rows_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in card["body"] if b.get("type") == "Container"]


def says_it_shows(card: dict[str, Any], listed: int, total: int, first: int = 1) -> None:
    """A list of `total` that shows `listed` rows from the `first`th must say so, with the right numbers."""
    # A list with pages says which rows ("26–50 shown"); the actions list, which has none, how many ("first 25").
    claimed = [(int(a or 1), int(b or n)) for n, a, b in
               re.findall(r"\((?:first (\d+)|(\d+)–(\d+)) shown\)", texts(card))]
    if listed < total:
        assert claimed == [(first, first + listed - 1)], (
            f"{listed} of {total} rows shown from {first}; the card says {claimed or 'nothing'} about which")
    else:
        assert claimed == [], f"all {total} rows shown, yet the card says only {claimed} are"


def row_labels(card: dict[str, Any]) -> list[str]:
    """Each row's first column: a case's or a concern's reference."""
    return [row["items"][0]["columns"][0]["items"][0]["text"] for row in rows_of(card)]


async def every_page(bot: RunningBot, caplog: pytest.LogCaptureFixture, first: Sent, total: int) -> list[str]:
    """Press Next until there is none, each page shown in place of the last; then Previous back to the start.
    Returns every row's label in the order shown."""
    shown, current, starts = row_labels(first.card), first, [1]
    thread = thread_of(first, bot.teams.tenant)

    async def press(title: str) -> Sent:
        [button] = [a for a in typed(current.card["actions"], "Action.Submit") if a["title"].startswith(title)]
        [page] = [s for s in await view(bot, caplog, bot.teams.card_submit(
            PRIYA, button["data"], reply_to=current.activity_id, conversation=thread)) if s.card is not None]
        assert page.method == "PUT" and page.activity_id == first.activity_id  # the same card, further on
        return page

    while any(a["title"].startswith("Next ") for a in current.card["actions"]):
        starts.append(starts[-1] + len(row_labels(current.card)))
        current = await press("Next ")
        says_it_shows(current.card, len(row_labels(current.card)), total, starts[-1])
        shown += row_labels(current.card)
    assert not any(a["title"].startswith("Previous ") for a in first.card["actions"])
    for start in reversed(starts[:-1]):
        current = await press("Previous ")
        says_it_shows(current.card, len(row_labels(current.card)), total, start)
    assert row_labels(current.card) == row_labels(first.card)
    return shown


def in_thread(bot: RunningBot, case: Case, user: User, text: str) -> dict[str, Any]:
    return bot.teams.channel_message(user, text, thread=thread_id(case))


def case_thread(bot: RunningBot, case: Case) -> dict[str, Any]:
    return bot.teams.channel_conversation(thread_id(case))


# -- 1. the open cases ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "command", "title", "total"), [
    (PRIYA, "cases", "Open cases", 300),
    (HELEN, "cases mine", "My open cases", 200),
    (TOM, "cases mine", "My open cases", 300),
], ids=["cases", "cases-mine-chair-of-200", "cases-mine-coordinator-of-300"])
async def test_the_open_cases_of_a_large_council_are_listed_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture, who: User, command: str, title: str, total: int,
) -> None:
    bot = running_bot
    await install(bot)
    await seed_council(bot, helen_chairs=lambda i: i % 3 != 2)
    bot.connector.clear()
    activity = bot.teams.channel_message(who, command) if who is PRIYA else bot.teams.personal_message(who, command)
    sent = await view(bot, caplog, activity, title, f"{total} open")
    card = card_of(sent, title).card
    says_it_shows(card, len(rows_of(card)), total)
    if who is PRIYA:  # every case, once each, page by page, and back
        shown = await every_page(bot, caplog, card_of(sent, title), total)
        assert len(shown) == len(set(shown)) == total


# -- 2. concerns waiting to be screened, and one provider's ----------------------------------------------------------


async def test_500_unscreened_concerns_are_listed_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = running_bot
    await install(bot)
    providers = await add_providers(bot, 60)
    await add_concerns(bot, providers, 500, raised=lambda n: spread(n, 500, NOW - timedelta(days=60)))
    bot.connector.clear()
    sent = await view(bot, caplog, bot.teams.channel_message(PRIYA, "concerns"), "Unscreened concerns",
                      "500 waiting")
    card = card_of(sent, "Unscreened concerns").card
    says_it_shows(card, len(rows_of(card)), 500)
    shown = await every_page(bot, caplog, card_of(sent, "Unscreened concerns"), 500)
    assert len(shown) == len(set(shown)) == 500
    async with bot.uow() as uow:  # oldest first, across the pages
        oldest = [c.reference for c in await uow.concerns.unscreened(bot.teams.tenant, 500)]
    assert shown == oldest

    # A page button from before the list shrank shows the last page there is, not an empty card.
    stale = {"verb": "concerns.list", "from": "1000"}
    [page] = [s for s in await view(bot, caplog, bot.teams.card_submit(
        PRIYA, stale, reply_to=card_of(sent, "Unscreened concerns").activity_id,
        conversation=thread_of(card_of(sent, "Unscreened concerns"), bot.teams.tenant))) if s.card is not None]
    assert row_labels(page.card) == oldest[480:]


async def test_a_provider_with_300_concerns_is_listed_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = running_bot
    await install(bot)
    [provider] = await add_providers(bot, 1, first=5)
    await add_concerns(bot, [provider], 300, raised=lambda n: spread(n, 300),
                       screened=lambda n: ("minor", "moderate", "major")[n % 3] if n < 250 else None)
    bot.connector.clear()
    sent = await view(bot, caplog, bot.teams.channel_message(PRIYA, f"provider {provider.name}"),
                      f"Concerns about {provider.name}", "300 in all")
    card = card_of(sent, f"Concerns about {provider.name}").card
    says_it_shows(card, len(rows_of(card)), 300)
    shown = await every_page(bot, caplog, card_of(sent, f"Concerns about {provider.name}"), 300)
    assert len(shown) == len(set(shown)) == 300


# -- 3. actions ----------------------------------------------------------------------------------------------------


async def seed_actions(bot: RunningBot) -> list[Case]:
    """30 cases of 40 members (Helen chairs, Tom coordinates, the busy member on each): 100 actions nobody owns,
    200 open actions of the busy member (some overdue), 20 of Helen's."""
    def members(i: int) -> list[Member]:
        return [member(HELEN, CaseRole.CHAIR), member(TOM, CaseRole.COORDINATOR), member(PRIYA),
                *(member(u) for u in [BUSY, *some_of(i, 36, skip=(BUSY,))])]

    def actions(i: int) -> list[PlannedAction]:
        unowned = [adhoc(n, None, date(2026, 11, 12) + timedelta(days=n % 20)) for n in range(100) if n % 30 == i]
        busy = [adhoc(100 + n, BUSY, date(2026, 11, 2) + timedelta(days=n // 3)) for n in range(200) if n % 30 == i]
        helens = [adhoc(300 + n, HELEN, date(2026, 11, 20) + timedelta(days=n)) for n in range(20) if n % 30 == i]
        return unowned + busy + helens

    return await add_cases(bot, 30, members, actions)


@pytest.mark.parametrize(("who", "owned", "to_assign"), [(HELEN, 20, 100), (TOM, 0, 100), (BUSY, 200, 0)],
                         ids=["chair-100-to-assign", "coordinator-100-to-assign", "member-200-open"])
async def test_the_actions_list_of_a_busy_person_is_within_the_card_limit_and_says_how_many_it_shows(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture, who: User, owned: int, to_assign: int,
) -> None:
    bot = running_bot
    await install(bot)
    await seed_actions(bot)
    bot.connector.clear()
    sent = await view(bot, caplog, bot.teams.personal_message(who, "actions"), f"Actions for {who.name}")
    card = card_of(sent, f"Actions for {who.name}").card
    rows = rows_of(card)
    waiting = next((n for n, b in enumerate(card["body"]) if b.get("text") == "Waiting for you to assign"), None)
    assert (waiting is not None) == bool(to_assign)
    mine = [r for r in rows if waiting is None or card["body"].index(r) < waiting]
    given = [r for r in rows if waiting is not None and card["body"].index(r) > waiting]
    shown = texts(card)
    if owned:
        assert f"{owned} open" in shown
        says_it_shows({"body": card["body"][:waiting]}, len(mine), owned)
    if to_assign:
        assert f"{to_assign} in the cases you chair or coordinate have no owner" in shown
        says_it_shows({"body": card["body"][waiting:]}, len(given), to_assign)
        assert given, "not one action to assign is shown"


# -- 4. the referrer-feedback indicator ----------------------------------------------------------------------------


async def test_indicators_over_5000_screenings_answer_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = running_bot
    await install(bot)
    providers = await add_providers(bot, 120)
    await add_screened_in_bulk(bot, providers, 5000)
    bot.connector.clear()
    sent = await view(bot, caplog, bot.teams.channel_message(PRIYA, "indicators"), "Feedback to referrers")
    facts = {f["title"]: f["value"] for b in card_of(sent, "Feedback to referrers").card["body"]
             if b.get("type") == "FactSet" for f in b["facts"]}
    assert facts["Concerns screened"] == "5000"


# -- 5. the morning's sweep for a chair of 300 cases ----------------------------------------------------------------


async def test_the_sweep_for_a_chair_of_300_cases_sends_every_message_within_the_card_limit(
    running_bot: RunningBot, clock: FixedClock, caplog: pytest.LogCaptureFixture,
) -> None:
    """Wednesday 25 November at 08:30: the chair's digest, the nudges about each case with overdue actions (one
    with 100), the escalation prompts in the case threads, the owners' reminders and the steps' targets. The rate
    limiter is opened wide so that the whole outbox goes in one sweep (else most of it waits for the next minutes'
    sweeps); every row must then be sent (or no longer wanted), none dead or waiting to be retried."""
    bot = running_bot
    await install(bot)
    await bot.send(bot.teams.personal_message(HELEN, "help"))  # the chair's 1:1 chat, kept by the bot
    await seed_council(bot, helen_chairs=lambda i: True, big_overdue=100)
    bot.connector.clear()
    sweeper = bot.app[SWEEPER]
    sweeper.deliverer.limiter = RateLimiter(((10**6, 1.0),), ((10**6, 1.0),))
    clock.at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        await sweeper.sweep(clock.at)
    # The connector stub gives every 1:1 chat it creates the same id, so owners' new chats stored at the same moment
    # collide on PostgreSQL (in Teams each has its own): the reminder was sent, only the stub's chat is not kept.
    logged = [f"{r.levelname} {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING
              and not r.getMessage().startswith("could not store the new personal chat with ")]

    sent = [s for s in bot.connector.sent if s.card is not None]
    too_large = [(heading(s.card), size(s.card)) for s in sent if size(s.card) > MAX_CARD_BYTES]
    async with bot.uow() as uow:
        rows = (await uow._session.execute(select(OutboxRow.kind, OutboxRow.status, OutboxRow.attempts,
                                                  OutboxRow.summary, OutboxRow.last_error))).all()
    failed = [(kind, status, attempts, summary[:100], (error or "")[:300]) for kind, status, attempts, summary, error
              in rows if status not in ("sent", "void", "covered") or (error and not error.startswith("not sent:"))]
    kinds = {row.kind for row in rows}
    assert not too_large and not failed and not logged, (
        f"{len(rows)} outbox rows; too large: {too_large}; failed: {failed}; logged: {logged[:5]}")
    assert {"digest", "case.overdue", "action.escalate", "action.due"} <= kinds, kinds
    # The case left with 100 overdue actions gets one prompt in its thread listing them, not one for each.
    prompts = [s for s in sent if "actions past the limit on" in texts(s.card)]
    assert len({s.conversation_id for s in prompts}) == len(prompts) > 0
    async with bot.uow() as uow:
        prompted = Counter(await uow._session.scalars(select(OutboxRow.case_reference).where(
            OutboxRow.kind == "action.escalate", OutboxRow.status == "sent")))
    assert prompted and max(prompted.values()) == 1, prompted.most_common(3)  # one prompt per case thread
    # The chair of every case gets one nudge about all those with overdue actions (was one per case).
    [nudge] = [s for s in sent if "of your cases" in texts(s.card)]
    nudged = Counter(status for kind, status, *_ in rows if kind == "case.overdue")
    assert nudged["sent"] == 1 and nudged["covered"] >= 20, nudged
    assert f'overdue actions on {nudged["covered"] + 1} of your cases' in texts(nudge.card)
    assert "Open PC-" in texts(nudge.card) and "your digest and 'cases mine' list them" in texts(nudge.card)
    listed = [int(re.search(r'"(\d+) actions past the limit on ', texts(s.card)).group(1))  # type: ignore[union-attr]
              for s in prompts]
    assert max(listed) >= 100, listed
    [digest] = [s for s in sent if "The chair's daily digest" in texts(s.card)]
    assert "Your cases (300)" in texts(digest.card) and "and 288 more (see 'cases mine')" in texts(digest.card)


# -- 6. a pattern prompt -------------------------------------------------------------------------------------------


async def test_a_pattern_of_60_concerns_is_prompted_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """59 concerns about one provider in the last 85 days (ten screened at Major), then a 60th raised."""
    bot = running_bot
    await install(bot)
    [provider] = await add_providers(bot, 1, first=7)
    await add_concerns(bot, [provider], 59, raised=lambda n: spread(n, 59, NOW - timedelta(days=85),
                                                                    NOW - timedelta(hours=2)),
                       screened=lambda n: "major" if n % 6 == 0 else None)
    bot.connector.clear()
    form, form_id, thread = await open_form_in_channel(bot)
    sent = await view(bot, caplog, bot.teams.card_submit(PRIYA, submit_data(form) | {
        "provider_id": str(provider.id), "categories": "medication,staffing", "source_agency": "cqc",
        "description": DESCRIPTION, "occurred_on": "2026-11-20", "immediate_risk": "false"},
        reply_to=form_id, conversation=thread), "A pattern of concerns")
    prompts = [s for s in sent if s.card and "A pattern of concerns" in texts(s.card)]
    assert prompts and all(size(p.card) <= MAX_CARD_BYTES for p in prompts)
    # The latest twelve concerns are named, and how many earlier ones there are (sixty was a wall on a phone).
    facts = [next(b for b in p.card["body"] if b.get("type") == "FactSet")["facts"] for p in prompts]
    assert all(len(f) <= 13 for f in facts)
    cut = [f for f in facts if f[-1]["title"].startswith("and ")]
    assert cut and all(len(f) == 13 and f[-1]["value"] == f"'provider {provider.name}' lists them" for f in cut)
    assert {"title": "and 48 earlier", "value": f"'provider {provider.name}' lists them"} in [f[-1] for f in cut]


# -- 7. a handover across 40 cases ---------------------------------------------------------------------------------


async def seed_handover(bot: RunningBot) -> list[Case]:
    """40 cases on which the busy member holds a role (coordinator on 10, minute taker on 10, member on 20), three
    open actions, a register entry and an invitation to a meeting still to come."""
    def members(i: int) -> list[Member]:
        role = CaseRole.COORDINATOR if i < 10 else CaseRole.MINUTE_TAKER if i < 20 else CaseRole.MEMBER
        others = some_of(i, 8, skip=(BUSY, COVER))
        return [member(HELEN, CaseRole.CHAIR), member(BUSY, role),
                *([] if role is CaseRole.COORDINATOR else [member(TOM, CaseRole.COORDINATOR)]),
                *(member(u) for u in others)]

    def actions(i: int) -> list[PlannedAction]:
        return [adhoc(i * 3 + k, BUSY, date(2026, 11, 18) + timedelta(days=3 * k + i % 7)) for k in range(3)]

    cases = await add_cases(bot, 40, members, actions)
    async with bot.uow() as uow:
        for i, case in enumerate(cases):
            await uow.documents.add(case.id, [PlannedDocument(
                "monitoring_report", f"Monitoring report MON-2026-{500 + i:04d}", "contracts_review_officer",
                person(BUSY), "expected")], actor(HELEN), NOW - timedelta(days=30))
            starts = datetime(2026, 11, 30, 10, 0, tzinfo=UTC) + timedelta(days=i % 20)
            await uow.meetings.add(case, MeetingForm(
                MeetingKind.UPDATE, starts, starts + timedelta(hours=2), "Room 4.12, Bernard Weatherill House", None,
                person(HELEN), person(OTHERS[2]), (person(BUSY), person(TOM), *(person(u) for u in OTHERS[3:10])),
                ProviderAttends.SECOND_PART), actor(HELEN), NOW - timedelta(days=10))
        await uow.commit()
    return cases


async def handover_plan(bot: RunningBot, caplog: pytest.LogCaptureFixture) -> Sent:
    sent = await view(bot, caplog, bot.teams.channel_message(PRIYA, "handover"), "Hand over someone's work")
    form = card_of(sent, "Hand over someone's work")
    sent = await view(bot, caplog, bot.teams.card_submit(
        PRIYA, submit_data(form.card) | {"outgoing": BUSY.aad, "incoming": COVER.aad, "reason": "away"},
        reply_to=form.activity_id, conversation=thread_of(form, bot.teams.tenant)),
        f"Hand over {BUSY.name}'s work to {COVER.name}?")
    return card_of(sent, f"Hand over {BUSY.name}'s work to {COVER.name}?")


async def test_the_handover_plan_for_someone_on_40_cases_is_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = running_bot
    await install(bot)
    cases = await seed_handover(bot)
    bot.connector.clear()
    plan = await handover_plan(bot, caplog)
    listed = rows_of(plan.card)
    assert len(listed) == len(cases), f"{len(listed)} of the {len(cases)} cases listed"
    assert "Hand over" in [a["title"] for a in plan.card["actions"]]


async def test_handing_over_work_on_40_cases_is_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """Hand over on the plan: a post in each case's thread, each case card updated, the new owner told of 120
    actions."""
    bot = running_bot
    await install(bot)
    await seed_handover(bot)
    bot.connector.clear()
    plan = await handover_plan(bot, caplog)
    confirm = next(a["data"] for a in plan.card["actions"] if a["title"] == "Hand over")
    await view(bot, caplog, bot.teams.card_submit(PRIYA, confirm, reply_to=plan.activity_id,
                                                  conversation=thread_of(plan, bot.teams.tenant)),
               f"{BUSY.name}'s work is handed over to {COVER.name}")
    async with bot.uow() as uow:
        left = await uow.cases.open_actions_of(bot.teams.tenant, BUSY.aad)
    assert left == []


# -- 8. closing a case with 100 open actions -------------------------------------------------------------------------


async def seed_closing(bot: RunningBot) -> Case:
    """A case at the quality assurance step with 40 members and 100 open actions: 50 required checks of the step
    and 50 from the update meetings."""
    def members(i: int) -> list[Member]:
        return [member(HELEN, CaseRole.CHAIR), member(TOM, CaseRole.COORDINATOR), member(PRIYA),
                *(member(u) for u in some_of(i, 37))]

    def actions(i: int) -> list[PlannedAction]:
        return [adhoc(n, OTHERS[n % 37], date(2026, 11, 10) + timedelta(days=n % 30),
                      source="step:quality_assurance" if n < 50 else "adhoc:update_meeting", required=n < 50)
                for n in range(100)]

    [case] = await add_cases(bot, 1, members, actions, step=lambda i: "quality_assurance",
                             step_due=lambda i: date(2026, 11, 20))
    return case


async def test_the_close_case_form_for_a_case_with_100_open_actions_is_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = running_bot
    await install(bot)
    case = await seed_closing(bot)
    bot.connector.clear()
    sent = await view(bot, caplog, in_thread(bot, case, HELEN, f"close case {case.reference}"),
                      f"Close case {case.reference}", "50 required actions")
    form = card_of(sent, f"Close case {case.reference}").card
    assert texts(form).count("• ") == 50  # every required action still open is named


async def test_closing_a_case_with_100_open_actions_is_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """The chair closes it anyway, with a reason: the form becomes the notice, the closure, lessons learned and the
    closing step's checklist are posted in the thread, the case card is updated, the chair gets the links."""
    bot = running_bot
    await install(bot)
    case = await seed_closing(bot)
    bot.connector.clear()
    sent = await view(bot, caplog, in_thread(bot, case, HELEN, f"close case {case.reference}"),
                      f"Close case {case.reference}")
    form = card_of(sent, f"Close case {case.reference}")
    await view(bot, caplog, bot.teams.card_submit(HELEN, submit_data(form.card) | {
        "outcome": "Unannounced visits on 3 and 10 December found MAR charts complete and night staffing stable.",
        "override_reason": "Improvement evidenced by monitoring; the remaining checks are not needed."},
        reply_to=form.activity_id, conversation=case_thread(bot, case)),
        f"{case.reference} is closed", f"Lessons learned: {case.reference}")
    async with bot.uow() as uow:
        actions = await uow.cases.actions(case.id)
    assert sum(a.status == "not_applicable" and a.note == "Still open when the case closed." for a in actions) == 100


@pytest.mark.parametrize("what", ["report", "export"])
async def test_the_files_of_a_case_closed_with_100_open_actions_open(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture, what: str,
) -> None:
    bot = running_bot
    await install(bot)
    case = await seed_closing(bot)
    services = bot.app[SERVICES]
    await closure.close_case(bot.uow(), services.clock, services.calendar, services.pack, actor(HELEN),
                             case.reference, "Unannounced visits found MAR charts complete and staffing stable.",
                             "Improvement evidenced by monitoring.", conversation_id="test")
    bot.connector.clear()
    sent = await view(bot, caplog, bot.teams.personal_message(HELEN, f"case {case.reference} {what}"),
                      case.reference)
    links = {a["title"]: a["url"] for s in sent if s.card for a in s.card.get("actions", [])
             if a["type"] == "Action.OpenUrl"}
    assert links
    for title, url in links.items():
        async with bot.http.get(bot.url + urlsplit(url).path) as response:
            body = await response.read()
            assert response.status == 200, (title, response.status, body[:300])


# -- 9. a vote of 60 members with long reasons -------------------------------------------------------------------------


VOTERS = [TOM, PRIYA, *OTHERS[:59]]  # 61 members besides the chair; 60 vote


async def seed_vote(bot: RunningBot, caplog: pytest.LogCaptureFixture, ballots: int) -> tuple[Case, Sent]:
    """A case of 62 members at moderate; the chair starts a vote and `ballots` members vote Major (one in five
    Moderate), each with a 1,000-character reason and a 1,000-character dissent."""
    def members(i: int) -> list[Member]:
        return [member(HELEN, CaseRole.CHAIR), member(TOM, CaseRole.COORDINATOR), member(PRIYA),
                *(member(u) for u in OTHERS[:59])]

    [case] = await add_cases(bot, 1, members)
    async with bot.uow() as uow:
        await uow.cases.set_level(case.id, "moderate")
        await uow.commit()
    bot.connector.clear()
    sent = await view(bot, caplog, in_thread(bot, case, HELEN, f"vote {case.reference}"),
                      f"Vote on the level of {case.reference}")
    vote_post = card_of(sent, f"Vote on the level of {case.reference}")
    async with bot.uow() as uow:
        vote = await uow.votes.open_for_case(case.id)
        for n, voter in enumerate(VOTERS[:ballots]):
            await uow.votes.cast(vote.id, actor(voter), BallotForm("moderate" if n % 5 == 4 else "major", REASON,
                                                                   DISSENT), NOW)
        await uow.commit()
    return case, vote_post


async def test_the_60th_ballot_with_long_reasons_updates_the_vote_card_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """The vote card tells every ballot with its reason and dissent in full, and is drawn again with each ballot:
    at 60 ballots of 2,000 characters it was 133,810 bytes, and the 60th member's vote left the card as it was
    (the update is only logged)."""
    bot = running_bot
    await install(bot)
    case, vote_post = await seed_vote(bot, caplog, 59)
    cast = next(a for a in vote_post.card["actions"] if a["title"] == "Cast my vote")["data"]
    sent = await view(bot, caplog, bot.teams.card_submit(
        VOTERS[59], cast | {"level": "major", "reason": REASON, "dissent": "true", "dissent_reason": DISSENT},
        reply_to=vote_post.activity_id, conversation=case_thread(bot, case)))
    updated = [s for s in sent if s.method == "PUT" and s.activity_id == vote_post.activity_id]
    assert updated and "60 voted" in texts(updated[-1].card)
    # Every ballot is listed, each reason cut short (the audit trail and case file keep it whole).
    lines = [r["text"] for r in typed(updated[-1].card, "TextRun") if ": Major" in r["text"]
             or ": Moderate" in r["text"] or ": Minor" in r["text"]]
    assert len(lines) == 60 and all(len(line) < 600 for line in lines)
    assert REASON[:150] in texts(updated[-1].card) and REASON not in texts(updated[-1].card)


async def test_confirming_the_level_after_60_ballots_with_long_reasons_is_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """The chair closes the vote and confirms the majority's level: the vote card is drawn again, closed, with every
    ballot (132,213 bytes: the card still showed the vote as open)."""
    bot = running_bot
    await install(bot)
    case, vote_post = await seed_vote(bot, caplog, 60)
    close = next(a for a in vote_post.card["actions"] if a["title"] == "Close vote (chair)")["data"]
    sent = await view(bot, caplog, bot.teams.card_submit(HELEN, close, reply_to=vote_post.activity_id,
                                                         conversation=case_thread(bot, case)),
                      f"Confirm the level of {case.reference}")
    form = card_of(sent, f"Confirm the level of {case.reference}")
    sent = await view(bot, caplog, bot.teams.card_submit(HELEN, submit_data(form.card) | {"level": "major"},
                                                         reply_to=form.activity_id,
                                                         conversation=case_thread(bot, case)),
                      f"{case.reference}: level confirmed as")
    updated = [s for s in sent if s.method == "PUT" and s.activity_id == vote_post.activity_id]
    assert updated and "level confirmed as Major" in texts(updated[-1].card)
