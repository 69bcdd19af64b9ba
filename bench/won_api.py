"""The won path as users take it: open deals won through `POST /api/v1/deals/{id}/won` on the
production shape (PostgreSQL, the hub's Redis, gunicorn 2 × 4 threads, 2 `crmhub worker`, 1
`crmhub scheduler`, the Mini Ledger as its own process), compared in the same run with a stateless
reference: a minimal Flask app on the same gunicorn settings whose endpoint forwards the deal to
a Mini Ledger of its own and answers (bench/reference_app.py: no database, no queue).

1. Flat out: `--deals` won from `--clients` clients without pause, first through the reference,
   then through the hub. For each: won requests/s, end-to-end invoices/s (first request → last
   invoice created in the ledger), p50 / p99 of the request and of won → invoice.
   Also the CPU time each kind of process used over the hub's run, per won deal.
2. Paced: the hub at `--rate` won deals/s for `--seconds`: p99 of won → invoice.
3. Statements: the SQL statements one won request sends, counted in-process on the same database
   (the same view, service and commit the workers run) over `--counted` deals.

Prints a table and writes bench/results/won_api.json.

    .venv/bin/python bench/won_api.py [--deals 2000] [--clients 8] [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests
from harness import (
    LEDGER_KEY,
    Gunicorn,
    LedgerProcess,
    cpu_seconds,
    create_open_deals,
    hub_stack,
    in_threads,
    percentile,
    wait_for,
    wait_workers,
    write_results,
)
from sqlalchemy import event

GUNICORN = {"workers": 2, "threads": 4}


def _created_at(ledger: LedgerProcess) -> dict[str, float]:
    """Each invoice's creation time in the ledger, by reference."""
    return {i["reference"]: datetime.fromisoformat(i["created_at"]).timestamp() for i in ledger.invoices()}


def flat_out(base: str, paths: list[str], clients: int, headers: dict[str, str], invoice_of: Callable) -> dict:
    """POST every path from `clients` threads, each sending its next request when the last is
    answered. Per request: its start (epoch s) and duration; the invoice reference it answered."""
    started: dict[str, float] = {}
    durations: list[float] = []
    failures: list[str] = []
    queue = iter(paths)
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        session.headers.update(headers)
        while True:
            with lock:
                path = next(queue, None)
            if path is None:
                return
            at, clock = time.time(), time.perf_counter()
            r = session.post(base + path, timeout=60)
            durations.append(time.perf_counter() - clock)
            if r.status_code != 200:
                failures.append(f"{r.status_code} {r.text[:300]}")
                continue
            started[invoice_of(r.json())] = at

    begin = time.time()
    in_threads(client, [()] * clients)
    if failures:
        raise SystemExit(f"{len(failures)} won request(s) failed, e.g. {failures[0]}")
    return {"begin": begin, "answered": time.time(), "started": started, "durations": durations}


def figures(run: dict, created: dict[str, float]) -> dict:
    count = len(run["started"])
    latencies = [created[ref] - at for ref, at in run["started"].items()]
    last_invoice = max(created[ref] for ref in run["started"])
    return {
        "won": count,
        "requests_per_s": count / (run["answered"] - run["begin"]),
        "invoices_per_s": count / (last_invoice - run["begin"]),
        "request_ms": {"p50": percentile(run["durations"], 50) * 1000, "p99": percentile(run["durations"], 99) * 1000},
        "won_to_invoice_s": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)},
    }


def reference(deals: int, clients: int, workdir: Path) -> dict:
    with LedgerProcess(workdir / "reference-ledger.log") as ledger:
        env = {"LEDGER_URL": ledger.url, "LEDGER_KEY": LEDGER_KEY}
        with Gunicorn(
            "bench.reference_app:create_app()", env, workdir / "reference.log", ready_path="/", **GUNICORN
        ) as app:
            paths = [f"/deals/{n}/won" for n in range(1, deals + 1)]
            run = flat_out(app.base, paths, clients, {}, lambda answer: f"REF-{answer['deal']:06d}")
        wait_for(lambda: ledger.stats()["invoices"] >= deals, 60, 0.1, "the reference's invoices")
        return figures(run, _created_at(ledger))


def paced(base: str, deal_ids: list[int], rate: float, headers: dict[str, str], lanes: int = 16) -> dict:
    """Won at a steady `rate`: each lane wins every `lanes`-th deal at its slot."""
    started: dict[str, float] = {}
    durations: list[float] = []
    begin = time.monotonic()

    def lane(n: int) -> None:
        session = requests.Session()
        session.headers.update(headers)
        for i in range(n, len(deal_ids), lanes):
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            at, clock = time.time(), time.perf_counter()
            r = session.post(f"{base}/api/v1/deals/{deal_ids[i]}/won", timeout=60)
            durations.append(time.perf_counter() - clock)
            r.raise_for_status()
            started[r.json()["invoices"][0]["number"]] = at

    in_threads(lane, [(n,) for n in range(lanes)])
    return {"offered_per_s": len(deal_ids) / (time.monotonic() - begin), "started": started, "durations": durations}


