"""The functions RQ workers run. Each sets up the app context, re-reads the state it acts on and
does nothing when the work is already done, so a job that runs twice is harmless.

They are enqueued by their dotted name ("hub.sync.jobs.run_events"): nothing imports this module to
enqueue, so it may build on every service. The worker entry points (worker.py, `crmhub worker`)
bind the app the jobs run in."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from rq import get_current_job

from hub import mapping_store, reconciliation
from hub.audit import acting_as
from hub.errors import HubError
from hub.extensions import db
from hub.inventory import alerts, delivery
from hub.inventory import pull as stock
from hub.models import Connection
from hub.models.base import utcnow
from hub.models.idempotency import purge_expired
from hub.sync import outbox, run, status
from hub.sync.queue import connection as redis_connection
from hub.sync.queue import enqueue_once, get_queue

DELIVER_ALERTS = "hub.sync.jobs.deliver_alerts"

_app: Flask | None = None


def bind_app(app: Flask) -> None:
    """Use this app for jobs run in this process (the worker command and the embedded worker)."""
    global _app
    _app = app


def _get_app() -> Flask:
    if _app is None:
        raise RuntimeError("No app is bound for the jobs: run them with `crmhub worker`, which binds one.")
    return _app


def run_events(event_ids: list[int]) -> str:
    with _get_app().app_context():
        return run.process_events(event_ids)


def push_due(connection_id: int) -> str:
    with _get_app().app_context():
        return run.push_due(connection_id)


def run_event(event_id: int) -> str:
    """One event (jobs queued before events were dispatched in chunks)."""
    return run_events([event_id])


def dispatch_outbox() -> int:
    with _get_app().app_context():
        return outbox.dispatch()


def pull_invoice_status(connection_id: int | None = None) -> int:
    with _get_app().app_context():
        return status.pull_invoice_status(connection_id)


def pull_stock(connection_id: int, full: bool = False) -> str:
    with _get_app().app_context():
        result = stock.pull_stock(connection_id, full=full)
        # Alerts this pull opened go out in their own job: a slow mail server never holds up a pull.
        enqueue_once(get_queue(), "deliver-alerts", DELIVER_ALERTS, timeout=600)
        return f"{result.mode}: {result.rows} rows, {result.changed} changed" + (
            f"; failed: {result.error}" if result.error else ""
        )


ALERTS_SWEPT_AT = "hub:alerts:swept-at"
# A stage change is written before its transaction commits; the next sweep looks this far back.
SWEEP_OVERLAP = timedelta(seconds=10)


def sweep_alerts() -> None:
    """Low-stock rules of the products on deals moved since the last sweep (the scheduler runs it
    every second); all rules when no sweep is on record (a new Redis)."""
    with _get_app().app_context():
        redis = redis_connection()
        now = utcnow()
        last = redis.get(ALERTS_SWEPT_AT)
        alerts.evaluate_moved(datetime.fromisoformat(last.decode()) - SWEEP_OVERLAP if last else None)
        db.session.commit()
        redis.set(ALERTS_SWEPT_AT, now.isoformat())


def pull_due_stock() -> int:
    """Enqueue a pull for every connection whose interval has passed (the scheduler runs this)."""
    with _get_app().app_context():
        due = stock.due_connections()
        for connection_id in due:
            stock.start_pull(db.session.get(Connection, connection_id))
        return len(due)


def deliver_alerts() -> dict[str, int]:
    with _get_app().app_context():
        return delivery.deliver_due()


def purge_idempotency_keys() -> int:
    """API idempotency keys past their keep period (the scheduler runs this hourly)."""
    with _get_app().app_context():
        return purge_expired()


def reconcile(run_id: int) -> str:
    """One reconciliation run (hub/reconciliation.py); its progress is kept on the run's row."""
    with _get_app().app_context():
        return reconciliation.execute(run_id)


def reconcile_nightly() -> int:
    """A reconciliation run for every connection that can list its invoices (the scheduler runs
    this nightly)."""
    with _get_app().app_context():
        return reconciliation.start_nightly_runs()


def import_mapping_csv(connection_id: int, table: str, text: str, replace: bool, user_id: int) -> dict:
    """A value table's rows from an uploaded CSV (all or nothing), its progress in the job's meta
    for the page that polls it. Bad lines are an answer, not a failure: {"message", "errors"}."""
    job = get_current_job()

    def progress(done: int, total: int) -> None:
        if job is not None:
            job.meta.update(done=done, total=total)
            job.save_meta()

    with _get_app().app_context(), acting_as(user_id, "csv import"):
        connection = db.session.get(Connection, connection_id)
        if connection is None:
            return {"message": f"Connection {connection_id} is gone; nothing was imported.", "errors": {}}
        try:
            spec = mapping_store.table_spec(connection, table)
            change = mapping_store.import_csv(connection, spec, text, replace=replace, progress=progress)
        except HubError as exc:  # bad lines, or a table the mapping no longer has
            db.session.rollback()
            return {"message": exc.message, "errors": exc.errors}
        db.session.commit()
        return {"added": change.added, "changed": change.changed, "removed": change.removed}
