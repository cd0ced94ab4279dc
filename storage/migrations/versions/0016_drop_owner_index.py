"""drop the index on an action's owner alone: (owner, status) since 0015 answers every query it did

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 23:30:00.000000

Every read by owner also filters by status or reads through ix_case_actions_owner_status, whose leading
column is the owner; the index on the owner alone only cost each action's insert and reassignment a second
index to keep. tests/storage/test_query_plans.py checks that a person's actions are still read by index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_case_actions_owner_user_id')


def downgrade() -> None:
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.create_index('ix_case_actions_owner_user_id', ['owner_user_id'], unique=False)
