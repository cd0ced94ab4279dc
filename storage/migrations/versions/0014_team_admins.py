"""team admins: who may change a team's roles, grant team admin and read access logs

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 12:00:00.000000

A new table only; the audit trail (which also records every grant and revoke) is not touched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'team_admins',
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('team_id', sa.String(length=400), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('granted_by_name', sa.String(length=200), nullable=False),
        sa.Column('granted_at', UTCDateTime(), nullable=False),
        sa.Column('revoked_by_name', sa.String(length=200), nullable=True),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'team_id', 'user_id', name=op.f('pk_team_admins')),
    )


def downgrade() -> None:
    op.drop_table('team_admins')
