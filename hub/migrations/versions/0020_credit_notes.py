"""Credit notes: a paid invoice whose deal was lost is credited in its target instead of
cancelled; the credit note is kept with the invoice's link (one per link).

Revision ID: 0020_credit_notes
Revises: 0019_reconciliations
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from hub.money import DecimalType

revision = '0020_credit_notes'
down_revision = '0019_reconciliations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'credit_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('external_id', sa.String(length=100), nullable=False),
        sa.Column('external_number', sa.String(length=100), nullable=True),
        sa.Column('url', sa.String(length=500), nullable=True),
        sa.Column('amount', DecimalType(18, 4), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['external_links.id'], name=op.f('fk_credit_notes_link_id_external_links'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_notes')),
        sa.UniqueConstraint('link_id', name=op.f('uq_credit_notes_link_id')),
    )


def downgrade():
    op.drop_table('credit_notes')
