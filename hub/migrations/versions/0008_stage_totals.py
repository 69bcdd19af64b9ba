"""Per stage, owner and currency, the count and total of deals, kept up to date as deals change, so
the board reads a few rows instead of summing every deal; filled from the deals there are.

Revision ID: 0008_stage_totals
Revises: 0007_bench_indexes
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_stage_totals'
down_revision = '0007_bench_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stage_totals',
        sa.Column('stage_id', sa.Integer(), nullable=False),
        sa.Column('owner_key', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('deal_count', sa.Integer(), nullable=False),
        sa.Column('total_units', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['stage_id'], ['stages.id'], name=op.f('fk_stage_totals_stage_id_stages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('stage_id', 'owner_key', 'currency', name=op.f('pk_stage_totals')),
    )
    from hub.services.board import rebuild_stage_totals

    rebuild_stage_totals(op.get_bind())


def downgrade():
    op.drop_table('stage_totals')
