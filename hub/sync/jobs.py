"""The functions RQ workers run. Each sets up the app context, re-reads the state it acts on and
does nothing when the work is already done, so a job that runs twice is harmless."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

_app: Flask | None = None


def bind_app(app: Flask) -> None:
    """Use this app for jobs run in this process (the worker command and the embedded worker)."""
    global _app
    _app = app


def _get_app() -> Flask:
    global _app
    if _app is None:
        from hub import create_app

        _app = create_app()
    return _app


def run_events(event_ids: list[int]) -> str:
    from hub.sync.run import process_events

    with _get_app().app_context():
        return process_events(event_ids)


def push_due(connection_id: int) -> str:
    from hub.sync.run import push_due as push

    with _get_app().app_context():
        return push(connection_id)


def run_event(event_id: int) -> str:
    """One event (jobs queued before events were dispatched in chunks)."""
    return run_events([event_id])


def dispatch_outbox() -> int:
    from hub.sync.outbox import dispatch

    with _get_app().app_context():
        return dispatch()


def pull_invoice_status(connection_id: int | None = None) -> int:
    from hub.sync.status import pull_invoice_status as pull

    with _get_app().app_context():
        return pull(connection_id)


def pull_stock(connection_id: int, full: bool = False) -> str:
    from hub.inventory.pull import pull_stock as pull

    with _get_app().app_context():
        result = pull(connection_id, full=full)
        from hub.sync.queue import enqueue_once, get_queue

        # Alerts this pull opened go out in their own job: a slow mail server never holds up a pull.
        enqueue_once(get_queue(), "deliver-alerts", deliver_alerts, timeout=600)
        return f"{result.mode}: {result.rows} rows, {result.changed} changed" + (
            f"; failed: {result.error}" if result.error else ""
        )


ALERTS_SWEPT_AT = "hub:alerts:swept-at"
# A stage change is written before its transaction commits; the next sweep looks this far back.
SWEEP_OVERLAP = timedelta(seconds=10)


def sweep_alerts() -> None:
    """Low-stock rules of the products on deals moved since the last sweep (the scheduler runs it
    every second); all rules when no sweep is on record (a new Redis)."""
    from hub.extensions import db
    from hub.inventory.alerts import evaluate_moved
    from hub.models.base import utcnow
    from hub.sync.queue import connection

    with _get_app().app_context():
        redis = connection()
        now = utcnow()
        last = redis.get(ALERTS_SWEPT_AT)
        evaluate_moved(datetime.fromisoformat(last.decode()) - SWEEP_OVERLAP if last else None)
        db.session.commit()
        redis.set(ALERTS_SWEPT_AT, now.isoformat())


def pull_due_stock() -> int:
    """Enqueue a pull for every connection whose interval has passed (the scheduler runs this)."""
    from hub.extensions import db
    from hub.inventory.pull import due_connections, start_pull
    from hub.models import Connection

    with _get_app().app_context():
        due = due_connections()
        for connection_id in due:
            start_pull(db.session.get(Connection, connection_id))
        return len(due)


def deliver_alerts() -> dict[str, int]:
    from hub.inventory.delivery import deliver_due

    with _get_app().app_context():
        return deliver_due()


def purge_idempotency_keys() -> int:
    """API idempotency keys past their keep period (the scheduler runs this hourly)."""
    from hub.models.idempotency import purge_expired

    with _get_app().app_context():
        return purge_expired()


def reconcile(run_id: int) -> str:
    """One reconciliation run (hub/reconciliation.py); its progress is kept on the run's row."""
    from hub.reconciliation import execute

    with _get_app().app_context():
        return execute(run_id)


def reconcile_nightly() -> int:
    """A reconciliation run for every connection that can list its invoices (the scheduler runs
    this nightly)."""
    from hub.reconciliation import start_nightly_runs

    with _get_app().app_context():
        return start_nightly_runs()


def import_mapping_csv(connection_id: int, table: str, text: str, replace: bool, user_id: int) -> dict:
    """A value table's rows from an uploaded CSV (all or nothing), its progress in the job's meta
    for the page that polls it. Bad lines are an answer, not a failure: {"message", "errors"}."""
    from rq import get_current_job

    from hub import mapping_service
    from hub.audit import acting_as
    from hub.errors import HubError
    from hub.extensions import db
    from hub.models import Connection

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
            spec = mapping_service.table_spec(connection, table)
            change = mapping_service.import_csv(connection, spec, text, replace=replace, progress=progress)
        except HubError as exc:  # bad lines, or a table the mapping no longer has
            db.session.rollback()
            return {"message": exc.message, "errors": exc.errors}
        db.session.commit()
        return {"added": change.added, "changed": change.changed, "removed": change.removed}
