"""The retention rules (when a record is due) and the run over a fake store; the subject export's pure parts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from concerns.model import Actor
from concerns.packs import Period, default_packs_dir, load_packs
from concerns.retention import (
    Due,
    RecordType,
    RetentionPolicy,
    add_period,
    describe,
    due_before,
    ends_on,
    is_due,
    run_retention,
)
from concerns.subjects import (
    BadReference,
    SubjectConcern,
    SubjectFile,
    clean_reference,
    file_stem,
    subject_data,
    subject_html,
    subject_json,
    typed_audit_details,
)

LONDON = ZoneInfo("Europe/London")
CROYDON = load_packs(default_packs_dir())["croydon-provider-concerns"]
TWO_YEARS = Period(years=2)
OPERATOR = Actor("cli:dpo", "dpo (concerns-bot command line)", "")


def uk(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


# -- the anniversary --------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "period", "end"), [
    (date(2024, 2, 29), Period(years=2), date(2026, 2, 28)),  # no 29 February in 2026: the month's last day
    (date(2024, 2, 29), Period(years=4), date(2028, 2, 29)),
    (date(2024, 3, 1), Period(years=2), date(2026, 3, 1)),
    (date(2025, 1, 31), Period(months=1), date(2025, 2, 28)),
    (date(2025, 11, 30), Period(months=3), date(2026, 2, 28)),
    (date(2025, 12, 31), Period(days=1), date(2026, 1, 1)),
    (date(2025, 12, 15), Period(years=1, months=1, days=20), date(2027, 2, 4)),
])
def test_the_anniversary(start: date, period: Period, end: date) -> None:
    assert add_period(start, period) == end


def test_a_record_is_due_from_the_first_moment_of_its_anniversary_in_uk_time() -> None:
    screened = uk("2024-03-01T15:00")
    assert ends_on(screened, TWO_YEARS, LONDON) == date(2026, 3, 1)
    assert not is_due(screened, TWO_YEARS, uk("2026-02-28T23:59:59"), LONDON)
    assert is_due(screened, TWO_YEARS, uk("2026-03-01T00:00"), LONDON)


def test_a_period_from_a_leap_day_ends_on_28_february() -> None:
    screened = uk("2024-02-29T12:00")
    assert not is_due(screened, TWO_YEARS, uk("2026-02-27T23:59:59"), LONDON)
    assert is_due(screened, TWO_YEARS, uk("2026-02-28T00:00"), LONDON)
    # And the day after a leap day is not due a day early.
    assert not is_due(uk("2024-03-01T00:00"), TWO_YEARS, uk("2026-02-28T23:59:59"), LONDON)


def test_the_date_is_taken_in_uk_time_not_utc() -> None:
    # 23:30 UTC on 10 June is 00:30 on 11 June in London (BST): the period runs from 11 June.
    screened = datetime(2024, 6, 10, 23, 30, tzinfo=UTC)
    assert ends_on(screened, TWO_YEARS, LONDON) == date(2026, 6, 11)
    assert not is_due(screened, TWO_YEARS, datetime(2026, 6, 10, 22, 59, 59, tzinfo=UTC), LONDON)
    assert is_due(screened, TWO_YEARS, datetime(2026, 6, 10, 23, 0, tzinfo=UTC), LONDON)


def test_due_before_is_the_start_of_the_day_after_the_last_due_start() -> None:
    assert due_before(TWO_YEARS, uk("2026-03-01T09:00"), LONDON) == uk("2024-03-02T00:00")
    # On 28 February 2026 both 28 and 29 February 2024 have reached their anniversary.
    assert due_before(TWO_YEARS, uk("2026-02-28T09:00"), LONDON) == uk("2024-03-01T00:00")
    assert due_before(TWO_YEARS, uk("2026-02-27T23:59"), LONDON) == uk("2024-02-28T00:00")


@pytest.mark.parametrize("period", [Period(years=2), Period(years=7), Period(months=1), Period(days=30),
                                    Period(years=1, months=11, days=3)])
def test_due_before_agrees_with_is_due_every_day_for_six_years(period: Period) -> None:
    """Storage compares anchors with one instant; it must say exactly what the rule says."""
    anchors = [uk("2022-01-01T00:00") + timedelta(hours=13 * n) for n in range(0, 4 * 365)]
    anchors += [uk("2024-02-29T00:00"), uk("2024-02-29T23:59:59"), uk("2024-03-31T00:30"),
                datetime(2024, 10, 26, 23, 30, tzinfo=UTC)]
    day = date(2022, 1, 1)
    while day < date(2031, 1, 1):
        for clock_time in ("00:00", "23:59:59"):
            at = uk(f"{day.isoformat()}T{clock_time}")
            cut = due_before(period, at, LONDON)
            assert cut.astimezone(LONDON).time() == datetime.min.time()
            for anchor in anchors[::97] + anchors[-4:]:
                assert (anchor < cut) == is_due(anchor, period, at, LONDON), (anchor, at)
        day += timedelta(days=3)


def test_the_policy_comes_from_the_pack() -> None:
    policy = RetentionPolicy.of(CROYDON)
    assert policy.source == f"croydon-provider-concerns@{CROYDON.version}"
    assert policy.periods[RecordType.DECLINED_CONCERNS] == Period(years=2)
    assert policy.periods[RecordType.CLOSED_CASES] == Period(years=7)
    assert policy.periods[RecordType.FORM_STATE] == Period(days=30)
    assert set(policy.periods) == set(RecordType)
    assert policy.zone == LONDON


# -- the run ----------------------------------------------------------------------------------------


class FakeRetention:
    def __init__(self, due: dict[RecordType, list[Due]], changed_meanwhile: Sequence[int | str] = ()) -> None:
        self.records = due
        self.changed_meanwhile = set(changed_meanwhile)
        self.anonymised: list[int | str] = []
        self.befores: dict[RecordType, datetime] = {}

    async def due(self, kind: RecordType, before: datetime, after: int | str | None, limit: int) -> list[Due]:
        self.befores[kind] = before
        left = [d for d in self.records.get(kind, []) if d.key not in self.anonymised
                and (after is None or str(d.key) > str(after))]
        return left[:limit]

    async def anonymise(self, kind: RecordType, keys: Sequence[int | str], before: datetime,
                        at: datetime) -> list[str]:
        done = [d for d in self.records[kind] if d.key in keys and d.key not in self.changed_meanwhile]
        self.anonymised.extend(d.key for d in done)
        return [d.label for d in done]


class FakeAudit:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def record(self, event: Any) -> None:
        self.events.append(event)


class FakeUnitOfWork:
    def __init__(self, retention: FakeRetention) -> None:
        self.retention = retention
        self.audit = FakeAudit()
        self.transactions = 0
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        self.transactions += 1
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        self.commits += 1


def store() -> FakeRetention:
    return FakeRetention({
        RecordType.DECLINED_CONCERNS: [Due(n, f"C-2018-000{n}") for n in range(1, 6)],
        RecordType.CLOSED_CASES: [Due(7, "PC-2018-0001")],
        RecordType.FORM_STATE: [Due("forms/a", "forms/a")],
    })


NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


async def test_a_run_works_in_batches_and_records_one_event_with_counts_only() -> None:
    uow = FakeUnitOfWork(store())
    report = await run_retention(uow, RetentionPolicy.of(CROYDON), NOW, OPERATOR, dry_run=False,  # type: ignore[arg-type]
                                 batch=2)
    assert report.types[0].labels == ("C-2018-0001", "C-2018-0002", "C-2018-0003", "C-2018-0004", "C-2018-0005")
    assert report.counts() == {"declined_concerns": 5, "other_concerns": 0, "closed_cases": 1, "form_state": 1,
                               "outbox": 0}
    assert uow.commits == 3 + 1 + 1 + 1  # five concerns in batches of two, the case, the draft, the audit event
    [event] = uow.audit.events
    assert (event.action, event.subject_type, event.actor_name) == ("retention.run", "retention", OPERATOR.name)
    assert event.details["anonymised"] == report.counts()
    assert "C-2018" not in json.dumps(event.details) and "PC-2018" not in json.dumps(event.details)
    assert uow.retention.befores[RecordType.DECLINED_CONCERNS] == uk("2024-11-24T00:00")
    assert uow.retention.befores[RecordType.CLOSED_CASES] == uk("2019-11-24T00:00")


async def test_a_record_changed_meanwhile_is_not_counted_and_the_run_still_ends() -> None:
    uow = FakeUnitOfWork(FakeRetention({RecordType.OTHER_CONCERNS: [Due(1, "C-1"), Due(2, "C-2")]},
                                       changed_meanwhile=[1]))
    report = await run_retention(uow, RetentionPolicy.of(CROYDON), NOW, OPERATOR, dry_run=False)  # type: ignore[arg-type]
    assert report.types[1].labels == ("C-2",)


async def test_a_dry_run_lists_what_is_due_and_writes_nothing() -> None:
    uow = FakeUnitOfWork(store())
    report = await run_retention(uow, RetentionPolicy.of(CROYDON), NOW, OPERATOR, dry_run=True,  # type: ignore[arg-type]
                                 batch=2)
    assert report.dry_run and report.counts()["declined_concerns"] == 5
    assert uow.retention.anonymised == [] and uow.audit.events == [] and uow.commits == 0
    lines = describe(report)
    assert lines[0].startswith("Retention dry run at 2026-11-23T10:30:00+00:00 under croydon-provider-concerns@")
    assert lines[1].startswith("  declined_concerns: would anonymise 5 (")
    assert "kept 2 years from the latest screening" in lines[1]
    assert lines[2] == "    C-2018-0001, C-2018-0002, C-2018-0003, C-2018-0004, C-2018-0005"
    assert any(line.startswith("  form_state: would delete 1 ") for line in lines)
    assert "forms/a" not in "\n".join(lines)  # drafts are counted, not listed
    assert lines[-1] == "Dry run: nothing was changed."


# -- subject requests: the pure parts -----------------------------------------------------------------


def test_a_reference_is_trimmed_and_anything_else_refused() -> None:
    assert clean_reference("  LAS-104233 ") == "LAS-104233"
    for bad in ("", "   ", "Mrs Jones", "LAS\n1", "x" * 65):
        with pytest.raises(BadReference):
            clean_reference(bad)


def test_the_file_name_cannot_leave_the_folder() -> None:
    assert file_stem("LAS-104233") == "subject-LAS-104233"
    assert file_stem("NHS/12/../..") == "subject-NHS_12_.._.."
    assert "/" not in file_stem("a/b") and "\\" not in file_stem("a\\b")


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def hostile_file() -> SubjectFile:
    concern = SubjectConcern(
        tenant_id="t", reference="C-2026-0001",
        fields={"reference": "C-2026-0001", "description": HOSTILE, "raised_by_name": "</td><b>Eve</b>",
                "raised_at": datetime(2026, 11, 23, 10, 30, tzinfo=UTC), "categories": ["medication", HOSTILE],
                "provider": {"name": HOSTILE}},
        screenings=[{"rationale": HOSTILE, "screened_at": datetime(2026, 11, 24, tzinfo=UTC)}],
        cases=[{"reference": "PC-2026-0001", "provider": HOSTILE, "level": "moderate"}],
        events=[{"action": "concern.raised", "details": {"provider": HOSTILE}}],
    )
    return SubjectFile("LAS-104233", datetime(2026, 11, 25, 9, tzinfo=UTC), (concern,), ())


def test_the_html_export_escapes_everything_typed() -> None:
    page = subject_html(hostile_file())
    assert "<script" not in page and "<img" not in page and "<b>Eve" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;/td&gt;&lt;b&gt;Eve&lt;/b&gt;" in page
    assert page.count("<script") == 0 and page.startswith("<!doctype html>")
    assert "Subject access request: LAS-104233" in page and "PC-2026-0001" in page


def test_the_json_export_holds_every_field_as_plain_values() -> None:
    data = json.loads(subject_json(hostile_file()))
    assert data == subject_data(hostile_file())
    assert data["subject_access_request"]["individual_reference"] == "LAS-104233"
    assert data["subject_access_request"]["held"] == {"concerns": 1, "screenings": 1, "cases": 1,
                                                      "audit_events": 1, "form_drafts": 0}
    [concern] = data["concerns"]
    assert concern["description"] == HOSTILE and concern["raised_at"] == "2026-11-23T10:30:00+00:00"
    assert concern["screenings"][0]["screened_at"] == "2026-11-24T00:00:00+00:00"


def test_typed_text_in_audit_details_is_pointed_out_not_hidden() -> None:
    file = hostile_file()
    assert typed_audit_details(file) == []  # a provider's name is not typed text about the person
    screened = {"action": "concern.screened", "details": {"outcome": "quality_concern", "rationale": HOSTILE}}
    rescreened = {"action": "concern.rescreened", "details": {"rationale": "", "rescreen_reason": None}}
    file.concerns[0].events.extend([screened, rescreened])
    assert typed_audit_details(file) == [("C-2026-0001", "concern.screened", ["rationale"])]
