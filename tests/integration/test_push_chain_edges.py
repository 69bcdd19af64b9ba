"""The push chain's edges (hub/sync/push_chain.py) against a Mini Ledger, looking ahead and with
each batch in turn (HUB_PLAIN_PATHS=look_ahead): which thread calls the target and how many events
the chain holds meanwhile, what a job says it pushed, a connection paused while a batch is out, a
job given more events than a batch holds when the target fails, a connector that cannot be opened,
and how long the chain goes on topping up."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.models import MappingState, MappingVersion, OutboxEvent, OutboxState, SyncRun
from hub.sync import outbox, push_chain
from hub.sync.queue import get_queue
from hub.sync.run import process_events
from hub.sync.worker import drain
from tests.support.outbox_deals import won_deal


@pytest.fixture(params=["look_ahead", "in_turn"])
def path(request, monkeypatch) -> str:
    """Both ways of running the chain: they must behave alike."""
    if request.param == "in_turn":
        monkeypatch.setenv("HUB_PLAIN_PATHS", "look_ahead")
    return request.param


@pytest.fixture
def waiting_pushes(app, sales, admin, monkeypatch):
    """`waiting_pushes(n)`: n deals won, their pushes pending in the outbox (no job of their own
    yet); the events, oldest first."""
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)

    def won(count: int) -> list[int]:
        for _ in range(count):
            won_deal(sales, admin)
        with app.app_context():
            return list(db.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)))

    return won


def _held() -> list[tuple[str, int]]:
    """Who holds outbox events now, and how many each (read on a connection of its own)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(OutboxEvent.locked_by, func.count())
            .where(OutboxEvent.locked_by.is_not(None))
            .group_by(OutboxEvent.locked_by)
        )
        return [(owner, count) for owner, count in rows]


def _watch_the_target(monkeypatch) -> list[dict]:
    """What the chain's connector sees each time it looks a batch up in the target: the thread it
    is called from, the batch's size, and who holds outbox events at that moment."""
    seen: list[dict] = []
    real = push_chain.open_connector

    def open_connector(conn, **options):
        connector = real(conn, **options)
        find = connector.find_invoices

        def find_invoices(keys):
            seen.append({"thread": threading.current_thread().name, "batch": len(keys), "held": _held()})
            return find(keys)

        connector.find_invoices = find_invoices
        return connector

    monkeypatch.setattr(push_chain, "open_connector", open_connector)
    return seen


def _states(event_ids: list[int]) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).order_by(OutboxEvent.id))
    return [(e.state, e.attempts, e.locked_by) for e in rows]


def test_the_chain_calls_the_target_from_its_helper_thread_and_holds_at_most_the_next_batch(
    app,
    sync_ledger,
    sync_connection,
    waiting_pushes,
    path,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 2)
    seen = _watch_the_target(monkeypatch)
    first, *_ = event_ids = waiting_pushes(5)
    with app.app_context():
        # The job was given one event; the chain tops it up and goes on with the four others.
        assert process_events([first]) == "pushed 5"
        assert _states(event_ids) == [(OutboxState.DONE, 0, None)] * 5
    assert len(sync_ledger.ledger.invoices) == 5
    assert [s["batch"] for s in seen] == [2, 2, 1]
    # One owner, the job's, holds what the chain leased: never more than the batch at the target
    # and, looking ahead, the next one; in turn, only the batch at the target.
    for s in seen:
        ((_, held),) = s["held"]
        if path == "look_ahead":
            assert s["batch"] <= held <= s["batch"] + 2
        else:
            assert held == s["batch"]
    if path == "look_ahead":
        assert all(s["thread"].startswith("hub-push") for s in seen)
    else:
        assert {s["thread"] for s in seen} == {threading.current_thread().name}


def test_a_connection_paused_while_a_batch_is_out_ends_the_chain_and_resumed_it_pushes_the_rest(
    app,
    sales,
    admin,
    sync_ledger,
    sync_connection,
    path,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 1)
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)
    with app.app_context():
        get_queue().connection.flushall()  # the embedded Redis is shared by the tests: no old job ids
    for _ in range(3):  # won one by one: a job each
        won_deal(sales, admin)
        with app.app_context():
            assert outbox.dispatch() == 1
    with app.app_context():
        _, second, third = get_queue().job_ids
        event_ids = list(db.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)))
    find = sync_ledger.app.view_functions["find_invoices"]

    def paused_meanwhile():  # an admin pauses the connection while the target looks the batch up
        assert admin.patch(f"/api/v1/connections/{sync_connection}", json={"paused": True}).status_code == 200
        return find()

    sync_ledger.app.view_functions["find_invoices"] = paused_meanwhile
    with app.app_context():
        assert process_events([event_ids[0]]) == "pushed 1"  # as the first event's job

        # The batch out went through; the chain stopped there and holds nothing more.
        states = _states(event_ids)
        assert states[0] == (OutboxState.DONE, 0, None)
        assert [(attempts, owner) for _, attempts, owner in states[1:]] == [(0, None)] * 2
        assert {state for state, *_ in states[1:]} <= {OutboxState.PENDING, OutboxState.DISPATCHED}
        # The first job has nothing left to do and is off the queue; the others wait for theirs.
        assert set(get_queue().job_ids) == {second, third}
    assert len(sync_ledger.ledger.invoices) == 1

    sync_ledger.app.view_functions["find_invoices"] = find
    assert admin.patch(f"/api/v1/connections/{sync_connection}", json={"paused": False}).status_code == 200
    drain(app)
    assert len(sync_ledger.ledger.invoices) == 3
    with app.app_context():
        assert [state for state, *_ in _states(event_ids)] == [OutboxState.DONE] * 3


