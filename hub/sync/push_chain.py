"""A push job's batches, one after the other, with the hub's own work in the target's shadow.

A batch is prepared (its events leased and loaded), sent (the target's calls), then recorded (links,
states, run history). Sent one by one, the target waited for the hub between batches and the hub
for the target during them. Here the sending runs in a helper thread; while the target works on
batch k, the job's thread records batch k − 1 and leases and loads batch k + 1, so on two cores the
hub's share mostly disappears behind the target's.

After the events it was given, a job goes on with its connection's other due pushes (leased as it
goes) for a tenth of HUB_JOB_LEASE_SECONDS; a batch that is not full waits HUB_PUSH_LINGER_SECONDS
for more before it goes. It stops early when there are none, when a batch fails
in a way worth retrying (the target is struggling: the retries' backoff decides), or when the
connection is paused or its breaker opens. Events it leased but did not send are released, due at
once. The helper thread touches no database; it runs in an app context of its own only because an
OAuth connector's token store reads its tokens through the app's engine.

What it keeps true: the target gets the same batches, and the hub records the same links, states
and runs, as when each batch is prepared, sent and recorded in turn (`HUB_PLAIN_PATHS=look_ahead`,
the plain path; tests/integration/test_push_chain_paths.py compares them). Measured against the
batched Tryton client in docs/performance.md ("Mechanisms and what they pay").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask, current_app

from connectors.base import Connector
from hub.extensions import db
from hub.models import Connection, OutboxEvent, OutboxState
from hub.models.base import utcnow
from hub.plain_paths import plain
from hub.sync import outbox
from hub.sync.factory import open_connector
from hub.sync.push import Batch, hold_until, prepare_batch, push_batch, record_batch, send, troubled

log = logging.getLogger(__name__)
CHAIN_SHARE_OF_LEASE = 0.1


class _Leases:
    """The events a chain holds and has not sent yet, in batches; topped up from the outbox."""

    def __init__(self, connection: Connection, events: Sequence[OutboxEvent], owner: str) -> None:
        self.connection_id = connection.id
        self.owner = owner
        self.size = max(1, int(current_app.config["HUB_BATCH_SIZE"]))
        self.until = time.monotonic() + current_app.config["HUB_JOB_LEASE_SECONDS"] * CHAIN_SHARE_OF_LEASE
        self.linger = current_app.config["HUB_PUSH_LINGER_SECONDS"]
        self.waiting = list(events)
        self.job_ids: set[str] = set()  # of the events sent: queued jobs that may now have nothing to do

    def next_batch(self) -> Batch | None:
        if len(self.waiting) < self.size and time.monotonic() < self.until:
            # Deals won one by one: a moment's wait lets the batch fill, where sending at once made
            # batches of one or two, each with the whole cost of a call and its records.
            time.sleep(self.linger)
            more = self.size - len(self.waiting)
            self.waiting += outbox.lease_more(self.connection_id, "push_invoice", self.owner, more)
        take, self.waiting = self.waiting[: self.size], self.waiting[self.size :]
        if not take:
            return None
        batch = prepare_batch(take)
        self.job_ids |= batch.job_ids
        return batch

    def release(self, events: Sequence[OutboxEvent]) -> None:
        """Give back events this chain will not send (due at once: their jobs or the dispatcher)."""
        for event in events:
            outbox.release(event, OutboxState.PENDING)
        db.session.commit()


def push_chain(connection: Connection, events: Sequence[OutboxEvent], owner: str) -> int:
    """Push the leased `events` and then the connection's other due pushes; returns how many were
    sent. Jobs still queued for events it pushed are taken off the queue."""
    leases = _Leases(connection, events, owner)
    try:
        connector = open_connector(connection, maps_documents=True)
    except Exception:
        # Config, secrets or mapping unusable: each batch of these events records it, as before.
        log.exception("push to %s failed before it started", connection.name)
        leases.until = 0  # no chain and no topping up: only the events the job was given
        sent = 0
        while (batch := leases.next_batch()) is not None:
            push_batch(connection, batch.events)
            sent += len(batch.events)
        return sent
    try:
        if plain("look_ahead"):
            sent = _run_in_turn(connection, connector, leases)
        else:
            sent = _run(current_app._get_current_object(), connection, connector, leases)
    finally:
        connector.close()
    # All of them once more: a job whose events were split over two batches was not done before.
    outbox.drop_jobs_done_by_others(leases.job_ids)
    return sent


def _run(app: Flask, connection: Connection, connector: Connector, leases: _Leases) -> int:
    sent = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-push") as pool:
        current = leases.next_batch()
        if current is None:
            return 0
        future = _submit(pool, app, connector, current)
        previous: Batch | None = None
        while current is not None:
            # The target works on `current`; meanwhile this thread records and prepares.
            if previous is not None:
                record_batch(connection, previous)
                sent += len(previous.events)
                # While the target works rather than all at the end: jobs whose events are all done.
                outbox.drop_jobs_done_by_others(previous.job_ids)
            upcoming = leases.next_batch()
            future.result()
            previous, current = current, None
            if upcoming is None:
                continue
            if troubled(previous) or hold_until(connection) is not None:
                leases.release([*upcoming.events, *leases.waiting])
                leases.waiting = []
                continue
            current = upcoming
            future = _submit(pool, app, connector, current)
        if previous is not None:
            record_batch(connection, previous)
            sent += len(previous.events)
    if leases.waiting:
        leases.release(leases.waiting)
    return sent


def _run_in_turn(connection: Connection, connector: Connector, leases: _Leases) -> int:
    """Each batch prepared, sent and recorded before the next: no thread, no look-ahead."""
    sent = 0
    while (batch := leases.next_batch()) is not None:
        batch.started = utcnow()
        send(connector, batch)
        record_batch(connection, batch)
        sent += len(batch.events)
        outbox.drop_jobs_done_by_others(batch.job_ids)
        if troubled(batch) or hold_until(connection) is not None:
            break
    if leases.waiting:
        leases.release(leases.waiting)
    return sent


def _submit(pool: ThreadPoolExecutor, app: Flask, connector: Connector, batch: Batch) -> Future:
    batch.started = utcnow()

    def run() -> None:
        with app.app_context():
            send(connector, batch)

    return pool.submit(run)
