"""Inventory: warehouses, stock levels and their history, reorder rules, stock alerts, and each
connection's pull schedule and staleness thresholds.

Revision ID: 0003_inventory
Revises: 0002_sync_engine
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_inventory'
down_revision = '0002_sync_engine'
branch_labels = None
depends_on = None


def money(precision, scale):
    return sa.Numeric(precision, scale).with_variant(sa.String(40), "sqlite")


def upgrade():
    op.create_table('warehouses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_warehouses_connection_id_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouses')),
    sa.UniqueConstraint('connection_id', 'code', name=op.f('uq_warehouses_connection_id_code'))
    )
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warehouses_connection_id'), ['connection_id'], unique=False)

    op.create_table('reorder_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=True),
    sa.Column('reorder_point', money(18, 4), nullable=False),
    sa.Column('target_level', money(18, 4), nullable=False),
    sa.Column('margin', money(18, 4), nullable=False),
    sa.Column('count_open_deals', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_reorder_rules_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_reorder_rules_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reorder_rules')),
    sa.UniqueConstraint('product_id', 'warehouse_id', name=op.f('uq_reorder_rules_product_id_warehouse_id'))
    )
    with op.batch_alter_table('reorder_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reorder_rules_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reorder_rules_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('stock_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('on_hand', money(18, 4), nullable=False),
    sa.Column('available', money(18, 4), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_stock_history_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_history_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_history'))
    )
    with op.batch_alter_table('stock_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_history_as_of'), ['as_of'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_history_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_history_sku'), ['sku'], unique=False)

    op.create_table('stock_levels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('on_hand', money(18, 4), nullable=False),
    sa.Column('reserved', money(18, 4), nullable=False),
    sa.Column('available', money(18, 4), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pulled_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_stock_levels_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_levels_product_id_products'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_levels_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_levels')),
    sa.UniqueConstraint('connection_id', 'warehouse_id', 'sku', name=op.f('uq_stock_levels_connection_id_warehouse_id_sku'))
    )
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_levels_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_levels_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_levels_sku'), ['sku'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_levels_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('stock_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=True),
    sa.Column('open_key', sa.String(length=40), nullable=True),
    sa.Column('state', sa.Enum('open', 'acknowledged', 'snoozed', 'resolved', name='alertstate', native_enum=False, length=20), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.Column('projected', money(18, 4), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_stock_alerts_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_alerts_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['reorder_rules.id'], name=op.f('fk_stock_alerts_rule_id_reorder_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_alerts_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alerts')),
    sa.UniqueConstraint('open_key', name=op.f('uq_stock_alerts_open_key'))
    )
    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_alerts_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alerts_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alerts_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alerts_warehouse_id'), ['warehouse_id'], unique=False)

    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stock_interval_seconds', sa.Integer(), server_default='900', nullable=False))
        batch_op.add_column(sa.Column('stock_paused', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('stale_warn_seconds', sa.Integer(), server_default='3600', nullable=False))
        batch_op.add_column(sa.Column('stale_stop_seconds', sa.Integer(), server_default='86400', nullable=False))
        batch_op.add_column(sa.Column('stock_pulled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stock_cursor', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('stock_cursor')
        batch_op.drop_column('stock_pulled_at')
        batch_op.drop_column('stale_stop_seconds')
        batch_op.drop_column('stale_warn_seconds')
        batch_op.drop_column('stock_paused')
        batch_op.drop_column('stock_interval_seconds')

    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_alerts_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_stock_alerts_state'))
        batch_op.drop_index(batch_op.f('ix_stock_alerts_rule_id'))
        batch_op.drop_index(batch_op.f('ix_stock_alerts_product_id'))

    op.drop_table('stock_alerts')
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_levels_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_stock_levels_sku'))
        batch_op.drop_index(batch_op.f('ix_stock_levels_product_id'))
        batch_op.drop_index(batch_op.f('ix_stock_levels_connection_id'))

    op.drop_table('stock_levels')
    with op.batch_alter_table('stock_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_history_sku'))
        batch_op.drop_index(batch_op.f('ix_stock_history_connection_id'))
        batch_op.drop_index(batch_op.f('ix_stock_history_as_of'))

    op.drop_table('stock_history')
    with op.batch_alter_table('reorder_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reorder_rules_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_reorder_rules_product_id'))

    op.drop_table('reorder_rules')
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warehouses_connection_id'))

    op.drop_table('warehouses')
