"""The outbox: events written in the same transaction as the change that caused them, moved to
the queue by `dispatch`, owned by one worker at a time through a lease.

An event is due when it is pending and its `available_at` has come (retries wait there), or when
it was dispatched but its job never finished: the lease expired (the worker died) or no worker
took it for a while (Redis lost it). Dispatching a due event twice is harmless: the job id is
made of the events and attempts it carries, and a job leases its events before it touches anything.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from rq import Queue
from sqlalchemy import and_, func, or_, select, update

from hub.extensions import db
from hub.models import Connection, OutboxEvent, OutboxState
from hub.models.base import utcnow
from hub.sync.queue import FAILED_JOBS_KEPT, RedisError, enqueue_once, get_queue, wake_embedded_worker

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
REDISPATCH_AFTER = timedelta(minutes=2)
LIVE = (OutboxState.PENDING, OutboxState.DISPATCHED)


def _free_connection(now: datetime):
    return and_(
        Connection.enabled.is_(True),
        Connection.paused.is_(False),
        or_(Connection.breaker_open_until.is_(None), Connection.breaker_open_until <= now),
    )


def _due(now: datetime):
    return or_(
        and_(OutboxEvent.state == OutboxState.PENDING, OutboxEvent.available_at <= now),
        and_(
            OutboxEvent.state == OutboxState.DISPATCHED,
            or_(
                OutboxEvent.locked_until < now,
                and_(OutboxEvent.locked_until.is_(None), OutboxEvent.dispatched_at < now - REDISPATCH_AFTER),
            ),
        ),
    )


# Jobs are enqueued by the dotted name of their function (hub.sync.jobs), never by importing it.
RUN_EVENTS = "hub.sync.jobs.run_events"


def dispatch(limit: int = 1000) -> int:
    """Hand due events to the queue; returns how many. If Redis is down they stay pending.

    Due events of one connection and operation go in chunks of HUB_BATCH_SIZE, one job per chunk
    (a job per event made most jobs find their event already pushed by another's batch). Each
    chunk is first claimed with a compare-and-set on its rows, then enqueued: a worker that
    finished an event in between, or another dispatcher, is never overwritten by a stale write.
    """
    now = utcnow()
    rows = db.session.execute(
        select(
            OutboxEvent.id,
            OutboxEvent.attempts,
            OutboxEvent.locked_until,
            OutboxEvent.connection_id,
            OutboxEvent.operation,
        )
        .join(Connection, OutboxEvent.connection_id == Connection.id)
        .where(_due(now), _free_connection(now))
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    size = max(1, int(current_app.config.get("HUB_BATCH_SIZE", 50)))
    groups: dict[tuple[int, str], list] = {}
    for row in rows:
        groups.setdefault((row.connection_id, row.operation), []).append(row)
    claimed: list[tuple[list[int], str]] = []
    for group in groups.values():
        for k in range(0, len(group), size):
            chunk = group[k : k + size]
            jid = _job_id(chunk, now)
            ids = [row.id for row in chunk]
            won = db.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids), _due(now))
                .values(state=OutboxState.DISPATCHED, dispatched_at=now, job_id=jid, locked_until=None, locked_by=None)
                .returning(OutboxEvent.id)
                .execution_options(synchronize_session=False)
            )
            taken = sorted(won.scalars().all())
            if taken:
                claimed.append((taken, jid))
    db.session.commit()
    if not claimed:
        return 0
    queue = get_queue()
    timeout = int(current_app.config["HUB_JOB_LEASE_SECONDS"] * 0.8)
    sent = 0
    for n, (event_ids, jid) in enumerate(claimed):
        try:
            enqueue_once(queue, jid, RUN_EVENTS, event_ids, timeout=timeout)
        except RedisError as exc:
            waiting = sum(len(ids) for ids, _ in claimed[n:])
            log.warning("queue unavailable, %d outbox event(s) wait: %s", waiting, exc)
            _unclaim(claimed[n:])
            return sent
        sent += len(event_ids)
    return sent


def _job_id(chunk: Sequence, now: datetime) -> str:
    """The same events at the same attempts make the same job id, so a job still queued for them
    is not queued twice; a different chunk makes a different one."""
    first = chunk[0]
    jid = f"outbox-{first.id}-{first.attempts}"
    if len(chunk) > 1:
        digest = hashlib.sha1(",".join(f"{r.id}:{r.attempts}" for r in chunk).encode()).hexdigest()[:10]
        jid = f"{jid}-{len(chunk)}-{digest}"
    if any(row.locked_until is not None for row in chunk):
        # A worker died holding the lease; RQ may still list that job as started.
        jid = f"{jid}-r{int(now.timestamp())}"
    return jid


def _unclaim(claimed: Sequence[tuple[list[int], str]]) -> None:
    """Put back events that could not be enqueued, unless a worker has taken them meanwhile."""
    for event_ids, jid in claimed:
        db.session.execute(
            update(OutboxEvent)
            .where(
                OutboxEvent.id.in_(event_ids),
                OutboxEvent.state == OutboxState.DISPATCHED,
                OutboxEvent.job_id == jid,
                OutboxEvent.locked_by.is_(None),
            )
            .values(state=OutboxState.PENDING)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


@dataclass(frozen=True)
class Written:
    """An outbox event a transaction wrote as dispatched, for `hand_over` after its commit. Just
    written, it was never tried nor leased: that is what `_job_id` reads of it."""

    id: int
    connection_id: int
    operation: str
    attempts = 0
    locked_until = None


PUSH_JOB = "hub.sync.jobs.push_due"
# Set while a connection's push job waits in the queue; the job deletes it when it starts, before
# it looks for due pushes. So a push committed before the deletion is found by that job, and one
# committed after it finds no flag and enqueues the next job: one job at a time carries all of a
# connection's pushes, however many deals are won at once. It expires should the job be lost.
PUSH_FLAG_SECONDS = 60


def push_flag(connection_id: int) -> str:
    return f"hub:push-waiting:{connection_id}"


def hand_over(events: Sequence[Written]) -> None:
    """Hand events that their transaction wrote as dispatched (a won deal's pushes, a lost deal's
    cancels) to the queue, after that commit. Pushes wake their connection's push job, enqueued
    unless one already waits (one Redis round trip, a second when it is enqueued); other events get
    a job of their own. If Redis cannot take them they go back to pending, for the dispatcher's next
    sweep; should this process die first, the sweep takes them once REDISPATCH_AFTER has passed."""
    if not events:
        return
    queue = get_queue()
    connections = sorted({e.connection_id for e in events if e.operation == "push_invoice"})
    others = [e for e in events if e.operation != "push_invoice"]
    try:
        with queue.connection.pipeline(transaction=False) as pipe:
            for connection_id in connections:
                pipe.set(push_flag(connection_id), 1, nx=True, ex=PUSH_FLAG_SECONDS)
            flagged = pipe.execute() if connections else []
        jobs = [
            _job(PUSH_JOB, connection_id, job_id=f"push-due-{connection_id}-{uuid.uuid4().hex[:12]}")
            for connection_id, waiting_now in zip(connections, flagged, strict=True)
            if waiting_now
        ]
        if others:
            jobs.append(_job(RUN_EVENTS, [e.id for e in others], job_id=_job_id(others, utcnow())))
        if jobs:
            queue.enqueue_many(jobs)  # one pipeline
    except RedisError as exc:
        log.warning("queue unavailable, %d outbox event(s) wait for the dispatcher: %s", len(events), exc)
        leave_to_dispatcher(events)
        return
    wake_embedded_worker()


def leave_to_dispatcher(events: Sequence[Written]) -> None:
    """Events written as dispatched go back to pending, for the dispatcher's next sweep, unless a
    worker has leased them meanwhile. Committed."""
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([e.id for e in events]), OutboxEvent.state == OutboxState.DISPATCHED)
        .where(OutboxEvent.locked_by.is_(None))
        .values(state=OutboxState.PENDING)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _job(func: str, *args: object, job_id: str):
    timeout = int(current_app.config["HUB_JOB_LEASE_SECONDS"] * 0.8)
    return Queue.prepare_data(func, args, timeout=timeout, job_id=job_id, result_ttl=60, failure_ttl=FAILED_JOBS_KEPT)


def push_job_started(connection_id: int) -> None:
    """The push job of a connection begins: from now on a new push enqueues the next one."""
    get_queue().connection.delete(push_flag(connection_id))


def kick() -> None:
    """After a commit that wrote outbox events: hand them over now rather than at the next sweep.
    Best effort — if the queue is down the scheduler's sweep sends them later."""
    try:
        dispatch()
    except Exception:
        db.session.rollback()
        log.exception("immediate dispatch failed; the next sweep retries")
    wake_embedded_worker()


def lease(event_ids: Sequence[int], owner: str) -> list[OutboxEvent]:
    """Take the events that are live and not owned by a running worker; commit so others see it."""
    if not event_ids:
        return []
    now = utcnow()
    until = now + timedelta(seconds=current_app.config["HUB_JOB_LEASE_SECONDS"])
    db.session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id.in_(list(event_ids)),
            OutboxEvent.state.in_(LIVE),
            or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until < now),
        )
        .values(locked_until=until, locked_by=owner, state=OutboxState.DISPATCHED)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.id.in_(list(event_ids)), OutboxEvent.locked_by == owner)
            .order_by(OutboxEvent.id)
        )
    )


