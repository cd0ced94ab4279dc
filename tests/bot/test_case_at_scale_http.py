"""One case at the size a year of the procedure gives it, over real HTTP: every view of it must still answer.

Teams refuses a message over about 100 KB and the renderer refuses a card over MAX_CARD_BYTES (80,000), which
fails the turn. The step checklist failed so at 36 open actions. These tests seed one provider concerns case as
it stands after a year: 40 members, a team of 150, 60 concerns of which 30 started s42 enquiries, 123 actions of
which 66 are open and 52 one member's, 40 register entries with links, 22 meetings of 15 attendees with minutes,
1,500 audit events, a vote of 35 ballots, seven challenges. Then they open each view and press each button of
the case card, as the chair and as others. Each view is its own test, so one failure hides no other. For each:
no failed turn, a reply, every card sent at most MAX_CARD_BYTES, and nothing the bot logged as a card it could
not send (an update of a card in place is only logged when it fails).

The seed goes mostly straight through the repositories (about a second a test), so that the file runs in about
two minutes on both databases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update

from bot.app import SERVICES
from bot.cards.renderer import MAX_CARD_BYTES
from concerns.actions import PlannedAction, plan_step
from concerns.cases import Case, CaseRole, Member, Person
from concerns.documents import CURRENT, CommunicationCheck, DocumentState, PlannedDocument
from concerns.enquiries import AbuseCategory, CausedBy, EnquiryForm, EnquiryStatus, RiskOutcome, Substantiated
from concerns.meetings import MeetingForm, MeetingKind, ProviderAttends
from concerns.model import Actor, AuditEvent, NewConcern
from concerns.references import CONCERN, Reference
from concerns.screening import ScreeningDecision
from concerns.vocabulary import Category, ScreeningOutcome, SourceAgency
from concerns.votes import BallotForm, Confirmation
from storage.models import CaseRow, CaseStepRow
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt, thread_of
from tests.bot.test_hostile_http import turn_errors
from tests.bot.test_http import submit_data, texts
from tests.support.activities import HELEN, PRIYA, TEAM_ID, TOM, User, roster_entry
from tests.support.cards import typed
from tests.support.connector import Sent

CASE = "PC-2026-0001"
PROVIDER = "Oakwood Lodge Nursing Home"
YEAR_AGO = datetime(2025, 11, 24, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # the `clock` fixture's time

# -- the people: a team of 150 ---------------------------------------------------------------------------------

_FIRST = ["Aisha", "Benedict", "Chloe", "Daniel", "Eleanor", "Farid", "Georgina", "Hannah", "Imran", "Jessica",
          "Kwame", "Laura", "Mohammed", "Niamh", "Oluwaseun", "Paul", "Rachel", "Sunil", "Tanya", "Usman",
          "Victoria", "Wei", "Yasmin", "Zoe", "Adam", "Bethany", "Callum", "Deborah", "Emeka", "Fatima"]
_LAST = ["Adeyemi", "Brennan-Clarke", "Chowdhury", "Davies", "Evans", "Fitzgerald", "Gallagher", "Hussain",
         "Iqbal", "Johnson", "Kowalski", "Lewis", "Mensah", "Nowak", "O'Brien", "Patel", "Quinn", "Robinson",
         "Singh", "Thompson", "Underwood", "Varga", "Williams-Boateng", "Xu", "Young"]


def _team() -> list[User]:
    people: list[User] = []
    names: set[str] = set()
    i = 0
    while len(people) < 147:
        name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST) * 7 + i) % len(_LAST)]}"
        if name not in names:
            names.add(name)
            people.append(User(name, f"b2c3d4e5-{len(people):04d}-4c6d-8e9f-{len(people):012d}"))
        i += 1
    return people


OTHERS = _team()
BUSY = OTHERS[0]  # a member given most of the case's ad hoc actions: 50+ open
COVER = OTHERS[1]  # takes the busy member's work over in the handover plan
MINUTE_TAKER = OTHERS[2]
SENIOR = OTHERS[3]  # the team's Head of Service
TEAM = [HELEN, TOM, PRIYA, *OTHERS]
MEMBERS = [HELEN, TOM, PRIYA, *OTHERS[:37]]  # 40 on the case

# -- realistic text ---------------------------------------------------------------------------------------------

_UNITS = ["Rowan unit (first floor, nursing)", "Beech unit (ground floor, dementia)", "Cedar unit (second floor)",
          "Willow unit (respite and discharge to assess beds)"]
_TASKS = [
    "Carry out an unannounced night visit to the {unit} to check call bell response times, staffing on the rota "
    "against staff on shift, and the handover notes",
    "Audit a sample of ten MAR charts on the {unit} for missed signatures, PRN protocols and covert medication "
    "authorisations, and report to the next meeting",
    "Obtain the provider's updated dependency tool for the {unit} and check it against the agency use and the "
    "nurse to resident ratio agreed at the last meeting",
    "Review the pressure ulcer log for the {unit} with the tissue viability nurse, including repositioning charts "
    "for everyone rated high risk on Waterlow",
    "Check that every resident on the {unit} with a DoLS authorisation has the conditions reflected in the care "
    "plan and that expired applications were renewed",
    "Request the falls analysis for the {unit} for the last quarter, with post-falls observations and referrals "
    "to the falls service, and share it with the ICB",
    "Meet the registered manager and the clinical lead about the {unit} improvement plan actions that are past "
    "their dates, and agree revised dates in writing",
    "Confirm with the placing authorities that reviews of their residents on the {unit} are booked, and chase the "
    "two out of borough authorities that have not replied",
]


def action_title(n: int) -> str:
    return _TASKS[n % len(_TASKS)].format(unit=_UNITS[(n // len(_TASKS)) % len(_UNITS)]) + f" (ref {n + 1})"


def decision(n: int) -> str:
    return (f"Decision {n + 1}: the provider will submit a revised service improvement plan covering staffing on "
            f"nights, medicines management and care planning by the end of the month; the coordinator will share "
            f"it with partner agencies.")[:210]


def note(n: int) -> str:
    return (f"Done: visit made on the {n % 28 + 1}th, findings written up and saved to the case folder; two "
            "issues raised with the manager, who agreed to act on them within the week.")


RATIONALE = ("Third concern in two months about night staffing and medicines. Previous quality concern closed in "
             "the spring with an improvement plan that has not been sustained. Adult has capacity and wants the "
             "matter looked into; the provider is already the subject of a provider concerns case and this "
             "concern adds to the pattern of omissions in medicines management on the nursing unit. Individual "
             "risk is managed by the allocated worker through a protection plan agreed with the family. Section "
             "42 duty met: care and support needs, experiencing or at risk of neglect, unable to protect "
             "themselves because of those needs. Feedback to the referrer by telephone.")
DESCRIPTION = ("During a review visit the social worker found that the resident's evening medicines had not been "
               "signed for on four nights in the last fortnight, and the night nurse could not say whether they had "
               "been given. The resident's daughter reports that call bells are often unanswered for more than "
               "twenty minutes at night and that agency staff do not know residents' needs.")
SHAREPOINT = ("https://croydoncouncil.sharepoint.com/sites/SafeguardingAdults/Shared%20Documents/Provider%20concerns/"
              "PC-2026-0001/{folder}/{name}.docx?d=w3f9c2a1b5e7d4c8f9a0b1c2d3e4f5a6b&csf=1&web=1&e=AbCdEf")


@dataclass
class Big:
    """What the seed made, for the tests to press."""

    case_post: Sent
    case: Case
    actions: dict[str, int] = field(default_factory=dict)  # counts, for the report


def actor(user: User) -> Actor:
    return Actor(user.aad, user.name, "72f988bf-86f1-41af-91ab-2d7cd011db47")


def person(user: User) -> Person:
    return Person(user.aad, user.name, user.id)


def spread(i: int, n: int) -> datetime:
    """The i-th of n moments spread over the year the case has run."""
    return YEAR_AGO + (NOW - timedelta(days=3) - YEAR_AGO) * i / max(n - 1, 1)


async def seed(bot: RunningBot) -> Big:
    case_post, _ = await open_case_via_prompt(bot)  # chair Helen, coordinator Tom, Priya opened it
    await bot.send(bot.teams.bot_added_to_team(PRIYA))  # Priya installed the bot: the team's admin
    bot.connector.roster = [roster_entry(u) for u in TEAM]
    bot.connector.roster_page_size = 500
    services = bot.app[SERVICES]
    pack, calendar = services.pack, services.calendar
    tenant = bot.teams.tenant
    chair = actor(HELEN)

    events: list[AuditEvent] = []

    def event(at: datetime, who: User, action: str, subject_ref: str = CASE, subject_type: str = "case",
              **details: Any) -> None:
        events.append(AuditEvent(at, tenant, who.aad, who.name, action, subject_type, subject_ref,
                                 case_post.conversation_id, details))

    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(tenant, CASE)
        await uow._session.execute(update(CaseRow).where(CaseRow.id == case.id).values(opened_at=YEAR_AGO))
        await uow._session.execute(update(CaseStepRow).where(CaseStepRow.case_id == case.id)
                                   .values(entered_at=YEAR_AGO))
        # The team: roles of the procedure held by some of its 150.
        for role, who in (("head_of_service", SENIOR), ("commissioning_manager", OTHERS[4]),
                          ("quality_assurance_officer", OTHERS[5]), ("safeguarding_manager", OTHERS[6]),
                          ("contracts_review_officer", OTHERS[7]), ("icb_safeguarding_nurse", OTHERS[8])):
            await uow.team_roles.set(tenant, TEAM_ID, role, person(who), actor(PRIYA), YEAR_AGO)
        # 40 members.
        for i, user in enumerate(MEMBERS[3:]):
            role = (CaseRole.MINUTE_TAKER if user == MINUTE_TAKER
                    else CaseRole.OBSERVER if i >= len(MEMBERS) - 5 else CaseRole.MEMBER)
            at = spread(i, 40)
            await uow.cases.set_member(case.id, Member(user.aad, user.name, role), role, at)
            event(at, HELEN, "case.role_changed", name=user.name, user_id=user.aad, role=role.value, previous=None)

        # 58 more concerns about the provider (60 in all), linked to the case; 45 screened, 30 of them s42.
        provider = case.provider
        concerns = []
        for i in range(58):
            at = spread(i, 58)
            number = await uow.references.next_number(tenant, CONCERN, 2026)
            reference = str(Reference(CONCERN, 2026, number))
            raiser = MEMBERS[i % len(MEMBERS)]
            new = NewConcern(
                categories=(Category.MEDICATION, Category.STAFFING, Category.CARE_PLANNING)[: 1 + i % 3],
                source_agency=list(SourceAgency)[i % len(SourceAgency)], description=DESCRIPTION,
                occurred_on=(at - timedelta(days=2)).date(), immediate_risk=i % 9 == 0,
                individual_reference=f"LAS-{104000 + i}" if i % 2 == 0 else None)
            concern = await uow.concerns.add(
                tenant_id=tenant, reference=reference, provider=provider, concern=new, raised_by=actor(raiser),
                raised_at=at, conversation_id=case_post.conversation_id, submission_key=f"scale-{i}")
            await uow.cases.link_concern(case.id, concern.id)
            concerns.append(concern)
            event(at, raiser, "concern.raised", reference, "concern", provider_id=provider.id, provider=provider.name,
                  categories=[c.value for c in new.categories], source_agency=new.source_agency.value,
                  occurred_on=new.occurred_on.isoformat(), immediate_risk=new.immediate_risk)
            event(at, raiser, "case.concern_linked", concern=reference)
            if i < 45:
                outcome = ScreeningOutcome.S42_ENQUIRY if i < 30 else ScreeningOutcome.QUALITY_CONCERN
                screener = OTHERS[6]
                await uow.screenings.add(concern, ScreeningDecision(outcome, "moderate", RATIONALE, True, None),
                                         pack, actor(screener), at + timedelta(hours=3),
                                         calendar.add_working_days(at.date(), 5))
                event(at + timedelta(hours=3), screener, "concern.screened", reference, "concern",
                      outcome=outcome.value, threshold="moderate", rationale=RATIONALE)
                if i < 22:  # the findings meeting recorded these enquiries' outcomes
                    concluded = i % 2 == 0
                    await uow.enquiries.save(concern, EnquiryForm(
                        (AbuseCategory.NEGLECT, AbuseCategory.ORGANISATIONAL), CausedBy.PROVIDER,
                        EnquiryStatus.CONCLUDED if concluded else EnquiryStatus.OPEN,
                        Substantiated.PARTLY if concluded else None, RiskOutcome.REDUCED if concluded else None),
                        chair, at + timedelta(days=40))

        # A year of steps: initial meeting, findings, and five update meetings (the step repeats).
        step_plan = [("initial_meeting", 20), ("findings_meeting", 90), *(("update_meeting", d)
                                                                           for d in (150, 200, 250, 300, 340))]
        holders = {h.role_id: h.person for h in await uow.team_roles.holders(tenant, TEAM_ID)}
        entries = []
        for step, day in step_plan:
            at = YEAR_AGO + timedelta(days=day)
            entries.append(await uow.cases.enter_step(case.id, step, at, chair))
            planned = plan_step(pack, step, at.date(), calendar, case, holders)
            ids = await uow.cases.add_actions(case.id, planned, at)
            last = day == step_plan[-1][1]
            for n, (action_id, plan) in enumerate(zip(ids, planned, strict=True)):
                if not last or n % 2 == 0:
                    await uow.cases.close_action(action_id, "done", note(n), chair, at + timedelta(days=10))
                    event(at + timedelta(days=10), HELEN, "action.done", title=plan.title, note=note(n))
            event(at, HELEN, "step.changed", step=step, previous="decision", target_agreed=False)
        await uow.cases.set_step_due(case.id, date(2026, 12, 14))
        # The decision step's checklist was done long ago.
        for a in await uow.cases.actions(case.id):
            if a.source == "step:decision" and a.status == "open":
                await uow.cases.close_action(a.id, "done", note(a.id), chair, YEAR_AGO + timedelta(days=5))

        # Ad hoc actions from the meetings: 60, of which 52 are the busy member's (open), some unassigned for the chair.
        adhoc = []
        for n in range(60):
            owner = BUSY if n < 52 else (None if n < 56 else MEMBERS[n % 10])
            due = date(2026, 11, 2) + timedelta(days=2 * n)  # some overdue, most to come
            adhoc.append(PlannedAction("adhoc:update_meeting", "adhoc", action_title(n), "member",
                                       person(owner) if owner else None, due, False))
            event(spread(n, 60), HELEN, "action.added", title=action_title(n),
                  owner=owner.name if owner else None, due_on=due.isoformat())
        await uow.cases.add_actions(case.id, adhoc, NOW - timedelta(days=30))
        # Challenges: four awaiting the chair's answer, three answered.
        for n in range(7):
            challenger = MEMBERS[10 + n]
            title = f"Answer {challenger.name}'s challenge about the level of concern"
            [challenge] = await uow.cases.add_actions(case.id, [PlannedAction(
                "challenge:update_meeting", "challenge", title, "chair", person(HELEN),
                date(2026, 11, 20) + timedelta(days=n), False)], spread(n, 7))
            if n >= 4:
                await uow.cases.close_action(challenge, "done", "The decision stands: see the minutes.", chair,
                                             spread(n, 7) + timedelta(days=2))
            event(spread(n, 7), challenger, "case.challenged", action_id=challenge, about="level",
                  reason="The evidence from the last three monitoring visits shows the risk has reduced, and the "
                         "provider has met every date in its improvement plan since the summer.",
                  wanted="Moderate rather than major", answer_by=HELEN.name, answer_by_id=HELEN.aad,
                  due_on="2026-11-20", to_senior=False, senior=False, names_are_staff=False)

        # The documents register: 7 from the opening, 33 enquiry and monitoring reports with versions and links.
        planned_docs = [PlannedDocument("enquiry_report" if n % 2 == 0 else "monitoring_report",
                                        f"{'Enquiry' if n % 2 == 0 else 'Monitoring'} report "
                                        f"{'ENQ' if n % 2 == 0 else 'MON'}-2026-{400 + n:04d}",
                                        "safeguarding_manager" if n % 2 == 0 else "contracts_review_officer",
                                        person(OTHERS[6] if n % 2 == 0 else OTHERS[7]), "expected")
                        for n in range(33)]
        await uow.documents.add(case.id, planned_docs, chair, YEAR_AGO + timedelta(days=30))
        for n, document in enumerate(await uow.documents.for_case(case.id)):
            await uow.documents.update(document.id, DocumentState(
                CURRENT, f"v{n % 4 + 1}.{n % 3}", SHAREPOINT.format(folder="Reports", name=f"report-{n:03d}-v{n % 4}"),
                date(2026, 10, 1) + timedelta(days=n), date(2026, 11, 1) + timedelta(days=2 * n)),
                chair, spread(n, 40))
            event(spread(n, 40), HELEN, "document.updated", title=document.title,
                  changes={"version": [None, f"v{n % 4 + 1}"], "link": [None, "set"]})
        # Communication strategy answers at each step entry.
        for entry in entries:
            await uow.documents.record_answers(case.id, entry.id, [
                CommunicationCheck(item.id, "yes", "Agreed at the meeting; see the minutes.")
                for item in pack.communication_checklist], chair, entry.entered_at + timedelta(days=1))

        # 22 meetings of 15 attendees: 18 held with minutes, 1 cancelled, 3 to come.
        kinds = [MeetingKind.DECISION, MeetingKind.INITIAL, MeetingKind.FINDINGS,
                 *[MeetingKind.UPDATE] * 16, MeetingKind.CONTINGENCY, MeetingKind.UPDATE, MeetingKind.UPDATE]
        for n, kind in enumerate(kinds):
            starts = (YEAR_AGO + timedelta(days=14 * n)) if n < 19 else (NOW + timedelta(days=7 * (n - 18)))
            form = MeetingForm(kind, starts, starts + timedelta(hours=2), "Room 4.12, Bernard Weatherill House",
                               None, person(HELEN), person(MINUTE_TAKER),
                               tuple(person(u) for u in MEMBERS[n % 20: n % 20 + 15]), ProviderAttends.SECOND_PART)
            meeting = await uow.meetings.add(case, form, chair, starts - timedelta(days=10))
            event(starts - timedelta(days=10), HELEN, "meeting.scheduled", kind=kind.value,
                  starts_at=starts.isoformat(), chair=HELEN.name)
            if n < 18:
                decisions = [decision(n * 6 + d) for d in range(6)]
                await uow.meetings.record_minutes(meeting.id, SHAREPOINT.format(folder="Minutes",
                                                                                name=f"minutes-{n:02d}"),
                                                  decisions, actor(MINUTE_TAKER), starts + timedelta(days=2))
                event(starts + timedelta(days=2), MINUTE_TAKER, "meeting.minutes_recorded", decisions=decisions,
                      actions=[action_title(n)])
            elif n == 18:
                await uow.meetings.cancel(meeting.id)

        # The level: a vote of 35 ballots, confirmed as moderate.
        vote = await uow.votes.start(case, chair, YEAR_AGO + timedelta(days=3))
        for n, voter in enumerate(MEMBERS[:35]):
            level = "moderate" if n % 5 else "major"
            reason = ("Repeated medicines omissions on nights and a pattern across three sources; the provider is "
                      "engaging but the improvement plan has not been sustained.")
            await uow.votes.cast(vote.id, actor(voter), BallotForm(level, reason, None), YEAR_AGO + timedelta(days=4))
            event(YEAR_AGO + timedelta(days=4), voter, "vote.cast", level=level, reason=reason)
        await uow.votes.close(vote.id, Confirmation("moderate", None, None), chair, YEAR_AGO + timedelta(days=5))
        await uow.cases.set_level(case.id, "moderate")
        event(YEAR_AGO + timedelta(days=5), HELEN, "level.confirmed", level="moderate", rationale=None)

        # The rest of a year's audit trail on the case, to 1,500 events: the day to day of its actions.
        makers: list[Callable[[int, datetime], None]] = [
            lambda n, at: event(at, BUSY, "action.done", title=action_title(n), note=note(n)),
            lambda n, at: event(at, TOM, "action.redated", title=action_title(n), previous="2026-06-01",
                                due_on="2026-06-15", reason="The provider asked for more time to gather the "
                                                            "evidence; agreed at the update meeting."),
            lambda n, at: event(at, HELEN, "action.reassigned", title=action_title(n), owner=BUSY.name,
                                previous=TOM.name),
            lambda n, at: event(at, BUSY, "action.snoozed", title=action_title(n), until="2026-07-01"),
            lambda n, at: event(at, TOM, "document.updated", title=f"Monitoring report MON-2026-{n:04d}",
                                changes={"version": ["v1", "v2"]}),
            lambda n, at: event(at, TOM, "communication.checked", step="update_meeting",
                                answers=[{"item": "record_and_document", "answer": "yes"}] * 3),
        ]
        count = len(events)
        total = 1500
        for n in range(total - count):
            makers[n % len(makers)](n, spread(n, total - count))
        for e in sorted(events, key=lambda e: e.occurred_at):
            await uow.audit.record(e)
        await uow.commit()
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(tenant, CASE)
        actions = await uow.cases.actions(case.id)
    big = Big(case_post, case)
    big.actions = {"all": len(actions), "open": sum(a.status == "open" for a in actions),
                   "busy_open": sum(a.status == "open" and a.owner is not None and a.owner.user_id == BUSY.aad
                                     for a in actions)}
    assert len(case.members) == 40 and len(case.concerns) == 60 and big.actions["busy_open"] >= 50
    bot.connector.clear()
    return big


@pytest.fixture
async def big(running_bot: RunningBot) -> Big:
    return await seed(running_bot)


# -- looking at what came back -----------------------------------------------------------------------------------


def size(card: dict[str, Any]) -> int:
    return len(json.dumps(card).encode())


def heading(card: dict[str, Any]) -> str:
    """The card's title: its first bold text, else its first text."""
    blocks = [b for b in card.get("body", []) if b.get("type") == "TextBlock"]
    for block in [b for b in blocks if b.get("weight") == "Bolder"] + blocks:
        return str(block.get("text"))[:70]
    return texts(card)[:70]


