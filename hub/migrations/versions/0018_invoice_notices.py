"""In-app notices of failed invoice pushes, with the explanation the deal page shows.

Revision ID: 0018_invoice_notices
Revises: 0017_session_generation
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = '0018_invoice_notices'
down_revision = '0017_session_generation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoice_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('ask', sa.Enum('admin', 'sales', 'finance', 'operations', name='role', native_enum=False,
                                 length=20), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('read_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invoice_notices_user_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_invoice_notices_deal_id_deals'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_notices_invoice_id_invoices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['connection_id'], ['connections.id'],
                                name=op.f('fk_invoice_notices_connection_id_connections'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['outbox.id'], name=op.f('fk_invoice_notices_event_id_outbox'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_notices')),
    )
    op.create_index('ix_invoice_notices_user_read', 'invoice_notices', ['user_id', 'read_at'], unique=False)
    op.create_index(op.f('ix_invoice_notices_deal_id'), 'invoice_notices', ['deal_id'], unique=False)
    op.create_index(op.f('ix_invoice_notices_invoice_id'), 'invoice_notices', ['invoice_id'], unique=False)
    op.create_index(op.f('ix_invoice_notices_event_id'), 'invoice_notices', ['event_id'], unique=False)


def downgrade():
    op.drop_table('invoice_notices')
