"""enquiry outcomes: the findings meeting's matrix of a case's individual s42 enquiries

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:30:00.000000

A new table only: one row per concern whose screening started an s42 enquiry, values from lists.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'enquiry_outcomes',
        sa.Column('concern_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('categories', sa.String(length=400), nullable=False),
        sa.Column('caused_by', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('substantiated', sa.String(length=16), nullable=True),
        sa.Column('risk', sa.String(length=16), nullable=True),
        sa.Column('recorded_by_name', sa.String(length=200), nullable=False),
        sa.Column('recorded_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], name=op.f('fk_enquiry_outcomes_concern_id_concerns')),
        sa.PrimaryKeyConstraint('concern_id', name=op.f('pk_enquiry_outcomes')),
    )


def downgrade() -> None:
    op.drop_table('enquiry_outcomes')