def statements_per_won(hub, deal_ids: list[int]) -> dict:
    """The SQL statements each won request sends, counted in this process on the same database."""
    from hub.extensions import db

    app = hub.app()
    counts: list[int] = []
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {hub.token}"}
        client.get("/api/v1/deals?per_page=1", headers=headers)  # the token is known, as in a running worker
        for deal_id in deal_ids:
            seen.clear()
            r = client.post(f"/api/v1/deals/{deal_id}/won", headers=headers)
            assert r.status_code == 200, r.get_data(as_text=True)
            counts.append(len(seen))
        example = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return {"mean": statistics.fmean(counts), "max": max(counts), "example": [s.split("\n")[0][:120] for s in example]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100.0, help="won deals per second in the paced run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--counted", type=int, default=50, help="won requests whose statements are counted")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paced_count = int(args.rate * args.seconds)

    with hub_stack("won_api") as hub:
        all_ids = create_open_deals(hub, args.deals + paced_count + args.counted)
        flat_ids = all_ids[: args.deals]
        paced_ids = all_ids[args.deals : args.deals + paced_count]
        counted_ids = all_ids[args.deals + paced_count :]
        ref = reference(args.deals, args.clients, hub.workdir)

        for _ in range(args.workers):
            hub.start("worker")
        hub.start("scheduler")
        wait_workers(hub, args.workers)
        headers = {"Authorization": f"Bearer {hub.token}"}
        with Gunicorn("hub:create_app()", hub.env, hub.workdir / "gunicorn.log", **GUNICORN) as web:
            requests.get(f"{web.base}/api/v1/deals?per_page=1", headers=headers, timeout=10)  # warm both workers
            paths = [f"/api/v1/deals/{i}/won" for i in flat_ids]
            before = cpu_seconds()
            run = flat_out(web.base, paths, args.clients, headers, lambda answer: answer["invoices"][0]["number"])
            wait_for(lambda: hub.ledger.stats()["invoices"] >= args.deals, 300, 0.1, "every invoice in the ledger")
            after = cpu_seconds()
            flat = figures(run, _created_at(hub.ledger))
            cpu_ms = {k: (after[k] - before.get(k, 0)) / args.deals * 1000 for k in after}

            slow = paced(web.base, paced_ids, args.rate, headers)
            wanted = args.deals + paced_count
            wait_for(lambda: hub.ledger.stats()["invoices"] >= wanted, 300, 0.1, "the paced invoices")
            created = _created_at(hub.ledger)
            paced_latency = [created[ref] - at for ref, at in slow["started"].items()]
        statements = statements_per_won(hub, counted_ids)
        stats = hub.ledger.stats()

    ratio = flat["invoices_per_s"] / ref["invoices_per_s"]
    result = {
        "deals": args.deals,
        "clients": args.clients,
        "gunicorn": GUNICORN,
        "workers": args.workers,
        "hub": flat,
        "reference": ref,
        "hub_to_reference": ratio,
        "paced": {
            "offered_per_s": slow["offered_per_s"],
            "won_to_invoice_s": {"p50": percentile(paced_latency, 50), "p99": percentile(paced_latency, 99)},
            "request_ms_p99": percentile(slow["durations"], 99) * 1000,
        },
        "statements_per_won": statements,
        "hub_cpu_ms_per_won": cpu_ms,
        "duplicates": len(stats["duplicates"]),
        "targets": {"hub_to_reference": 0.8, "won_per_s": 250, "statements": 10, "paced_p99_s": 0.5},
    }
    print(f"won through the API: {args.deals} deals from {args.clients} clients, gunicorn 2 × 4, PG + Redis")
    print(f"  {'':12} {'won/s':>8} {'invoices/s':>11} {'req p50':>9} {'req p99':>9} {'→inv p50':>9} {'→inv p99':>9}")
    for name, f in (("reference", ref), ("hub", flat)):
        request, latency = f["request_ms"], f["won_to_invoice_s"]
        print(
            f"  {name:12} {f['requests_per_s']:8.0f} {f['invoices_per_s']:11.0f} {request['p50']:7.1f}ms"
            f" {request['p99']:7.1f}ms {latency['p50']:8.3f}s {latency['p99']:8.3f}s"
        )
    p = result["paced"]
    paced_p99 = p["won_to_invoice_s"]["p99"]
    print(
        f"  paced at {p['offered_per_s']:.0f}/s: won → invoice p50 {p['won_to_invoice_s']['p50']:.3f} s,"
        f" p99 {paced_p99:.3f} s; request p99 {p['request_ms_p99']:.1f} ms"
    )
    where = ", ".join(f"{kind} {ms:.1f}" for kind, ms in sorted(cpu_ms.items(), key=lambda kv: -kv[1]) if ms >= 0.05)
    print(f"  the hub's CPU per won deal, flat out (ms): {where}")
    print(f"  statements per won request: {statements['mean']:.1f} (max {statements['max']})")
    for line in statements["example"]:
        print(f"    {line}")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(
        f"  targets: hub/reference {ratio:.2f} (≥ 0.8) {verdict(ratio >= 0.8)};"
        f" {flat['invoices_per_s']:.0f} won/s end to end (≥ 250) {verdict(flat['invoices_per_s'] >= 250)};"
        f" statements {statements['max']} (≤ 10) {verdict(statements['max'] <= 10)};"
        f" paced p99 {paced_p99:.3f} s (≤ 0.5) {verdict(paced_p99 <= 0.5)}; duplicates {result['duplicates']}"
    )
    print(f"  → {write_results('won_api', result)}")


if __name__ == "__main__":
    main()
