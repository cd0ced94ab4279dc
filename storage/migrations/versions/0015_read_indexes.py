"""indexes for the reminder sweep and the busiest reads, so neither grows with what exists

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 18:00:00.000000

Indexes only. A person's open actions are found by owner and status; the reminder sweep finds open
actions by due date and snooze, scheduled meetings by start, open cases by opening time, a case's
latest activity in the audit trail, a chair's cases and feedback owed by due date; the provider list is
read newest concern first. tests/storage/test_query_plans.py checks that these queries use them on
SQLite and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FEEDBACK_OWED = sa.text('feedback_given_at IS NULL')


def upgrade() -> None:
    op.create_index('ix_case_actions_status_due', 'case_actions', ['status', 'due_on', 'case_id'])
    op.create_index('ix_case_actions_status_snoozed', 'case_actions', ['status', 'snoozed_until'])
    op.create_index('ix_case_actions_owner_status', 'case_actions', ['owner_user_id', 'status'])
    op.create_index('ix_meetings_status_starts', 'meetings', ['status', 'starts_at'])
    op.create_index('ix_cases_status_opened', 'cases', ['status', 'opened_at'])
    op.create_index('ix_case_members_user', 'case_members', ['user_id', 'role'])
    op.create_index('ix_audit_events_subject_time', 'audit_events', ['subject_type', 'subject_ref', 'occurred_at'])
    op.create_index('ix_screenings_feedback_owed', 'screenings', ['feedback_due_on'],
                    sqlite_where=_FEEDBACK_OWED, postgresql_where=_FEEDBACK_OWED)
    op.create_index('ix_providers_tenant_recent', 'providers', ['tenant_id', 'last_concern_at'])


def downgrade() -> None:
    op.drop_index('ix_providers_tenant_recent', table_name='providers')
    op.drop_index('ix_screenings_feedback_owed', table_name='screenings')
    op.drop_index('ix_audit_events_subject_time', table_name='audit_events')
    op.drop_index('ix_case_members_user', table_name='case_members')
    op.drop_index('ix_cases_status_opened', table_name='cases')
    op.drop_index('ix_meetings_status_starts', table_name='meetings')
    op.drop_index('ix_case_actions_owner_status', table_name='case_actions')
    op.drop_index('ix_case_actions_status_snoozed', table_name='case_actions')
    op.drop_index('ix_case_actions_status_due', table_name='case_actions')
