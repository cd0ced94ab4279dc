"""The sweep reads the register entries whose review is coming up, through their index, and no others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from concerns.reminders import ReminderKind, reminder_window
from storage.models import CaseDocumentRow, CaseMemberRow, CaseRow, ProviderRow
from storage.reminders import SqlReminderSource
from tests.storage.test_reminder_window import (
    CROYDON,
    MONDAY,
    PACKS,
    QUIET_CASES,
    RECENT,
    TENANT,
    calendar_for,
    keys,
    london,
    seed,
)


async def seed_reviews(sessions: Any) -> None:
    """Every quiet case's risk management plan is reviewed a week or more from now; Oakwood's service improvement plan
    (the provider's) is due on Wednesday; Elm Court has nothing due but its plan's review, on the Monday."""
    async with sessions() as session:
        def entry(case_id: int, kind: str, title: str, due: Any, owner: tuple[str, str] | None) -> CaseDocumentRow:
            return CaseDocumentRow(
                case_id=case_id, kind=kind, title=title, owner_role="coordinator" if owner else "provider",
                owner_user_id=owner[0] if owner else None, owner_name=owner[1] if owner else None, status="current",
                next_review_on=due, updated_by_name="Tom Okafor", updated_at=RECENT)

        session.add(ProviderRow(id=105, tenant_id=TENANT, name="Elm Court", name_key="elm court",
                                service_type="residential", created_at=RECENT))
        session.add(CaseRow(
            id=105, tenant_id=TENANT, reference="PC-2026-0105", provider_id=105, pack_id=CROYDON.id,
            pack_version=CROYDON.version, status="open", step=CROYDON.first_step.id, lead_agency="council",
            opened_by_id="aad-priya", opened_by_name="Priya Shah", opened_at=RECENT,
            channel_id="19:general@thread.tacv2", card_conversation_id="19:general@thread.tacv2;messageid=105"))
        session.add(CaseMemberRow(case_id=105, user_id="aad-chair-1", name="Chair-1", role="chair", added_at=RECENT))
        session.add(CaseMemberRow(case_id=105, user_id="aad-tom", name="Tom Okafor", role="coordinator",
                                  added_at=RECENT))
        await session.flush()
        tom = ("aad-tom", "Tom Okafor")
        session.add_all([entry(n, "risk_management_plan", "Risk management plan",
                               MONDAY + timedelta(days=7 + n // 2), tom) for n in range(1, QUIET_CASES + 1)])
        session.add(entry(101, "service_improvement_plan", "Service improvement plan", MONDAY + timedelta(days=2),
                          None))
        session.add(entry(105, "risk_management_plan", "Risk management plan", MONDAY, tom))
        await session.commit()


async def test_only_the_entries_whose_review_is_coming_up_are_read(sessions: Any) -> None:
    ids = await seed(sessions)
    await seed_reviews(sessions)
    source = SqlReminderSource(sessions)
    at = london(MONDAY, 8, 10)
    state = await source.state(at, reminder_window(at, PACKS, CROYDON, calendar_for))
    # Elm Court is read for its review alone; the quiet cases' sixty plans, weeks away, are not read.
    assert {s.case.id for s in state.cases} == {ids["due_today"], ids["overdue"], ids["stale"], 105}
    assert sorted((s.case.reference, d.title) for s in state.cases for d in s.documents) == [
        ("PC-2026-0101", "Service improvement plan"), ("PC-2026-0105", "Risk management plan")]
    due = {k for k in keys(state, at) if k.startswith(str(ReminderKind.DOCUMENT_REVIEW))}
    assert len(due) == 2
    assert keys(state, at) == keys(await source.state(at), at)


async def test_reviews_due_through_the_window_are_those_due_from_every_register(sessions: Any) -> None:
    await seed(sessions)
    await seed_reviews(sessions)
    source = SqlReminderSource(sessions)
    full = await source.state(london(MONDAY, 8))
    day, reviewed = MONDAY, set()
    while day < MONDAY + timedelta(days=60):
        at = london(day, 9)
        narrow = await source.state(at, reminder_window(at, PACKS, CROYDON, calendar_for))
        assert keys(narrow, at) == keys(full, at), at
        reviewed |= {k for k in keys(full, at) if k.startswith(str(ReminderKind.DOCUMENT_REVIEW))}
        day += timedelta(days=1)
    # Every plan is reminded before and on its day (the quiet cases' too, as their dates come), and the
    # overdue ones reach their chairs.
    assert len([k for k in reviewed if k.startswith("document.review:")]) >= 2 * QUIET_CASES
    assert any(k.startswith("document.review_overdue:") for k in reviewed)
