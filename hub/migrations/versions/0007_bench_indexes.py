"""Indexes for the list endpoints and the board at scale (bench/api_pages.py: 100k customers,
500k deals): deals newest first, deals of a stage by last change, customers by name.

Revision ID: 0007_bench_indexes
Revises: 0006_mappings
Create Date: 2026-11-23
"""
from alembic import op

revision = '0007_bench_indexes'
down_revision = '0006_mappings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_deals_stage_updated_at', ['stage_id', 'updated_at', 'id'], unique=False)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_name_id', ['name', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_name_id')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_stage_updated_at')
        batch_op.drop_index('ix_deals_created_at_id')
