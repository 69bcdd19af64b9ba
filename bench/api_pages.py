"""The API's list endpoints and the board under load: 100k customers and 500k deals generated
straight into a scratch PostgreSQL database (COPY, not the API), the app under gunicorn, 16
concurrent clients (closed loop, no think time), p50 / p95 per scenario. Prints a table and writes
bench/results/api_pages.json.

The board is `GET /api/v1/pipelines/{id}/board`: every stage column of the default pipeline with
its count, its totals per currency and its 20 most recently changed deals, in one request.

    .venv/bin/python bench/api_pages.py [--customers 100000] [--deals 500000] [--clients 16] [--seconds 15]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import requests
from harness import ROOT, free_port, percentile, scratch_database, wait_for, write_results

WORKERS, THREADS = 4, 4


def generate(url: str, customers: int, deals: int, seed: int = 7) -> tuple[str, int]:
    """Schema by the migrations, an admin token, then customers and deals by COPY. Returns the
    token and the default pipeline's id."""
    from cryptography.fernet import Fernet
    from flask_migrate import upgrade

    from hub import MIGRATIONS_DIR, create_app
    from hub.board import rebuild_stage_totals
    from hub.extensions import db
    from hub.models import ApiToken, Pipeline, Role, User

    app = create_app({"DATABASE_URL": url, "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        admin = User(email="bench@example.com", name="Bench", role=Role.ADMIN, password_hash="x", active=True)
        token, clear = ApiToken.issue(admin, "bench")
        owners = [
            User(email=f"rep{i}@example.com", name=f"Rep {i}", role=Role.SALES, password_hash="x", active=True)
            for i in range(10)
        ]
        db.session.add_all([admin, token, *owners])
        db.session.commit()
        owner_ids = [u.id for u in owners]
        pipeline = db.session.query(Pipeline).filter(Pipeline.is_default.is_(True)).one()
        stages = [(s.id, s.kind.value) for s in pipeline.stages]
        pipeline_id = pipeline.id
        db.engine.dispose()

    rnd = random.Random(seed)
    now = datetime.now(UTC)
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        buf = io.StringIO()
        for i in range(1, customers + 1):
            created = now - timedelta(seconds=rnd.randrange(3 * 365 * 86400))
            buf.write(
                f"{i}\tCustomer {rnd.choice(NAMES)} {i:06d}\tDE{i:09d}\tbuyer{i}@example.com\tBerlin\tDE\tEUR\t[]\t"
                f"{rnd.choice(owner_ids)}\t{created.isoformat()}\t{created.isoformat()}\n"
            )
        with conn.cursor().copy(
            "COPY customers (id, name, tax_id, email, billing_city, billing_country, default_currency, tags, owner_id,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        weights = [30, 20, 15, 10, 15, 10][: len(stages)]
        chunk = 100_000
        for start in range(1, deals + 1, chunk):
            buf = io.StringIO()
            for i in range(start, min(deals, start + chunk - 1) + 1):
                stage_id, kind = rnd.choices(stages, weights)[0]
                created = now - timedelta(seconds=rnd.randrange(3 * 365 * 86400))
                updated = created + timedelta(seconds=rnd.randrange(30 * 86400))
                net = Decimal(rnd.randrange(1_000, 5_000_000)) / 100
                tax = (net * Decimal("0.19")).quantize(Decimal("0.01"))
                won = updated.isoformat() if kind == "won" else r"\N"
                lost = updated.isoformat() if kind == "lost" else r"\N"
                reason = "price" if kind == "lost" else r"\N"
                buf.write(
                    f"{i}\tD-{i:06d}\tDeal {i} for {rnd.choice(NAMES)}\t{rnd.randrange(1, customers + 1)}\t"
                    f"{rnd.choice(owner_ids)}\t{pipeline_id}\t{stage_id}\tEUR\t{won}\t{lost}\t{reason}\t"
                    f"{net}\t0\t{tax}\t{net + tax}\t{created.isoformat()}\t{updated.isoformat()}\n"
                )
            with conn.cursor().copy(
                "COPY deals (id, number, title, customer_id, owner_id, pipeline_id, stage_id, currency, won_at,"
                " lost_at, lost_reason, subtotal, discount_total, tax_total, total, created_at, updated_at) FROM STDIN"
            ) as copy:
                copy.write(buf.getvalue())
        conn.execute("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))")
        conn.execute("SELECT setval(pg_get_serial_sequence('deals', 'id'), (SELECT max(id) FROM deals))")
        conn.commit()
    with app.app_context(), db.engine.begin() as connection:  # COPY bypassed the flushes that keep them
        rebuild_stage_totals(connection)
        db.engine.dispose()
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return clear, pipeline_id


NAMES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Soylent", "Vandelay")


class Gunicorn:
    def __init__(self, url: str, workdir: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-secret",
            "HUB_INSTANCE_PATH": workdir,
            "LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "gthread",
                "--threads",
                str(THREADS),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "hub:create_app()",
            ],
            env=env,
            cwd=ROOT,
            stdout=open(os.path.join(workdir, "gunicorn.log"), "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        wait_for(self._answers, 60, 0.2, "gunicorn to answer")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.base}/api/v1", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def load(base: str, token: str, scenario, clients: int, seconds: float, warmup: float = 2.0) -> dict:
    """`clients` threads each run `scenario(session, rnd)` in a loop; latencies after the warm-up."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + warmup + seconds

    def client(n: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        rnd = random.Random(n)
        mine: list[float] = []
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            try:
                scenario(session, rnd)
            except Exception as exc:
                with lock:
                    errors.append(str(exc)[:200])
                continue
            if time.monotonic() - start > warmup:
                mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def _get(session: requests.Session, url: str) -> dict:
    r = session.get(url, timeout=60)
    if r.status_code != 200:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
    return r.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0, help="per scenario, after a 2 s warm-up")
    args = parser.parse_args()

    import tempfile

    with tempfile.TemporaryDirectory(prefix="api-pages-") as workdir, scratch_database() as url:
        os.environ["HUB_INSTANCE_PATH"] = workdir
        began = time.perf_counter()
        token, pipeline_id = generate(url, args.customers, args.deals)
        generated_s = time.perf_counter() - began
        server = Gunicorn(url, workdir)
        try:
            base = server.base
            pages = max(1, min(200, args.deals // 50))

            def customers(session, rnd):
                _get(session, f"{base}/api/v1/customers?page={rnd.randint(1, pages)}")

            def deals(session, rnd):
                _get(session, f"{base}/api/v1/deals?page={rnd.randint(1, pages)}")

            def board(session, rnd):
                _get(session, f"{base}/api/v1/pipelines/{pipeline_id}/board?per_column=20")

            scenarios = {
                "customers list (50 per page)": (customers, 50),
                "deals list (50 per page)": (deals, 50),
                "board (every stage: count, totals, 20 deals)": (board, 150),
            }
            rows = {name: load(base, token, fn, args.clients, args.seconds) for name, (fn, _) in scenarios.items()}
        finally:
            server.stop()

    result = {
        "customers": args.customers,
        "deals": args.deals,
        "clients": args.clients,
        "gunicorn": f"{WORKERS} workers × {THREADS} threads (gthread)",
        "generated_s": generated_s,
        "scenarios": rows,
        "targets_p95_ms": {name: target for name, (_, target) in scenarios.items()},
    }
    print(
        f"API under {args.clients} concurrent clients, gunicorn {result['gunicorn']}, PostgreSQL with "
        f"{args.customers:,} customers and {args.deals:,} deals (generated in {generated_s:.0f} s):"
    )
    print(f"  {'':36} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'target':>7} {'errors':>6}")
    for name, row in rows.items():
        target = scenarios[name][1]
        mark = "ok" if row["p95_ms"] <= target else "MISSED"
        print(
            f"  {name:36} {row['per_s']:7.1f} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} "
            f"{'≤' + str(target):>7} {row['errors']:6d} {mark}"
        )
    print(f"  → {write_results('api_pages', result)}")


if __name__ == "__main__":
    main()
