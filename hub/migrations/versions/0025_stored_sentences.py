"""Sentences kept for later as their English template and values, so that a parked push's reason,
a low-stock alert's explanation and what an admin must know of a connection are read in the
reader's language (hub.sentences). Rows from before keep only their English text, and show it.

Revision ID: 0025_stored_sentences
Revises: 0024_onec_payments
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0025_stored_sentences'
down_revision = '0024_onec_payments'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('invoice_notices', sa.Column('reason_message', sa.JSON(), nullable=True))
    op.add_column('stock_alerts', sa.Column('explanation_message', sa.JSON(), nullable=True))
    op.add_column('connections', sa.Column('attention_message', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('connections') as batch:
        batch.drop_column('attention_message')
    with op.batch_alter_table('stock_alerts') as batch:
        batch.drop_column('explanation_message')
    with op.batch_alter_table('invoice_notices') as batch:
        batch.drop_column('reason_message')