def lease_more(connection_id: int, operation: str, owner: str, limit: int) -> list[OutboxEvent]:
    """Other due events of the same connection, so that one call to the target carries them all."""
    if limit <= 0:
        return []
    now = utcnow()
    candidates = db.session.scalars(
        select(OutboxEvent.id)
        .where(
            OutboxEvent.connection_id == connection_id,
            OutboxEvent.operation == operation,
            OutboxEvent.state.in_(LIVE),
            OutboxEvent.available_at <= now,
            or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until < now),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    return lease(candidates, owner) if candidates else []


def drop_jobs_done_by_others(job_ids: set[str]) -> int:
    """Take out of the queue the jobs, among `job_ids`, still waiting for events that are all done
    (a batch topped up with their events pushed them). Returns how many. Such a job would only
    lease nothing and end, but at ~10 ms of worker time each, won deals arriving one by one made
    most of a busy connection's jobs these. A job a worker took already, or whose events are not
    all done, is left to run; Redis being unavailable leaves them all."""
    from rq.job import Job, JobStatus

    queue = get_queue()
    try:
        waiting = [
            job
            for job in Job.fetch_many(sorted(job_ids), connection=queue.connection)
            if job is not None and job.get_status(refresh=False) == JobStatus.QUEUED and job.func_name == RUN_EVENTS
        ]
        if not waiting:
            return 0
        event_ids = {i for job in waiting for i in job.args[0]}
        done = set(
            db.session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.id.in_(event_ids), OutboxEvent.state == OutboxState.DONE)
            )
        )
        candidates = [job for job in waiting if set(job.args[0]) <= done]
        if not candidates:
            return 0
        # In two pipelines rather than a dozen round trips per job (a chain of batches can make
        # hundreds of them). LREM is atomic: 0 when a worker has taken the job meanwhile, which then
        # runs; only the jobs it took out are deleted.
        with queue.connection.pipeline(transaction=False) as pipe:
            for job in candidates:
                queue.remove(job, pipeline=pipe)
            removed = pipe.execute()
        dropped = [job for job, count in zip(candidates, removed, strict=True) if count]
        with queue.connection.pipeline(transaction=False) as pipe:
            for job in dropped:
                job.delete(pipeline=pipe, remove_from_queue=False)
            pipe.execute()
        return len(dropped)
    except RedisError as exc:
        log.warning("could not drop the jobs of events already pushed: %s", exc)
        return 0