async def view(bot: RunningBot, caplog: pytest.LogCaptureFixture, activity: dict[str, Any],
               *expected: str) -> list[Sent]:
    """Send the activity; what it sent. Fails on a failed turn, no reply, a card over the limit, a card the bot
    logged it could not send, or a reply without the `expected` text."""
    errors = await turn_errors(bot)
    caplog.clear()
    before = len(bot.connector.sent)
    with caplog.at_level(logging.WARNING):
        status = await bot.send(activity)
    sent = bot.connector.sent[before:]
    problems = []
    failed = [r for r in caplog.records if r.levelno >= logging.WARNING]
    if await turn_errors(bot) != errors:
        problems.append("the turn failed")
    for record in failed:
        cause = ""
        if record.exc_info and record.exc_info[1] is not None:
            cause = f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        problems.append(f"logged {record.levelname} {record.getMessage()}{cause}")
    if status not in (200, 201):
        problems.append(f"HTTP {status}")
    if not sent:
        problems.append("no reply")
    sizes = [(s.method, heading(s.card), size(s.card)) for s in sent if s.card is not None]
    for method, title, length in sizes:
        if length > MAX_CARD_BYTES:
            problems.append(f"{method} card {title!r} is {length:,} bytes")
    shown = " ".join(texts(s.card) if s.card else s.text for s in sent)
    missing = [text for text in expected if text not in shown]
    if missing:
        problems.append(f"the reply does not say {missing}: {[s.text or heading(s.card or {}) for s in sent]}")
    assert not problems, "\n".join(problems)
    return sent