def test_a_failed_batch_gives_back_everything_else_the_job_was_given(
    app,
    sync_ledger,
    sync_connection,
    waiting_pushes,
    path,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 2)
    event_ids = waiting_pushes(6)
    sync_ledger.ledger.faults["error_rate"] = 1.0
    with app.app_context():
        # A job given five events: the first batch of two fails, the three others go back unsent.
        assert process_events(event_ids[:5]) == "pushed 2"

        states = _states(event_ids)
        assert states[:2] == [(OutboxState.PENDING, 1, None)] * 2  # retried later
        assert states[2:] == [(OutboxState.PENDING, 0, None)] * 4  # due at once; the sixth never taken
        assert sorted(db.session.scalars(select(SyncRun.event_id))) == event_ids[:2]
    assert sync_ledger.ledger.invoices == {}


def test_a_connector_that_cannot_be_opened_parks_only_the_jobs_own_events(
    app,
    sync_ledger,
    sync_connection,
    waiting_pushes,
    monkeypatch,
    caplog,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 2)
    event_ids = waiting_pushes(5)
    with app.app_context():
        # An active mapping that no longer parses (a shipped default changed under it).
        db.session.add(
            MappingVersion(
                connection_id=sync_connection,
                version=1,
                state=MappingState.ACTIVE,
                document={"no such key": True},
                author="tests",
            )
        )
        db.session.commit()
        with caplog.at_level(logging.ERROR, logger="hub.sync.push_chain"):
            # No chain: what the job was given is parked with why, the other due pushes are left.
            assert process_events(event_ids[:1]) == "pushed 1"
        assert _states(event_ids) == [(OutboxState.FAILED, 0, None)] + [(OutboxState.PENDING, 0, None)] * 4
        # A job given three: two batches, all of them parked.
        assert process_events(event_ids[1:4]) == "pushed 3"
        assert _states(event_ids) == [(OutboxState.FAILED, 0, None)] * 4 + [(OutboxState.PENDING, 0, None)]
        failed = db.session.scalars(select(OutboxEvent).where(OutboxEvent.state == OutboxState.FAILED)).all()
        assert all("cannot be used" in event.last_error for event in failed)
        runs = db.session.scalars(select(SyncRun).order_by(SyncRun.event_id)).all()
        assert sorted(sum(1 for r in runs if r.started_at == s) for s in {r.started_at for r in runs}) == [1, 1, 2]
    logged = [(r.getMessage(), r.exc_info is not None) for r in caplog.records if r.name == "hub.sync.push_chain"]
    assert logged == [("push to ledger failed before it started", True)] * 2  # once a job
    assert sync_ledger.ledger.invoices == {}


class _Clock:
    """The chain's clock: time passes only when it lingers."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_chain_tops_up_for_a_tenth_of_the_lease_lingering_before_each_batch_not_full(
    app,
    sync_ledger,
    sync_connection,
    waiting_pushes,
    path,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 1)
    monkeypatch.setitem(app.config, "HUB_JOB_LEASE_SECONDS", 100)  # the chain: 10 s
    monkeypatch.setitem(app.config, "HUB_PUSH_LINGER_SECONDS", 2.5)
    clock = _Clock()
    monkeypatch.setattr(push_chain, "time", clock)
    event_ids = waiting_pushes(7)
    with app.app_context():
        # The given event goes at once (its batch is full); each later batch waits 2.5 s for more
        # and takes one; at 10 s the chain stops, leaving the last two to their own jobs.
        assert process_events(event_ids[:1]) == "pushed 5"
        assert clock.slept == [2.5] * 4
        states = _states(event_ids)
        assert states == [(OutboxState.DONE, 0, None)] * 5 + [(OutboxState.PENDING, 0, None)] * 2
    assert len(sync_ledger.ledger.invoices) == 5
