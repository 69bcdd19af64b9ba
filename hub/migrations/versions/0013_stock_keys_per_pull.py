"""The stock tables' foreign keys become checks per statement: a foreign key costs a trigger call
per row, half of PostgreSQL's time for a first pull's 200,000 levels and their history.
- Dropped: stock_levels (connection_id, warehouse_id) → warehouses and product_id → products,
  stock_history (connection_id, warehouse_id) → warehouses, and warehouses' (connection_id, id)
  unique constraint that only they referred to.
- On insert and update, PostgreSQL checks the statement's rows at its end, in one query over its
  transition table (a level in another connection's warehouse, or linked to no product, fails
  with foreign_key_violation as before); SQLite, whose foreign keys cost no such call, checks
  each row in a trigger.
- On delete, triggers on the referred tables do what the keys did: deleting a warehouse (also
  when its connection is deleted) deletes its levels and history; deleting a product unlinks its
  levels.
- What a key's row lock did against a delete running meanwhile, the writer does once per pull
  (`hub.inventory.writers` takes the warehouses and products it links FOR KEY SHARE).

Revision ID: 0013_stock_keys_per_pull
Revises: 0012_stock_bulk_writes
Create Date: 2026-11-23
"""
from alembic import op

revision = '0013_stock_keys_per_pull'
down_revision = '0012_stock_bulk_writes'
branch_labels = None
depends_on = None

STOCK_TABLES = ('stock_levels', 'stock_history')

# Both stock tables: the (connection, warehouse) key. stock_levels also: the product.
POSTGRES_WAREHOUSE_CHECK = """
    IF EXISTS (SELECT 1 FROM new_rows AS n WHERE NOT EXISTS (
        SELECT 1 FROM warehouses AS w WHERE w.id = n.warehouse_id AND w.connection_id = n.connection_id
    )) THEN
        RAISE EXCEPTION '% row in no warehouse of its connection', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
"""
POSTGRES_PRODUCT_CHECK = """
    IF EXISTS (SELECT 1 FROM new_rows AS n WHERE n.product_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM products AS p WHERE p.id = n.product_id
    )) THEN
        RAISE EXCEPTION 'stock_levels row linked to no product' USING ERRCODE = 'foreign_key_violation';
    END IF;
"""
POSTGRES_FUNCTIONS = {
    "stock_levels_keys_checked": POSTGRES_WAREHOUSE_CHECK + POSTGRES_PRODUCT_CHECK,
    "stock_history_keys_checked": POSTGRES_WAREHOUSE_CHECK,
    "warehouse_deleted_drop_stock": """
    DELETE FROM stock_levels WHERE connection_id = OLD.connection_id AND warehouse_id = OLD.id;
    DELETE FROM stock_history WHERE connection_id = OLD.connection_id AND warehouse_id = OLD.id;
""",
    "product_deleted_unlink_stock": """
    UPDATE stock_levels SET product_id = NULL WHERE product_id = OLD.id;
""",
}
# (trigger, table, when, function)
POSTGRES_TRIGGERS = [
    *(
        (f"{table}_keys_{event}", table, f"AFTER {event.upper()} ON {table} REFERENCING NEW TABLE AS new_rows "
         f"FOR EACH STATEMENT", f"{table}_keys_checked")
        for table in STOCK_TABLES
        for event in ("insert", "update")
    ),
    ("warehouses_drop_stock", "warehouses", "AFTER DELETE ON warehouses FOR EACH ROW", "warehouse_deleted_drop_stock"),
    ("products_unlink_stock", "products", "AFTER DELETE ON products FOR EACH ROW", "product_deleted_unlink_stock"),
]

SQLITE_LEVEL_BAD = (
    "NOT EXISTS (SELECT 1 FROM warehouses WHERE id = NEW.warehouse_id AND connection_id = NEW.connection_id)"
)
SQLITE_PRODUCT_BAD = "(NEW.product_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products WHERE id = NEW.product_id))"
SQLITE_TRIGGERS = {
    "stock_levels_keys_insert": f"BEFORE INSERT ON stock_levels FOR EACH ROW WHEN {SQLITE_LEVEL_BAD} OR "
    f"{SQLITE_PRODUCT_BAD} BEGIN SELECT RAISE(ABORT, 'stock_levels row in no warehouse of its connection, or "
    "linked to no product'); END",
    "stock_levels_keys_update": f"BEFORE UPDATE OF connection_id, warehouse_id, product_id ON stock_levels FOR EACH "
    f"ROW WHEN {SQLITE_LEVEL_BAD} OR {SQLITE_PRODUCT_BAD} BEGIN SELECT RAISE(ABORT, 'stock_levels row in no "
    "warehouse of its connection, or linked to no product'); END",
    "stock_history_keys_insert": f"BEFORE INSERT ON stock_history FOR EACH ROW WHEN {SQLITE_LEVEL_BAD} BEGIN "
    "SELECT RAISE(ABORT, 'stock_history row in no warehouse of its connection'); END",
    "stock_history_keys_update": f"BEFORE UPDATE OF connection_id, warehouse_id ON stock_history FOR EACH ROW WHEN "
    f"{SQLITE_LEVEL_BAD} BEGIN SELECT RAISE(ABORT, 'stock_history row in no warehouse of its connection'); END",
    "warehouses_drop_stock": "AFTER DELETE ON warehouses FOR EACH ROW BEGIN "
    "DELETE FROM stock_levels WHERE connection_id = OLD.connection_id AND warehouse_id = OLD.id; "
    "DELETE FROM stock_history WHERE connection_id = OLD.connection_id AND warehouse_id = OLD.id; END",
    "products_unlink_stock": "AFTER DELETE ON products FOR EACH ROW BEGIN "
    "UPDATE stock_levels SET product_id = NULL WHERE product_id = OLD.id; END",
}


def upgrade():
    for table in STOCK_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_connection_id_warehouses', type_='foreignkey')
            if table == 'stock_levels':
                batch_op.drop_constraint('fk_stock_levels_product_id_products', type_='foreignkey')
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_constraint('uq_warehouses_connection_id_id', type_='unique')
    if _postgres():
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN{body}    RETURN NULL;\nEND $$"
            )
        for name, _table, when, function in POSTGRES_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()")
    else:
        for name, definition in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade():
    if _postgres():
        for name, table, _when, _function in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_warehouses_connection_id_id', ['connection_id', 'id'])
    for table in STOCK_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(
                f'fk_{table}_connection_id_warehouses', 'warehouses', ['connection_id', 'warehouse_id'],
                ['connection_id', 'id'], ondelete='CASCADE',
            )
            if table == 'stock_levels':
                batch_op.create_foreign_key(
                    'fk_stock_levels_product_id_products', 'products', ['product_id'], ['id'], ondelete='SET NULL'
                )


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'
