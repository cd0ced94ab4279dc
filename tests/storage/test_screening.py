"""Screening decisions against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from concerns import services
from concerns.calendar import WorkingCalendar
from concerns.errors import NotFound
from concerns.packs import default_packs_dir, load_packs
from concerns.screening import parse_screening_form
from concerns.validation import FormErrors
from concerns.vocabulary import ConcernStatus, ScreeningOutcome
from tests.storage.test_services import PRIYA, TENANT, raise_one
from tests.support.clock import FixedClock

PACKS = load_packs(default_packs_dir())
CROYDON = PACKS["croydon-provider-concerns"]
ENGLAND = WorkingCalendar("england")


def decision(screened_before: bool = False, **overrides: str) -> Any:
    values = {"outcome": "quality_concern", "threshold": "moderate",
              "rationale": "Second medication error this quarter; manager new in post.", "referrer_told": "false"}
    values.update(overrides)
    return parse_screening_form(values, CROYDON, screened_before=screened_before)


async def screen(uow: Any, clock: FixedClock, reference: str = "C-2026-0001", **overrides: str) -> Any:
    return await services.screen_concern(uow(), clock, ENGLAND, CROYDON, PRIYA, reference,
                                         decision(**overrides), conversation_id="19:general")


async def test_screening_records_the_decision_and_the_feedback_deadline(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    screening = await screen(uow, clock)
    assert screening.sequence == 1 and screening.outcome is ScreeningOutcome.QUALITY_CONCERN
    assert screening.pack_id == "croydon-provider-concerns"
    # Monday 23 Nov 2026 + 5 working days (England) = Monday 30 Nov 2026.
    assert screening.feedback_due_on == date(2026, 11, 30)
    async with uow() as tx:
        concern = await tx.concerns.get_by_reference(TENANT, "C-2026-0001")
        events = await tx.audit.for_subject("concern", "C-2026-0001")
    assert concern.status is ConcernStatus.SCREENED and concern.screening_outcome is ScreeningOutcome.QUALITY_CONCERN
    assert events[-1].action == "concern.screened" and events[-1].details["threshold"] == "moderate"


async def test_feedback_deadline_skips_christmas(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    clock.at = clock.at.replace(month=12, day=22)  # Tuesday 22 Dec 2026
    screening = await screen(uow, clock)
    # Wed 23, Thu 24, (Fri 25 Christmas, Mon 28 Boxing Day substitute) Tue 29, Wed 30, Thu 31.
    assert screening.feedback_due_on == date(2026, 12, 31)


async def test_rescreening_needs_a_reason_and_keeps_both_decisions(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    await screen(uow, clock)
    with pytest.raises(FormErrors) as caught:
        parse_screening_form({"outcome": "provider_concerns", "threshold": "major", "rationale": "More found"},
                             CROYDON, screened_before=True)
    assert "rescreen_reason" in caught.value.errors
    again = await services.screen_concern(
        uow(), clock, ENGLAND, CROYDON, PRIYA, "C-2026-0001",
        decision(True, outcome="provider_concerns", threshold="major", rescreen_reason="Police now involved"),
        conversation_id="19:general")
    assert again.sequence == 2
    context = await services.screening_context(uow(), clock, TENANT, "c-2026-0001")
    assert [s.outcome for s in context.screenings] == [ScreeningOutcome.QUALITY_CONCERN,
                                                      ScreeningOutcome.PROVIDER_CONCERNS]
    assert context.screenings[1].rescreen_reason == "Police now involved"
    async with uow() as tx:
        actions = [e.action for e in await tx.audit.for_subject("concern", "C-2026-0001")]
    assert actions.count("concern.screened") == 1 and actions.count("concern.rescreened") == 1


async def test_s42_is_an_explicit_confirmed_step_with_its_own_record(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    with pytest.raises(FormErrors) as caught:
        decision(outcome="s42_enquiry")
    assert "s42_confirmed" in caught.value.errors
    await screen(uow, clock, outcome="s42_enquiry", s42_confirmed="true")
    async with uow() as tx:
        actions = [e.action for e in await tx.audit.for_subject("concern", "C-2026-0001")]
    assert "concern.s42_enquiry_started" in actions


async def test_rationale_is_required_and_thresholds_come_from_the_pack() -> None:
    with pytest.raises(FormErrors) as caught:
        decision(rationale="  ", threshold="catastrophic")
    assert set(caught.value.errors) == {"rationale", "threshold"}
    west_midlands = PACKS["west-midlands-escalating-concerns"]
    assert parse_screening_form({"outcome": "quality_concern", "threshold": "2", "rationale": "r"},
                                west_midlands, screened_before=False).threshold == "2"


async def test_screening_an_unknown_concern_is_not_found(uow: Any, clock: FixedClock) -> None:
    with pytest.raises(NotFound):
        await screen(uow, clock, reference="C-2026-0099")
    with pytest.raises(NotFound):
        await screen(uow, clock, reference="Oakwood")


async def test_history_counts_the_providers_last_twelve_months(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1", categories="medication")
    clock.advance(days=200)
    await raise_one(uow, clock, "k2", categories="medication,staffing")
    clock.advance(days=200)
    await raise_one(uow, clock, "k3", categories="staffing")
    context = await services.screening_context(uow(), clock, TENANT, "C-2027-0001")
    assert context.concerns_last_12_months == 2  # the first is 400 days old
    assert context.categories_last_12_months == {"staffing": 2, "medication": 1}


async def test_the_feedback_indicator_counts_on_time_late_and_owed(uow: Any, clock: FixedClock) -> None:
    for key in ("k1", "k2", "k3", "k4"):
        await raise_one(uow, clock, key)
    await screen(uow, clock, "C-2026-0001", referrer_told="true")          # told at once: on time
    await screen(uow, clock, "C-2026-0002")                                # due Mon 30 Nov
    await screen(uow, clock, "C-2026-0003")
    await screen(uow, clock, "C-2026-0004")
    clock.at = clock.at.replace(day=27)  # Fri 27 Nov: still in time
    await services.mark_referrer_told(uow(), clock, PRIYA, "C-2026-0002", conversation_id="c")
    clock.at = clock.at.replace(month=12, day=2)  # Wed 2 Dec: late
    await services.mark_referrer_told(uow(), clock, PRIYA, "C-2026-0003", conversation_id="c")
    indicator = await services.feedback_indicator(uow(), clock, TENANT)
    assert (indicator.screened, indicator.told_on_time, indicator.told_late, indicator.owed_overdue,
            indicator.owed_not_yet_due) == (4, 2, 1, 1, 0)
    assert indicator.share_on_time == 0.5


async def test_marking_feedback_before_screening_is_refused(uow: Any, clock: FixedClock) -> None:
    await raise_one(uow, clock, "k1")
    with pytest.raises(NotFound):
        await services.mark_referrer_told(uow(), clock, PRIYA, "C-2026-0001", conversation_id="c")


def test_a_reason_to_screen_again_naming_someone_by_title_is_stopped_unless_they_are_staff() -> None:
    # The reason is on the screening's card in the concern's thread, like the rationale.
    with pytest.raises(FormErrors) as caught:
        decision(screened_before=True, rescreen_reason="Mrs Jones's son called again")
    assert set(caught.value.errors) == {"names_are_staff"} and "\u201cMrs Jones\u201d" in str(caught.value)
    vouched = decision(screened_before=True, rescreen_reason="Dr Okafor sent new evidence", names_are_staff="true")
    assert vouched.names_are_staff and vouched.rescreen_reason == "Dr Okafor sent new evidence"
