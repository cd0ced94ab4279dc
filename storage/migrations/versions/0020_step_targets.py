"""each case's current step target (the step's timescale in working days from the day it started)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 13:00:00.000000

The sweep reminds the chair of a step's target and prompts the case thread once it is well past, so the target
is kept on the case (set when a case opens or its step moves) and found through an index, not recomputed from
every case's step history each minute. Cases already open get theirs here, from when they entered their current
step and the procedure packs the app reads (CONCERNS_PACKS_DIR, else the shipped ones); a pack or step no longer
there leaves the case without a target.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from concerns.actions import step_due
from concerns.calendar import WorkingCalendar
from concerns.clock import UK
from concerns.packs import default_packs_dir, load_packs
from storage.models import UTCDateTime

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('step_due_on', sa.Date(), nullable=True))
    op.create_index('ix_cases_status_step_due', 'cases', ['status', 'step_due_on'])
    _backfill()


def _backfill() -> None:
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('pack_id', sa.String), sa.column('step', sa.String),
                     sa.column('status', sa.String), sa.column('step_due_on', sa.Date))
    steps = sa.table('case_steps', sa.column('case_id', sa.Integer), sa.column('step', sa.String),
                     sa.column('entered_at', UTCDateTime()))
    entered = (sa.select(sa.func.max(steps.c.entered_at)).where(steps.c.case_id == cases.c.id,
                                                                  steps.c.step == cases.c.step)
               .scalar_subquery().label('entered_at'))
    bind = op.get_bind()
    found = bind.execute(sa.select(cases.c.id, cases.c.pack_id, cases.c.step, entered)
                         .where(cases.c.status == 'open')).all()
    if not found:
        return
    packs = load_packs(Path(os.environ.get('CONCERNS_PACKS_DIR') or default_packs_dir()))
    calendars: dict[str, WorkingCalendar] = {}
    for case_id, pack_id, step, entered_at in found:
        pack = packs.get(pack_id)
        if pack is None or entered_at is None:
            continue
        calendar = calendars.setdefault(pack.nation, WorkingCalendar(pack.nation))
        try:
            due = step_due(pack, step, entered_at.astimezone(UK).date(), calendar)
        except KeyError:
            continue
        if due is not None:
            bind.execute(sa.update(cases).where(cases.c.id == case_id).values(step_due_on=due))


def downgrade() -> None:
    op.drop_index('ix_cases_status_step_due', table_name='cases')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('step_due_on')
