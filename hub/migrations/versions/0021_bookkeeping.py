"""stage_totals keep a row only while it counts deals: the triggers on deals (0016) delete a row
that a move, an update or a delete brings down to no deals, and the rows already at none go.

Before, a row whose deals had all gone stayed at zero: a deleted user's rows, under their id
(ON DELETE SET NULL counts their deals out to "no owner"), which SQLite gives to the next user.
The board skips zero rows, but the table matched a recount only after filtering, and whatever a
stray row held would have shown under a stranger's name. Now the table is exactly its recount.

Only a row a change counts out of can reach zero, so only the old side is looked at.

Revision ID: 0021_bookkeeping
Revises: 0020_credit_notes
Create Date: 2026-12-07
"""
from alembic import op

revision = '0021_bookkeeping'
down_revision = '0020_credit_notes'
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


POSTGRES_EMPTIED = """
    DELETE FROM stage_totals AS t
    USING (SELECT DISTINCT stage_id, coalesce(owner_id, 0) AS owner_key, currency FROM old_rows) AS o
    WHERE t.stage_id = o.stage_id AND t.owner_key = o.owner_key AND t.currency = o.currency
        AND t.deal_count = 0;
"""


def _postgres_functions(purge: bool) -> dict[str, str]:
    emptied = POSTGRES_EMPTIED if purge else ""
    return {
        "deals_updated_count": _postgres_counts([_postgres_side("new_rows", ""), _postgres_side("old_rows", "-")])
        + emptied,
        "deals_deleted_count": _postgres_counts([_postgres_side("old_rows", "-")]) + emptied,
    }


def _sqlite_add(row: str, sign: str) -> str:
    return (f"INSERT INTO stage_totals (stage_id, owner_key, currency, deal_count, total_units) VALUES "
            f"({row}.stage_id, coalesce({row}.owner_id, 0), {row}.currency, {sign}1, "
            f"{sign}CAST(replace({row}.total, '.', '') AS INTEGER)){UPSERT};")


SQLITE_EMPTIED = ("DELETE FROM stage_totals WHERE stage_id = OLD.stage_id AND owner_key = coalesce(OLD.owner_id, 0) "
                  "AND currency = OLD.currency AND deal_count = 0;")


def _sqlite_triggers(purge: bool) -> dict[str, str]:
    emptied = f" {SQLITE_EMPTIED}" if purge else ""
    return {
        "deals_count_updated": "AFTER UPDATE OF stage_id, owner_id, currency, total ON deals "
        "WHEN NEW.stage_id IS NOT OLD.stage_id OR NEW.owner_id IS NOT OLD.owner_id "
        "OR NEW.currency IS NOT OLD.currency OR NEW.total IS NOT OLD.total "
        f"BEGIN {_sqlite_add('OLD', '-')} {_sqlite_add('NEW', '')}{emptied} END",
        "deals_count_deleted": f"AFTER DELETE ON deals BEGIN {_sqlite_add('OLD', '-')}{emptied} END",
    }


def _replace(purge: bool) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        # The triggers call the functions by name: replacing the bodies is enough.
        for name, body in _postgres_functions(purge).items():
            op.execute(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN{body}    RETURN NULL;\nEND $$"
            )
    else:
        for name, definition in _sqlite_triggers(purge).items():
            op.execute(f"DROP TRIGGER {name}")
            op.execute(f"CREATE TRIGGER {name} {definition}")


def upgrade():
    _replace(purge=True)
    op.execute("DELETE FROM stage_totals WHERE deal_count = 0")


def downgrade():
    _replace(purge=False)
