"""Fewer indexes to keep up on the stock tables, which a full pull writes 200,000 rows into:
stock_levels loses its connection_id index (the unique (connection_id, warehouse_id, sku) starts
with it and serves the same look-ups); stock_history's separate sku and as_of indexes become one
(sku, as_of, id), the order the history is read in (nothing reads by as_of alone).

Revision ID: 0009_stock_write_indexes
Revises: 0008_stage_totals
Create Date: 2026-11-23
"""
from alembic import op

revision = '0009_stock_write_indexes'
down_revision = '0008_stage_totals'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_levels_connection_id')
    with op.batch_alter_table('stock_history', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_history_sku')
        batch_op.drop_index('ix_stock_history_as_of')
        batch_op.create_index('ix_stock_history_sku_as_of', ['sku', 'as_of', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('stock_history', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_history_sku_as_of')
        batch_op.create_index('ix_stock_history_as_of', ['as_of'], unique=False)
        batch_op.create_index('ix_stock_history_sku', ['sku'], unique=False)
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.create_index('ix_stock_levels_connection_id', ['connection_id'], unique=False)