def in_thread(bot: RunningBot, big: Big, user: User, text: str) -> dict[str, Any]:
    return bot.teams.channel_message(user, text, thread=big.case_post.conversation_id)


def in_chat(bot: RunningBot, user: User, text: str) -> dict[str, Any]:
    return bot.teams.personal_message(user, text)


def card_of(sent: list[Sent], text: str) -> Sent:
    return next(s for s in sent if s.card is not None and text in texts(s.card))


# -- the views, typed ---------------------------------------------------------------------------------------------

# (test id, who, where, command, what the reply must say)
VIEWS = [
    ("case-card-and-timeline-chair", HELEN, "thread", f"case {CASE}",
     (f"Provider concerns case {CASE}", f"Timeline of {CASE}")),
    ("case-card-and-timeline-member", BUSY, "channel", f"case {CASE}",
     (f"Provider concerns case {CASE}", f"Timeline of {CASE}")),
    ("roles", HELEN, "thread", f"roles {CASE}", (CASE,)),
    ("documents", HELEN, "thread", f"documents {CASE}", (f"Documents register: {CASE}",)),
    ("comms", HELEN, "thread", f"comms {CASE}", (CASE,)),
    ("meetings", HELEN, "thread", f"meetings {CASE}", (f"Meetings of {CASE}",)),
    ("meeting-schedule-form", HELEN, "thread", f"meeting {CASE}", (CASE,)),
    ("enquiries-chair", HELEN, "chat", f"enquiries {CASE}", (CASE, "C-2026-0003")),
    ("add-action-form", HELEN, "thread", f"add action {CASE}", (CASE,)),
    ("actions-chair", HELEN, "chat", "actions", (f"Actions for {HELEN.name}",)),
    ("actions-coordinator", TOM, "chat", "actions", (f"Actions for {TOM.name}",)),
    ("actions-50-open", BUSY, "chat", "actions", (f"Actions for {BUSY.name}",)),
    ("cases", HELEN, "channel", "cases", (CASE,)),
    ("cases-mine", BUSY, "chat", "cases mine", (CASE,)),
    ("concerns", PRIYA, "channel", "concerns", ("Unscreened concerns",)),
    ("provider", PRIYA, "channel", "provider Oakwood", (f"Concerns about {PROVIDER}",)),
    ("handover-form", HELEN, "channel", "handover", ("Hand over someone's work",)),
    ("close-case-form", HELEN, "thread", f"close case {CASE}", (CASE,)),
    ("team-roles", PRIYA, "channel", "team roles", ("Who holds the procedure's roles",)),
    ("indicators", PRIYA, "channel", "indicators", ()),
]


