"""The outbox lease: one worker at a time owns an event, until it releases it or its lease runs
out; `lease_more` tops a batch up with the connection's other due events only; `dispatch` hands
over the due events of free connections and nothing else; `hand_over` and
`drop_jobs_done_by_others` leave to the dispatcher, or in the queue, what they cannot or must not
take."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue, Worker
from rq.job import JobStatus
from sqlalchemy import select, update

from hub.extensions import db
from hub.models import Connection, OutboxEvent, OutboxState
from hub.models.base import utcnow
from hub.sync import outbox
from hub.sync.queue import FAILED_JOBS_KEPT, get_queue
from tests.conftest import make_connection

CONFIG = {"base_url": "http://127.0.0.1:9", "api_key": "k-123456"}


def _events(app, connection_id: int, *rows: dict) -> list[int]:
    with app.app_context():
        events = [OutboxEvent(operation="push_invoice", connection_id=connection_id, **row) for row in rows]
        db.session.add_all(events)
        db.session.commit()
        return [e.id for e in events]


@pytest.fixture
def target(app) -> int:
    return make_connection(app, "Target", "mini_ledger", CONFIG)


def test_a_live_lease_keeps_the_event_from_a_second_worker_until_it_runs_out(app, target):
    (event,) = _events(app, target, {})
    first, second = outbox.new_owner(), outbox.new_owner()
    with app.app_context():
        before = utcnow()
        (taken,) = outbox.lease([event], first)
        lease_seconds = app.config["HUB_JOB_LEASE_SECONDS"]
        assert (taken.id, taken.locked_by, taken.state) == (event, first, OutboxState.DISPATCHED)
        assert before + timedelta(seconds=lease_seconds) <= taken.locked_until
        assert taken.locked_until <= utcnow() + timedelta(seconds=lease_seconds)

        assert outbox.lease([event], second) == []
        assert db.session.get(OutboxEvent, event).locked_by == first

        # The first worker died: once its lease has run out the event is the second one's.
        db.session.get(OutboxEvent, event).locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert [e.locked_by for e in outbox.lease([event], second)] == [second]


def test_only_live_events_are_leased(app, target):
    ids = _events(
        app,
        target,
        {"state": OutboxState.PENDING},
        {"state": OutboxState.DISPATCHED},
        {"state": OutboxState.DONE},
        {"state": OutboxState.FAILED},
        {"state": OutboxState.DISCARDED},
    )
    with app.app_context():
        assert [e.id for e in outbox.lease(ids, outbox.new_owner())] == ids[:2]
        assert outbox.lease([], outbox.new_owner()) == []


def test_lease_more_takes_only_due_unowned_events_of_the_same_connection_and_operation(app, target):
    other = make_connection(app, "Other", "mini_ledger", CONFIG)
    now = utcnow()
    due = _events(app, target, {}, {"available_at": now - timedelta(minutes=1)}, {})
    _events(app, target, {"available_at": now + timedelta(hours=1)})  # not due yet
    _events(app, target, {"locked_until": now + timedelta(hours=1), "locked_by": "someone"})  # owned
    expired = _events(app, target, {"locked_until": now - timedelta(seconds=1), "locked_by": "dead"})
    _events(app, target, {"state": OutboxState.DONE})
    cancel = _events(app, target, {})
    with app.app_context():
        db.session.get(OutboxEvent, cancel[0]).operation = "cancel_invoice"
        db.session.commit()
    _events(app, other, {})  # another connection's

    owner = outbox.new_owner()
    with app.app_context():
        assert outbox.lease_more(target, "push_invoice", owner, 0) == []
        assert [e.id for e in outbox.lease_more(target, "push_invoice", owner, 2)] == due[:2]
        rest = outbox.lease_more(target, "push_invoice", owner, 10)
        assert [e.id for e in rest] == [due[2], *expired]
        assert {e.locked_by for e in rest} == {owner}
        assert [e.id for e in outbox.lease_more(target, "cancel_invoice", owner, 10)] == cancel


def _queued_event_ids(app) -> list[list[int]]:
    with app.app_context():
        queue = get_queue()
        return [queue.fetch_job(job_id).args[0] for job_id in queue.job_ids]


def test_dispatch_hands_over_due_events_of_free_connections_only(app, target):
    now = utcnow()
    disabled, paused, tripped, healed = (
        make_connection(app, name, "mini_ledger", CONFIG) for name in ("Disabled", "Paused", "Tripped", "Healed")
    )
    with app.app_context():
        db.session.get(Connection, disabled).enabled = False
        db.session.get(Connection, paused).paused = True
        db.session.get(Connection, tripped).breaker_open_until = now + timedelta(minutes=5)
        db.session.get(Connection, healed).breaker_open_until = now - timedelta(seconds=1)
        db.session.commit()
    pending = _events(app, target, {})
    waiting = _events(app, target, {"available_at": now + timedelta(hours=1)})
    running = _events(app, target, {"state": OutboxState.DISPATCHED, "locked_until": now + timedelta(hours=1)})
    dead_worker = _events(app, target, {"state": OutboxState.DISPATCHED, "locked_until": now - timedelta(seconds=1)})
    lost_job = _events(
        app, target, {"state": OutboxState.DISPATCHED, "dispatched_at": now - outbox.REDISPATCH_AFTER * 2}
    )
    just_sent = _events(app, target, {"state": OutboxState.DISPATCHED, "dispatched_at": now})
    for connection_id in (disabled, paused, tripped):
        _events(app, connection_id, {})
    after_breaker = _events(app, healed, {})

    with app.app_context():
        assert outbox.dispatch() == 4
    assert sorted(i for ids in _queued_event_ids(app) for i in ids) == sorted(
        pending + dead_worker + lost_job + after_breaker
    )
    with app.app_context():
        states = dict(db.session.execute(select(OutboxEvent.id, OutboxEvent.state)).all())
        assert {states[i] for i in waiting} == {OutboxState.PENDING}
        assert {states[i] for i in running + just_sent} == {OutboxState.DISPATCHED}


def test_released_events_are_unowned_and_finished_ones_stamped(app, target):
    ids = _events(app, target, {}, {}, {})
    owner = outbox.new_owner()
    with app.app_context():
        done, retry, failed = outbox.lease(ids, owner)
        later = utcnow() + timedelta(minutes=3)
        outbox.release(done, OutboxState.DONE)
        outbox.release(retry, OutboxState.PENDING, available_at=later)
        db.session.commit()
        outbox.release(failed, OutboxState.FAILED)
        failed.last_error = "refused"
        db.session.commit()
        rows = {e.id: e for e in db.session.scalars(select(OutboxEvent)).all()}
        for event in rows.values():
            db.session.refresh(event)
        assert [(rows[i].locked_by, rows[i].locked_until) for i in ids] == [(None, None)] * 3
        assert rows[done.id].finished_at is not None
        assert (rows[retry.id].state, rows[retry.id].finished_at, rows[retry.id].available_at) == (
            OutboxState.PENDING,
            None,
            later,
        )
        assert (rows[failed.id].state, rows[failed.id].last_error) == (OutboxState.FAILED, "refused")
        assert rows[failed.id].finished_at is not None

        outbox.requeue(rows[failed.id])
        db.session.commit()
        event = db.session.get(OutboxEvent, failed.id)
        assert (event.state, event.attempts, event.finished_at, event.locked_by, event.parked_for) == (
            OutboxState.PENDING,
            0,
            None,
            None,
            None,
        )


def test_when_redis_fails_mid_dispatch_the_unsent_chunks_go_back_to_pending(app, target, monkeypatch, caplog):
    second = make_connection(app, "Second", "mini_ledger", CONFIG)
    sent = _events(app, target, {}, {})
    unsent = _events(app, second, {}, {}, {}, {})
    _, taken, finished, redispatched = unsent  # the first goes back to pending
    real = outbox.enqueue_once
    calls = []

    def fails_after_the_first(queue, job_id, func, event_ids, *, timeout):
        calls.append(event_ids)
        if len(calls) == 1:
            return real(queue, job_id, func, event_ids, timeout=timeout)
        # Between the claim and the failure: a worker took one event and finished another, and
        # another dispatcher claimed a third for a job of its own.
        outbox.lease([taken, finished], "a-worker")
        outbox.release(db.session.get(OutboxEvent, finished), OutboxState.DONE)
        db.session.get(OutboxEvent, redispatched).job_id = "another-dispatchers-job"
        db.session.commit()
        raise outbox.RedisError("connection refused")

    monkeypatch.setattr(outbox, "enqueue_once", fails_after_the_first)
    with app.app_context(), caplog.at_level("WARNING", logger=outbox.__name__):
        assert outbox.dispatch() == 2
        db.session.expire_all()
        events = {i: db.session.get(OutboxEvent, i) for i in sent + unsent}
        assert calls == [sent, unsent]
        assert [events[i].state for i in sent] == [OutboxState.DISPATCHED] * 2
        assert [events[i].state for i in unsent] == [
            OutboxState.PENDING,
            OutboxState.DISPATCHED,
            OutboxState.DONE,
            OutboxState.DISPATCHED,
        ]
        assert events[taken].locked_by == "a-worker"
    assert _queued_event_ids(app) == [sent]
    assert [r.getMessage() for r in caplog.records] == ["queue unavailable, 4 outbox event(s) wait: connection refused"]


def test_kick_hands_over_now_and_a_failing_dispatch_is_logged_not_raised(app, target, monkeypatch, caplog):
    (event,) = _events(app, target, {})
    with app.app_context():
        outbox.kick()
    assert _queued_event_ids(app) == [[event]]

    def broken(limit: int = 1000) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(outbox, "dispatch", broken)
    with app.app_context(), caplog.at_level("ERROR", logger=outbox.__name__):
        outbox.kick()
        assert db.session.get(OutboxEvent, event).state == OutboxState.DISPATCHED  # the session still works
    assert [r.getMessage() for r in caplog.records] == ["immediate dispatch failed; the next sweep retries"]


def test_leave_to_dispatcher_puts_back_only_events_no_worker_has_taken_or_finished(app, target):
    waiting, finished, leased = _events(
        app,
        target,
        {"state": OutboxState.DISPATCHED},
        {"state": OutboxState.DONE},
        {"state": OutboxState.DISPATCHED, "locked_by": "a-worker", "locked_until": utcnow() + timedelta(minutes=1)},
    )
    with app.app_context():
        outbox.leave_to_dispatcher([outbox.Written(i, target, "push_invoice") for i in (waiting, finished, leased)])
        states = dict(db.session.execute(select(OutboxEvent.id, OutboxEvent.state)).all())
    assert [states[i] for i in (waiting, finished, leased)] == [
        OutboxState.PENDING,
        OutboxState.DONE,
        OutboxState.DISPATCHED,
    ]


class _Row:
    def __init__(self, id: int, attempts: int = 0, locked_until=None) -> None:
        self.id, self.attempts, self.locked_until = id, attempts, locked_until


def test_job_ids_name_the_events_and_attempts_they_carry():
    now = utcnow()
    assert outbox._job_id([_Row(7, 2)], now) == "outbox-7-2"
    pair = outbox._job_id([_Row(7, 2), _Row(8, 0)], now)
    assert pair.startswith("outbox-7-2-2-")
    assert len(pair.rsplit("-", 1)[1]) == 10
    # The same events at the same attempts: the same job, queued once. Any other chunk: another job.
    assert outbox._job_id([_Row(7, 2), _Row(8, 0)], now) == pair
    assert outbox._job_id([_Row(7, 2), _Row(9, 0)], now) != pair
    assert outbox._job_id([_Row(7, 2), _Row(8, 1)], now) != pair
    assert outbox._job_id([_Row(7, 2), _Row(8, 0), _Row(9, 0)], now).startswith("outbox-7-2-3-")
    # A chunk that a dead worker held a lease on: RQ may still list its old job as started.
    assert outbox._job_id([_Row(7, 2, now)], now) == f"outbox-7-2-r{int(now.timestamp())}"


def test_the_push_flag_expires_should_its_job_be_lost(app, target):
    (event,) = _events(app, target, {"state": OutboxState.DISPATCHED})
    with app.app_context():
        outbox.hand_over([outbox.Written(event, target, "push_invoice")])
        ttl = get_queue().connection.ttl(outbox.push_flag(target))
    assert 0 < ttl <= outbox.PUSH_FLAG_SECONDS


def test_a_handed_over_cancel_is_not_queued_twice_by_a_later_sweep(app, target):
    (event,) = _events(
        app, target, {"state": OutboxState.DISPATCHED, "dispatched_at": utcnow() - outbox.REDISPATCH_AFTER * 2}
    )
    with app.app_context():
        db.session.get(OutboxEvent, event).operation = "cancel_invoice"
        db.session.commit()
        outbox.hand_over([outbox.Written(event, target, "cancel_invoice")])
        # Its job still waits when the sweep finds the event overdue: the sweep names it alike.
        outbox.dispatch()
    assert _queued_event_ids(app) == [[event]]


def test_handed_over_jobs_end_before_the_lease_and_keep_their_results_as_configured(app, target):
    (event,) = _events(app, target, {"state": OutboxState.DISPATCHED})
    with app.app_context():
        outbox.hand_over([outbox.Written(event, target, "push_invoice")])
        queue = get_queue()
        (job,) = [queue.fetch_job(job_id) for job_id in queue.job_ids]
        lease_seconds = app.config["HUB_JOB_LEASE_SECONDS"]
    assert job.id.startswith(f"push-due-{target}-")
    # Killed before its lease runs out, so no second worker takes its events while it still runs.
    assert job.timeout == int(lease_seconds * 0.8)
    assert (job.result_ttl, job.failure_ttl) == (60, FAILED_JOBS_KEPT)


def test_a_refused_hand_over_is_logged_with_redis_s_reason_and_left_to_the_dispatcher(app, target, monkeypatch, caplog):
    (event,) = _events(app, target, {"state": OutboxState.DISPATCHED})

    def down(*args, **kwargs):
        raise outbox.RedisError("connection refused")

    with app.app_context():
        monkeypatch.setattr(type(get_queue().connection), "pipeline", down)
        with caplog.at_level("WARNING", logger=outbox.__name__):
            outbox.hand_over([outbox.Written(event, target, "push_invoice")])
        monkeypatch.undo()
        assert db.session.get(OutboxEvent, event).state == OutboxState.PENDING
    # What the operator reads in the log: how many events wait, and why Redis refused them.
    assert [r.getMessage() for r in caplog.records] == [
        "queue unavailable, 1 outbox event(s) wait for the dispatcher: connection refused"
    ]


def test_only_queued_outbox_jobs_are_dropped_not_those_gone_taken_or_of_another_kind(app, target):
    done = _events(app, target, {"state": OutboxState.DONE}, {"state": OutboxState.DONE})
    with app.app_context():
        queue = get_queue()
        # A job a worker has taken already (it runs and finds nothing to do) ...
        taken = queue.enqueue(outbox.RUN_EVENTS, done[:1], job_id="outbox-taken")
        job, _ = Queue.dequeue_any([queue], None, connection=queue.connection)
        assert job.id == taken.id
        Worker([queue], connection=queue.connection).prepare_job_execution(job)
        # ... a connection's push job, whose argument is the connection, not events ...
        push = queue.enqueue(outbox.PUSH_JOB, target, job_id=f"push-due-{target}-x")
        # ... and a job that ran and whose record has expired since.
        gone = "outbox-gone-0"
        assert outbox.drop_jobs_done_by_others({taken.id, push.id, gone}) == 0
        assert queue.job_ids == [push.id]
        assert taken.get_status(refresh=True) == JobStatus.STARTED

        # A queued outbox job whose events are all done among them is the one dropped.
        waiting = queue.enqueue(outbox.RUN_EVENTS, done, job_id="outbox-waiting")
        assert outbox.drop_jobs_done_by_others({taken.id, push.id, gone, waiting.id}) == 1
        assert queue.job_ids == [push.id]


def test_when_redis_fails_jobs_done_by_others_stay_queued_and_the_reason_is_logged(app, target, monkeypatch, caplog):
    done = _events(app, target, {"state": OutboxState.DONE})

    def down(*args, **kwargs):
        raise outbox.RedisError("connection refused")

    with app.app_context():
        queue = get_queue()
        job = queue.enqueue(outbox.RUN_EVENTS, done, job_id="outbox-waiting")
        monkeypatch.setattr(type(queue.connection), "pipeline", down)
        with caplog.at_level("WARNING", logger=outbox.__name__):
            assert outbox.drop_jobs_done_by_others({job.id}) == 0
        monkeypatch.undo()
        assert queue.job_ids == [job.id]  # it runs, finds nothing to do, and ends
    assert [r.getMessage() for r in caplog.records] == [
        "could not drop the jobs of events already pushed: connection refused"
    ]


def _frozen(monkeypatch, now) -> None:
    """The outbox's clock stands at `now`: the instant an event, a lease or a breaker ends."""
    monkeypatch.setattr(outbox, "utcnow", lambda: now)


