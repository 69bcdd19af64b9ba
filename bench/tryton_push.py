"""Invoices per second into a real Tryton: a naive direct client (one create call per invoice), a
hand-batched one (50 per create call), both with Tryton's ids looked up before the clock starts
(their 20 customers are created then too), and the hub (won deals → outbox → worker: find-before-
create, create, total check and run history included; Tryton's ids known, as a running worker keeps
them, and what a cold worker's look-ups cost printed apart), all in one run against the same
server, so the figures compare. The hub's clock runs from the end of the won requests to the last
invoice recorded with Tryton's id (the worker's clean-up of the queue after that is printed apart).
All three send the same payload (the connector's) for the same 20 customers, whom Tryton has by the
time the hub runs. Prints a table and writes
bench/results/tryton_push.json. The batched client and the hub take turns, `--rounds` times, and
their ratio is of their summed times.

    .venv/bin/python bench/tryton_push.py [--invoices 200] [--rounds 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from cryptography.fernet import Fernet
from harness import RedisServer, write_results

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount
from connectors.tryton.cache import forget_all
from connectors.tryton.connector import TrytonConnector
from hub.demo_erp.tryton import TrytonServer


def document(i: int, prefix: str) -> InvoiceDocument:
    line = InvoiceLine(
        sku="VALVE-25",
        description="Ball valve DN25",
        quantity=Decimal(3),
        unit_price=Decimal("48.50"),
        discount_percent=Decimal(0),
        tax_rate=Decimal("0.19"),
        net=Decimal("145.50"),
        tax=Decimal("27.65"),
        total=Decimal("173.15"),
    )
    return InvoiceDocument(
        number=f"{prefix}-{i:06d}",
        idempotency_key=f"{prefix}-{i:06d}",
        deal_reference=f"D-{i:06d}",
        customer=Party(name=f"Bench customer {i % 20}", address=Address(city="Berlin", country="DE")),
        currency="EUR",
        issue_date=date.today(),
        due_date=date.today() + timedelta(days=14),  # as the hub's invoices (HUB_PAYMENT_DAYS)
        lines=(line,),
        subtotal=Decimal("145.50"),
        tax_total=Decimal("27.65"),
        total=Decimal("173.15"),
        # The hub's tax per rate: the connector makes Tryton's (rounded half-even) agree with it.
        taxes=(TaxAmount(rate=Decimal("0.19"), net=Decimal("145.50"), tax=Decimal("27.65")),),
    )


def direct(server: TrytonServer, n: int, batch: int, prefix: str) -> float:
    """A client that knows Tryton's ids already (resolved before the clock starts) and only sends
    `account.invoice.create`: one invoice per call (naive) or `batch` per call (hand-batched)."""
    client = TrytonConnector(server.config)
    payloads = [client.build_payload(document(i, prefix)) for i in range(n)]
    started = time.perf_counter()
    for k in range(0, n, batch):
        client.call("model.account.invoice.create", payloads[k : k + batch], changes_data=True)
    return time.perf_counter() - started


def cold_look_ups(server: TrytonServer) -> float:
    """What a worker's first batch (after a start, or every 5 minutes) spends looking up Tryton's
    configuration, journal, currency, tax, product and customer."""
    forget_all()
    client = TrytonConnector(server.config)
    started = time.perf_counter()
    client._start_push()
    client._batch = client._look_up_batch([document(0, "COLD")])
    client.build_payload(document(0, "COLD"))
    return time.perf_counter() - started


# The push chain's mechanism left out (HUB_PLAIN_PATHS, hub/plain_paths.py): every batch prepared,
# sent and recorded in turn.
PLAIN_VARIANTS = {"in turn": "look_ahead"}


class HubRig:
    """The hub as deployed: its jobs on a (private) Redis, run by an in-process RQ worker, the
    direct clients' 20 customers and product. Each `push` wins `n` new deals, then drains."""

    def __init__(self, server: TrytonServer, workdir: Path) -> None:
        self.redis = RedisServer(workdir).start()
        os.environ["HUB_INSTANCE_PATH"] = str(workdir)
        from flask_migrate import upgrade

        from hub import MIGRATIONS_DIR, create_app
        from hub.extensions import db
        from hub.models import ApiToken, Connection, Customer, Product, Role, User
        from hub.sync.factory import split_config

        self.app = app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{workdir / 'hub.db'}",
                "REDIS_URL": self.redis.url,
                "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            }
        )
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR)
            user = User(email="bench@example.com", name="Bench", role=Role.ADMIN, password_hash="x", active=True)
            token, clear = ApiToken.issue(user, "bench")
            plain, sealed = split_config("tryton", server.config)
            db.session.add_all(
                [user, token, Connection(name="Tryton", type="tryton", config=plain, secrets_sealed=sealed)]
            )
            db.session.add(
                Product(
                    sku="VALVE-25",
                    name="Ball valve",
                    list_price=Decimal("48.50"),
                    currency="EUR",
                    tax_rate=Decimal("0.19"),
                    unit="unit",
                    active=True,
                )
            )
            # The direct clients' customers: Tryton has them (made while their payloads were built,
            # before their clocks), so the hub finds them as the direct clients did and creates no
            # party either.
            customers = [Customer(name=f"Bench customer {i}", default_currency="EUR", tags=[]) for i in range(20)]
            db.session.add_all(customers)
            db.session.commit()
            self.customer_ids = [c.id for c in customers]
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {clear}"}

    def push(self, n: int) -> tuple[float, float, float, list[float]]:
        """Seconds to mark `n` deals won; seconds from then to the last invoice recorded with
        Tryton's id, and to the worker's end (its clean-up of the queue included); each invoice's
        latency."""
        from hub.extensions import db
        from hub.models import HubInvoice
        from hub.sync.worker import drain

        deal_ids = []
        for i in range(n):
            r = self.client.post(
                "/api/v1/deals",
                headers=self.headers,
                json={
                    "title": f"Bench {i}",
                    "customer_id": self.customer_ids[i % 20],
                    "lines": [{"sku": "VALVE-25", "quantity": 3}],
                },
            )
            deal_ids.append(r.json["id"])
        started = time.perf_counter()
        won_at = {}
        for deal_id in deal_ids:
            won_at[deal_id] = time.time()
            self.client.post(f"/api/v1/deals/{deal_id}/won", headers=self.headers)
        marked, marked_at = time.perf_counter(), time.time()
        if os.environ.get("BENCH_PROFILE"):
            from pyinstrument import Profiler

            with Profiler() as profiler:
                drain(self.app, rounds=500)
            profiler.print(show_all=False)
        else:
            drain(self.app, rounds=500)
        pushed = time.perf_counter()
        with self.app.app_context():
            invoices = db.session.query(HubInvoice).filter(HubInvoice.deal_id.in_(deal_ids)).all()
            done = [inv for inv in invoices if inv.links]
            if len(done) != n:
                raise SystemExit(f"only {len(done)} of {n} invoices reached Tryton")
            # From the won request to the moment the hub wrote Tryton's answer.
            latencies = [inv.links[0].created_at.timestamp() - won_at[inv.deal_id] for inv in done]
            recorded = max(inv.links[0].created_at.timestamp() for inv in done) - marked_at
        return marked - started, recorded, pushed - marked, latencies

    def stop(self) -> None:
        from hub.extensions import db

        with self.app.app_context():
            db.engine.dispose()
        self.redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=200, help="per client and round")
    parser.add_argument("--rounds", type=int, default=12, help="of batched client then hub, alternating")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="each round also pushes with the chain's plain paths (PLAIN_VARIANTS)",
    )
    args = parser.parse_args()
    n = args.invoices
    batched_s, marking_s, pushing_s, worker_s, latencies = [], [], [], [], []
    plain_s: dict[str, list[float]] = {name: [] for name in PLAIN_VARIANTS} if args.plain else {}
    with tempfile.TemporaryDirectory() as tmp, TrytonServer(Path(tmp) / "tryton") as server:
        naive = direct(server, n, 1, "NAIVE")
        # Alternating, so that neither side always meets the fuller Tryton database or the same
        # stretch of a noisy machine. Like the direct clients, the hub starts with Tryton's ids
        # known: a running worker keeps what it looked up (5 minutes). What a cold worker pays once
        # is measured on its own.
        hub = HubRig(server, Path(tmp))
        try:
            for r in range(args.rounds):
                batched_s.append(direct(server, n, 50, f"BATCH{r}"))
                marking, pushing, worker, waited = hub.push(n)
                marking_s.append(marking)
                pushing_s.append(pushing)
                worker_s.append(worker)
                latencies += waited
                for name, plain_paths in PLAIN_VARIANTS.items() if args.plain else ():
                    os.environ["HUB_PLAIN_PATHS"] = plain_paths
                    try:
                        plain_s[name].append(hub.push(n)[1])
                    finally:
                        os.environ.pop("HUB_PLAIN_PATHS")
                print(
                    f"  round {r + 1}: batched client {batched_s[-1]:.2f} s, hub pushing {pushing:.2f} s "
                    f"(its worker done after {worker:.2f} s)"
                    + "".join(f", {name} {times[-1]:.2f} s" for name, times in plain_s.items()),
                    flush=True,
                )
        finally:
            hub.stop()
        cold = cold_look_ups(server)
    total = n * args.rounds
    rows = {
        "naive client (1 per call)": n / naive,
        "batched client (50 per call)": total / sum(batched_s),
        "hub (won → outbox → worker)": total / (sum(marking_s) + sum(pushing_s)),
        "hub pushing, to the last one recorded": total / sum(pushing_s),
        "hub pushing, to the worker's end": total / sum(worker_s),
    }
    ratio = sum(batched_s) / sum(pushing_s)
    print(f"{n} draft invoices per client and round into Tryton 8.2 (SQLite), {args.rounds} alternating rounds:")
    print(f"  {'client':38} {'invoices/s':>10}")
    for name, rate in rows.items():
        print(f"  {name:38} {rate:10.1f}")
    per_round = ", ".join(f"{b / p:.2f}" for b, p in zip(batched_s, pushing_s, strict=True))
    print(f"  hub pushing / batched client: {ratio:.2f}× (rounds: {per_round})")
    print(f"  hub pushing / naive client: {naive * total / (n * sum(pushing_s)):.1f}×")
    for name, times in plain_s.items():
        print(
            f"  hub pushing, {name} / batched client: {sum(batched_s) / sum(times):.2f}×, "
            f"/ naive: {naive * total / (n * sum(times)):.1f}×"
        )
    print(f"  (a cold worker's first batch also looks Tryton's ids up: {cold:.2f} s, once per 5 minutes)")
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"  hub won → invoice in Tryton: p50 {p50:.2f} s, p95 {p95:.2f} s ({n} won at once per round, one worker)")
    result = {
        "invoices": n,
        "rounds": args.rounds,
        "per_second": rows,
        "hub_pushing_vs_batched": round(ratio, 3),
        "hub_pushing_vs_batched_per_round": [round(b / p, 3) for b, p in zip(batched_s, pushing_s, strict=True)],
        "hub_pushing_vs_naive": round(naive * total / (n * sum(pushing_s)), 3),
        "cold_look_ups_s": round(cold, 3),
        "latency_p50_s": p50,
        "latency_p95_s": p95,
    }
    result["plain_paths"] = {
        name: {
            "vs_batched": round(sum(batched_s) / sum(times), 3),
            "vs_naive": round(naive * total / (n * sum(times)), 3),
            "per_round": [round(b / p, 3) for b, p in zip(batched_s, times, strict=True)],
        }
        for name, times in plain_s.items()
    }
    print(f"  → {write_results('tryton_push', result)}")


if __name__ == "__main__":
    main()
