"""retention: when each record's personal data was anonymised

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 09:00:00.000000

`anonymised_at` on concerns, cases (a closed case with everything hanging off it) and outbox rows:
`concerns-bot retention run` sets it when it anonymises the record, so a second run leaves it alone.
audit_events is not touched here: on SQLite a batch rebuild would drop its append-only triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('concerns', 'cases', 'outbox')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('anonymised_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('anonymised_at')