def test_at_the_very_instant_a_time_ends_dispatch_and_lease_agree(app, target, monkeypatch):
    now = utcnow()
    opened = make_connection(app, "Opened", "mini_ledger", CONFIG)
    with app.app_context():
        db.session.get(Connection, opened).breaker_open_until = now  # its breaker closes now
        db.session.commit()
    due_now = _events(app, target, {"available_at": now})  # its retry's time has come
    # A lease that ends now is still its worker's, to the same instant for dispatch and for lease.
    held = _events(
        app, target, {"state": OutboxState.DISPATCHED, "locked_until": now, "locked_by": "worker", "available_at": now}
    )
    # Dispatched exactly REDISPATCH_AFTER ago and not taken: not yet counted lost.
    not_yet_lost = _events(
        app,
        target,
        {"state": OutboxState.DISPATCHED, "dispatched_at": now - outbox.REDISPATCH_AFTER, "available_at": now},
    )
    after_breaker = _events(app, opened, {"available_at": now})
    _frozen(monkeypatch, now)
    with app.app_context():
        assert outbox.dispatch() == 2
        assert sorted(i for ids in _queued_event_ids(app) for i in ids) == due_now + after_breaker
        assert outbox.lease(held, outbox.new_owner()) == []
        db.session.get(OutboxEvent, due_now[0]).state = OutboxState.PENDING  # as if its job put it back
        db.session.commit()
        # Two places: the held event, older than the third, takes none of them.
        taken = outbox.lease_more(target, "push_invoice", outbox.new_owner(), 2)
        assert [e.id for e in taken] == due_now + not_yet_lost


