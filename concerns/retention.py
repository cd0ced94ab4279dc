"""Retention: when a record's personal data is due for anonymisation, and the run that anonymises it.

PROCEDURE.md "Data protection": personal data is kept only as long as the retention policy says. The
policy is the procedure pack's `retention` section (a council's policy is data). Each record type's
period runs from one event, taken as a date in the pack's time zone (`reminders.time_zone`, UK), and ends on
its anniversary: screened on 1 March 2024 and kept two years, a concern is due from 1 March 2026. A year
from 29 February ends on 28 February, so no record outlives its period by a day.

Anonymising keeps what the statistics need (counts, categories, dates, levels, outcomes, the provider):
free text becomes MARKER, people's names PERSON and their ids PERSON_ID, individual references go.
The audit trail is never changed (it is append-only and hash-chained, concerns/audit.py); the run adds
one event with its counts.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from concerns.model import Actor, AuditEvent
from concerns.packs import Period, ProcedurePack

if TYPE_CHECKING:  # the ports name this module's types
    from concerns.ports import UnitOfWork

MARKER = "[removed under the retention policy]"
PERSON = "[name removed]"
PERSON_ID = "anonymised"
BATCH = 100  # records per transaction: short, so the bot serving alongside waits for little


class RecordType(StrEnum):
    """The kinds of record the policy gives a period to; the values are the pack's field names."""

    DECLINED_CONCERNS = "declined_concerns"
    OTHER_CONCERNS = "other_concerns"
    CLOSED_CASES = "closed_cases"
    FORM_STATE = "form_state"
    OUTBOX = "outbox"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def anchor(self) -> str:
        """What the period runs from."""
        return _ANCHORS[self]


_LABELS = {
    RecordType.DECLINED_CONCERNS: "Concerns screened no further action, in no case",
    RecordType.OTHER_CONCERNS: "Other concerns in no case",
    RecordType.CLOSED_CASES: "Closed cases (with their concerns, votes, actions, meetings, documents)",
    RecordType.FORM_STATE: "Form drafts and dialog state",
    RecordType.OUTBOX: "Outbox messages sent or given up on",
}
_ANCHORS = {
    RecordType.DECLINED_CONCERNS: "the latest screening",
    RecordType.OTHER_CONCERNS: "the latest screening, or the raising if never screened",
    RecordType.CLOSED_CASES: "closure",
    RecordType.FORM_STATE: "the last change",
    RecordType.OUTBOX: "sending, or queuing if never sent",
}


# -- the rules --------------------------------------------------------------------------------------


def add_period(start: date, period: Period) -> date:
    """The anniversary: years and months first, clamped to the month's last day, then days."""
    months = start.month - 1 + period.months + 12 * period.years
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=period.days)


def ends_on(anchor: datetime, period: Period, zone: ZoneInfo) -> date:
    """The first day on which a record whose period ran from `anchor` is due."""
    return add_period(anchor.astimezone(zone).date(), period)


def is_due(anchor: datetime, period: Period, at: datetime, zone: ZoneInfo) -> bool:
    """Whether, at `at`, the period that ran from `anchor` has ended."""
    return at.astimezone(zone).date() >= ends_on(anchor, period, zone)


def due_before(period: Period, at: datetime, zone: ZoneInfo) -> datetime:
    """The instant that splits records: one whose period ran from before it is due at `at`, others are not.

    Storage compares anchors with this one instant. It is the start of the day after the last start
    date whose anniversary has come, which is found by stepping from an estimate (anniversaries never
    go backwards as the start moves on, but clamping makes two starts share one).
    """
    today = at.astimezone(zone).date()
    last = _subtract(today, period)
    while add_period(last, period) > today:
        last -= timedelta(days=1)
    while add_period(last + timedelta(days=1), period) <= today:
        last += timedelta(days=1)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)


