"""each case's current step target (the step's timescale in working days from the day it started)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 13:00:00.000000

The sweep reminds the chair of a step's target and prompts the case thread once it is well past, so the target
is kept on the case (set when a case opens or its step moves) and found through an index, not recomputed from
every case's step history each minute. Cases already open keep no target until their step next moves: the
target depends on the procedure pack, which a migration does not read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('step_due_on', sa.Date(), nullable=True))
    op.create_index('ix_cases_status_step_due', 'cases', ['status', 'step_due_on'])


def downgrade() -> None:
    op.drop_index('ix_cases_status_step_due', table_name='cases')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('step_due_on')
