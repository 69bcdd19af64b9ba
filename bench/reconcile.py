"""The reconciliation report at scale: 100,000 hub invoices against a Mini Ledger that holds the
same, plus 1 % faults of each kind — invoices missing, invoices keyed in twice, totals changed, and
invoices with hub-like references the hub never sent. Prints each kind found next to the number
put in (every fault found, nothing invented, or it exits non-zero) and the report's time: the
run's whole job, from listing the ledger to the lines written.

The Mini Ledger runs in its own process (as a target would); the hub is a scratch PostgreSQL
database created for the run and dropped after it. Writes bench/results/reconcile.json.

    .venv/bin/python bench/reconcile.py [--invoices 100000] [--faults 0.01]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432] [--profile]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import requests
from cryptography.fernet import Fernet
from harness import LEDGER_KEY, PG_BASE, LedgerProcess, scratch_database, write_results

TOTAL = Decimal("119.00")
CHUNK = 5000


def number(i: int) -> str:
    return f"INV-{i:06d}"


def ledger_body(reference: str, customer: str, total: Decimal, issued: str) -> dict:
    line = {"description": "Pump", "quantity": "1", "unit_price": "100.00", "tax_rate": "0.19", "total": str(total)}
    return {"reference": reference, "customer": {"name": customer}, "currency": "EUR", "issue_date": issued,
            "lines": [line]}  # fmt: skip


def seed_ledger(ledger: LedgerProcess, bodies: list[dict]) -> None:
    for k in range(0, len(bodies), CHUNK):
        requests.post(
            f"{ledger.url}/api/invoices/batch",
            json={"invoices": bodies[k : k + CHUNK]},
            headers={"X-Api-Key": LEDGER_KEY},
            timeout=120,
        ).raise_for_status()


def seed_hub(app, count: int, ledger_url: str, external_ids: dict[int, int]) -> int:
    """A customer, `count` won deals each with its invoice (state sent) linked to the ledger's
    invoice (`external_ids` by hub index; the missing ones keep the id they had before they were
    deleted), and the connection; returns the connection id."""
    from sqlalchemy import insert, select

    from hub.extensions import db
    from hub.models import Connection, Customer, Deal, ExternalLink, HubInvoice, InvoiceState, Pipeline, StageKind
    from hub.sync.factory import split_config

    now = datetime.now(UTC)
    with app.app_context():
        plain, sealed = split_config("mini_ledger", {"base_url": ledger_url, "api_key": LEDGER_KEY, "timeout": 120})
        connection = Connection(name="Ledger", type="mini_ledger", config=plain, secrets_sealed=sealed)
        customer = Customer(name="Customer", default_currency="EUR")
        db.session.add_all([connection, customer])
        db.session.flush()
        pipeline = db.session.scalar(select(Pipeline))
        won = next(stage for stage in pipeline.stages if stage.kind == StageKind.WON)
        rows = {
            Deal: lambda i: {
                "id": i + 1, "number": f"D-{i + 1:06d}", "title": "Pumps", "customer_id": customer.id,
                "pipeline_id": pipeline.id, "stage_id": won.id, "currency": "EUR", "won_at": now,
                "subtotal": Decimal(100), "tax_total": Decimal(19), "total": TOTAL,
            },
            HubInvoice: lambda i: {
                "id": i + 1, "number": number(i + 1), "deal_id": i + 1, "customer_id": customer.id,
                "customer_name": "Customer", "currency": "EUR", "issue_date": now.date(), "subtotal": Decimal(100),
                "tax_total": Decimal(19), "total": TOTAL, "amount_paid": Decimal(0),
                "state": InvoiceState.SENT.value, "snapshot": {},
            },
            ExternalLink: lambda i: {
                "invoice_id": i + 1, "connection_id": connection.id, "external_id": str(external_ids[i]),
                "external_number": f"ML-{external_ids[i]:06d}", "state": "draft", "amount_paid": Decimal(0),
            },
        }  # fmt: skip
        for start in range(0, count, 10_000):
            for model, row in rows.items():
                db.session.execute(insert(model.__table__), [row(i) for i in range(start, min(start + 10_000, count))])
        db.session.commit()
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE deals, invoices, external_links"
            )
        return connection.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--faults", type=float, default=0.01, help="share of the invoices with each kind of fault")
    parser.add_argument(
        "--database",
        default=os.environ.get("HUB_BENCH_DATABASE", PG_BASE),
        help="PostgreSQL server URL; a scratch database is created on it and dropped",
    )
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the run")
    args = parser.parse_args()

    rng = random.Random(22)
    per_kind = int(args.invoices * args.faults)
    faulty = rng.sample(range(args.invoices), 3 * per_kind)
    missing, doubled, changed = (set(faulty[k * per_kind : (k + 1) * per_kind]) for k in range(3))
    today = datetime.now(UTC).date()
    issued = today.isoformat()

    # The ledger holds every hub invoice in order (the missing ones are deleted later, so that the
    # hub's links name ids the ledger once gave), a second copy of the doubled ones, and invoices
    # with hub-like references the hub never sent.
    bodies, external_ids = [], {}
    for i in range(args.invoices):
        total = TOTAL + Decimal("0.01") if i in changed else TOTAL
        bodies.append(ledger_body(number(i + 1), "Customer", total, issued))
        external_ids[i] = i + 1
    bodies += [ledger_body(number(i + 1), "Customer", TOTAL, issued) for i in sorted(doubled)]
    unknown = [number(900_000 + k) for k in range(per_kind)]
    bodies += [ledger_body(ref, "Someone", TOTAL, issued) for ref in unknown]

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(server=args.database) as url,
        LedgerProcess(Path(tmp) / "ledger.log") as ledger,
    ):
        seed_ledger(ledger, bodies)
        for i in sorted(missing):
            requests.delete(
                f"{ledger.url}/api/invoices/{external_ids[i]}", headers={"X-Api-Key": LEDGER_KEY}, timeout=10
            ).raise_for_status()
        os.environ["HUB_INSTANCE_PATH"] = tmp
        from flask_migrate import upgrade

        from hub import MIGRATIONS_DIR, create_app

        app = create_app({"DATABASE_URL": url, "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR)
        connection_id = seed_hub(app, args.invoices, ledger.url, external_ids)

        from hub.extensions import db
        from hub.models import ReconciliationLine, ReconciliationRun
        from hub.reconciliation import execute

        with app.app_context():
            run = ReconciliationRun(connection_id=connection_id, period_from=today, period_to=today)
            db.session.add(run)
            db.session.commit()
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler()
                profiler.start()
            started = time.perf_counter()
            execute(run.id)
            seconds = time.perf_counter() - started
            if profiler:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            run = db.session.get(ReconciliationRun, run.id)
            if run.error:
                raise SystemExit(f"the run failed: {run.error}")
            found: dict[str, set[str]] = {}
            for kind, reference, field in db.session.execute(
                db.select(ReconciliationLine.kind, ReconciliationLine.reference, ReconciliationLine.field).where(
                    ReconciliationLine.run_id == run.id
                )
            ):
                found.setdefault(f"{kind.value}{f' {field}' if field else ''}", set()).add(reference)
            figures = {"hub": run.hub_count, "target": run.target_count, "matched": run.matched}
            db.engine.dispose()

    put_in = {
        "missing": {number(i + 1) for i in missing},
        "duplicated": {number(i + 1) for i in doubled},
        "mismatched total": {number(i + 1) for i in changed},
        "unknown": set(unknown),
    }
    print(
        f"{args.invoices:,} hub invoices against the Mini Ledger (own process), {args.faults:.0%} faults of each "
        f"kind; hub on PostgreSQL (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"  {'kind':18} {'put in':>8} {'found':>8} {'invented':>9}")
    wrong = False
    for kind in sorted(set(put_in) | set(found)):
        expected, got = put_in.get(kind, set()), found.get(kind, set())
        wrong = wrong or expected != got
        print(f"  {kind:18} {len(expected):8} {len(got & expected):8} {len(got - expected):9}")
    print(f"  report: {seconds:.2f} s ({figures['hub']:,} hub invoices, {figures['target']:,} listed in the ledger)")
    path = write_results(
        "reconcile",
        {
            "invoices": args.invoices,
            "faults_per_kind": per_kind,
            "seconds": seconds,
            **figures,
            "found": {kind: len(refs) for kind, refs in found.items()},
            "all_found_none_invented": not wrong,
        },
    )
    print(f"  → {path}")
    if wrong:
        raise SystemExit("the report missed a fault or invented one")


if __name__ == "__main__":
    main()
