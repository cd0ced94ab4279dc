"""`concerns-bot retention run`, `export subject` and `erase subject` as an operator runs them: a real
process over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from concerns.retention import MARKER
from concerns.subjects import ERASED
from storage.models import AuditEventRow, ConcernRow
from tests.bot.test_cli import run
from tests.storage.test_retention import snapshot
from tests.storage.test_screening import screen
from tests.storage.test_services import raise_one
from tests.support.clock import FixedClock

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def cli(database_url: str, *args: str) -> Any:
    return run(*args, env={"CONCERNS_DATABASE_URL": database_url})


async def concerns_from_2018(uow: Any, clock: FixedClock) -> tuple[str, str]:
    """A concern screened "no further action" in March 2018, and a recent one naming LAS-104233."""
    clock.at = datetime(2018, 3, 1, 10, tzinfo=UTC)
    # A name gets through when the raiser ticks that it is staff, wrongly: retention erases it all the same.
    old = await raise_one(uow, clock, "k1", description="Mrs Jones fell", individual_reference="NHS/77",
                          names_are_staff="true")
    await screen(uow, clock, old.concern.reference, outcome="no_further_action", threshold="minor")
    clock.at = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    recent = await raise_one(uow, clock, "k2", description=HOSTILE, individual_reference="LAS-104233")
    await screen(uow, clock, recent.concern.reference, rationale=f"Rationale {HOSTILE}")
    return old.concern.reference, recent.concern.reference


async def concern(sessions: Any, reference: str) -> ConcernRow:
    async with sessions() as session:
        return (await session.scalars(select(ConcernRow).where(ConcernRow.reference == reference))).one()


async def events(sessions: Any, action: str) -> list[AuditEventRow]:
    async with sessions() as session:
        return list((await session.scalars(select(AuditEventRow).where(AuditEventRow.action == action)
                                           .order_by(AuditEventRow.id))).all())


async def test_a_dry_run_changes_nothing_then_a_run_anonymises_once_and_the_chain_still_verifies(
    database_url: str, uow: Any, sessions: Any, clock: FixedClock
) -> None:
    old, recent = await concerns_from_2018(uow, clock)
    rows = await snapshot(sessions)

    dry = await asyncio.to_thread(cli, database_url, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "declined_concerns: would anonymise 1 (" in dry.stdout and f"    {old}" in dry.stdout
    assert recent not in dry.stdout and dry.stdout.rstrip().endswith("Dry run: nothing was changed.")
    assert await snapshot(sessions) == rows

    done = await asyncio.to_thread(cli, database_url, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert "declined_concerns: anonymised 1 (" in done.stdout and "closed_cases: anonymised 0 (" in done.stdout
    assert "form_state: deleted 0 (" in done.stdout and "Recorded in the audit trail as retention.run" in done.stdout
    anonymised = await concern(sessions, old)
    assert (anonymised.description, anonymised.individual_reference) == (MARKER, None)
    assert (await concern(sessions, recent)).description == HOSTILE
    [event] = await events(sessions, "retention.run")
    assert event.details["anonymised"]["declined_concerns"] == 1
    assert event.actor_name.endswith("(concerns-bot command line)") and event.tenant_id == ""

    verify = await asyncio.to_thread(cli, database_url, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert "audit chain intact" in verify.stdout

    again = await asyncio.to_thread(cli, database_url, "retention", "run")
    assert again.returncode == 0 and "declined_concerns: anonymised 0 (" in again.stdout


async def test_a_run_as_of_a_past_time_finds_less_and_a_future_one_only_previews(
    database_url: str, uow: Any, sessions: Any, clock: FixedClock
) -> None:
    old, _ = await concerns_from_2018(uow, clock)
    past = await asyncio.to_thread(cli, database_url, "retention", "run", "--at", "2020-02-29T23:59")
    assert past.returncode == 0, past.stderr
    assert "declined_concerns: anonymised 0 (" in past.stdout  # due from 1 March 2020
    rows = await snapshot(sessions)
    future = await asyncio.to_thread(cli, database_url, "retention", "run", "--at", "2099-01-01T00:00")
    assert future.returncode == 2 and "cannot be dated in the future" in future.stderr
    assert await snapshot(sessions) == rows
    preview = await asyncio.to_thread(cli, database_url, "retention", "run", "--dry-run", "--at", "2099-01-01T00:00")
    assert preview.returncode == 0 and "other_concerns: would anonymise 1 (" in preview.stdout
    assert await snapshot(sessions) == rows
    bad = await asyncio.to_thread(cli, database_url, "retention", "run", "--at", "soon")
    assert bad.returncode == 2 and "not an ISO date and time" in bad.stderr
    assert (await concern(sessions, old)).description == "Mrs Jones fell"


async def test_export_subject_writes_json_and_escaped_html_and_is_audited_by_concern_reference(
    database_url: str, uow: Any, sessions: Any, clock: FixedClock, tmp_path: Path
) -> None:
    _, recent = await concerns_from_2018(uow, clock)
    out = tmp_path / "sar" / "2026-11"
    result = await asyncio.to_thread(cli, database_url, "export", "subject", "las-104233", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "1 concern(s), 1 screening(s) and 0 form draft(s) held under las-104233" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["subject-las-104233.html", "subject-las-104233.json"]

    data = json.loads((out / "subject-las-104233.json").read_text(encoding="utf-8"))
    [held] = data["concerns"]
    assert held["reference"] == recent and held["individual_reference"] == "LAS-104233"
    assert held["description"] == HOSTILE and held["screenings"][0]["rationale"] == f"Rationale {HOSTILE}"
    assert [e["action"] for e in held["audit_events"]] == ["concern.raised", "concern.screened"]
    page = (out / "subject-las-104233.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

    [event] = await events(sessions, "subject.exported")
    assert (event.subject_type, event.subject_ref, event.details["concerns"]) == ("concern", recent, [recent])
    assert "104233" not in json.dumps(event.details) and "104233" not in event.subject_ref

    # A reference holding '/' still writes into the folder asked for.
    slashed = await asyncio.to_thread(cli, database_url, "export", "subject", "NHS/77", "--out", str(out))
    assert slashed.returncode == 0, slashed.stderr
    assert (out / "subject-NHS_77.json").exists() and not (out / "subject-NHS").exists()


async def test_an_unknown_or_malformed_reference_writes_nothing(
    database_url: str, uow: Any, sessions: Any, clock: FixedClock, tmp_path: Path
) -> None:
    await concerns_from_2018(uow, clock)
    out = tmp_path / "sar"
    unknown = await asyncio.to_thread(cli, database_url, "export", "subject", "LAS-999", "--out", str(out))
    assert unknown.returncode == 1
    assert "nothing is held under the individual reference LAS-999" in unknown.stderr
    assert not out.exists()
    malformed = await asyncio.to_thread(cli, database_url, "export", "subject", "Mrs Jones", "--out", str(out))
    assert malformed.returncode == 2 and "is not an individual reference" in malformed.stderr
    assert not out.exists()
    assert await events(sessions, "subject.exported") == []


async def test_erase_subject_shows_first_then_erases_once_with_an_audit_event(
    database_url: str, uow: Any, sessions: Any, clock: FixedClock
) -> None:
    _, recent = await concerns_from_2018(uow, clock)
    rows = await snapshot(sessions)
    shown = await asyncio.to_thread(cli, database_url, "erase", "subject", "LAS-104233")
    assert shown.returncode == 0, shown.stderr
    assert f"would remove it from 1 concern(s) ({recent})" in shown.stdout and "--yes" in shown.stdout
    assert "1 audit event(s) about them keep typed text (rationale): the audit trail is append-only" in shown.stdout
    assert await snapshot(sessions) == rows

    erased = await asyncio.to_thread(cli, database_url, "erase", "subject", "LAS-104233", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert f"removed from 1 concern(s) ({recent}), 1 screening rationale(s) replaced" in erased.stdout
    row = await concern(sessions, recent)
    assert (row.individual_reference, row.description) == (None, ERASED)
    [event] = await events(sessions, "subject.erased")
    assert (event.subject_ref, event.details["concerns"]) == (recent, [recent])
    assert "104233" not in json.dumps(event.details)
    verify = await asyncio.to_thread(cli, database_url, "audit", "verify")
    assert verify.returncode == 0, verify.stderr

    again = await asyncio.to_thread(cli, database_url, "erase", "subject", "LAS-104233", "--yes")
    assert again.returncode == 1 and "nothing is held under the individual reference LAS-104233" in again.stderr
    assert len(await events(sessions, "subject.erased")) == 1


def test_a_database_not_migrated_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new.db"
    for args in (("retention", "run"), ("retention", "run", "--dry-run"), ("export", "subject", "LAS-1", "--out",
                                                                          str(tmp_path / "out")),
                 ("erase", "subject", "LAS-1", "--yes")):
        result = cli(url, *args)
        assert result.returncode == 2, args
        assert "concerns-bot db upgrade" in result.stderr
    assert not (tmp_path / "out").exists()
