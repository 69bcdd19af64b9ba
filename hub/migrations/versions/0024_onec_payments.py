"""1C payments: each payment document 1C sends for an exported order, kept so it counts once and
an undone one can be taken off the amount paid (before, a note on the deal was the only record).

Revision ID: 0024_onec_payments
Revises: 0023_company_profile
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from hub.money import DecimalType

revision = '0024_onec_payments'
down_revision = '0023_company_profile'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'onec_payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('payment_key', sa.String(length=100), nullable=False),
        sa.Column('amount', DecimalType(18, 4), nullable=False),
        sa.Column('counted', sa.Boolean(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['link_id'], ['external_links.id'], name=op.f('fk_onec_payments_link_id_external_links'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_onec_payments')),
        sa.UniqueConstraint('link_id', 'payment_key', name=op.f('uq_onec_payments_link_id_payment_key')),
    )
    op.create_index(op.f('ix_onec_payments_link_id'), 'onec_payments', ['link_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_onec_payments_link_id'), table_name='onec_payments')
    op.drop_table('onec_payments')
