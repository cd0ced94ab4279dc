"""Retention and subject requests in SQL: find records past their period, anonymise them, gather and erase
what is held under an individual reference. Never touches audit_events (append-only, hash-chained).

Every anonymising UPDATE repeats the "still due, not yet anonymised" condition, so a record the bot
changed meanwhile (a concern linked to a case) is left alone, and of two runs at once only one does the
work: on PostgreSQL the second UPDATE waits for the first's row lock and then finds `anonymised_at` set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, literal, null, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from concerns.retention import MARKER, PERSON, PERSON_ID, Due, RecordType
from concerns.subjects import Erasure, StoredDraft, SubjectConcern
from concerns.vocabulary import ScreeningOutcome
from storage.models import (
    AuditEventRow,
    BallotRow,
    BotStateRow,
    CaseActionRow,
    CaseConcernRow,
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
    UTCDateTime,
    VoteRow,
)

DECLINED = ScreeningOutcome.NO_FURTHER_ACTION.value
FINISHED_MESSAGES = ("sent", "dead", "void", "covered")
# Action titles that come from the pack's checklists are the procedure's words, not anyone's data.
PACK_SOURCES = ("step:%", "level:%")


def _blank(column: InstrumentedAttribute[Any], marker: str) -> ColumnElement[Any]:
    """`marker` where there was a value, still nothing where there was none."""
    return case((column.is_(None), null()), else_=literal(marker))


def _no_update(statement: Any) -> Any:
    return statement.execution_options(synchronize_session=False)


# -- what is due --------------------------------------------------------------------------------------


def _latest_screening() -> ColumnElement[Any]:
    return (select(func.max(ScreeningRow.screened_at)).where(ScreeningRow.concern_id == ConcernRow.id)
            .correlate(ConcernRow).scalar_subquery())


def _in_no_case() -> ColumnElement[bool]:
    return ~exists().where(CaseConcernRow.concern_id == ConcernRow.id).correlate(ConcernRow)


def _due_condition(kind: RecordType, before: datetime) -> ColumnElement[bool]:
    if kind is RecordType.DECLINED_CONCERNS:
        return and_(ConcernRow.anonymised_at.is_(None), ConcernRow.screening_outcome == DECLINED, _in_no_case(),
                    type_coerce(_latest_screening(), UTCDateTime()) < before)
    if kind is RecordType.OTHER_CONCERNS:
        anchor = type_coerce(func.coalesce(_latest_screening(), ConcernRow.raised_at), UTCDateTime())
        return and_(ConcernRow.anonymised_at.is_(None),
                    or_(ConcernRow.screening_outcome.is_(None), ConcernRow.screening_outcome != DECLINED),
                    _in_no_case(), anchor < before)
    if kind is RecordType.CLOSED_CASES:
        return and_(CaseRow.anonymised_at.is_(None), CaseRow.status == "closed", CaseRow.closed_at < before)
    if kind is RecordType.FORM_STATE:
        return BotStateRow.updated_at < before
    anchor = type_coerce(func.coalesce(OutboxRow.sent_at, OutboxRow.created_at), UTCDateTime())
    return and_(OutboxRow.anonymised_at.is_(None), OutboxRow.status.in_(FINISHED_MESSAGES), anchor < before)


_KEYS: dict[RecordType, tuple[Any, Any]] = {  # (key column, label column)
    RecordType.DECLINED_CONCERNS: (ConcernRow.id, ConcernRow.reference),
    RecordType.OTHER_CONCERNS: (ConcernRow.id, ConcernRow.reference),
    RecordType.CLOSED_CASES: (CaseRow.id, CaseRow.reference),
    RecordType.FORM_STATE: (BotStateRow.key, BotStateRow.key),
    RecordType.OUTBOX: (OutboxRow.id, OutboxRow.id),
}


class SqlRetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due(self, kind: RecordType, before: datetime, after: int | str | None, limit: int) -> list[Due]:
        key, label = _KEYS[kind]
        query = select(key, label).where(_due_condition(kind, before))
        if after is not None:
            query = query.where(key > after)
        rows = (await self.session.execute(query.order_by(key).limit(limit))).all()
        return [Due(row[0], str(row[1])) for row in rows]

    async def anonymise(self, kind: RecordType, keys: Sequence[int | str], before: datetime,
                        at: datetime) -> list[str]:
        if not keys:
            return []
        key = _KEYS[kind][0]
        condition = and_(key.in_(list(keys)), _due_condition(kind, before))
        if kind is RecordType.FORM_STATE:
            # Drafts are of no use to statistics, so they go; the condition holds for a draft saved meanwhile.
            result = await self.session.execute(_no_update(delete(BotStateRow).where(condition)
                                                           .returning(BotStateRow.key)))
            return sorted(str(k) for k in result.scalars())
        if kind is RecordType.OUTBOX:
            result = await self.session.execute(_no_update(update(OutboxRow).where(condition).values(
                summary=MARKER, facts={}, recipient_user_id=None, recipient_name=_blank(OutboxRow.recipient_name,
                                                                                         PERSON),
                last_error=_blank(OutboxRow.last_error, MARKER), anonymised_at=at,
            ).returning(OutboxRow.id)))
            return [str(i) for i in sorted(result.scalars())]
        if kind is RecordType.CLOSED_CASES:
            done = []
            for case_id in sorted(int(k) for k in keys):
                reference = await self._anonymise_case(case_id, before, at)
                if reference is not None:
                    done.append(reference)
            return done
        return [reference for _, reference in await _anonymise_concerns(self.session, condition, at)]

    async def _anonymise_case(self, case_id: int, before: datetime, at: datetime) -> str | None:
        """The case first: its UPDATE is the claim, so a case someone else anonymised is skipped whole."""
        s = self.session
        reference = (await s.execute(_no_update(update(CaseRow).where(
            CaseRow.id == case_id, _due_condition(RecordType.CLOSED_CASES, before)).values(
            opened_by_id=PERSON_ID, opened_by_name=PERSON, closed_by_name=_blank(CaseRow.closed_by_name, PERSON),
            closure_override_reason=_blank(CaseRow.closure_override_reason, MARKER),
            closure_outcome=_blank(CaseRow.closure_outcome, MARKER), anonymised_at=at,
        ).returning(CaseRow.reference)))).scalar_one_or_none()
        if reference is None:
            return None
        linked = select(CaseConcernRow.concern_id).where(CaseConcernRow.case_id == case_id)
        await _anonymise_concerns(s, and_(ConcernRow.id.in_(linked), ConcernRow.anonymised_at.is_(None)), at)
        await _renumber(s, CaseMemberRow, CaseMemberRow.case_id == case_id, CaseMemberRow.added_at)
        votes = select(VoteRow.id).where(VoteRow.case_id == case_id)
        await s.execute(_no_update(update(VoteRow).where(VoteRow.case_id == case_id).values(
            started_by_id=PERSON_ID, started_by_name=PERSON, rationale=_blank(VoteRow.rationale, MARKER),
            justification=_blank(VoteRow.justification, MARKER), closed_by_name=_blank(VoteRow.closed_by_name, PERSON),
        )))
        for vote_id in (await s.scalars(votes)).all():
            await _renumber(s, BallotRow, BallotRow.vote_id == vote_id, BallotRow.cast_at,
                            reason=_blank(BallotRow.reason, MARKER),
                            dissent_reason=_blank(BallotRow.dissent_reason, MARKER))
        from_pack = or_(*(CaseActionRow.source.like(pattern) for pattern in PACK_SOURCES))
        await s.execute(_no_update(update(CaseActionRow).where(CaseActionRow.case_id == case_id).values(
            title=case((from_pack, CaseActionRow.title), else_=literal(MARKER)),
            owner_user_id=None, owner_name=_blank(CaseActionRow.owner_name, PERSON),
            note=_blank(CaseActionRow.note, MARKER), closed_by_name=_blank(CaseActionRow.closed_by_name, PERSON),
        )))
        await s.execute(_no_update(update(CaseStepRow).where(CaseStepRow.case_id == case_id).values(
            entered_by_name=PERSON, override_reason=_blank(CaseStepRow.override_reason, MARKER))))
        await s.execute(_no_update(update(CaseDocumentRow).where(CaseDocumentRow.case_id == case_id).values(
            title=MARKER, owner_user_id=None, owner_name=_blank(CaseDocumentRow.owner_name, PERSON), link=None,
            updated_by_name=PERSON)))
        await s.execute(_no_update(update(CommunicationCheckRow).where(CommunicationCheckRow.case_id == case_id)
                                   .values(note=_blank(CommunicationCheckRow.note, MARKER), answered_by_id=PERSON_ID,
                                           answered_by_name=PERSON)))
        await _renumber(s, LessonsFeedbackRow, LessonsFeedbackRow.case_id == case_id, LessonsFeedbackRow.given_at,
                        went_well=_blank(LessonsFeedbackRow.went_well, MARKER),
                        do_differently=_blank(LessonsFeedbackRow.do_differently, MARKER))
        meetings = (await s.execute(select(MeetingRow.id, MeetingRow.attendees, MeetingRow.decisions)
                                    .where(MeetingRow.case_id == case_id))).all()
        for meeting_id, attendees, decisions in meetings:
            # Keep how many attended and how many decisions were made, not who or what.
            await s.execute(_no_update(update(MeetingRow).where(MeetingRow.id == meeting_id).values(
                venue=_blank(MeetingRow.venue, MARKER), online_link=None, minutes_link=None, graph_meeting_id=None,
                chair_user_id=PERSON_ID, chair_name=PERSON,
                minute_taker_user_id=_blank(MeetingRow.minute_taker_user_id, PERSON_ID),
                minute_taker_name=_blank(MeetingRow.minute_taker_name, PERSON),
                attendees=[{"user_id": PERSON_ID, "name": PERSON, "account_id": None} for _ in attendees or []],
                decisions=[MARKER for _ in decisions or []],
                minutes_by_name=_blank(MeetingRow.minutes_by_name, PERSON), created_by_name=PERSON,
            )))
        return str(reference)


async def _anonymise_concerns(session: AsyncSession, condition: ColumnElement[bool],
                              at: datetime) -> list[tuple[int, str]]:
    """Concerns and their screenings: free text, the individual reference and who raised and screened them."""
    result = await session.execute(_no_update(update(ConcernRow).where(condition).values(
        description=MARKER, individual_reference=None, raised_by_id=PERSON_ID, raised_by_name=PERSON,
        anonymised_at=at,
    ).returning(ConcernRow.id, ConcernRow.reference)))
    done = sorted((row[0], row[1]) for row in result.all())
    if done:
        await session.execute(_no_update(update(ScreeningRow).where(
            ScreeningRow.concern_id.in_([concern_id for concern_id, _ in done])).values(
            rationale=MARKER, rescreen_reason=_blank(ScreeningRow.rescreen_reason, MARKER),
            screened_by_id=PERSON_ID, screened_by_name=PERSON,
            feedback_given_by=_blank(ScreeningRow.feedback_given_by, PERSON_ID),
        )))
    return done


async def _renumber(session: AsyncSession, model: Any, where: ColumnElement[bool], order: Any,
                    **values: Any) -> None:
    """Rows keyed by a person's id get `anonymised-1`, `anonymised-2`... (the key must stay unique)."""
    rows = (await session.execute(select(model.user_id).where(where).order_by(order, model.user_id))).scalars().all()
    for n, user_id in enumerate(rows, start=1):
        await session.execute(_no_update(update(model).where(where, model.user_id == user_id).values(
            user_id=f"{PERSON_ID}-{n}", name=PERSON, **values)))


