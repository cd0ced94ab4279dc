"""an index for the documents register's next review dates (the sweep's review reminders)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:30:00.000000

Index only. The reminder sweep finds register entries whose review is coming up by their next review date;
without it every register would be read each minute. tests/storage/test_query_plans.py checks the read uses it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_case_documents_next_review_on', 'case_documents', ['next_review_on'])


def downgrade() -> None:
    op.drop_index('ix_case_documents_next_review_on', table_name='case_documents')
