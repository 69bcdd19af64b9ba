"""A push job's chain of batches (hub/sync/push_chain.py) against the Mini Ledger: it goes on with
its connection's due pushes batch after batch, and gives back what it will not send when the
target is struggling."""

from __future__ import annotations

from rq.registry import FinishedJobRegistry

from hub.extensions import db
from hub.models import OutboxEvent, OutboxState, SyncRun
from hub.sync import outbox
from hub.sync.queue import get_queue
from hub.sync.run import process_events
from hub.sync.worker import drain
from tests.support.outbox_deals import won_deal


def test_a_job_goes_on_with_its_connections_due_pushes_batch_after_batch(
    app,
    sales,
    admin,
    sync_ledger,
    sync_connection,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 2)
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)
    with app.app_context():
        get_queue().connection.flushall()  # the embedded Redis is shared by the tests: no old job ids
    numbers = []
    for _ in range(5):  # won one by one: a job each
        numbers.append(won_deal(sales, admin)["invoices"][0]["number"])
        with app.app_context():
            assert outbox.dispatch() == 1
    with app.app_context():
        queue = get_queue()
        job_ids = queue.job_ids
        assert len(job_ids) == 5

    drain(app)

    assert sorted(i["reference"] for i in sync_ledger.ledger.invoices.values()) == numbers
    with app.app_context():
        assert {e.state for e in db.session.query(OutboxEvent)} == {OutboxState.DONE}
        runs = db.session.query(SyncRun).order_by(SyncRun.id).all()
        assert [r.outcome.value for r in runs] == ["success"] * 5
        assert len({r.started_at for r in runs}) == 3  # batches of 2, 2 and 1
        # The first job sent all three; the other jobs were taken off the queue, not run.
        assert set(FinishedJobRegistry(queue=queue).get_job_ids()) & set(job_ids) == {job_ids[0]}
        assert queue.count == 0


def test_a_batch_the_target_fails_ends_the_chain_and_the_rest_is_given_back(
    app,
    sales,
    admin,
    sync_ledger,
    sync_connection,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 1)
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)  # the events wait, pending
    for _ in range(3):
        won_deal(sales, admin)
    sync_ledger.ledger.faults["error_rate"] = 1.0
    with app.app_context():
        first, second, third = db.session.query(OutboxEvent).order_by(OutboxEvent.id).all()

        process_events([first.id])  # as the first event's job

        db.session.expire_all()
        # The first batch failed (a retry is due later); the second, leased while it was out, went
        # back unsent and is due at once; the third was never taken.
        assert (first.state, first.attempts) == (OutboxState.PENDING, 1)
        assert first.available_at > first.created_at
        for event in (second, third):
            assert (event.state, event.attempts, event.locked_by) == (OutboxState.PENDING, 0, None)
        assert [r.event_id for r in db.session.query(SyncRun)] == [first.id]
    assert sync_ledger.ledger.invoices == {}
