"""The chaos drill: deals are won through the API while everything that can go wrong does.

- two `crmhub worker` processes and the scheduler run on PostgreSQL + a private Redis;
- every few seconds one worker is killed with SIGKILL (mid-job, no clean-up) and a new one started;
- the Mini Ledger answers 10 % errors (503), 10 % timeouts (504 after a stall) and, for 5 % of
  creations, creates the invoice but answers only after the hub has stopped waiting;
- Redis (its own instance, in memory only: its queue is lost) is stopped and started once.

Deals are won in two phases under these faults: first each once, through the API in this process;
then `--repeated` more through the hub served by gunicorn, each won request sent 3 times at once
(a double click and a second tab), one of the three with an Idempotency-Key whose connection is
cut before the answer for every `--cut-every`-th deal and sent again with the same key until it
is answered. Every answer for a deal must name the same invoice.

When every deal is won the faults stop; the drill waits until every outbox event is done or
parked and prints: won deals, invoices in the target, duplicates, missing, parked failures and the
time to drain after the faults stopped. Exits 1 if any invoice is missing or doubled.

    .venv/bin/python bench/drill.py [--deals 5000] [--repeated 1000] [--kill-every 4] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from harness import Gunicorn, create_open_deals, hub_stack, wait_workers, write_results

LEASE_SECONDS = 10  # how soon a dead worker's events are taken over (default 300)


def outbox_states(hub) -> dict[str, int]:
    from sqlalchemy import func, select

    from hub.extensions import db
    from hub.models import OutboxEvent

    with hub.app().app_context():
        rows = db.session.execute(select(OutboxEvent.state, func.count()).group_by(OutboxEvent.state)).all()
        db.session.remove()
        return {state.value: n for state, n in rows}


class Chaos(threading.Thread):
    """Kills a random worker every `every` seconds and starts a new one; restarts Redis once,
    after `redis_after` seconds."""

    def __init__(self, hub, every: float, redis_after: float, seed: int) -> None:
        super().__init__(daemon=True, name="chaos")
        self.hub, self.every, self.redis_after = hub, every, redis_after
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.kills = 0
        self.redis_restarts = 0
        self.workers = [p for p in hub.processes if "worker" in p.log.name]

    def run(self) -> None:
        began = time.monotonic()
        while not self.stop.wait(self.every):
            victim = self.random.choice(self.workers)
            victim.kill()
            self.workers.remove(victim)
            self.workers.append(self.hub.start("worker"))
            self.kills += 1
            if not self.redis_restarts and time.monotonic() - began > self.redis_after:
                self.hub.redis.stop()
                time.sleep(3)
                self.hub.redis.start()
                self.redis_restarts += 1


def won_three_times(base: str, headers: dict[str, str], deal_id: int, cut: bool) -> tuple[set[str], int]:
    """The won request for one deal sent 3 times at once; with `cut`, the keyed one loses its first
    connection before the answer and is sent again. The invoice numbers answered, and the retries."""
    key = {"Idempotency-Key": f"drill-won-{deal_id}"}
    retries = 0

    def send(extra: dict[str, str], timeout: float) -> str:
        nonlocal retries
        while True:
            try:
                r = requests.post(f"{base}/api/v1/deals/{deal_id}/won", headers={**headers, **extra}, timeout=timeout)
            except requests.RequestException:  # cut, or refused while a web process restarts
                retries += 1
                timeout = 30.0
                continue
            if r.status_code == 409 and extra:  # the same key still in flight: the client waits and retries
                retries += 1
                time.sleep(0.2)
                continue
            r.raise_for_status()
            return r.json()["invoices"][-1]["number"]

    with ThreadPoolExecutor(3) as pool:
        answers = [
            pool.submit(send, {}, 30.0),
            pool.submit(send, {}, 30.0),
            pool.submit(send, key, 0.01 if cut else 30.0),
        ]
        return {a.result() for a in answers}, retries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--repeated", type=int, default=1000, help="deals won with 3 requests each, at once")
    parser.add_argument("--cut-every", type=int, default=5, help="every n-th of those has a connection cut")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between worker kills")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    env = {
        "HUB_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "HUB_RETRY_BASE_SECONDS": "0.5",
        "HUB_RETRY_CAP_SECONDS": "5",
        "HUB_RETRY_MAX_ATTEMPTS": "25",
        "HUB_BREAKER_COOLDOWN_SECONDS": "3",
    }
    with hub_stack("drill", ledger_timeout=1.0, **env) as hub:
        deal_ids = create_open_deals(hub, args.deals + args.repeated)
        deal_ids, repeated_ids = deal_ids[: args.deals], deal_ids[args.deals :]
        hub.start("worker")
        hub.start("worker")
        hub.start("scheduler")
        wait_workers(hub, 2)
        # The ledger stalls 2 s on a timeout or a lost answer; the connection waits 1 s.
        hub.ledger.faults(error_rate=0.10, timeout_rate=0.10, lost_answer_rate=0.05, lost_answer_sleep=2.0)

        app = hub.app(HUB_JOB_LEASE_SECONDS=LEASE_SECONDS)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {hub.token}"}
        expected_win_seconds = args.deals / 30
        chaos = Chaos(hub, args.kill_every, redis_after=min(20.0, expected_win_seconds / 2), seed=args.seed)
        chaos.start()
        began = time.monotonic()
        won: list[str] = []
        refused = 0
        for deal_id in deal_ids:
            r = client.post(f"/api/v1/deals/{deal_id}/won", headers=headers)
            if r.status_code == 200:
                won.append(r.json["invoices"][0]["number"])
            else:
                refused += 1
        web = Gunicorn(
            "hub:create_app()", {**hub.env, "HUB_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}, hub.workdir / "web.log",
            workers=2, threads=4,
        )  # fmt: skip
        disagreed, retries = [], 0
        with web, ThreadPoolExecutor(8) as clients:
            sent = [
                clients.submit(won_three_times, web.base, headers, deal_id, n % args.cut_every == 0)
                for n, deal_id in enumerate(repeated_ids)
            ]
            for deal_id, future in zip(repeated_ids, sent, strict=True):
                numbers, cut_retries = future.result()
                retries += cut_retries
                if len(numbers) != 1:
                    disagreed.append(deal_id)
                won.extend(numbers)
        # Redis is restarted once, whatever the pace.
        while not chaos.redis_restarts:
            time.sleep(0.5)
        chaos.stop.set()
        chaos.join()
        hub.ledger.faults(error_rate=0, timeout_rate=0, lost_answer_rate=0)
        faults_stopped = time.monotonic()
        win_seconds = faults_stopped - began
        live = ("pending", "dispatched")
        deadline = faults_stopped + args.drain_timeout
        states = outbox_states(hub)
        while any(states.get(s, 0) for s in live) and time.monotonic() < deadline:
            time.sleep(1)
            states = outbox_states(hub)
        drain_seconds = time.monotonic() - faults_stopped
        drained = not any(states.get(s, 0) for s in live)
        stats = hub.ledger.stats()
        references = {inv["reference"] for inv in hub.ledger.invoices()}

    missing = sorted(set(won) - references)
    unexpected = sorted(references - set(won))
    duplicates = stats["duplicates"]
    result = {
        "won_deals": len(won),
        "won_refused": refused,
        "repeated_deals": len(repeated_ids),
        "repeated_answers_disagreeing": len(disagreed),
        "retries_after_cuts_or_in_flight": retries,
        "invoices_in_target": stats["invoices"],
        "duplicates": len(duplicates),
        "duplicate_references": sorted(duplicates)[:20],
        "missing": len(missing),
        "missing_references": missing[:20],
        "unexpected_in_target": len(unexpected),
        "parked_failures": states.get("failed", 0),
        "outbox": states,
        "worker_kills": chaos.kills,
        "redis_restarts": chaos.redis_restarts,
        "seconds_winning_under_faults": win_seconds,
        "drain_seconds_after_faults": drain_seconds,
        "drained": drained,
        "ledger_requests": stats["requests"],
    }
    ok = not missing and not duplicates and not unexpected and not disagreed and drained
    print(
        f"chaos drill: {args.deals} deals, a worker SIGKILLed every {args.kill_every:g} s ({chaos.kills} kills), "
        f"Redis restarted {chaos.redis_restarts}×, ledger 10 % errors + 10 % timeouts + 5 % lost answers"
    )
    for label, value in (
        ("won deals", len(won)),
        ("of them won 3× at once", len(repeated_ids)),
        ("answers naming 2 invoices", len(disagreed)),
        ("retries (cut, or key in flight)", retries),
        ("invoices in the target", stats["invoices"]),
        ("duplicates", len(duplicates)),
        ("missing", len(missing)),
        ("parked failures", result["parked_failures"]),
        ("winning under faults (s)", f"{win_seconds:.1f}"),
        ("time to drain after faults (s)", f"{drain_seconds:.1f}" + ("" if drained else " (NOT drained)")),
    ):
        print(f"  {label:32} {value:>10}")
    print(f"  outbox: {states}")
    print(f"  {'PASS' if ok else 'FAIL'} → {write_results('drill', result)}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
