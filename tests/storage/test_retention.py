"""Retention and subject requests against real databases (SQLite and PostgreSQL): what is anonymised, what
is kept for the statistics, that a dry run changes nothing, and that the audit chain still verifies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from concerns import closure, services
from concerns.calendar import WorkingCalendar
from concerns.cases import Person
from concerns.meetings import DecisionAction, MeetingForm, MeetingKind, MinutesForm, ProviderAttends, schedule_meeting
from concerns.meetings import record_minutes as minutes_of
from concerns.model import Actor
from concerns.retention import MARKER, PERSON, PERSON_ID, RecordType, RetentionPolicy, run_retention
from concerns.subjects import ERASED, erase_subject, record_export, subject_file
from concerns.votes import BallotForm, Confirmation
from storage.models import (
    AuditEventRow,
    BallotRow,
    Base,
    BotStateRow,
    CaseActionRow,
    CaseDocumentRow,
    CaseMemberRow,
    CaseRow,
    CaseStepRow,
    CommunicationCheckRow,
    ConcernRow,
    LessonsFeedbackRow,
    MeetingRow,
    OutboxRow,
    ScreeningRow,
    VoteRow,
)
from tests.storage.test_cases import HELEN, TOM, open_one
from tests.storage.test_screening import CROYDON
from tests.storage.test_screening import screen as screen_vetted
from tests.storage.test_services import TENANT
from tests.storage.test_services import raise_one as raise_vetted
from tests.support.audit import walk
from tests.support.clock import FixedClock

ENGLAND = WorkingCalendar("england")
CHAIR = Actor(HELEN.user_id, HELEN.name, TENANT)
OPERATOR = Actor("cli:dpo", "dpo (concerns-bot command line)", "")
POLICY = RetentionPolicy.of(CROYDON)  # declined 2 years, other 6, closed cases 7; drafts 30 days, outbox 90
SECRET = "Mrs Jones, room 12, bruising to her arm"


# The forms stop a name with a title unless the box says it is staff's. Records made before that check, or
# with the box ticked wrongly, hold one all the same: retention and erasure must remove it.
async def raise_one(*args: Any, **overrides: str) -> Any:
    return await raise_vetted(*args, names_are_staff="true", **overrides)


async def screen(*args: Any, **overrides: str) -> Any:
    return await screen_vetted(*args, names_are_staff="true", **overrides)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def snapshot(sessions: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that something changed nothing."""
    async with sessions() as session:
        return {table.name: sorted((tuple(row) for row in (await session.execute(select(table))).all()), key=repr)
                for table in Base.metadata.sorted_tables}


async def run(uow: Any, when: datetime, *, dry_run: bool = False) -> Any:
    return await run_retention(uow(), POLICY, when, OPERATOR, dry_run=dry_run)


async def closed_case(uow: Any, sessions: Any, clock: FixedClock, key: str, provider: str,
                      individual: str | None = None) -> Any:
    """A case with something in every table that hangs off it, closed at the clock's time plus a month."""
    raised = await raise_one(uow, clock, key, provider_name=provider, description=SECRET,
                             **({"individual_reference": individual} if individual else {}))
    await screen(uow, clock, raised.concern.reference, outcome="provider_concerns", rationale=f"About {SECRET}")
    case = await open_one(uow, clock, raised.concern.provider.id)
    _, vote = await services.start_vote(uow(), clock, CHAIR, case.reference, conversation_id="c")
    await services.cast_ballot(uow(), clock, CHAIR, vote.id, BallotForm("moderate", "Tom saw it", "Not me"),
                               conversation_id="c")
    await services.confirm_level(uow(), clock, CROYDON, CHAIR, vote.id,
                                 Confirmation("moderate", "Agreed with Tom", None), conversation_id="c")
    start = clock.now() + timedelta(days=7)
    scheduled = await schedule_meeting(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, MeetingForm(
        MeetingKind.INITIAL, start, start + timedelta(hours=2), "Mrs Jones's daughter's house", None,
        Person(HELEN.user_id, HELEN.name), Person(TOM.user_id, TOM.name), (Person(TOM.user_id, TOM.name),),
        ProviderAttends.SECOND_PART), conversation_id="c")
    clock.advance(days=8)
    await minutes_of(uow(), clock, CHAIR, scheduled.meeting.id, MinutesForm(
        "https://council.sharepoint.com/minutes.docx", ("Visit Mrs Jones weekly", "Tell her son"),
        (DecisionAction(1, "Visit Mrs Jones weekly", Person(TOM.user_id, TOM.name), start.date()),)),
        conversation_id="c")
    _, action = await services.add_action(uow(), clock, ENGLAND, CHAIR, case.reference, "Call Mrs Jones's son",
                                          Person(TOM.user_id, TOM.name),
                                          ENGLAND.add_working_days(clock.now().date(), 3).isoformat(),
                                          conversation_id="c", names_are_staff=True)
    await services.close_action(uow(), clock, CHAIR, action.id, "not_applicable", "Her son moved away",
                                conversation_id="c")
    async with uow() as tx:
        entry = (await tx.cases.step_entries(case.id))[0]
    async with sessions() as session:
        await session.execute(update(CaseDocumentRow).where(CaseDocumentRow.case_id == case.id).values(
            link="https://council.sharepoint.com/plan.docx", owner_name="Tom Okafor"))
        await session.execute(insert(CommunicationCheckRow).values(
            case_id=case.id, step_entry_id=entry.id, item_id="families", answer="yes", note="Told Mrs Jones's son",
            answered_by_id=HELEN.user_id, answered_by_name=HELEN.name, answered_at=clock.now()))
        await session.commit()
    clock.advance(days=22)
    await closure.close_case(uow(), clock, ENGLAND, CROYDON, CHAIR, case.reference, "Mrs Jones moved; improved.",
                             "Closed early: the home closed", conversation_id="c", names_are_staff=True)
    await closure.give_lessons(uow(), clock, CHAIR, case.reference, "Tom's visits", "Ask Mrs Jones sooner",
                               conversation_id="c")
    return case