@pytest.mark.parametrize(("who", "where", "command", "expected"), [v[1:] for v in VIEWS], ids=[v[0] for v in VIEWS])
async def test_a_view_of_a_year_old_case_answers_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture, who: User, where: str, command: str,
    expected: tuple[str, ...],
) -> None:
    bot = running_bot
    activity = (in_thread(bot, big, who, command) if where == "thread" else
                bot.teams.channel_message(who, command) if where == "channel" else in_chat(bot, who, command))
    await view(bot, caplog, activity, *expected)


# -- the case card's buttons --------------------------------------------------------------------------------------

BUTTONS = [
    ("Roles", HELEN, ()),
    ("Next step", HELEN, ()),
    ("Start a vote on the level", HELEN, (f"Vote on the level of {CASE}",)),
    ("Close case", HELEN, (CASE,)),
]


@pytest.mark.parametrize(("title", "who", "expected"), BUTTONS,
                         ids=[f"{b[0].split()[0].lower()}-{b[1].name.split()[0].lower()}" for b in BUTTONS])
async def test_a_button_on_the_case_card_answers_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture, title: str, who: User,
    expected: tuple[str, ...],
) -> None:
    bot = running_bot
    button = next(a for a in big.case_post.card["actions"] if a["title"] == title)
    await view(bot, caplog, bot.teams.card_submit(who, button["data"], reply_to=big.case_post.activity_id,
                                                  conversation=thread_of(big.case_post, bot.teams.tenant)), *expected)


