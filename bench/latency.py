"""Won → invoice present in the target: deals are won through the API at a steady rate while two
`crmhub worker` processes and the scheduler run on PostgreSQL + Redis, pushing into the Mini Ledger
(its own process). Latency is from the start of each won request to the invoice's creation time
in the Mini Ledger. Prints a table and writes bench/results/latency.json.

    .venv/bin/python bench/latency.py [--rate 20] [--seconds 30] [--workers 2] [--lanes 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness import (
    create_open_deals,
    hub_stack,
    in_threads,
    ledger_latencies,
    percentile,
    wait_for,
    wait_workers,
    write_results,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="won deals per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lanes", type=int, default=4, help="threads that send the won requests")
    args = parser.parse_args()
    count = max(1, int(args.rate * args.seconds))

    with hub_stack("latency") as hub:
        deal_ids = create_open_deals(hub, count)
        for _ in range(args.workers):
            hub.start("worker")
        hub.start("scheduler")
        wait_workers(hub, args.workers)
        app = hub.app()
        headers = {"Authorization": f"Bearer {hub.token}"}
        started: dict[str, float] = {}
        request_ms: list[float] = []
        failures: list[str] = []
        begin = time.monotonic()

        def drive(lane: int) -> None:
            # Each lane wins every `lanes`-th deal at its slot, so a slow request does not hold
            # back the next deal: the rate offered stays steady.
            client = app.test_client()
            for i in range(lane, count, args.lanes):
                delay = begin + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                at = time.time()
                r = client.post(f"/api/v1/deals/{deal_ids[i]}/won", headers=headers)
                request_ms.append((time.time() - at) * 1000)
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.get_data(as_text=True)[:300]}")
                    continue
                started[r.json["invoices"][0]["number"]] = at

        in_threads(drive, [(n,) for n in range(args.lanes)])
        if failures:
            raise SystemExit(f"{len(failures)} won request(s) failed, e.g. {failures[0]}")
        offered = count / (time.monotonic() - begin)
        wait_for(lambda: hub.ledger.stats()["invoices"] >= count, 120, 0.2, "every invoice in the Mini Ledger")
        latencies = ledger_latencies(hub.ledger, started)
        stats = hub.ledger.stats()

    result = {
        "won_deals": count,
        "rate_offered_per_s": round(offered, 1),
        "workers": args.workers,
        "latency_s": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "max": max(latencies),
            "mean": statistics.fmean(latencies),
        },
        "won_request_ms": {"p50": percentile(request_ms, 50), "p95": percentile(request_ms, 95)},
        "invoices_in_target": stats["invoices"],
        "duplicates": len(stats["duplicates"]),
        "target": {"p99_s": 0.5},
    }
    lat = result["latency_s"]
    print(f"won → invoice in the Mini Ledger: {count} deals at {offered:.1f}/s, {args.workers} workers, PG + Redis")
    print(f"  {'':22} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    print(f"  {'won → invoice (s)':22} {lat['p50']:8.3f} {lat['p95']:8.3f} {lat['p99']:8.3f} {lat['max']:8.3f}")
    print(f"  {'won request (ms)':22} {result['won_request_ms']['p50']:8.1f} {result['won_request_ms']['p95']:8.1f}")
    print(f"  target p99 ≤ 0.5 s: {'met' if lat['p99'] <= 0.5 else 'NOT met'}; duplicates: {result['duplicates']}")
    print(f"  → {write_results('latency', result)}")


if __name__ == "__main__":
    main()
