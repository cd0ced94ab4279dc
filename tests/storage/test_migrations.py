"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import create_engine
from storage.models import Base


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            def diff(sync: Any) -> list[Any]:
                return compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)

            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_cases_open_before_step_targets_get_theirs_from_their_current_step(database_url: str) -> None:
    """0020 gives each open case its current step's target from when it entered that step; a closed case, or a
    step without a timescale, gets none."""
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import insert, select

    from storage.migrate import alembic_config
    from storage.models import CaseRow, CaseStepRow, ProviderRow

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0019"))
            at = datetime(2026, 11, 23, 10, tzinfo=UTC)  # a Monday
            for n, (status, step, entered) in enumerate((
                    ("open", "decision", at), ("open", "initial_meeting", datetime(2026, 12, 21, 9, tzinfo=UTC)),
                    ("open", "update_meeting", at), ("closed", "decision", at)), start=1):
                await connection.execute(insert(ProviderRow.__table__).values(
                    id=n, tenant_id="t", name=f"Home {n}", name_key=f"home {n}", service_type="nursing",
                    created_at=at))
                await connection.execute(insert(CaseRow.__table__).values(
                    id=n, tenant_id="t", reference=f"PC-2026-{n:04}", provider_id=n,
                    pack_id="croydon-provider-concerns", pack_version=1, status=status, step=step,
                    lead_agency="council", opened_by_id="u", opened_by_name="U", opened_at=at))
                # An earlier entry of another step, then the current one.
                await connection.execute(insert(CaseStepRow.__table__).values(
                    case_id=n, step="decision", entered_at=at, entered_by_name="U"))
                if step != "decision":
                    await connection.execute(insert(CaseStepRow.__table__).values(
                        case_id=n, step=step, entered_at=entered, entered_by_name="U"))
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
            targets = dict((await connection.execute(select(CaseRow.id, CaseRow.step_due_on))).all())
    finally:
        await engine.dispose()
    # The decision within 5 working days; the initial meeting within 10, over Christmas and New Year's Day.
    assert targets == {1: date(2026, 11, 30), 2: date(2027, 1, 7), 3: None, 4: None}