def failed_counts(connection_ids: Collection[int] | None = None) -> dict[int, int]:
    """How many events wait in the failed queue per connection (of the given ones, else of all);
    a connection with none is not in the answer."""
    query = select(OutboxEvent.connection_id, func.count()).where(OutboxEvent.state == OutboxState.FAILED)
    if connection_ids is not None:
        query = query.where(OutboxEvent.connection_id.in_(connection_ids))
    return dict(db.session.execute(query.group_by(OutboxEvent.connection_id)).all())


def new_owner() -> str:
    return uuid.uuid4().hex


def release(event: OutboxEvent, state: OutboxState, *, available_at: datetime | None = None) -> None:
    for name, value in released(state, available_at=available_at).items():
        setattr(event, name, value)


def released(
    state: OutboxState, *, available_at: datetime | None = None, now: datetime | None = None
) -> dict[str, object]:
    """The columns of an event let go in `state` (finished at `now` if that ends it)."""
    values: dict[str, object] = {"state": state, "locked_until": None, "locked_by": None}
    if available_at is not None:
        values["available_at"] = available_at
    if state in (OutboxState.DONE, OutboxState.FAILED, OutboxState.DISCARDED):
        values["finished_at"] = now or utcnow()
    return values


def requeue(event: OutboxEvent) -> None:
    """A parked event back to pending with a fresh set of attempts; the job still looks the invoice
    up before it creates anything."""
    event.state = OutboxState.PENDING
    event.attempts = 0
    event.available_at = utcnow()
    event.finished_at = None
    event.locked_until = None
    event.locked_by = None
    event.parked_for = None