async def outbox_row(sessions: Any, status: str, created: datetime, sent: datetime | None) -> int:
    async with sessions() as session:
        row = OutboxRow(key=f"k-{status}-{created.isoformat()}", tenant_id=TENANT, kind="action_due", target="person",
                        lane="a:tom", case_reference="PC-2018-0001", recipient_user_id=TOM.user_id,
                        recipient_name=TOM.name, conversation_id="a:tom", facts={"owner": TOM.name},
                        summary="Tom Okafor: call Mrs Jones's son", status=status, attempts=1, send_after=created,
                        created_at=created, sent_at=sent, last_error="403 for Tom" if status == "dead" else None)
        session.add(row)
        await session.commit()
        return row.id


async def draft(sessions: Any, key: str, document: str, updated: datetime) -> None:
    async with sessions() as session:
        session.add(BotStateRow(key=key, document=document, e_tag=1, updated_at=updated))
        await session.commit()


async def test_a_declined_concern_is_anonymised_on_its_second_anniversary_in_uk_time(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    # Screened 23:30 UTC on 10 June 2024, which is 00:30 on 11 June in London (BST): the period runs from 11 June.
    clock.at = at("2024-06-10T12:00:00+00:00")
    raised = await raise_one(uow, clock, "k1", description=SECRET, individual_reference="LAS-104233")
    clock.at = at("2024-06-10T23:30:00+00:00")
    await screen(uow, clock, raised.concern.reference, outcome="no_further_action", threshold="minor",
                 rationale=f"{SECRET}: explained by a fall")

    before = await run(uow, at("2026-06-10T22:59:59+00:00"))  # 23:59:59 on 10 June, London
    assert before.counts()[RecordType.DECLINED_CONCERNS] == 0
    report = await run(uow, at("2026-06-10T23:00:00+00:00"))  # midnight: 11 June 2026 in London
    assert report.counts()[RecordType.DECLINED_CONCERNS] == 1
    assert report.types[0].labels == (raised.concern.reference,)

    async with sessions() as session:
        concern = (await session.scalars(select(ConcernRow))).one()
        screening = (await session.scalars(select(ScreeningRow))).one()
    assert (concern.description, concern.individual_reference) == (MARKER, None)
    assert (concern.raised_by_id, concern.raised_by_name) == (PERSON_ID, PERSON)
    assert concern.anonymised_at == at("2026-06-10T23:00:00+00:00")
    # What the statistics need stays.
    assert concern.categories == ["medication"] and concern.source_agency == "cqc"
    assert concern.occurred_on == date(2026, 11, 20) and concern.immediate_risk is False
    assert concern.screening_outcome == "no_further_action" and concern.provider.name == "Oakwood Lodge Nursing Home"
    assert (screening.rationale, screening.screened_by_name, screening.outcome, screening.threshold) == (
        MARKER, PERSON, "no_further_action", "minor")
    assert screening.screened_at == at("2024-06-10T23:30:00+00:00")


async def test_one_run_anonymises_each_record_type_past_its_period_and_a_second_run_does_nothing(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    clock.at = at("2018-03-01T10:00:00+00:00")
    declined = await raise_one(uow, clock, "d1", provider_name="Declined House", description=SECRET)
    await screen(uow, clock, declined.concern.reference, outcome="no_further_action", threshold="minor")
    quality = await raise_one(uow, clock, "q1", provider_name="Quality House", description=SECRET)
    await screen(uow, clock, quality.concern.reference, outcome="quality_concern")
    unscreened = await raise_one(uow, clock, "u1", provider_name="Unscreened House", description=SECRET)
    case = await closed_case(uow, sessions, clock, "c1", "Closed House", individual="LAS-9")
    open_case_concern = await raise_one(uow, clock, "o1", provider_name="Open House", description=SECRET)
    open_case = await open_one(uow, clock, open_case_concern.concern.provider.id)
    old, recent = at("2018-03-01T10:00:00+00:00"), at("2026-11-20T10:00:00+00:00")
    sent = await outbox_row(sessions, "sent", old, old)
    dead = await outbox_row(sessions, "dead", old, None)
    pending = await outbox_row(sessions, "pending", old, None)
    fresh = await outbox_row(sessions, "sent", recent, recent)
    await draft(sessions, "forms/old", '{"form": "{\\"values\\": {\\"description\\": \\"Mrs Jones\\"}}"}', old)
    await draft(sessions, "forms/recent", '{"form": "{}"}', recent)
    audit_before = (await walk(sessions)).count

    now = at("2026-11-23T10:30:00+00:00")
    report = await run(uow, now)
    assert report.counts() == {"declined_concerns": 1, "other_concerns": 2, "closed_cases": 1, "form_state": 1,
                               "outbox": 2}
    assert set(report.types[1].labels) == {quality.concern.reference, unscreened.concern.reference}
    assert report.types[2].labels == (case.reference,)

    async with sessions() as s:
        concerns = {c.reference: c for c in (await s.scalars(select(ConcernRow))).all()}
        assert concerns[open_case_concern.concern.reference].description == SECRET  # its case is open
        assert all(c.description == MARKER and c.anonymised_at == now for r, c in concerns.items()
                   if r != open_case_concern.concern.reference)
        assert all(c.individual_reference is None for c in concerns.values())
        kase = (await s.scalars(select(CaseRow).where(CaseRow.id == case.id))).one()
        assert (kase.closure_outcome, kase.closure_override_reason, kase.opened_by_name, kase.closed_by_name) == (
            MARKER, MARKER, PERSON, PERSON)
        assert (kase.status, kase.level, kase.anonymised_at) == ("closed", "moderate", now)
        assert kase.closed_at is not None and kase.opened_at is not None
        untouched = (await s.scalars(select(CaseRow).where(CaseRow.id == open_case.id))).one()
        assert untouched.anonymised_at is None and untouched.opened_by_name == "Priya Shah"

        members = (await s.scalars(select(CaseMemberRow).where(CaseMemberRow.case_id == case.id))).all()
        assert sorted(m.user_id for m in members) == [f"anonymised-{n}" for n in range(1, len(members) + 1)]
        assert {m.name for m in members} == {PERSON} and {m.role for m in members} >= {"chair", "coordinator"}
        vote = (await s.scalars(select(VoteRow).where(VoteRow.case_id == case.id))).one()
        assert (vote.rationale, vote.started_by_name, vote.confirmed_level) == (MARKER, PERSON, "moderate")
        ballot = (await s.scalars(select(BallotRow).where(BallotRow.vote_id == vote.id))).one()
        assert (ballot.user_id, ballot.name, ballot.reason, ballot.dissent_reason, ballot.level) == (
            "anonymised-1", PERSON, MARKER, MARKER, "moderate")
        actions = (await s.scalars(select(CaseActionRow).where(CaseActionRow.case_id == case.id))).all()
        assert all(a.owner_user_id is None and a.owner_name in (None, PERSON) for a in actions)
        assert all((a.title == MARKER) != a.source.startswith(("step:", "level:")) for a in actions)
        assert {a.note for a in actions if a.note is not None} <= {MARKER}
        assert any(a.status == "not_applicable" for a in actions)  # outcomes stay
        meeting = (await s.scalars(select(MeetingRow).where(MeetingRow.case_id == case.id))).one()
        assert (meeting.venue, meeting.minutes_link, meeting.chair_name, meeting.minute_taker_name) == (
            MARKER, None, PERSON, PERSON)
        assert meeting.decisions == [MARKER, MARKER] and meeting.attendees == [
            {"user_id": PERSON_ID, "name": PERSON, "account_id": None}]
        assert (meeting.kind, meeting.status) == ("initial", "held")
        documents = (await s.scalars(select(CaseDocumentRow).where(CaseDocumentRow.case_id == case.id))).all()
        assert documents and all(d.title == MARKER and d.link is None and d.owner_name == PERSON for d in documents)
        assert {d.kind for d in documents} == {k.id for k in CROYDON.documents}  # what each entry was, kept
        check = (await s.scalars(select(CommunicationCheckRow))).one()
        assert (check.note, check.answered_by_name, check.answer) == (MARKER, PERSON, "yes")
        steps = (await s.scalars(select(CaseStepRow).where(CaseStepRow.case_id == case.id))).all()
        assert {st.entered_by_name for st in steps} == {PERSON}
        lessons = (await s.scalars(select(LessonsFeedbackRow))).one()
        assert (lessons.user_id, lessons.went_well, lessons.do_differently) == ("anonymised-1", MARKER, MARKER)
        screenings = (await s.scalars(select(ScreeningRow))).all()
        assert {x.rationale for x in screenings} == {MARKER}

        messages = {m.id: m for m in (await s.scalars(select(OutboxRow))).all()}
        for done in (sent, dead):
            assert (messages[done].summary, messages[done].facts, messages[done].recipient_name) == (MARKER, {}, PERSON)
            assert messages[done].recipient_user_id is None and messages[done].key.startswith("k-")
        assert messages[dead].last_error == MARKER
        assert messages[pending].summary.startswith("Tom") and messages[fresh].summary.startswith("Tom")
        assert [d.key for d in (await s.scalars(select(BotStateRow))).all()] == ["forms/recent"]

        # The audit trail is untouched but for the run's own event, which carries counts and no personal data.
        events = (await s.scalars(select(AuditEventRow).order_by(AuditEventRow.id))).all()
    assert events[-1].action == "retention.run" and events[-1].details["anonymised"] == report.counts()
    assert "Mrs Jones" not in repr(events[-1].details) and "Tom" not in repr(events[-1].details)
    chain = await walk(sessions)
    assert chain.broken is None and chain.count == audit_before + 1

    again = await run(uow, now + timedelta(days=1))
    assert sum(again.counts().values()) == 0
    assert (await walk(sessions)).count == audit_before + 2  # the second run is recorded, with zeros


async def test_a_dry_run_lists_what_is_due_and_changes_no_row(uow: Any, sessions: Any, clock: FixedClock) -> None:
    clock.at = at("2018-03-01T10:00:00+00:00")
    declined = await raise_one(uow, clock, "d1", description=SECRET, individual_reference="LAS-1")
    await screen(uow, clock, declined.concern.reference, outcome="no_further_action", threshold="minor")
    case = await closed_case(uow, sessions, clock, "c1", "Closed House")
    await outbox_row(sessions, "sent", clock.now(), clock.now())
    await draft(sessions, "forms/old", "{}", clock.now())
    rows = await snapshot(sessions)

    report = await run(uow, at("2026-11-23T10:30:00+00:00"), dry_run=True)
    assert report.dry_run and report.types[0].labels == (declined.concern.reference,)
    assert report.types[2].labels == (case.reference,)
    assert report.counts() == {"declined_concerns": 1, "other_concerns": 0, "closed_cases": 1, "form_state": 1,
                               "outbox": 1}
    assert await snapshot(sessions) == rows


async def test_the_periods_run_from_their_own_events(uow: Any, sessions: Any, clock: FixedClock) -> None:
    # Raised in 2018 but screened again in 2025: the latest screening starts the period, so nothing is due.
    clock.at = at("2018-03-01T10:00:00+00:00")
    raised = await raise_one(uow, clock, "d1", description=SECRET)
    await screen(uow, clock, raised.concern.reference, outcome="quality_concern")
    clock.at = at("2025-01-06T10:00:00+00:00")
    await screen(uow, clock, raised.concern.reference, outcome="no_further_action", threshold="minor",
                 rescreen_reason="New evidence from the family")
    case = await closed_case(uow, sessions, clock, "c1", "Closed House")  # closed February 2025
    report = await run(uow, at("2026-11-23T10:30:00+00:00"))
    assert sum(report.counts().values()) == 0
    report = await run(uow, at("2027-01-06T00:00:00+00:00"))
    assert report.counts()[RecordType.DECLINED_CONCERNS] == 1
    async with sessions() as s:
        screenings = (await s.scalars(select(ScreeningRow).where(ScreeningRow.concern_id == raised.concern.id)
                                      .order_by(ScreeningRow.sequence))).all()
        kase = (await s.scalars(select(CaseRow).where(CaseRow.id == case.id))).one()
    assert [x.rescreen_reason for x in screenings] == [None, MARKER]
    assert kase.anonymised_at is None


async def test_export_gathers_every_concern_naming_the_reference_and_erasure_removes_it(
    uow: Any, sessions: Any, clock: FixedClock
) -> None:
    first = await raise_one(uow, clock, "k1", description=SECRET, individual_reference="LAS-104233")
    await screen(uow, clock, first.concern.reference, rationale=f"{SECRET}; s42 considered")
    second = await raise_one(uow, clock, "k2", description="Missed visit", individual_reference="las-104233",
                             provider_name="Riverside Domiciliary Care", service_type="domiciliary_care")
    other = await raise_one(uow, clock, "k3", description="Someone else", individual_reference="LAS-1042330")
    case = await open_one(uow, clock, first.concern.provider.id)
    await draft(sessions, "forms/raise-1", '{"form": "{\\"values\\": {\\"individual_reference\\": \\"LAS-104233\\"}}"}',
                clock.now())
    await draft(sessions, "forms/raise-2", '{"form": "{\\"values\\": {\\"individual_reference\\": \\"LAS-10423\\"}}"}',
                clock.now())

    found = await subject_file(uow(), clock, " LAS-104233 ")
    assert [c.reference for c in found.concerns] == [first.concern.reference, second.concern.reference]
    head = found.concerns[0]
    assert head.fields["description"] == SECRET and head.fields["individual_reference"] == "LAS-104233"
    assert head.fields["provider"]["name"] == "Oakwood Lodge Nursing Home"
    assert [s["outcome"] for s in head.screenings] == ["quality_concern"]
    assert [(c["reference"], c["status"]) for c in head.cases] == [(case.reference, "open")]
    assert [e["action"] for e in head.events] == ["concern.raised", "concern.screened"]
    assert [d.key for d in found.drafts] == ["forms/raise-1"]

    await record_export(uow(), clock, OPERATOR, found)
    erasure = await erase_subject(uow(), clock, OPERATOR, "LAS-104233")
    assert [r for _, r in erasure.concerns] == [first.concern.reference, second.concern.reference]
    assert (erasure.screenings, erasure.drafts) == (1, 1)
    async with sessions() as s:
        concerns = {c.reference: c for c in (await s.scalars(select(ConcernRow))).all()}
        screening = (await s.scalars(select(ScreeningRow))).one()
        keys = [d.key for d in (await s.scalars(select(BotStateRow))).all()]
        events = (await s.scalars(select(AuditEventRow).where(
            AuditEventRow.action.in_(["subject.exported", "subject.erased"])).order_by(AuditEventRow.id))).all()
    for ref in (first.concern.reference, second.concern.reference):
        assert (concerns[ref].individual_reference, concerns[ref].description) == (None, ERASED)
        assert concerns[ref].raised_by_name == "Priya Shah" and concerns[ref].anonymised_at is None
    assert concerns[other.concern.reference].individual_reference == "LAS-1042330"
    assert screening.rationale == ERASED and screening.outcome == "quality_concern"
    assert keys == ["forms/raise-2"]
    assert [(e.action, e.subject_ref) for e in events] == [
        ("subject.exported", first.concern.reference), ("subject.exported", second.concern.reference),
        ("subject.erased", first.concern.reference), ("subject.erased", second.concern.reference)]
    assert all("104233" not in repr(e.details) for e in events)
    assert events[-1].actor_name == OPERATOR.name
    assert (await walk(sessions)).broken is None

    assert (await subject_file(uow(), clock, "LAS-104233")).empty
    assert (await erase_subject(uow(), clock, OPERATOR, "LAS-104233")).empty
    async with sessions() as s:
        assert len((await s.scalars(select(AuditEventRow).where(AuditEventRow.action == "subject.erased"))).all()) == 2