# -- subject requests ---------------------------------------------------------------------------------


def _naming(reference: str) -> ColumnElement[bool]:
    return func.lower(ConcernRow.individual_reference) == reference.lower()


def _row(row: Any, *, leave: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every stored column of a row, by name."""
    return {c.name: getattr(row, c.key) for c in row.__table__.columns if c.name not in leave}


def _decoded(value: Any) -> Any:
    """JSON with any JSON held inside text fields decoded too (a form record keeps its values as JSON text)."""
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return _decoded(json.loads(value))
        except ValueError:
            return value
    return value


def _holds(value: Any, reference: str) -> bool:
    if isinstance(value, dict):
        return any(_holds(v, reference) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, reference) for v in value)
    return isinstance(value, str) and value.strip().lower() == reference


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlSubjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def concerns_naming(self, reference: str) -> list[SubjectConcern]:
        s = self.session
        rows = (await s.scalars(select(ConcernRow).where(_naming(reference))
                                .order_by(ConcernRow.tenant_id, ConcernRow.raised_at, ConcernRow.id))).all()
        found = []
        for row in rows:
            fields = _row(row)
            fields["provider"] = {"id": row.provider.id, "name": row.provider.name,
                                  "service_type": row.provider.service_type}
            screenings = (await s.scalars(select(ScreeningRow).where(ScreeningRow.concern_id == row.id)
                                          .order_by(ScreeningRow.sequence))).all()
            cases = (await s.execute(
                select(CaseRow.reference, CaseRow.status, CaseRow.level, CaseRow.step, CaseRow.opened_at,
                       CaseRow.closed_at, CaseRow.provider_id)
                .join(CaseConcernRow, CaseConcernRow.case_id == CaseRow.id)
                .where(CaseConcernRow.concern_id == row.id).order_by(CaseRow.opened_at))).all()
            events = (await s.scalars(select(AuditEventRow).where(
                AuditEventRow.tenant_id == row.tenant_id, AuditEventRow.subject_type == "concern",
                AuditEventRow.subject_ref == row.reference).order_by(AuditEventRow.id))).all()
            found.append(SubjectConcern(
                tenant_id=row.tenant_id, reference=row.reference, fields=fields,
                screenings=[_row(x, leave=("concern_id",)) for x in screenings],
                cases=[{"reference": c.reference, "provider": row.provider.name if c.provider_id == row.provider_id
                        else c.provider_id, "status": c.status, "level": c.level, "step": c.step,
                        "opened_at": c.opened_at, "closed_at": c.closed_at} for c in cases],
                events=[_row(e, leave=("prev_hash", "hash")) for e in events],
            ))
        return found

    async def drafts_naming(self, reference: str) -> list[StoredDraft]:
        # Text search narrows the rows; only a value equal to the reference counts (LAS-1 is not in LAS-10).
        pattern = f"%{_escape_like(reference.lower())}%"
        rows = (await self.session.scalars(select(BotStateRow).where(
            func.lower(BotStateRow.document).like(pattern, escape="\\")).order_by(BotStateRow.key))).all()
        drafts = []
        for row in rows:
            content = _decoded(row.document)
            if _holds(content, reference.lower()):
                drafts.append(StoredDraft(row.key, row.updated_at, content))
        return drafts

    async def erase(self, reference: str, marker: str) -> Erasure:
        s = self.session
        rows = (await s.execute(select(ConcernRow.id, ConcernRow.tenant_id, ConcernRow.reference)
                                .where(_naming(reference)).order_by(ConcernRow.tenant_id, ConcernRow.id)
                                .with_for_update())).all()
        ids = [row.id for row in rows]
        screenings = 0
        if ids:
            await s.execute(_no_update(update(ConcernRow).where(ConcernRow.id.in_(ids)).values(
                individual_reference=None, description=marker)))
            screenings = (await s.execute(_no_update(update(ScreeningRow).where(ScreeningRow.concern_id.in_(ids))
                                                     .values(rationale=marker,
                                                             rescreen_reason=_blank(ScreeningRow.rescreen_reason,
                                                                                    marker))))).rowcount
        drafts = [d.key for d in await self.drafts_naming(reference)]
        if drafts:
            await s.execute(delete(BotStateRow).where(BotStateRow.key.in_(drafts)))
        return Erasure(tuple((row.tenant_id, row.reference) for row in rows), screenings, len(drafts))