def test_finished_events_and_running_ones_are_never_dispatched_again(app, target):
    long_ago = utcnow() - outbox.REDISPATCH_AFTER * 2
    finished = _events(
        app,
        target,
        *(
            {"state": state, "dispatched_at": long_ago, "locked_until": long_ago}
            for state in (OutboxState.DONE, OutboxState.FAILED, OutboxState.DISCARDED)
        ),
        *(
            {"state": state, "dispatched_at": long_ago}
            for state in (OutboxState.DONE, OutboxState.FAILED, OutboxState.DISCARDED)
        ),
    )
    # Dispatched long ago, and a worker holds it now: its job is not lost, it runs.
    running = _events(
        app,
        target,
        {"state": OutboxState.DISPATCHED, "dispatched_at": long_ago, "locked_until": utcnow() + timedelta(hours=1)},
    )
    with app.app_context():
        assert outbox.dispatch() == 0
        states = dict(db.session.execute(select(OutboxEvent.id, OutboxEvent.state)).all())
    assert [states[i] for i in finished + running] == [
        OutboxState.DONE,
        OutboxState.FAILED,
        OutboxState.DISCARDED,
    ] * 2 + [OutboxState.DISPATCHED]
    assert _queued_event_ids(app) == []


def test_a_sweep_s_limit_takes_the_oldest_due_events_and_counts_no_others(app, target):
    now = utcnow()
    later = _events(app, target, {"available_at": now + timedelta(hours=1)})  # ahead of the due ones
    oldest, newer = _events(
        app, target, {"available_at": now - timedelta(minutes=1)}, {"available_at": now - timedelta(hours=1)}
    )
    with app.app_context():
        assert outbox.dispatch(limit=1) == 1
        assert _queued_event_ids(app) == [[oldest]]
        assert outbox.dispatch(limit=1) == 1
        assert db.session.get(OutboxEvent, later[0]).state == OutboxState.PENDING
    assert _queued_event_ids(app) == [[oldest], [newer]]