# -- views reached by more than one turn ---------------------------------------------------------------------------


async def test_the_vote_card_with_35_ballots_updates_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """A new vote on the level (a year on, the case may go up): 34 members have voted with reasons, and the 35th
    casts theirs from the card, which is drawn again with every ballot; then the chair closes it."""
    bot = running_bot
    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"vote {CASE}"), f"Vote on the level of {CASE}")
    vote_post = card_of(sent, f"Vote on the level of {CASE}")
    async with bot.uow() as uow:
        vote = await uow.votes.open_for_case(big.case.id)
        for n, voter in enumerate(MEMBERS[:34]):
            await uow.votes.cast(vote.id, actor(voter), BallotForm(
                "major" if n % 3 else "moderate",
                "Four new concerns since the summer, two at immediate risk; the improvement plan dates have slipped "
                "twice and the CQC rated the service inadequate for safe at its last inspection.",
                "The provider's own audit shows improvement; I would keep the level and review in a month."
                if n % 7 == 0 else None), NOW)
        await uow.commit()
    cast = next(a for a in vote_post.card["actions"] if a["title"] == "Cast my vote")["data"]
    sent = await view(bot, caplog, bot.teams.card_submit(
        MEMBERS[36], cast | {"level": "major", "reason": "Agree with the majority.", "dissent": "false"},
        reply_to=vote_post.activity_id, conversation=thread_of(vote_post, bot.teams.tenant)))
    updated = [s for s in sent if s.method == "PUT" and s.activity_id == vote_post.activity_id]
    assert updated and "35 voted" in texts(updated[-1].card), [s.text for s in sent]

    close = next(a for a in vote_post.card["actions"] if a["title"] == "Close vote (chair)")["data"]
    await view(bot, caplog, bot.teams.card_submit(HELEN, close, reply_to=vote_post.activity_id,
                                                  conversation=thread_of(vote_post, bot.teams.tenant)))


async def test_the_handover_plan_for_someone_with_50_open_actions_is_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """The chair hands the busy member's work on the case (52 open actions, a member's role) to a colleague while
    they are away: the plan first."""
    bot = running_bot
    sent = await view(bot, caplog, bot.teams.channel_message(HELEN, "handover"), "Hand over someone's work")
    form = card_of(sent, "Hand over someone's work")
    sent = await view(bot, caplog, bot.teams.card_submit(
        HELEN, submit_data(form.card) | {"outgoing": BUSY.aad, "incoming": COVER.aad, "reason": "away"},
        reply_to=form.activity_id, conversation=thread_of(form, bot.teams.tenant)),
        f"Hand over {BUSY.name}'s work to {COVER.name}?")
    plan = card_of(sent, f"Hand over {BUSY.name}'s work to {COVER.name}?")
    assert "Hand over" in [a["title"] for a in plan.card["actions"]]


