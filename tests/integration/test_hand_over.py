"""A won deal's pushes reach the queue after its commit: one push job per connection carries the
pushes of every deal won while it waits, a push written after that job started wakes the next
one, and when Redis cannot take them they wait for the dispatcher as pending events."""

from __future__ import annotations

from rq.job import Job

from hub.extensions import db
from hub.inventory.pull import start_pull
from hub.models import Connection, OutboxEvent, OutboxState
from hub.sync import outbox
from hub.sync.queue import RedisError, get_queue
from hub.sync.worker import drain
from tests.support.outbox_deals import won_deal


def queued(app) -> list[Job]:
    with app.app_context():
        queue = get_queue()
        return [queue.fetch_job(job_id) for job_id in queue.job_ids]


def states(app) -> list[OutboxState]:
    with app.app_context():
        return [e.state for e in db.session.query(OutboxEvent).order_by(OutboxEvent.id)]


def won_while_redis_refuses(app, sales, admin, monkeypatch) -> dict:
    """A first deal won and pushed (the customer and product exist), then a second won while Redis
    refuses the hand-over: its answer."""
    won_deal(sales, admin)
    drain(app)
    customer = sales.get("/api/v1/customers").json["items"][0]["id"]
    lines = [{"sku": "W-1", "quantity": 1}]
    deal = sales.post("/api/v1/deals", json={"title": "More", "customer_id": customer, "lines": lines}).json

    def down(*args, **kwargs):
        raise RedisError("connection refused")

    with app.app_context():
        monkeypatch.setattr(type(get_queue().connection), "pipeline", down)
    won = sales.post(f"/api/v1/deals/{deal['id']}/won").json
    monkeypatch.undo()
    return won


def test_deals_won_while_a_push_job_waits_ride_on_it(app, sales, admin, ledger, connection):
    numbers = [won_deal(sales, admin)["invoices"][0]["number"] for _ in range(5)]

    (job,) = queued(app)
    assert (job.func_name, job.args) == (outbox.PUSH_JOB, (connection,))
    assert states(app) == [OutboxState.DISPATCHED] * 5
    drain(app)
    assert sorted(i["reference"] for i in ledger.ledger.invoices.values()) == numbers
    assert states(app) == [OutboxState.DONE] * 5
    assert queued(app) == []


def test_a_push_written_after_the_job_started_wakes_the_next_job(app, sales, admin, ledger, connection):
    won_deal(sales, admin)
    with app.app_context():
        outbox.push_job_started(connection)  # the waiting job has begun: its flag is gone
    won_deal(sales, admin)

    assert [job.args for job in queued(app)] == [(connection,), (connection,)]
    drain(app)
    assert len(ledger.ledger.invoices) == 2
    assert states(app) == [OutboxState.DONE] * 2


def test_when_redis_cannot_take_them_the_pushes_wait_for_the_dispatcher(
    app,
    sales,
    admin,
    ledger,
    connection,
    monkeypatch,
):
    won = won_while_redis_refuses(app, sales, admin, monkeypatch)

    assert won["status"] == "won"
    assert states(app) == [OutboxState.DONE, OutboxState.PENDING]
    assert queued(app) == []
    drain(app)  # the dispatcher's sweep
    assert [i["reference"] for i in ledger.ledger.invoices.values()][1:] == [won["invoices"][0]["number"]]


def test_a_lost_deals_cancels_get_a_job_of_their_own(app, sales, admin, ledger, connection):
    won = won_deal(sales, admin)
    drain(app)
    sales.post(f"/api/v1/deals/{won['id']}/lost", json={"reason": "budget cut"})

    (job,) = queued(app)
    assert job.func_name == outbox.RUN_EVENTS
    drain(app)
    (invoice,) = ledger.ledger.invoices.values()
    assert invoice["status"] == "cancelled"


def test_a_stock_pull_started_by_a_worker_dispatches_no_outbox_events(
    app, sales, admin, ledger, connection, monkeypatch
):
    """Only the scheduler holding the lock dispatches: a worker running the scheduler's
    pull_due_stock (which starts pulls) leaves pending events where they are."""
    won_while_redis_refuses(app, sales, admin, monkeypatch)
    assert states(app) == [OutboxState.DONE, OutboxState.PENDING]

    with app.app_context():
        start_pull(db.session.get(Connection, connection))
    assert states(app) == [OutboxState.DONE, OutboxState.PENDING]
    assert [job.func_name for job in queued(app)] == ["hub.sync.jobs.pull_stock"]