def _subtract(day: date, period: Period) -> date:
    day -= timedelta(days=period.days)
    months = day.month - 1 - period.months - 12 * period.years
    year, month = day.year + months // 12, months % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RetentionPolicy:
    """A pack's retention periods, and the zone their dates are taken in."""

    source: str  # pack id@version, for the report and the audit event
    periods: dict[RecordType, Period]
    zone: ZoneInfo

    @classmethod
    def of(cls, pack: ProcedurePack) -> RetentionPolicy:
        return cls(f"{pack.id}@{pack.version}",
                   {kind: getattr(pack.retention, kind.value) for kind in RecordType}, pack.reminders.zone)

    def due_before(self, kind: RecordType, at: datetime) -> datetime:
        return due_before(self.periods[kind], at, self.zone)


# -- the run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A record past its period: its key (the order storage walks them in) and what an operator reads."""

    key: int | str
    label: str


@dataclass(frozen=True)
class TypeReport:
    kind: RecordType
    period: Period
    due_before: datetime  # records whose period ran from before this
    labels: tuple[str, ...]  # anonymised (or, in a dry run, due): concern or case references, ids

    @property
    def count(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class RetentionReport:
    at: datetime
    policy: str
    dry_run: bool
    types: tuple[TypeReport, ...]

    def counts(self) -> dict[str, int]:
        return {t.kind.value: t.count for t in self.types}


async def run_retention(
    uow: UnitOfWork, policy: RetentionPolicy, at: datetime, actor: Actor, *, dry_run: bool,
    batch: int = BATCH,
) -> RetentionReport:
    """Anonymise (or, dry, list) every record past its period, a batch per transaction; audit a real run.

    Storage checks each record is still due inside the transaction that anonymises it, so records
    changed meanwhile by the bot are left for the next run, and two runs at once do the work once.
    """
    reports: list[TypeReport] = []
    for kind in RecordType:
        before = policy.due_before(kind, at)
        labels: list[str] = []
        after: int | str | None = None
        # A closed case is a dozen tables: fewer of them per transaction keeps each one as short as the others.
        size = max(1, batch // 10) if kind is RecordType.CLOSED_CASES else batch
        while True:
            async with uow:
                due = await uow.retention.due(kind, before, after, size)
                if due and not dry_run:
                    labels.extend(await uow.retention.anonymise(kind, [d.key for d in due], before, at))
                    await uow.commit()
            if not due:
                break
            if dry_run:
                labels.extend(d.label for d in due)
            after = due[-1].key
        reports.append(TypeReport(kind, policy.periods[kind], before, tuple(labels)))
    report = RetentionReport(at, policy.source, dry_run, tuple(reports))
    if not dry_run:
        async with uow:
            await uow.audit.record(retention_event(report, actor))
            await uow.commit()
    return report


def retention_event(report: RetentionReport, actor: Actor) -> AuditEvent:
    """One event per run: the policy, the instants used and the counts. No reference, no name."""
    return AuditEvent(
        occurred_at=report.at, tenant_id=actor.tenant_id, actor_id=actor.id, actor_name=actor.name,
        action="retention.run", subject_type="retention", subject_ref=report.policy, conversation_id=None,
        details={
            "policy": report.policy,
            "anonymised": report.counts(),
            "due_before": {t.kind.value: t.due_before.isoformat() for t in report.types},
        },
    )


def describe(report: RetentionReport, *, listed: Sequence[RecordType] = (
        RecordType.DECLINED_CONCERNS, RecordType.OTHER_CONCERNS, RecordType.CLOSED_CASES)) -> list[str]:
    """The report as an operator reads it: per type what was (or would be) done; references for `listed`."""
    lines = [f"Retention {'dry run' if report.dry_run else 'run'} at {report.at.isoformat(timespec='seconds')} "
             f"under {report.policy}:"]
    for t in report.types:
        verb = "delete" if t.kind is RecordType.FORM_STATE else "anonymise"  # drafts are of no use to statistics
        done = f"would {verb}" if report.dry_run else f"{verb}d"
        lines.append(f"  {t.kind.value}: {done} {t.count} ({t.kind.label}; kept {t.period} from {t.kind.anchor}, "
                     f"so those from before {t.due_before.date().isoformat()})")
        if t.kind in listed and t.labels:
            lines.append("    " + ", ".join(t.labels))
    if report.dry_run:
        lines.append("Dry run: nothing was changed.")
    else:
        lines.append("Recorded in the audit trail as retention.run (counts only); the trail itself is never "
                     "changed (SECURITY.md, retention and the audit trail).")
    return lines
