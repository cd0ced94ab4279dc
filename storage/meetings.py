"""Meetings of a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from concerns.cases import Case, Person
from concerns.meetings import Meeting, MeetingForm, MeetingKind, MeetingStatus, ProviderAttends
from concerns.model import Actor
from storage.models import CaseRow, MeetingRow
from storage.repositories import _Repository


def _person(user_id: str | None, name: str | None) -> Person | None:
    return Person(user_id, name or "") if user_id else None


def _attendee(entry: dict[str, Any]) -> Person:
    return Person(str(entry.get("user_id", "")), str(entry.get("name", "")), str(entry.get("account_id", "")))


def _meeting(row: MeetingRow, case_reference: str) -> Meeting:
    return Meeting(
        id=row.id, case_id=row.case_id, case_reference=case_reference, kind=MeetingKind(row.kind),
        status=MeetingStatus(row.status), starts_at=row.starts_at, ends_at=row.ends_at, venue=row.venue,
        online_link=row.online_link, chair=Person(row.chair_user_id, row.chair_name),
        minute_taker=_person(row.minute_taker_user_id, row.minute_taker_name),
        attendees=tuple(_attendee(a) for a in row.attendees or []),
        provider_attends=ProviderAttends(row.provider_attends), created_by=row.created_by_name,
        created_at=row.created_at, minutes_link=row.minutes_link, decisions=tuple(row.decisions or []),
        minutes_by=row.minutes_by_name, minutes_at=row.minutes_at, graph_meeting_id=row.graph_meeting_id,
        card_conversation_id=row.card_conversation_id, card_activity_id=row.card_activity_id,
    )


class SqlMeetingRepository(_Repository):
    async def add(self, case: Case, form: MeetingForm, by: Actor, at: datetime) -> Meeting:
        row = MeetingRow(
            case_id=case.id, kind=form.kind.value, status=MeetingStatus.SCHEDULED.value, starts_at=form.starts_at,
            ends_at=form.ends_at, venue=form.venue, online_link=form.online_link, chair_user_id=form.chair.user_id,
            chair_name=form.chair.name,
            minute_taker_user_id=form.minute_taker.user_id if form.minute_taker else None,
            minute_taker_name=form.minute_taker.name if form.minute_taker else None,
            attendees=[{"user_id": p.user_id, "name": p.name, "account_id": p.account_id} for p in form.attendees],
            provider_attends=form.provider_attends.value, decisions=[], created_by_name=by.name, created_at=at,
        )
        self.session.add(row)
        await self.session.flush()
        return _meeting(row, case.reference)

    async def get(self, tenant_id: str, meeting_id: int) -> Meeting | None:
        found = (await self.session.execute(
            select(MeetingRow, CaseRow.reference).join(CaseRow, CaseRow.id == MeetingRow.case_id)
            .where(MeetingRow.id == meeting_id, CaseRow.tenant_id == tenant_id)
            .execution_options(populate_existing=True))).first()
        return _meeting(*found) if found else None

    async def for_case(self, case_id: int) -> list[Meeting]:
        rows = await self.session.execute(
            select(MeetingRow, CaseRow.reference).join(CaseRow, CaseRow.id == MeetingRow.case_id)
            .where(MeetingRow.case_id == case_id).order_by(MeetingRow.starts_at, MeetingRow.id))
        return [_meeting(*r) for r in rows]

    async def record_minutes(self, meeting_id: int, link: str, decisions: list[str], by: Actor, at: datetime) -> bool:
        # Conditional on the status, so two people saving minutes at once cannot both succeed.
        result = await self.session.execute(
            update(MeetingRow).where(MeetingRow.id == meeting_id, MeetingRow.status == MeetingStatus.SCHEDULED.value)
            .values(status=MeetingStatus.HELD.value, minutes_link=link, decisions=decisions, minutes_by_name=by.name,
                    minutes_at=at))
        return result.rowcount == 1

    async def set_card(self, meeting_id: int, conversation_id: str, activity_id: str) -> None:
        await self.session.execute(update(MeetingRow).where(MeetingRow.id == meeting_id).values(
            card_conversation_id=conversation_id, card_activity_id=activity_id))

    async def move(self, meeting_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        # Conditional on the status, as the minutes are: a meeting held or cancelled a moment ago stays as it is.
        result = await self.session.execute(
            update(MeetingRow).where(MeetingRow.id == meeting_id, MeetingRow.status == MeetingStatus.SCHEDULED.value)
            .values(starts_at=starts_at, ends_at=ends_at))
        return bool(result.rowcount)

    async def cancel(self, meeting_id: int) -> bool:
        result = await self.session.execute(
            update(MeetingRow).where(MeetingRow.id == meeting_id, MeetingRow.status == MeetingStatus.SCHEDULED.value)
            .values(status=MeetingStatus.CANCELLED.value))
        return bool(result.rowcount)

    async def set_online_meeting(self, meeting_id: int, join_url: str, online_meeting_id: str) -> None:
        await self.session.execute(update(MeetingRow).where(MeetingRow.id == meeting_id).values(
            online_link=join_url, graph_meeting_id=online_meeting_id))
