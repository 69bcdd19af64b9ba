"""Invoices per second into the Mini Ledger through the hub, next to bare RQ no-op jobs per second
on the same machine, in the same run (the ratio is what the hub costs over RQ itself).

Hub: N deals are won first (their push events wait in the outbox), two `crmhub worker` processes
are up and idle; the clock starts when the events are dispatched and stops when the Mini Ledger
holds N invoices. RQ: two plain `rq worker` processes (the same SimpleWorker class the hub's
worker uses) are up and idle; the clock starts when N no-op jobs are enqueued and stops when all
have finished. Prints a table and writes bench/results/throughput.json.

    .venv/bin/python bench/throughput.py [--invoices 2000] [--jobs 5000] [--workers 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import redis
from harness import (
    ROOT,
    create_open_deals,
    hub_stack,
    wait_for,
    wait_workers,
    win_without_dispatch,
    write_results,
)
from rq import Queue
from rq.registry import FinishedJobRegistry

NOOP_QUEUE = "bench-noop"


def hub_rate(hub, count: int) -> tuple[float, dict]:
    from hub.sync.outbox import dispatch

    deal_ids = create_open_deals(hub, count)
    win_without_dispatch(hub, deal_ids)
    app = hub.app()
    with app.app_context():
        started = time.perf_counter()
        while dispatch(limit=1000):
            pass
        wait_for(lambda: hub.ledger.stats()["invoices"] >= count, 600, 0.05, "every invoice in the Mini Ledger")
        elapsed = time.perf_counter() - started
    return elapsed, hub.ledger.stats()


def rq_noop_rate(redis_url: str, count: int, workers: int, workdir) -> float:
    conn = redis.Redis.from_url(redis_url)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rq.cli",
                "worker",
                "--url",
                redis_url,
                "--worker-class",
                "rq.worker.SimpleWorker",
                "--path",
                str(ROOT / "bench"),
                NOOP_QUEUE,
            ],
            stdout=(workdir / f"rq-noop-{n}.log").open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        for n in range(workers)
    ]
    try:
        from rq import Worker

        wait_for(lambda: len(Worker.all(connection=conn)) >= workers, 60, 0.1, "rq workers to register")
        queue = Queue(NOOP_QUEUE, connection=conn)
        finished = FinishedJobRegistry(queue=queue)
        started = time.perf_counter()
        for k in range(0, count, 500):
            queue.enqueue_many([Queue.prepare_data("noop.noop") for _ in range(min(500, count - k))])
        wait_for(lambda: finished.count >= count, 600, 0.05, "the no-op jobs to finish")
        return time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=5000, help="RQ no-op jobs for the baseline")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with hub_stack("throughput") as hub:
        for _ in range(args.workers):
            hub.start("worker")
        wait_workers(hub, args.workers)
        hub_seconds, stats = hub_rate(hub, args.invoices)
        hub.stop_all()
        noop_seconds = rq_noop_rate(hub.redis.url, args.jobs, args.workers, hub.workdir)

    hub_per_s = args.invoices / hub_seconds
    noop_per_s = args.jobs / noop_seconds
    result = {
        "workers": args.workers,
        "hub": {"invoices": args.invoices, "seconds": hub_seconds, "per_s": hub_per_s},
        "rq_noop": {"jobs": args.jobs, "seconds": noop_seconds, "per_s": noop_per_s},
        "hub_over_rq_noop": hub_per_s / noop_per_s,
        "duplicates": len(stats["duplicates"]),
        "target": {"invoices_per_s": 500},
    }
    print(f"throughput, {args.workers} worker processes each, one run:")
    print(f"  {'':38} {'count':>7} {'seconds':>8} {'per s':>8}")
    print(f"  {'hub: invoices into the Mini Ledger':38} {args.invoices:7d} {hub_seconds:8.2f} {hub_per_s:8.1f}")
    print(f"  {'bare RQ: no-op jobs':38} {args.jobs:7d} {noop_seconds:8.2f} {noop_per_s:8.1f}")
    print(f"  hub / RQ no-op: {hub_per_s / noop_per_s:.2f}; duplicates: {result['duplicates']}")
    print(f"  target ≥ 500 invoices/s: {'met' if hub_per_s >= 500 else 'NOT met'}")
    print(f"  → {write_results('throughput', result)}")


if __name__ == "__main__":
    main()
