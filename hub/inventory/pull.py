"""Pulling stock levels from a connection into the hub, in bulk.

A pull is incremental (levels changed since the newest `as_of` of the last good pull) when the
connection has pulled before, full otherwise or when asked. A read that reports everything the
target holds (a full pull, or any pull of a connector without a change feed) sets to zero the
levels it no longer reports. History rows are written only for
levels that changed, and alerts are evaluated once at the end: for every rule after a full pull,
for the products whose levels changed after an incremental one.

How rows get in: `hub.inventory.writers`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from connectors.base import Exchange
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.errors import Conflict
from hub.extensions import db
from hub.i18n import N_, N_plural
from hub.inventory import alerts
from hub.inventory.writers import held, stock_writer, zero_levels
from hub.models import Connection, RunOutcome
from hub.models.base import utcnow
from hub.sentences import Stored, counted, number, sentence
from hub.sync.factory import open_connector, secret_values
from hub.sync.history import record_run, redact
from hub.sync.queue import enqueue_once, get_queue, wake_embedded_worker
from hub.sync.registry import registry

log = logging.getLogger(__name__)
CHUNK = 5000
# Lists in answers kept for the run history: a page of 5,000 levels says no more than its first few.
HISTORY_ITEMS = 20
# The run's note when a pull fails, by the pull's mode (said in the reader's language, hub.sentences).
PULL_FAILED = {
    "full": N_plural("full pull failed after %(num)s row: %(error)s", "full pull failed after %(num)s rows: %(error)s"),
    "incremental": N_plural(
        "incremental pull failed after %(num)s row: %(error)s", "incremental pull failed after %(num)s rows: %(error)s"
    ),
}


@dataclass
class PullResult:
    connection_id: int
    mode: str  # "full" | "incremental" | "skipped"
    rows: int = 0
    changed: int = 0
    zeroed: int = 0  # levels a complete read no longer reported, set to zero
    product_ids: set[int] = field(default_factory=set)
    error: str | None = None


def pull_stock(connection_id: int, *, full: bool = False) -> PullResult:
    """Pull one connection's stock and evaluate the alerts it affects. Commits."""
    connection = db.session.get(Connection, connection_id)
    if connection is None or not connection.enabled or connection.stock_paused:
        return PullResult(connection_id, "skipped")
    since = None if full else connection.stock_cursor
    result = PullResult(connection_id, "full" if since is None else "incremental")
    started = utcnow()
    connector = open_connector(connection)
    newest: datetime | None = connection.stock_cursor
    # A read of everything the target holds (every read of a connector that has no change feed)
    # sets to zero what it no longer reports: Odoo deletes a quant that drops to nothing, so a
    # sold-out product would otherwise keep its last level for ever.
    complete = since is None or not connector.incremental_stock
    before = held(connection) if complete else set()
    reported: set[tuple[str, str]] = set()
    try:
        with stock_writer(connection, started) as writer:
            levels = iter(connector.pull_stock(since))
            while chunk := list(islice(levels, CHUNK)):
                writer.add(chunk)
                result.rows += len(chunk)
                newest = max([newest, *(lv.as_of for lv in chunk)] if newest else [lv.as_of for lv in chunk])
                if complete:
                    reported.update((lv.sku, lv.warehouse) for lv in chunk)
            gone = zero_levels(before - reported, started)
            for k in range(0, len(gone), CHUNK):
                writer.add(gone[k : k + CHUNK])
            result.zeroed = len(gone)
            result.changed, result.product_ids = writer.finish()
    except ConnectorError as exc:
        db.session.rollback()
        result.error = redact(exc.message, secret_values(connection))  # the log line too
        words: Stored | str = result.error
        if isinstance(exc, UnsupportedOperation):
            # The type keeps stock but this connection's setup does not (a 1C service whose mapping
            # names no stock operation): stop the schedule instead of failing every round.
            connection.stock_paused = True
            words = sentence(N_("%(error)s; stock pulls of this connection are paused"), error=result.error)
            result.error += "; stock pulls of this connection are paused"
        record_run(
            connection_id=connection_id,
            operation="pull_stock",
            outcome=RunOutcome.FAILED,
            started_at=started,
            exchanges=_shortened(connector.take_exchanges()[-3:]),
            secrets=secret_values(connection),
            error=counted(*PULL_FAILED[result.mode], "num", num=number(result.rows), error=words),
        )
        db.session.commit()
        log.warning("stock pull from %s failed: %s", connection.name, result.error)
        return result
    finally:
        connector.close()
    # When the pull began: the stock it read is at least that fresh, and an invoice linked before
    # then is in it (hub.inventory.projection).
    connection.stock_pulled_at = started
    connection.stock_cursor = newest
    alerts.evaluate(result.product_ids if since is not None else None)
    record_run(
        connection_id=connection_id,
        operation="pull_stock",
        outcome=RunOutcome.SUCCESS,
        started_at=started,
        exchanges=_shortened(connector.take_exchanges()[-3:]),
        secrets=secret_values(connection),
        error=None,
    )
    db.session.commit()
    return result


def _shortened(exchanges: list[Exchange]) -> list[Exchange]:
    """The exchanges with long lists cut to their first items: the history shows what a page looked
    like, and redacting 5,000 rows per page for it cost a second per pull."""

    def cut(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        if isinstance(value, list) and len(value) > HISTORY_ITEMS:
            return [*value[:HISTORY_ITEMS], f"… {len(value) - HISTORY_ITEMS} more"]
        return value

    return [replace(ex, response=cut(ex.response)) for ex in exchanges]


def keeps_stock(connection_type: str) -> bool:
    """Whether the connector type can pull stock at all."""
    return registry().supports(connection_type, "pull_stock")


def pull_job_id(connection_id: int) -> str:
    """One id per connection: a pull asked for while one is queued or running joins it."""
    return f"pull-stock-{connection_id}"


def start_pull(connection: Connection, full: bool = False) -> bool:
    """Queue a pull of the connection's stock now; False when one is already queued or running.
    Conflict for a type that keeps no stock."""
    if not keeps_stock(connection.type):
        raise Conflict(gettext("%(name)s (%(type)s) does not keep stock.", name=connection.name, type=connection.type))
    queued = enqueue_once(
        get_queue(), pull_job_id(connection.id), "hub.sync.jobs.pull_stock", connection.id, full, timeout=3600
    )
    # Only a wake-up: a pull writes no outbox events, and dispatching here would make every
    # worker that runs the scheduler's pull_due_stock a second dispatcher beside the lock holder.
    wake_embedded_worker()
    return queued


def due_connections(now: datetime | None = None) -> list[int]:
    """Connections whose scheduled pull is due."""
    now = now or utcnow()
    due = []
    for connection in db.session.scalars(
        select(Connection).where(Connection.enabled.is_(True), Connection.stock_paused.is_(False))
    ):
        if not keeps_stock(connection.type):
            continue
        last = connection.stock_pulled_at
        if last is None or (now - last).total_seconds() >= connection.stock_interval_seconds:
            due.append(connection.id)
    return due