async def test_the_chairs_own_handover_plan_is_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """The team admin plans handing the chair's work (the chair role, her open actions and challenges) to the
    Head of Service."""
    bot = running_bot
    sent = await view(bot, caplog, bot.teams.channel_message(PRIYA, "handover"), "Hand over someone's work")
    form = card_of(sent, "Hand over someone's work")
    await view(bot, caplog, bot.teams.card_submit(
        PRIYA, submit_data(form.card) | {"outgoing": HELEN.aad, "incoming": SENIOR.aad, "reason": "left"},
        reply_to=form.activity_id, conversation=thread_of(form, bot.teams.tenant)),
        f"Hand over {HELEN.name}'s work to {SENIOR.name}?")


async def test_the_case_file_export_opens_for_a_year_old_case(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """`case PC-2026-0001 export`: the links come in a 1:1 chat, and both files open."""
    bot = running_bot
    sent = await view(bot, caplog, in_chat(bot, HELEN, f"case {CASE} export"), "Case file (HTML)")
    card = card_of(sent, "Case file (HTML)").card
    links = {a["title"]: a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"}
    files = {}
    for title in ("Case file (JSON)", "Case file (HTML)"):
        async with bot.http.get(bot.url + urlsplit(links[title]).path) as response:
            files[title] = await response.read()
            assert response.status == 200, files[title][:300]
    data = json.loads(files["Case file (JSON)"])
    assert len(data["concerns"]) == 60 and len(data["actions"]) == big.actions["all"]


async def test_the_timeline_button_from_the_cases_list_answers_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """`cases`, then the button to the case's card and timeline, as someone on a phone far from the thread does."""
    bot = running_bot
    sent = await view(bot, caplog, in_chat(bot, BUSY, "cases"), CASE)
    listed = card_of(sent, CASE)
    show = next(a["data"] for a in _actions(listed.card) if a.get("data", {}).get("verb") == "case.show")
    await view(bot, caplog, bot.teams.card_submit(BUSY, show, reply_to=listed.activity_id,
                                                  conversation=bot.teams.personal_conversation(BUSY), channel=False),
               f"Timeline of {CASE}")


async def test_an_upcoming_meetings_card_from_the_list_answers_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """`meetings`, then Open its card on a meeting still to come (15 attendees)."""
    bot = running_bot
    sent = await view(bot, caplog, in_thread(bot, big, TOM, f"meetings {CASE}"), f"Meetings of {CASE}")
    listed = card_of(sent, f"Meetings of {CASE}")
    shows = [a["data"] for a in _actions(listed.card) if a.get("data", {}).get("verb") == "meeting.show"]
    assert shows, "the list offers no meeting's card"
    await view(bot, caplog, bot.teams.card_submit(TOM, shows[0], reply_to=listed.activity_id,
                                                  conversation=thread_of(listed, bot.teams.tenant)))


async def test_done_from_the_actions_list_updates_the_checklist_and_case_card_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """The member with 52 open actions confirms one from `actions`: the list is drawn again, and the step checklist
    (123 actions on the case, 66 open, a team of 150) and the case card in the thread are updated in place. An
    update in place that fails is only logged, so `view` fails on the log."""
    bot = running_bot
    sent = await view(bot, caplog, in_chat(bot, BUSY, "actions"), f"Actions for {BUSY.name}")
    listed = card_of(sent, f"Actions for {BUSY.name}")
    done = next(a["data"] for a in _actions(listed.card) if a.get("data", {}).get("verb") == "mine.done")
    sent = await view(bot, caplog, bot.teams.card_submit(
        BUSY, done | {f"note_{done['action']}": "Visit made on 20 November; findings saved to the case folder."},
        reply_to=listed.activity_id, conversation=bot.teams.personal_conversation(BUSY), channel=False),
        "Done:")
    updated = {s.activity_id for s in sent if s.method == "PUT"}
    assert big.case_post.activity_id in updated, "the case card was not updated"
    assert big.case.checklist_activity_id in updated, "the step checklist was not updated"


async def test_moving_the_case_on_posts_the_new_steps_checklist_within_the_card_limit(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """Next step on the case card, then Move the case to another update meeting with required actions still open:
    the new step's checklist is posted in the thread (every open action of the case, a team of 150) and the case
    card is updated in place."""
    bot = running_bot
    thread = thread_of(big.case_post, bot.teams.tenant)
    button = next(a for a in big.case_post.card["actions"] if a["title"] == "Next step")
    sent = await view(bot, caplog, bot.teams.card_submit(HELEN, button["data"], reply_to=big.case_post.activity_id,
                                                         conversation=thread), f"Move {CASE} to another step")
    form = card_of(sent, f"Move {CASE} to another step")
    sent = await view(bot, caplog, bot.teams.card_submit(HELEN, submit_data(form.card) | {
        "step": "update_meeting", "override_reason": "Carried forward to the next update meeting as agreed."},
        reply_to=form.activity_id, conversation=thread), f"{CASE} actions")
    updated = {s.activity_id for s in sent if s.method == "PUT"}
    assert big.case_post.activity_id in updated, "the case card was not updated"


async def test_the_meetings_list_says_how_many_it_leaves_out(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """Not a size failure: the list of a case's 22 meetings said "22 meetings" and showed 20, the oldest two (the
    concerns and decisions meeting and the initial meeting with the provider) left out without a word."""
    bot = running_bot
    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"meetings {CASE}"), f"Meetings of {CASE}")
    card = card_of(sent, f"Meetings of {CASE}").card
    rows = [b for b in card["body"] if b.get("type") == "Container"]
    assert len(rows) == 20 and "22 meetings, those to come first. The 2 oldest are in the case file ('case " \
        f"{CASE} export')." in texts(card)


def _actions(node: Any) -> list[dict[str, Any]]:
    """Every action on a card, however deep."""
    return typed(node, "Action.")


def _entries(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each register entry's Update: a form (Action.ShowCard) or the button that opens it, by the entry's title."""
    found = {}
    for row in (b for b in card["body"] if b.get("type") == "Container"):
        title = row["items"][0]["inlines"][0]["text"]
        update = [a for a in _actions(row) if a.get("title") == "Update"]
        if update:
            found[title] = update[0]
    return found


async def test_a_long_register_opens_any_entrys_form_and_saves_it(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """40 entries with links are too many forms for one card (91 KB: the turn failed). The entries overdue for
    review keep theirs; every other entry's Update shows the register again with its form, which saves."""
    bot = running_bot
    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"documents {CASE}"), f"Documents register: {CASE}")
    register = card_of(sent, f"Documents register: {CASE}")
    entries = _entries(register.card)
    assert len(entries) == 40  # every entry listed
    forms = {t for t, a in entries.items() if a["type"] == "Action.ShowCard"}
    buttons = {t for t, a in entries.items() if a["type"] == "Action.Submit"}
    assert forms and buttons and "open to update here; Update opens any other" in texts(register.card)
    async with bot.uow() as uow:
        documents = await uow.documents.for_case(big.case.id)
    overdue = {d.title for d in documents if d.next_review_on and d.next_review_on < NOW.date()}
    assert overdue and overdue <= forms  # the pressing ones keep their forms

    title = sorted(buttons)[-1]
    thread = thread_of(register, bot.teams.tenant)
    sent = await view(bot, caplog, bot.teams.card_submit(HELEN, entries[title]["data"], reply_to=register.activity_id,
                                                         conversation=thread), f"{title}: its Update now opens")
    [again] = [s for s in sent if s.method == "PUT" and s.activity_id == register.activity_id]
    form = _entries(again.card)[title]
    assert form["type"] == "Action.ShowCard"
    save = form["card"]["actions"][0]["data"]
    number = save["document"]
    await view(bot, caplog, bot.teams.card_submit(HELEN, save | {f"version_{number}": "v9", f"link_{number}": "",
                                                                 f"reviewed_on_{number}": "",
                                                                 f"next_review_on_{number}": ""},
                                                  reply_to=register.activity_id, conversation=thread),
               f"{title}: version, link updated by {HELEN.name}")
    async with bot.uow() as uow:
        saved = next(d for d in await uow.documents.for_case(big.case.id) if d.title == title)
    assert saved.version == "v9"


async def test_a_long_enquiry_matrix_opens_any_enquirys_form_and_saves_it(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """30 s42 enquiries are too many forms for one card (95 KB: the turn failed). Those still open keep theirs;
    a concluded one's Record shows the matrix again with its form, which saves."""
    bot = running_bot
    sent = await view(bot, caplog, in_chat(bot, HELEN, f"enquiries {CASE}"), f"s42 enquiries of {CASE}")
    matrix = card_of(sent, f"s42 enquiries of {CASE}")
    records = {a["title"].removeprefix("Record "): a for a in _actions(matrix.card)
               if str(a.get("title", "")).startswith("Record ")}
    assert len(records) == 30 and "Record opens any other" in texts(matrix.card)
    buttons = [c for c, a in records.items() if a["type"] == "Action.Submit"]
    forms = [c for c, a in records.items() if a["type"] == "Action.ShowCard"]
    assert buttons and forms
    async with bot.uow() as uow:
        concluded = {c for c in records if (o := await uow.enquiries.outcome(
            (await uow.concerns.get_by_reference(bot.teams.tenant, c)).id)) and o.form.status.value != "open"}
    assert set(buttons) <= concluded  # those still open keep their forms

    chosen = buttons[0]
    chat = bot.teams.personal_conversation(HELEN)
    sent = await view(bot, caplog, bot.teams.card_submit(HELEN, records[chosen]["data"], reply_to=matrix.activity_id,
                                                         conversation=chat, channel=False),
                      f"{chosen}: its Record now opens its form")
    [again] = [s for s in sent if s.method == "PUT" and s.activity_id == matrix.activity_id]
    form = next(a for a in _actions(again.card) if a.get("title") == f"Record {chosen}")
    assert form["type"] == "Action.ShowCard"
    save = form["card"]["actions"][0]["data"]
    await view(bot, caplog, bot.teams.card_submit(HELEN, save | {
        f"categories_{chosen}": "neglect", f"caused_by_{chosen}": "provider", f"status_{chosen}": "concluded",
        f"substantiated_{chosen}": "yes", f"risk_{chosen}": "removed"},
        reply_to=matrix.activity_id, conversation=chat, channel=False), f"{chosen} recorded.")
    async with bot.uow() as uow:
        outcome = await uow.enquiries.outcome((await uow.concerns.get_by_reference(bot.teams.tenant, chosen)).id)
    assert outcome.form.risk is RiskOutcome.REMOVED


@pytest.mark.parametrize("words", ["The adult has care and support needs and is at risk of neglect by omission: ",
                                   "Mae gan yr oedolyn anghenion gofal a chymorth ŵ ŷ â ê î ô û: "])
async def test_a_timeline_of_long_rationales_is_shown_within_the_card_limit(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture, words: str,
) -> None:
    """A screening's rationale may be 4,000 characters and the timeline told each in full: forty of them in a row
    (a busy month of screenings) are 160 KB, and `case` failed. Each line is cut short (the case file has it all)
    and as many of the latest as fit are shown, said so: fewer where Welsh letters go out as six bytes each."""
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    long = (words * 80)[:4000]
    async with bot.uow() as uow:
        for n in range(45):
            await uow.audit.record(AuditEvent(NOW - timedelta(minutes=45 - n), bot.teams.tenant, TOM.aad, TOM.name,
                                              "concern.screened", "concern", "C-2026-0001",
                                              case_post.conversation_id,
                                              {"outcome": "s42_enquiry", "threshold": "major", "rationale": long}))
        await uow.commit()
    sent = await view(bot, caplog, in_thread(bot, Big(case_post, None), HELEN, f"case {CASE}"), f"Timeline of {CASE}")
    timeline = card_of(sent, f"Timeline of {CASE}").card
    assert size(timeline) <= MAX_CARD_BYTES
    assert "(in full in the case file)" in texts(timeline)
    lines = [b for b in timeline["body"] if b.get("type") == "ColumnSet"]
    assert 10 <= len(lines) <= 40 and f"latest {len(lines)} events" in texts(timeline)


async def test_the_case_card_names_a_few_concerns_and_members_and_says_how_many(
    running_bot: RunningBot, big: Big, caplog: pytest.LogCaptureFixture,
) -> None:
    """Sixty concern references and forty names were one wall of text on a phone."""
    bot = running_bot
    sent = await view(bot, caplog, in_thread(bot, big, TOM, f"case {CASE}"), f"Provider concerns case {CASE}")
    card = card_of(sent, f"Provider concerns case {CASE}").card
    facts = {f["title"]: f["value"] for b in card["body"] if b.get("type") == "FactSet" for f in b["facts"]}
    # The two that prompted the case were raised today; the seed's 58 over the year before.
    assert facts["Concerns"].startswith("60: the latest C-2026-0002, C-2026-0001, C-2026-0060, ")
    assert facts["Concerns"].endswith(f" and 52 more ('provider {PROVIDER}' lists them)")
    assert facts["Members"].startswith("40: ")
    assert facts["Members"].endswith(f" and 32 more ('roles {CASE}' lists them)")


LARGE_TEAM = [HELEN, TOM, PRIYA, *(User(f"Colleague {n:04d} Longer-Surname", f"c3d4e5f6-{n:04d}-4d6e-8f90-{n:012d}")
                                   for n in range(997))]
ROSTER_VIEWS = [
    ("meeting-form", HELEN, "thread", f"meeting {CASE}", (CASE,)),
    ("roles", HELEN, "thread", f"roles {CASE}", (CASE,)),
    ("add-action-form", HELEN, "thread", f"add action {CASE}", (CASE,)),
    ("handover-form", HELEN, "channel", "handover", ("Hand over someone's work",)),
    ("team-roles", PRIYA, "channel", "team roles", ("Who holds the procedure's roles",)),
]


@pytest.mark.parametrize(("who", "where", "command", "expected"), [v[1:] for v in ROSTER_VIEWS],
                         ids=[v[0] for v in ROSTER_VIEWS])
async def test_a_form_listing_the_team_answers_for_a_team_of_a_thousand(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture, who: User, where: str, command: str,
    expected: tuple[str, ...],
) -> None:
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    await bot.send(bot.teams.bot_added_to_team(PRIYA))
    bot.connector.roster = [roster_entry(u) for u in LARGE_TEAM]
    bot.connector.roster_page_size = 500
    big = Big(case_post, None)
    activity = in_thread(bot, big, who, command) if where == "thread" else bot.teams.channel_message(who, command)
    await view(bot, caplog, activity, *expected)


async def test_in_a_team_of_a_thousand_the_chair_finds_someone_by_name_and_gives_them_a_role(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """A thousand names do not fit on a card (the Roles form was 90 KB and failed): it lists the case's members
    and the team's role holders, says how to find anyone else, and finds them by part of their name."""
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    bot.connector.roster = [roster_entry(u) for u in LARGE_TEAM]
    bot.connector.roster_page_size = 500
    big = Big(case_post, None)

    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"roles {CASE}"), f"Roles on {CASE}")
    form = card_of(sent, f"Roles on {CASE}")
    [person] = [i for i in _inputs(form.card) if i["id"] == "person"]
    assert {c["title"] for c in person["choices"]} == {HELEN.name, TOM.name, PRIYA.name}
    assert "The team has 1000 members, too many to list" in texts(form.card)
    assert f"ask with part of their name: 'roles {CASE} patel'" in texts(form.card)

    # What was searched for is said back as plain text, never markdown (a link in the channel's card).
    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"roles {CASE} [x](https://evil.example)"),
                      "nobody's name has")
    form = card_of(sent, f"Roles on {CASE}")
    assert not [b for b in typed(form.card, "TextBlock") if "evil.example" in b["text"]]
    assert [r for r in typed(form.card, "TextRun") if "evil.example" in r["text"]]

    wanted = LARGE_TEAM[503]
    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"roles {CASE} 0500 longer"), f"Roles on {CASE}")
    form = card_of(sent, f"Roles on {CASE}")
    [person] = [i for i in _inputs(form.card) if i["id"] == "person"]
    assert wanted.name in {c["title"] for c in person["choices"]} and len(person["choices"]) == 4
    assert "and 1 whose name has '0500 longer'" in texts(form.card)
    await view(bot, caplog, bot.teams.card_submit(HELEN, submit_data(form.card) | {"person": wanted.aad,
                                                                                   "role": "member"},
                                                  reply_to=form.activity_id,
                                                  conversation=thread_of(form, bot.teams.tenant)))
    async with bot.uow() as uow:
        case = await uow.cases.get_by_reference(bot.teams.tenant, CASE)
    assert case.role_of(wanted.aad) is CaseRole.MEMBER
    # On the case now, they are listed without being searched for.
    sent = await view(bot, caplog, in_thread(bot, big, HELEN, f"add action {CASE}"), CASE)
    [owner] = [i for i in _inputs(card_of(sent, CASE).card) if i["id"] == "owner"]
    assert wanted.name in {c["title"] for c in owner["choices"]}


