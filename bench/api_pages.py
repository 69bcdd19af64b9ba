"""The API's list endpoints and the board under load: 100k customers and 500k deals generated
straight into a scratch PostgreSQL database (COPY, not the API), the app under gunicorn with its own
Redis (as deployed), 16 concurrent clients from wrk (closed loop, no think time), p50 / p95 per
scenario. Prints a table and writes bench/results/api_pages.json.

The board is `GET /api/v1/pipelines/{id}/board`: every stage column of the default pipeline with
its count, its totals per currency and its 20 most recently changed deals, in one request.

Each worker keeps the answers it built until a write changes what they show (hub/kept_answers.py),
as deployed; the lists are then loaded again with nothing kept (HUB_CACHED_ANSWERS=0), to show
what building every page costs, as it does for a while after each write.

    .venv/bin/python bench/api_pages.py [--customers 100000] [--deals 500000] [--clients 16] [--seconds 15]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from harness import Gunicorn, RedisServer, scratch_database, write_results

WORKERS, THREADS = 4, 4
WRK_SCRIPT = Path(__file__).with_name("wrk") / "pages.lua"


def generate(url: str, customers: int, deals: int, seed: int = 7) -> tuple[str, int]:
    """Schema by the migrations, an admin token, then customers and deals by COPY. Returns the
    token and the default pipeline's id."""
    from cryptography.fernet import Fernet
    from flask_migrate import upgrade

    from hub import MIGRATIONS_DIR, create_app
    from hub.extensions import db
    from hub.models import ApiToken, Pipeline, Role, User
    from hub.services.board import rebuild_stage_totals

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


def gunicorn(
    url: str, workdir: str, redis_url: str, cached_answers: int | None = None, plain_paths: str = ""
) -> Gunicorn:
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret",
        "HUB_INSTANCE_PATH": workdir,
        "LOG_LEVEL": "WARNING",
    }
    if cached_answers is not None:
        env["HUB_CACHED_ANSWERS"] = str(cached_answers)
    if plain_paths:
        env["HUB_PLAIN_PATHS"] = plain_paths
    return Gunicorn("hub:create_app()", env, Path(workdir) / "gunicorn.log", workers=WORKERS, threads=THREADS)


