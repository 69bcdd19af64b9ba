"""More sentences kept as their English template and values (hub.sentences), as 0025 did: why an
outbox event failed, a sync run's note, why an OAuth provider refused a connection, why a purchase
request, an alert delivery or a reconciliation run failed, and the words a parked push's notice keeps for finance. Each
English text column stays (webhooks, the audit, older rows and readers of the column); rows from
before keep only their text, and show it.

Revision ID: 0026_stored_notes
Revises: 0025_stored_sentences
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0026_stored_notes'
down_revision = '0025_stored_sentences'
branch_labels = None
depends_on = None

COLUMNS = (
    ('outbox', 'last_error_message'),
    ('sync_runs', 'error_message'),
    ('connections', 'oauth_reason_message'),
    ('purchase_requests', 'error_message'),
    ('alert_deliveries', 'last_error_message'),
    ('invoice_notices', 'detail_message'),
    ('reconciliation_runs', 'error_message'),
)


def upgrade():
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.JSON(), nullable=True))


def downgrade():
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