def _inputs(node: Any) -> list[dict[str, Any]]:
    """Every input on a card, however deep."""
    return typed(node, "Input.")


async def test_a_long_embargo_list_shows_the_most_restricted_first_and_says_how_many(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture,
) -> None:
    """A council with 250 providers under some restriction: the list was every one (100 KB); brokers need the
    embargoes first."""
    from concerns.vocabulary import CommissioningStatus, ServiceType

    bot = running_bot
    statuses = [CommissioningStatus.PLACE_WITH_CAUTION] * 3 + [CommissioningStatus.NEW_PLACEMENTS_SUSPENDED,
                                                               CommissioningStatus.EMBARGOED]
    async with bot.uow() as uow:
        for n in range(250):
            provider, _ = await uow.providers.add(bot.teams.tenant, f"Care Provider {n:03d} Residential and Nursing",
                                                  ServiceType.NURSING, NOW)
            await uow.providers.set_status(provider.id, statuses[n % len(statuses)])
        await uow.commit()
    sent = await view(bot, caplog, bot.teams.channel_message(TOM, "embargo list"), "250 providers, the 60 most "
                      "restricted shown")
    labels = ("Embargoed", "Place with caution", "New placements suspended")
    shown = [r for r in texts(card_of(sent, "250 providers").card).split('"') if r in labels]
    assert shown[:50] == ["Embargoed"] * 50 and shown[50:] == ["New placements suspended"] * 10