def test_a_sweep_hands_over_a_thousand_events_the_next_sweep_the_rest(app, target):
    with app.app_context():
        db.session.execute(
            OutboxEvent.__table__.insert(),
            [{"operation": "push_invoice", "connection_id": target, "state": "pending"} for _ in range(1001)],
        )
        db.session.commit()
        assert outbox.dispatch() == 1000
        assert outbox.dispatch() == 1


def test_due_events_go_in_chunks_of_the_batch_size(app, target, monkeypatch):
    first, second, third = _events(app, target, {}, {}, {})
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 2)
    with app.app_context():
        assert outbox.dispatch() == 3
        queue = get_queue()
        jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
        assert [job.args[0] for job in jobs] == [[first, second], [third]]
        # Each job named for its own chunk: the last for the third event alone.
        assert jobs[1].id == f"outbox-{third}-0"

    fourth, fifth = _events(app, target, {}, {})
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 1)
    with app.app_context():
        assert outbox.dispatch() == 2
    assert _queued_event_ids(app)[2:] == [[fourth], [fifth]]


def test_a_redispatched_event_starts_afresh_and_is_sent_again_only_if_lost_again(app, target, monkeypatch):
    now = utcnow()
    dead_worker, lost_job = _events(
        app,
        target,
        {"state": OutboxState.DISPATCHED, "locked_until": now - timedelta(seconds=1), "locked_by": "dead"},
        {"state": OutboxState.DISPATCHED, "dispatched_at": now - outbox.REDISPATCH_AFTER * 2},
    )
    _frozen(monkeypatch, now)
    with app.app_context():
        assert outbox.dispatch() == 2
        rows = [db.session.get(OutboxEvent, i) for i in (dead_worker, lost_job)]
        assert [(e.dispatched_at, e.locked_until, e.locked_by) for e in rows] == [(now, None, None)] * 2
        assert outbox.dispatch() == 0  # their jobs wait: nothing to send again

        # No worker took them for longer than REDISPATCH_AFTER: their jobs were lost too.
        _frozen(monkeypatch, now + outbox.REDISPATCH_AFTER * 2)
        assert outbox.dispatch() == 2


