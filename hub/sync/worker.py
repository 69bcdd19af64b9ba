"""Running the jobs: `crmhub worker` (RQ on Redis), `crmhub scheduler` (the outbox dispatcher and
RQ cron for periodic jobs, one at a time under a Redis lock) and, without Redis, the embedded
worker thread that does both."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time

from flask import Flask
from rq import SimpleWorker
from rq.cron import CronScheduler
from rq.timeouts import TimerDeathPenalty

from hub.sync import jobs
from hub.sync.queue import QUEUE_NAME, RedisError, connection, get_queue
from hub.sync.scheduler_lock import SchedulerLock

log = logging.getLogger(__name__)
# The nightly reconciliation runs (UTC): after the day's invoices, before the working day.
RECONCILE_CRON = "30 2 * * *"


class ThreadWorker(SimpleWorker):
    """An RQ worker that can run in a thread: timer-based timeouts, no signal handlers."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def drain(app: Flask, *, rounds: int = 50) -> int:
    """Weigh the alerts of deals just moved, then dispatch and run jobs until nothing is due (tests
    and the embedded worker); returns jobs run."""
    ran = 0
    jobs.bind_app(app)
    jobs.sweep_alerts()
    with app.app_context():
        for _ in range(rounds):
            dispatched = jobs.dispatch_outbox()
            queue = get_queue(app)
            if not dispatched and queue.count == 0:
                break
            before = queue.count
            ThreadWorker([queue], connection=connection(app)).work(burst=True, with_scheduler=False)
            ran += before
    return ran


class EmbeddedWorker:
    """Without Redis: a daemon thread that dispatches the outbox and runs the queued jobs."""

    def __init__(self, app: Flask, interval: float = 0.5) -> None:
        self.app = app
        self.interval = interval
        self.wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hub-embedded-worker", daemon=True)
        self._last_status = 0.0
        self._last_stock_check = 0.0
        self._last_purge = 0.0
        self._last_reconcile = time.monotonic()  # the first nightly run a day after start

    def start(self) -> EmbeddedWorker:
        jobs.bind_app(self.app)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.wakeup.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.app, rounds=5)
                if time.monotonic() - self._last_status > self.app.config["HUB_STATUS_INTERVAL_SECONDS"]:
                    self._last_status = time.monotonic()
                    jobs.pull_invoice_status()
                if time.monotonic() - self._last_stock_check > 15:
                    self._last_stock_check = time.monotonic()
                    jobs.pull_due_stock()
                    jobs.deliver_alerts()
                if time.monotonic() - self._last_purge > 3600:
                    self._last_purge = time.monotonic()
                    jobs.purge_idempotency_keys()
                if time.monotonic() - self._last_reconcile > 86400:
                    self._last_reconcile = time.monotonic()
                    jobs.reconcile_nightly()
            except Exception:
                log.exception("embedded worker round failed")
            self.wakeup.wait(self.interval)
            self.wakeup.clear()


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """`crmhub worker`: an RQ worker on REDIS_URL (jobs run in-process; no fork per job)."""
    jobs.bind_app(app)
    worker = SimpleWorker([QUEUE_NAME], connection=connection(app))
    worker.work(burst=burst, with_scheduler=True)


def run_scheduler(app: Flask, *, dispatch_every: float = 1.0) -> None:
    """`crmhub scheduler`: while it holds the scheduler lock (hub.sync.scheduler_lock), every second
    moves due outbox events to the queue, weighs the alerts of deals just won or lost, and enqueues
    the periodic jobs that are due (RQ's cron). Without the lock it waits: start one per machine
    and one dispatches. Survives Redis outages: events wait in the database. SIGTERM or SIGINT
    ends it after the round, letting go of the lock."""
    jobs.bind_app(app)
    stop = _stop_on_signals()
    lock = SchedulerLock(connection(app))
    cron = _cron(app)
    while lock.acquire(stop):
        try:
            _schedule(cron, lock, stop, dispatch_every)
        finally:
            lock.release()


def _cron(app: Flask) -> CronScheduler:
    cron = CronScheduler(connection=connection(app), logging_level="INFO")
    cron.register(jobs.pull_invoice_status, QUEUE_NAME, interval=int(app.config["HUB_STATUS_INTERVAL_SECONDS"]))
    # Each connection has its own stock interval; this only looks for the ones that are due.
    cron.register(jobs.pull_due_stock, QUEUE_NAME, interval=30)
    cron.register(jobs.deliver_alerts, QUEUE_NAME, interval=15)
    cron.register(jobs.purge_idempotency_keys, QUEUE_NAME, interval=3600)
    cron.register(jobs.reconcile_nightly, QUEUE_NAME, cron=RECONCILE_CRON)
    return cron


def _schedule(cron: CronScheduler, lock: SchedulerLock, stop: threading.Event, every: float) -> None:
    """Rounds of dispatch and cron while the lock is ours. CronScheduler.start() is not used: its
    loop sleeps up to a minute and would not notice a lost lock."""
    born = False
    try:
        while lock.held.is_set() and not stop.is_set():
            try:
                dispatched = jobs.dispatch_outbox()
                if dispatched:
                    log.info("dispatched %d event(s)", dispatched)
            except Exception:
                log.exception("dispatch_outbox failed")
            try:
                jobs.sweep_alerts()
            except Exception:
                log.exception("sweep_alerts failed")
            try:
                if not born:
                    cron.register_birth()
                    born = True
                if cron.enqueue_jobs():
                    cron.save()
                cron.heartbeat()
            except RedisError as exc:
                log.warning("Redis unavailable for the cron scheduler (%s); retrying", exc)
            stop.wait(every)
    finally:
        if born:
            with contextlib.suppress(RedisError):
                cron.register_death()


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (a process manager stopping it) or SIGINT: the loop ends its round
    and releases the lock, where Python's default would die holding it until the TTL."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    return stop
