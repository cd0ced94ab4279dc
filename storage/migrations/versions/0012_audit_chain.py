"""audit chain: audit_events becomes append-only and hash-chained

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:00:00.000000

Adds `prev_hash` and `hash`, chains the events already there in id order (with the rule in
concerns/audit.py, the one the application and `concerns-bot audit verify` use), then makes the table
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) with triggers.

On SQLite a later migration that rebuilds audit_events (`batch_alter_table` copies the table and drops
the old one) loses these triggers: it must create them again (`_sqlite_triggers` below).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from concerns.audit import GENESIS, event_hash
from concerns.model import AuditEvent
from storage.models import UTCDateTime

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
REFUSAL = 'audit_events is append-only'

# The columns with the model's types, so the backfill hashes the values as the application reads them.
audit_events = sa.table(
    'audit_events',
    sa.column('id', sa.Integer()),
    sa.column('occurred_at', UTCDateTime()),
    sa.column('tenant_id', sa.String()),
    sa.column('actor_id', sa.String()),
    sa.column('actor_name', sa.String()),
    sa.column('action', sa.String()),
    sa.column('subject_type', sa.String()),
    sa.column('subject_ref', sa.String()),
    sa.column('conversation_id', sa.String()),
    sa.column('details', sa.JSON()),
    sa.column('prev_hash', sa.String()),
    sa.column('hash', sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _backfill(connection: sa.Connection) -> None:
    """Chain the existing events in id order, a batch at a time (the table may be large)."""
    prev_hash, last_id = GENESIS, 0
    while True:
        rows = connection.execute(
            sa.select(audit_events).where(audit_events.c.id > last_id).order_by(audit_events.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            event = AuditEvent(occurred_at=row.occurred_at, tenant_id=row.tenant_id, actor_id=row.actor_id,
                               actor_name=row.actor_name, action=row.action, subject_type=row.subject_type,
                               subject_ref=row.subject_ref, conversation_id=row.conversation_id,
                               details=row.details)
            digest = event_hash(prev_hash, event)
            updates.append({'row_id': row.id, 'new_prev_hash': prev_hash, 'new_hash': digest})
            prev_hash, last_id = digest, row.id
        connection.execute(
            audit_events.update().where(audit_events.c.id == sa.bindparam('row_id'))
            .values(prev_hash=sa.bindparam('new_prev_hash'), hash=sa.bindparam('new_hash')),
            updates,
        )


def _postgresql_triggers() -> None:
    op.execute(f"""
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{REFUSAL}';
        END
        $$
    """)
    op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
               "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")


def _sqlite_triggers() -> None:
    for verb in ('UPDATE', 'DELETE'):
        op.execute(f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
