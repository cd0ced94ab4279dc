"""reminders outbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 16:08:04.654723
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('key_contacts_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('team_id', sa.String(length=400), nullable=False),
    sa.Column('reviewed_by_name', sa.String(length=200), nullable=False),
    sa.Column('reviewed_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_contacts_reviews'))
    )
    with op.batch_alter_table('key_contacts_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_key_contacts_reviews_team', ['tenant_id', 'team_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('lane', sa.String(length=600), nullable=False),
    sa.Column('case_reference', sa.String(length=20), nullable=True),
    sa.Column('recipient_user_id', sa.String(length=128), nullable=True),
    sa.Column('recipient_name', sa.String(length=200), nullable=True),
    sa.Column('conversation_id', sa.String(length=400), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('send_after', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('activity_id', sa.String(length=200), nullable=True),
    sa.Column('sent_to', sa.String(length=400), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_lane', ['lane', 'id'], unique=False)
        batch_op.create_index('ix_outbox_ready', ['status', 'send_after'], unique=False)

    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snoozed_until', sa.Date(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.drop_column('snoozed_until')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_ready')
        batch_op.drop_index('ix_outbox_lane')

    op.drop_table('outbox')
    with op.batch_alter_table('key_contacts_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_key_contacts_reviews_team')

    op.drop_table('key_contacts_reviews')
