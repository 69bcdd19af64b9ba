"""Stock pulls at catalogue scale: a full pull of 100,000 SKUs × 2 warehouses from the Mini Ledger
into an empty hub, then an incremental pull after 1 % of the levels changed, then a full pull again
(the levels known, 1 % changed once more), each including alert evaluation.

The Mini Ledger runs in its own process (as an ERP would), the hub writes to a scratch PostgreSQL
database that is created for the run and dropped after it. Prints a table (seconds, rows, peak
memory of this process) and writes bench/results/stock_pull.json.

    .venv/bin/python bench/stock_pull.py [--skus 100000] [--warehouses 2] [--delta 0.01] [--rules 1000]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432] [--profile]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from cryptography.fernet import Fernet
from harness import LEDGER_KEY, PG_BASE, LedgerProcess, scratch_database, write_results

LOW_SKU_INDEX = 42  # this SKU is set below its reorder point: the run must open its alert


def sku(i: int) -> str:
    return f"SKU-{i:06d}"


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the high-water mark of the whole process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_hub(app, skus: int, rules: int, ledger_url: str) -> int:
    """The catalogue (every SKU a hub product), reorder rules on the first `rules` products, and the
    connection; returns the connection id."""
    from sqlalchemy import insert

    from hub.extensions import db
    from hub.models import Connection, Product, ReorderRule
    from hub.sync.factory import split_config

    now = datetime.now(UTC)
    with app.app_context():
        products = [
            {
                "sku": sku(i),
                "name": f"Item {i}",
                "unit": "unit",
                "list_price": Decimal("10.00"),
                "currency": "EUR",
                "tax_rate": Decimal("0.19"),
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(skus)
        ]
        for k in range(0, skus, 10_000):
            db.session.execute(insert(Product.__table__), products[k : k + 10_000])
        ids = dict(db.session.execute(db.select(Product.sku, Product.id)).all())
        rule_skus = {sku(i) for i in range(min(rules, skus))} | {sku(LOW_SKU_INDEX)}
        db.session.execute(
            insert(ReorderRule.__table__),
            [
                {
                    "product_id": ids[s],
                    "warehouse_id": None,
                    "reorder_point": Decimal(10),
                    "target_level": Decimal(50),
                    "margin": Decimal(0),
                    "count_open_deals": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for s in sorted(rule_skus)
            ],
        )
        plain, sealed = split_config("mini_ledger", {"base_url": ledger_url, "api_key": LEDGER_KEY, "timeout": 60})
        connection = Connection(name="Ledger", type="mini_ledger", config=plain, secrets_sealed=sealed)
        db.session.add(connection)
        db.session.commit()
        # Statistics for the catalogue just inserted, as autovacuum would have them in a running
        # hub: without them a pull's join to products is planned for a tenth of them.
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE products, reorder_rules")
        return connection.id


def timed_pull(app, connection_id: int, full: bool, profile: bool) -> tuple[float, object]:
    from hub.inventory.pull import pull_stock

    with app.app_context():
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        started = time.perf_counter()
        result = pull_stock(connection_id, full=full)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    if result.error:
        raise SystemExit(f"the pull failed: {result.error}")
    return elapsed, result


def counts(app) -> dict[str, int]:
    from sqlalchemy import func, select

    from hub.extensions import db
    from hub.models import StockAlert, StockHistory, StockLevel

    with app.app_context():
        return {
            "stock_levels": db.session.scalar(select(func.count()).select_from(StockLevel)),
            "history_rows": db.session.scalar(select(func.count()).select_from(StockHistory)),
            "open_alerts": db.session.scalar(
                select(func.count()).select_from(StockAlert).where(StockAlert.open_key.is_not(None))
            ),
        }


# Each mechanism of a pull left out in turn (HUB_PLAIN_PATHS, hub/plain_paths.py): the first pull
# staged like every later one instead of COPYed straight in ("copy"), and the stock tables' foreign
# keys as they were before migration 0013 instead of its statement triggers ("keys").
VARIANTS = {"fast (as deployed)": "", "staged first pull": "copy", "real foreign keys": "keys"}


def reset(app, connection_id: int, real_keys: bool) -> None:
    """Empty stock tables (a connection's first pull again), keyed by foreign keys or by 0013's triggers."""
    from hub.extensions import db
    from hub.inventory.stock_keys import use_foreign_keys
    from hub.models import Connection

    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.stock_cursor = connection.stock_pulled_at = None
        db.session.commit()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE stock_levels, stock_history, stock_alerts CASCADE")
            use_foreign_keys(conn, real_keys)
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM ANALYZE stock_levels, stock_history")


def compare_mechanisms(app, connection_id: int, ledger, levels: dict, rng: random.Random, args) -> None:
    import statistics

    figures: dict[str, dict[str, list[float]]] = {v: {"first": [], "delta": []} for v in VARIANTS}
    try:
        for r in range(args.mechanisms):
            for variant, plain_paths in VARIANTS.items():
                reset(app, connection_id, real_keys="keys" in plain_paths)
                os.environ["HUB_PLAIN_PATHS"] = plain_paths
                first_s, first = timed_pull(app, connection_id, True, False)
                if first.rows != len(levels):
                    raise SystemExit(f"{variant}: the first pull read {first.rows} rows")
                changed = rng.sample(sorted(levels), int(len(levels) * args.delta))
                for key in changed:
                    levels[key]["on_hand"] += 7
                ledger.set_stock([levels[key] for key in changed])
                delta_s, delta = timed_pull(app, connection_id, False, False)
                if delta.rows != len(changed):
                    raise SystemExit(f"{variant}: the delta pull read {delta.rows} rows, not {len(changed)}")
                figures[variant]["first"].append(first_s)
                figures[variant]["delta"].append(delta_s)
                print(f"  round {r + 1}, {variant}: first pull {first_s:.2f} s, delta {delta_s:.2f} s", flush=True)
    finally:
        os.environ.pop("HUB_PLAIN_PATHS", None)
        reset(app, connection_id, real_keys=False)
    print(f"seconds, median of {args.mechanisms} rounds (target: first pull ≤ 5, 1 % delta ≤ 0.3):")
    summary = {}
    for variant, by_pull in figures.items():
        summary[variant] = {
            pull: {"median_s": statistics.median(times), "rounds_s": times} for pull, times in by_pull.items()
        }
        print(f"  {variant:22} first {summary[variant]['first']['median_s']:6.2f}  "
              f"delta {summary[variant]['delta']['median_s']:6.2f}")  # fmt: skip
    written = write_results("stock_mechanisms", {"skus": args.skus, "load_average": os.getloadavg()[0], **summary})
    print(f"  → {written}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--warehouses", type=int, default=2)
    parser.add_argument("--delta", type=float, default=0.01, help="share of the levels changed before the 2nd pull")
    parser.add_argument("--rules", type=int, default=1000, help="products with a reorder rule")
    parser.add_argument(
        "--database",
        default=os.environ.get("HUB_BENCH_DATABASE", PG_BASE),
        help="PostgreSQL server URL; a scratch database is created on it and dropped",
    )
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of each pull")
    parser.add_argument(
        "--mechanisms",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="instead: a first pull and a delta with each mechanism's plain path and the fast one, ROUNDS rounds",
    )
    args = parser.parse_args()

    warehouses = [f"WH-{chr(ord('A') + w)}" for w in range(args.warehouses)]
    rng = random.Random(7)
    levels = {
        (sku(i), wh): {"sku": sku(i), "warehouse": wh, "on_hand": rng.randint(20, 500), "reserved": rng.randint(0, 5)}
        for i in range(args.skus)
        for wh in warehouses
    }
    # Below the reorder point of 10 when summed over the warehouses: one alert to open.
    for wh in warehouses:
        levels[(sku(LOW_SKU_INDEX), wh)].update(on_hand=2, reserved=0)

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(server=args.database) as url,
        LedgerProcess(Path(tmp) / "ledger.log") as ledger,
    ):
        ledger.set_stock(list(levels.values()))
        os.environ["HUB_INSTANCE_PATH"] = tmp
        from flask_migrate import upgrade

        from hub import MIGRATIONS_DIR, create_app

        app = create_app({"DATABASE_URL": url, "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR)
        connection_id = seed_hub(app, args.skus, args.rules, ledger.url)
        if args.mechanisms:
            compare_mechanisms(app, connection_id, ledger, levels, rng, args)
            with app.app_context():
                from hub.extensions import db

                db.engine.dispose()
            return

        full_s, full = timed_pull(app, connection_id, True, args.profile)
        full_rss = peak_rss_mb()
        after_full = counts(app)
        expected = args.skus * len(warehouses)
        if after_full["stock_levels"] != expected or full.rows != expected:
            raise SystemExit(f"expected {expected} levels, stored {after_full['stock_levels']}")
        if after_full["open_alerts"] != 1:
            raise SystemExit(f"expected the one low SKU's alert, found {after_full['open_alerts']}")

        changed = rng.sample(sorted(levels), int(len(levels) * args.delta))
        ledger.set_stock([{**levels[key], "on_hand": levels[key]["on_hand"] + 7} for key in changed])
        delta_s, delta = timed_pull(app, connection_id, False, args.profile)
        delta_rss = peak_rss_mb()
        if (delta.mode, delta.rows) != ("incremental", len(changed)):
            raise SystemExit(f"the delta pull was {delta.mode} with {delta.rows} rows, not {len(changed)}")

        again = rng.sample(sorted(levels), int(len(levels) * args.delta))
        ledger.set_stock([{**levels[key], "on_hand": levels[key]["on_hand"] + 11} for key in again])
        refull_s, refull = timed_pull(app, connection_id, True, args.profile)
        refull_rss = peak_rss_mb()
        if refull.rows != expected:
            raise SystemExit(f"the second full pull read {refull.rows} rows, not {expected}")
        with app.app_context():
            from hub.extensions import db

            db.engine.dispose()

    rows = [
        ("full pull", full_s, full.rows, full.changed, full_rss),
        (f"{args.delta:.0%} delta", delta_s, delta.rows, delta.changed, delta_rss),
        ("full again", refull_s, refull.rows, refull.changed, refull_rss),
    ]
    print(
        f"{args.skus:,} SKUs × {len(warehouses)} warehouses from the Mini Ledger (own process) into PostgreSQL, "
        f"{args.rules:,} reorder rules; alerts evaluated in each pull"
    )
    load = os.getloadavg()[0]
    print(f"  (load average {load:.1f} on {os.cpu_count()} cores at the end)")
    print(f"  {'pull':12} {'seconds':>8} {'rows':>8} {'changed':>8} {'peak RSS MB':>12}")
    for label, seconds, n, ch, rss in rows:
        print(f"  {label:12} {seconds:8.2f} {n:8} {ch:8} {rss:12.0f}")
    result = {
        "skus": args.skus,
        "warehouses": len(warehouses),
        "rules": args.rules,
        "database": "postgresql",
        "full": {"seconds": full_s, "rows": full.rows, "changed": full.changed, "peak_rss_mb": full_rss},
        "delta": {
            "share": args.delta,
            "seconds": delta_s,
            "rows": delta.rows,
            "changed": delta.changed,
            "peak_rss_mb": delta_rss,
        },
        "full_again": {"seconds": refull_s, "rows": refull.rows, "changed": refull.changed, "peak_rss_mb": refull_rss},
        "counts_after_full": after_full,
        "load_average": load,
    }
    print(f"  → {write_results('stock_pull', result)}")


if __name__ == "__main__":
    main()
