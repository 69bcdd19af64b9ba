"""The chaos drill: deals are won through the API while everything that can go wrong does.

- two `crmhub worker` processes and the scheduler run on PostgreSQL + a private Redis;
- every few seconds one worker is killed with SIGKILL (mid-job, no clean-up) and a new one started;
- the Mini Ledger answers 10 % errors (503), 10 % timeouts (504 after a stall) and, for 5 % of
  creations, creates the invoice but answers only after the hub has stopped waiting;
- Redis (its own instance, in memory only: its queue is lost) is stopped and started once.

When every deal is won the faults stop; the drill waits until every outbox event is done or
parked and prints: won deals, invoices in the target, duplicates, missing, parked failures and the
time to drain after the faults stopped. Exits 1 if any invoice is missing or doubled.

    .venv/bin/python bench/drill.py [--deals 5000] [--kill-every 4] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import threading
import time

from harness import create_open_deals, hub_stack, wait_workers, write_results

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=5000)
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
        deal_ids = create_open_deals(hub, args.deals)
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
    ok = not missing and not duplicates and not unexpected and drained
    print(
        f"chaos drill: {args.deals} deals, a worker SIGKILLed every {args.kill_every:g} s ({chaos.kills} kills), "
        f"Redis restarted {chaos.redis_restarts}×, ledger 10 % errors + 10 % timeouts + 5 % lost answers"
    )
    for label, value in (
        ("won deals", len(won)),
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
