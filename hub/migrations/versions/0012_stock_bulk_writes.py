"""Less to check and index per row in the stock tables, which a full pull writes 200,000 rows into:
- stock_levels and stock_history refer to (connection, warehouse) with one foreign key to
  warehouses (connection_id, id) instead of one to each: one check per row instead of two, and
  a level's warehouse now has to belong to its connection. Deleting a connection still deletes
  its stock, through its warehouses.
- stock_levels loses its connection_id index (the unique (connection_id, warehouse_id, sku)
  starts with it); stock_history's sku and as_of indexes become one (sku, as_of, id), the order
  the history is read in (nothing reads by as_of alone).

Revision ID: 0012_stock_bulk_writes
Revises: 0011_exchange_login_failures
Create Date: 2026-11-23
"""
from alembic import op

revision = '0012_stock_bulk_writes'
down_revision = '0011_exchange_login_failures'
branch_labels = None
depends_on = None

STOCK_TABLES = ('stock_levels', 'stock_history')


def upgrade():
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_warehouses_connection_id_id', ['connection_id', 'id'])
    for table in STOCK_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_connection_id_connections', type_='foreignkey')
            batch_op.drop_constraint(f'fk_{table}_warehouse_id_warehouses', type_='foreignkey')
            batch_op.create_foreign_key(
                f'fk_{table}_connection_id_warehouses', 'warehouses', ['connection_id', 'warehouse_id'],
                ['connection_id', 'id'], ondelete='CASCADE',
            )
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
    for table in STOCK_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_connection_id_warehouses', type_='foreignkey')
            batch_op.create_foreign_key(
                f'fk_{table}_warehouse_id_warehouses', 'warehouses', ['warehouse_id'], ['id'], ondelete='CASCADE'
            )
            batch_op.create_foreign_key(
                f'fk_{table}_connection_id_connections', 'connections', ['connection_id'], ['id'], ondelete='CASCADE'
            )
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_constraint('uq_warehouses_connection_id_id', type_='unique')
