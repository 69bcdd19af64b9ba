"""The sync engine's state: connections, hub invoices, external links, the outbox, sync runs.

Revision ID: 0002_sync_engine
Revises: 0001_crm_core
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_sync_engine'
down_revision = '0001_crm_core'
branch_labels = None
depends_on = None


def money(precision, scale):
    return sa.Numeric(precision, scale).with_variant(sa.String(40), "sqlite")


def upgrade():
    op.create_table('connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('secrets_sealed', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('document_mode', sa.Enum('draft', 'posted', name='documentmode', native_enum=False, length=20), nullable=False),
    sa.Column('breaker_open_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('attention', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_connections_name'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('subtotal', money(18, 4), nullable=False),
    sa.Column('tax_total', money(18, 4), nullable=False),
    sa.Column('total', money(18, 4), nullable=False),
    sa.Column('amount_paid', money(18, 4), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sent', 'posted', 'partially_paid', 'paid', 'cancelled', 'failed', name='invoicestate', native_enum=False, length=20), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_invoices_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_invoices_deal_id_deals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_issue_date'), ['issue_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_state'), ['state'], unique=False)

    op.create_table('external_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('external_number', sa.String(length=100), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('amount_paid', money(18, 4), nullable=False),
    sa.Column('status_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_external_links_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_external_links_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_links')),
    sa.UniqueConstraint('connection_id', 'external_id', name=op.f('uq_external_links_connection_id_external_id')),
    sa.UniqueConstraint('connection_id', 'invoice_id', name=op.f('uq_external_links_connection_id_invoice_id'))
    )
    with op.batch_alter_table('external_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_links_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_links_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('pending', 'dispatched', 'done', 'failed', 'discarded', name='outboxstate', native_enum=False, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.String(length=40), nullable=True),
    sa.Column('job_id', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_outbox_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_outbox_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_locked_by'), ['locked_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_outbox_state_available', ['state', 'available_at'], unique=False)

    op.create_table('sync_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=True),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Enum('success', 'retry', 'uncertain', 'failed', 'skipped', name='runoutcome', native_enum=False, length=20), nullable=True),
    sa.Column('request', sa.JSON(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_sync_runs_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['outbox.id'], name=op.f('fk_sync_runs_event_id_outbox'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_runs_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_runs_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_runs_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_runs_started_at'), ['started_at'], unique=False)



def downgrade():
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_runs_started_at'))
        batch_op.drop_index(batch_op.f('ix_sync_runs_object_id'))
        batch_op.drop_index(batch_op.f('ix_sync_runs_event_id'))
        batch_op.drop_index(batch_op.f('ix_sync_runs_connection_id'))

    op.drop_table('sync_runs')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_locked_by'))
        batch_op.drop_index('ix_outbox_state_available')
        batch_op.drop_index(batch_op.f('ix_outbox_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_connection_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('external_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_links_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_external_links_connection_id'))

    op.drop_table('external_links')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_state'))
        batch_op.drop_index(batch_op.f('ix_invoices_issue_date'))
        batch_op.drop_index(batch_op.f('ix_invoices_deal_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_customer_id'))

    op.drop_table('invoices')
    op.drop_table('connections')
