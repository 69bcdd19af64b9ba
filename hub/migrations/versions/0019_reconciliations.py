"""Reconciliation runs (a connection's target against the hub's invoices of a period) and the
differences each found.

Revision ID: 0019_reconciliations
Revises: 0018_invoice_notices
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = '0019_reconciliations'
down_revision = '0018_invoice_notices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reconciliation_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='runstate', native_enum=False,
                                   length=20), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('hub_count', sa.Integer(), nullable=False),
        sa.Column('target_count', sa.Integer(), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('missing', sa.Integer(), nullable=False),
        sa.Column('duplicated', sa.Integer(), nullable=False),
        sa.Column('mismatched', sa.Integer(), nullable=False),
        sa.Column('unknown', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['connection_id'], ['connections.id'],
                                name=op.f('fk_reconciliation_runs_connection_id_connections'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_reconciliation_runs_requested_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs')),
    )
    op.create_index(op.f('ix_reconciliation_runs_connection_id'), 'reconciliation_runs', ['connection_id'])
    op.create_index(op.f('ix_reconciliation_runs_created_at'), 'reconciliation_runs', ['created_at'])
    op.create_table(
        'reconciliation_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('missing', 'duplicated', 'mismatched', 'unknown', name='findingkind',
                                  native_enum=False, length=20), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.Column('field', sa.String(length=40), nullable=True),
        sa.Column('hub_value', sa.String(length=300), nullable=True),
        sa.Column('target_value', sa.String(length=300), nullable=True),
        sa.Column('target_external_id', sa.String(length=100), nullable=True),
        sa.Column('target_url', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['reconciliation_runs.id'],
                                name=op.f('fk_reconciliation_lines_run_id_reconciliation_runs'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'],
                                name=op.f('fk_reconciliation_lines_invoice_id_invoices'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_lines')),
    )
    op.create_index(op.f('ix_reconciliation_lines_run_id'), 'reconciliation_lines', ['run_id'])


def downgrade():
    op.drop_index(op.f('ix_reconciliation_lines_run_id'), table_name='reconciliation_lines')
    op.drop_table('reconciliation_lines')
    op.drop_index(op.f('ix_reconciliation_runs_created_at'), table_name='reconciliation_runs')
    op.drop_index(op.f('ix_reconciliation_runs_connection_id'), table_name='reconciliation_runs')
    op.drop_table('reconciliation_runs')
