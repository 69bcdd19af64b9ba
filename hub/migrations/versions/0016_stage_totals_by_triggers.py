"""stage_totals are kept by the database: triggers on deals count every insert, update and delete
in (and out of) the row of its stage, owner and currency, whichever way the change is written (the
ORM, a bulk statement, COPY, a foreign key's ON DELETE SET NULL when an owner is deleted). Before,
session hooks did it, with two reads of the changed deals per flush, and missed what bypassed them.

- PostgreSQL: one statement-level trigger per event, over its transition tables, so a bulk write of
  thousands of deals is one upsert. The rows are upserted in key order: two transactions moving deals
  between the same stages lock the rows in the same order.
- SQLite: row triggers. A deal's total is kept there as text with four decimals, so the units are
  the digits without the point, exactly.
- A later migration that rebuilds `deals` in SQLite's batch mode must create its triggers again.

The totals are recounted from the deals once here.

Revision ID: 0016_stage_totals_by_triggers
Revises: 0015_idempotency_keys
Create Date: 2026-12-06
"""
from alembic import op

revision = '0016_stage_totals_by_triggers'
down_revision = '0015_idempotency_keys'
branch_labels = None
depends_on = None

UPSERT = """
    ON CONFLICT (stage_id, owner_key, currency) DO UPDATE SET
        deal_count = stage_totals.deal_count + excluded.deal_count,
        total_units = stage_totals.total_units + excluded.total_units"""


def _postgres_counts(parts: list[str]) -> str:
    rows = "\n        UNION ALL ".join(parts)
    return f"""
    INSERT INTO stage_totals (stage_id, owner_key, currency, deal_count, total_units)
    SELECT stage_id, owner_key, currency, sum(n), sum(units) FROM (
        {rows}
    ) AS changes
    GROUP BY stage_id, owner_key, currency
    HAVING sum(n) <> 0 OR sum(units) <> 0
    ORDER BY stage_id, owner_key, currency{UPSERT};
"""


def _postgres_side(table: str, sign: str) -> str:
    return (f"SELECT stage_id, coalesce(owner_id, 0) AS owner_key, currency, {sign}1 AS n, "
            f"{sign}(total * 10000)::bigint AS units FROM {table}")


POSTGRES_FUNCTIONS = {
    "deals_inserted_count": _postgres_counts([_postgres_side("new_rows", "")]),
    "deals_updated_count": _postgres_counts([_postgres_side("new_rows", ""), _postgres_side("old_rows", "-")]),
    "deals_deleted_count": _postgres_counts([_postgres_side("old_rows", "-")]),
}
POSTGRES_TRIGGERS = {
    "deals_count_inserted": ("AFTER INSERT ON deals REFERENCING NEW TABLE AS new_rows", "deals_inserted_count"),
    "deals_count_updated": (
        "AFTER UPDATE ON deals REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows", "deals_updated_count"
    ),
    "deals_count_deleted": ("AFTER DELETE ON deals REFERENCING OLD TABLE AS old_rows", "deals_deleted_count"),
}


def _sqlite_add(row: str, sign: str) -> str:
    return (f"INSERT INTO stage_totals (stage_id, owner_key, currency, deal_count, total_units) VALUES "
            f"({row}.stage_id, coalesce({row}.owner_id, 0), {row}.currency, {sign}1, "
            f"{sign}CAST(replace({row}.total, '.', '') AS INTEGER)){UPSERT};")


SQLITE_TRIGGERS = {
    "deals_count_inserted": f"AFTER INSERT ON deals BEGIN {_sqlite_add('NEW', '')} END",
    "deals_count_updated": "AFTER UPDATE OF stage_id, owner_id, currency, total ON deals "
    "WHEN NEW.stage_id IS NOT OLD.stage_id OR NEW.owner_id IS NOT OLD.owner_id "
    "OR NEW.currency IS NOT OLD.currency OR NEW.total IS NOT OLD.total "
    f"BEGIN {_sqlite_add('OLD', '-')} {_sqlite_add('NEW', '')} END",
    "deals_count_deleted": f"AFTER DELETE ON deals BEGIN {_sqlite_add('OLD', '-')} END",
}


def upgrade():
    if _postgres():
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN{body}    RETURN NULL;\nEND $$"
            )
        for name, (when, function) in POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    else:
        for name, definition in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute("DELETE FROM stage_totals")
    op.execute(
        "INSERT INTO stage_totals (stage_id, owner_key, currency, deal_count, total_units) "
        f"SELECT stage_id, coalesce(owner_id, 0), currency, count(*), sum({_units()}) FROM deals "
        "GROUP BY stage_id, coalesce(owner_id, 0), currency"
    )


def downgrade():
    if _postgres():
        for name in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON deals")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")


def _units() -> str:
    return "(total * 10000)::bigint" if _postgres() else "CAST(replace(total, '.', '') AS INTEGER)"


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'
