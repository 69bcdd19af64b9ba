"""The stock tables' keys: checked per statement by migration 0013's triggers, not by foreign keys.

A foreign key costs PostgreSQL a trigger call per row: half of a first pull's time for 200,000
levels and their history (docs/performance.md, "Mechanisms and what they pay": 1.5–3× as long with
real keys). Migration 0013 replaced the keys by triggers that keep the same promises:

- a level or a history row sits in a warehouse of its own connection, and a level links to an
  existing product or to none: anything else fails with `foreign_key_violation`, on insert and on
  update, as the keys did;
- deleting a warehouse (also through its connection) deletes its levels and history; deleting a
  product unlinks its levels (ON DELETE CASCADE and SET NULL, as the keys did);
- what a key's row lock did against a delete running meanwhile, the writer does once per pull
  (`hub.inventory.writers` takes the warehouses and products it links FOR KEY SHARE).

The plain path, the foreign keys as they were before 0013, is put back by `use_foreign_keys` (on
PostgreSQL, for `bench/stock_pull.py --mechanisms` and for
tests/integration/test_stock_keys_paths.py, which runs the same writes both ways and compares what
they leave). Migrations keep their own copy of these statements: a migration never changes.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

KEY_TRIGGERS = {
    "stock_levels_keys_insert": "stock_levels",
    "stock_levels_keys_update": "stock_levels",
    "stock_history_keys_insert": "stock_history",
    "stock_history_keys_update": "stock_history",
}

FOREIGN_KEYS = (
    "ALTER TABLE warehouses ADD CONSTRAINT uq_warehouses_connection_id_id UNIQUE (connection_id, id)",
    "ALTER TABLE stock_levels ADD CONSTRAINT fk_stock_levels_connection_id_warehouses FOREIGN KEY "
    "(connection_id, warehouse_id) REFERENCES warehouses (connection_id, id) ON DELETE CASCADE",
    "ALTER TABLE stock_levels ADD CONSTRAINT fk_stock_levels_product_id_products FOREIGN KEY (product_id) "
    "REFERENCES products (id) ON DELETE SET NULL",
    "ALTER TABLE stock_history ADD CONSTRAINT fk_stock_history_connection_id_warehouses FOREIGN KEY "
    "(connection_id, warehouse_id) REFERENCES warehouses (connection_id, id) ON DELETE CASCADE",
)

# The delete triggers (warehouses_drop_stock, products_unlink_stock) stay in both: with the keys'
# cascades they find nothing left to do.
_DROPPED = (
    ("stock_levels", "fk_stock_levels_connection_id_warehouses"),
    ("stock_levels", "fk_stock_levels_product_id_products"),
    ("stock_history", "fk_stock_history_connection_id_warehouses"),
    ("warehouses", "uq_warehouses_connection_id_id"),
)


def use_foreign_keys(conn: Connection, real: bool) -> None:
    """Key the stock tables by foreign keys (`real`) or by 0013's triggers, as deployed. PostgreSQL
    only; the stock tables must hold nothing the keys would refuse."""
    run = conn.exec_driver_sql
    for table, name in _DROPPED:
        run(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
    for trigger, table in KEY_TRIGGERS.items():
        run(f"ALTER TABLE {table} {'DISABLE' if real else 'ENABLE'} TRIGGER {trigger}")
    if real:
        for statement in FOREIGN_KEYS:
            run(statement)