def test_lease_more_fills_a_batch_s_places_with_due_events_oldest_first(app, target):
    now = utcnow()
    _events(app, target, {"state": OutboxState.DONE, "available_at": now - timedelta(hours=2)})
    first, second = _events(
        app, target, {"available_at": now - timedelta(minutes=1)}, {"available_at": now - timedelta(hours=1)}
    )
    owner = outbox.new_owner()
    with app.app_context():
        assert [e.id for e in outbox.lease_more(target, "push_invoice", owner, 1)] == [first]
        assert [e.id for e in outbox.lease_more(target, "push_invoice", owner, 1)] == [second]


def test_an_event_finished_or_claimed_between_the_sweep_s_read_and_its_claim_is_left_alone(app, target, monkeypatch):
    finished, claimed = _events(app, target, {}, {})
    real = outbox._job_id

    def meanwhile(chunk, now):
        # After the sweep read them: a worker finished one, another dispatcher claimed the other.
        db.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == finished).values(**outbox.released(OutboxState.DONE))
        )
        db.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == claimed)
            .values(state=OutboxState.DISPATCHED, dispatched_at=now, job_id="another-dispatchers-job")
        )
        return real(chunk, now)

    monkeypatch.setattr(outbox, "_job_id", meanwhile)
    with app.app_context():
        assert outbox.dispatch() == 0
        rows = db.session.execute(select(OutboxEvent.id, OutboxEvent.state, OutboxEvent.job_id)).all()
    assert sorted(tuple(r) for r in rows) == [
        (finished, OutboxState.DONE, None),
        (claimed, OutboxState.DISPATCHED, "another-dispatchers-job"),
    ]
    assert _queued_event_ids(app) == []


def test_dispatched_jobs_end_before_the_lease_and_keep_their_results_as_configured(app, target):
    _events(app, target, {})
    with app.app_context():
        assert outbox.dispatch() == 1
        queue = get_queue()
        (job,) = [queue.fetch_job(job_id) for job_id in queue.job_ids]
        lease_seconds = app.config["HUB_JOB_LEASE_SECONDS"]
    # Killed before its lease runs out, so no second worker takes its events while it still runs.
    assert job.timeout == int(lease_seconds * 0.8)
    assert (job.result_ttl, job.failure_ttl) == (60, FAILED_JOBS_KEPT)


def test_a_lease_returns_its_events_in_the_order_they_were_written(app, target):
    ids = _events(app, target, {}, {}, {})
    with app.app_context():
        # Touched last first: PostgreSQL keeps the newest row versions last, and a plain read of
        # the table then lists the events backwards.
        for event_id in reversed(ids):
            db.session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(attempts=1))
            db.session.commit()
        assert [e.id for e in outbox.lease(list(reversed(ids)), outbox.new_owner())] == ids