def load(base: str, token: str, path: str, pages: int, clients: int, seconds: float, warmup: float = 2.0) -> dict:
    """wrk with `clients` connections, each sending its next request as soon as the last one is
    answered; `%d` in `path` becomes a random page in 1..pages. Latencies after a warm-up run."""
    env = {**os.environ, "WRK_PATH": path, "WRK_PAGES": str(pages)}

    def wrk(duration: float) -> dict:
        command = ["wrk", "-t2", f"-c{clients}", f"-d{duration:g}s", "-H", f"Authorization: Bearer {token}"]
        out = subprocess.run(
            [*command, "--timeout", "30s", "-s", str(WRK_SCRIPT), base],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    wrk(warmup)
    row = wrk(seconds)
    row["per_s"] = row["requests"] / row["seconds"]
    row["errors"] = row.pop("non_2xx") + row.pop("socket_errors")
    return row


def _run(server: Gunicorn, token: str, scenarios: dict, args: argparse.Namespace) -> dict:
    try:
        return {
            name: load(server.base, token, path, n, args.clients, args.seconds)
            for name, (path, n, _) in scenarios.items()
        }
    finally:
        server.stop()


# Each performance mechanism of the API left out in turn (HUB_PLAIN_PATHS, hub/plain_paths.py):
# (kept answers per kind, plain paths).
VARIANTS = {
    "fast (as deployed)": (None, ""),
    "no token cache": (None, "tokens"),
    "no kept answers": (0, ""),
}


def compare_mechanisms(url: str, workdir: str, redis_url: str, token: str, scenarios: dict, args) -> None:
    """Every variant in turn, `args.mechanisms` times, so that none always meets the same stretch of a
    noisy machine; prints each round's p95 and the median per variant, writes api_mechanisms.json."""
    import statistics

    figures: dict[str, dict[str, list[dict]]] = {v: {name: [] for name in scenarios} for v in VARIANTS}
    for r in range(args.mechanisms):
        for variant, (kept, plain_paths) in VARIANTS.items():
            rows = _run(gunicorn(url, workdir, redis_url, kept, plain_paths), token, scenarios, args)
            for name, row in rows.items():
                figures[variant][name].append(row)
            shown = ", ".join(f"{n.split(' (')[0]} p95 {row['p95_ms']:.1f} ms" for n, row in rows.items())
            print(f"  round {r + 1}, {variant}: {shown}", flush=True)
    print(f"p95 ms, median of {args.mechanisms} rounds (target: lists ≤ 50, board ≤ 150):")
    summary = {}
    for variant, by_scenario in figures.items():
        summary[variant] = {
            name: {
                "p95_ms": statistics.median(r["p95_ms"] for r in rows),
                "per_s": statistics.median(r["per_s"] for r in rows),
                "p95_ms_rounds": [r["p95_ms"] for r in rows],
                "errors": sum(r["errors"] for r in rows),
            }
            for name, rows in by_scenario.items()
        }
        shown = "  ".join(f"{n.split(' (')[0]} {v['p95_ms']:6.1f}" for n, v in summary[variant].items())
        print(f"  {variant:28} {shown}")
    print(f"  → {write_results('api_mechanisms', {'clients': args.clients, 'seconds': args.seconds, **summary})}")


def ensure_wrk() -> None:
    """wrk (Debian's package; `make bench` installs it) is the load generator: a C program, so that
    the clients do not take the CPU the server is measured on, as 16 Python threads did."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench`, or `apt-get install wrk`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0, help="per scenario, after a 2 s warm-up")
    parser.add_argument(
        "--mechanisms",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="instead: each mechanism's plain path against the fast one, alternating for ROUNDS rounds",
    )
    args = parser.parse_args()

    import tempfile

    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="api-pages-") as workdir, scratch_database() as url:
        os.environ["HUB_INSTANCE_PATH"] = workdir
        began = time.perf_counter()
        token, pipeline_id = generate(url, args.customers, args.deals)
        generated_s = time.perf_counter() - began
        redis = RedisServer(Path(workdir)).start()  # as deployed: the app's Redis, private to this run
        pages = max(1, min(200, args.deals // 50))
        lists = {
            "customers list (50 per page)": ("/api/v1/customers?page=%d", pages, 50),
            "deals list (50 per page)": ("/api/v1/deals?page=%d", pages, 50),
        }
        scenarios = {
            **lists,
            "board (every stage: count, totals, 20 deals)": (
                f"/api/v1/pipelines/{pipeline_id}/board?per_column=20",
                1,
                150,
            ),
        }
        if args.mechanisms:
            try:
                compare_mechanisms(url, workdir, redis.url, token, scenarios, args)
            finally:
                redis.stop()
            return
        try:
            rows = _run(gunicorn(url, workdir, redis.url), token, scenarios, args)
            # The same pages with no answer kept (HUB_CACHED_ANSWERS=0): what each costs to build,
            # as after every write. For comparison; the targets are for the hub as deployed.
            built = {f"{name.split(' (')[0]}, every page built": scenario for name, scenario in lists.items()}
            rows |= _run(gunicorn(url, workdir, redis.url, cached_answers=0), token, built, args)
            scenarios |= {name: (path, n, None) for name, (path, n, _) in built.items()}
        finally:
            redis.stop()

    result = {
        "customers": args.customers,
        "deals": args.deals,
        "clients": args.clients,
        "gunicorn": f"{WORKERS} workers × {THREADS} threads (gthread)",
        "generated_s": generated_s,
        "scenarios": rows,
        "load_generator": "wrk -t2, closed loop",
        "targets_p95_ms": {name: target for name, (_, _, target) in scenarios.items() if target is not None},
    }
    print(
        f"API under {args.clients} concurrent clients, gunicorn {result['gunicorn']}, PostgreSQL with "
        f"{args.customers:,} customers and {args.deals:,} deals (generated in {generated_s:.0f} s):"
    )
    print(f"  {'':36} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'target':>7} {'errors':>6}")
    for name, row in rows.items():
        target = scenarios[name][2]
        mark = "" if target is None else "ok" if row["p95_ms"] <= target else "MISSED"
        print(
            f"  {name:36} {row['per_s']:7.1f} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} "
            f"{'' if target is None else '≤' + str(target):>7} {row['errors']:6d} {mark}"
        )
    print(f"  → {write_results('api_pages', result)}")


if __name__ == "__main__":
    main()
