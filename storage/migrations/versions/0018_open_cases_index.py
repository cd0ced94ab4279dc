"""an index for a tenant's open cases (the `cases` list)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 07:30:00.000000

Index only. `cases` reads a tenant's open cases; by the status alone SQLite (no statistics) would read the
open cases of every tenant. tests/storage/test_query_plans.py checks the read uses it on SQLite and PostgreSQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_cases_tenant_status', 'cases', ['tenant_id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_cases_tenant_status', table_name='cases')
