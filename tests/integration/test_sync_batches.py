"""Batches end to end: due events go to the queue as one job per chunk, the chunk reaches the
Mini Ledger in one batch call, and each invoice's run history keeps the exchanges about it."""

from __future__ import annotations

from rq.registry import FinishedJobRegistry

from connectors.base import Exchange
from hub.extensions import db
from hub.models import OutboxEvent, OutboxState, SyncRun
from hub.sync import outbox
from hub.sync.history import exchanges_by_document, redact, redact_exchanges
from hub.sync.queue import get_queue
from hub.sync.worker import drain
from tests.support.outbox_deals import won_deal


def test_due_events_go_out_as_one_job_and_one_batch_call(app, sales, admin, sync_ledger, sync_connection, monkeypatch):
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)  # pending, as when Redis was down
    numbers = [won_deal(sales, admin)["invoices"][0]["number"] for _ in range(5)]
    with app.app_context():
        assert outbox.dispatch() == 5
        assert get_queue().count == 1
        job_ids = {e.job_id for e in db.session.query(OutboxEvent)}
        assert len(job_ids) == 1
        assert outbox.dispatch() == 0  # claimed: not queued twice
    drain(app)
    assert sorted(i["reference"] for i in sync_ledger.ledger.invoices.values()) == numbers
    with app.app_context():
        assert {e.state for e in db.session.query(OutboxEvent)} == {OutboxState.DONE}
        runs = db.session.query(SyncRun).all()
        assert len(runs) == 5
        assert len({r.started_at for r in runs}) == 1  # one batch
        for run in runs:
            assert [req["url"].rsplit("/", 1)[-1] for req in run.request if req["method"] == "POST"] == ["batch"]


def exchanges_about(exchanges, key, batch_keys):
    """One document's exchanges, by the rule's plain reading: the oracle for the batch-wide one."""
    return [ex for ex in exchanges if key in ex.text or not any(k in ex.text for k in batch_keys)]


def test_each_run_keeps_the_exchanges_that_name_its_document():
    exchanges = [
        Exchange("GET", "http://t/api/invoices?reference=INV-1", None, 200, {"items": []}),
        Exchange("GET", "http://t/api/invoices?reference=INV-2", None, 200, {"items": []}),
        Exchange("POST", "http://t/login", {"password": "s3cret-pw"}, 200, {"token": "abc"}),
        Exchange("POST", "http://t/api/invoices/batch", {"invoices": [{"reference": "INV-1"}]}, 201, None),
    ]
    redacted = redact_exchanges(exchanges, ["s3cret-pw"])
    about_one = exchanges_by_document(redacted, ["INV-1", "INV-2"])["INV-1"]
    assert [ex.request["url"] for ex in about_one] == [
        "http://t/api/invoices?reference=INV-1",
        "http://t/login",
        "http://t/api/invoices/batch",
    ]
    assert "s3cret-pw" not in str([ex.request for ex in redacted])
    keys = ["INV-1", "INV-2"]
    assert exchanges_by_document(redacted, keys) == {k: exchanges_about(redacted, k, keys) for k in keys}


def test_values_under_secret_looking_keys_are_redacted_wherever_they_stand():
    value = {
        "headers": {"X-API-Key": "k-1", "Accept": "json"},
        "rows": [{"client_secret": "c-1", "name": "a"}, {"Client_Secret": "c-2", "name": "b"}],
        7: {"refresh_token": "r-1"},
        "access": "token-free text",
    }
    # Twice: a key's verdict is remembered, and must be the same the second time.
    for _ in range(2):
        assert redact(value, []) == {
            "headers": {"X-API-Key": "***", "Accept": "json"},
            "rows": [{"client_secret": "***", "name": "a"}, {"Client_Secret": "***", "name": "b"}],
            7: {"refresh_token": "***"},
            "access": "token-free text",
        }


def test_jobs_whose_events_an_earlier_batch_pushed_leave_the_queue(
    app, sales, admin, sync_ledger, sync_connection, monkeypatch
):
    # Won one by one, each event gets its own job; the first job's batch takes all three.
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)
    with app.app_context():
        get_queue().connection.flushall()  # the embedded Redis is shared by the tests: no old job ids
    numbers = []
    for _ in range(3):
        numbers.append(won_deal(sales, admin)["invoices"][0]["number"])
        with app.app_context():
            assert outbox.dispatch() == 1
    with app.app_context():
        queue = get_queue()
        assert queue.count == 3
        job_ids = queue.job_ids
    drain(app)
    assert sorted(i["reference"] for i in sync_ledger.ledger.invoices.values()) == numbers
    with app.app_context():
        assert {e.state for e in db.session.query(OutboxEvent)} == {OutboxState.DONE}
        assert len({r.started_at for r in db.session.query(SyncRun)}) == 1  # one batch
        # Only the first job ran; the other two were taken off the queue, not run.
        assert set(FinishedJobRegistry(queue=queue).get_job_ids()) & set(job_ids) == {job_ids[0]}
        assert [queue.fetch_job(jid) for jid in job_ids[1:]] == [None, None]
        # Nothing of theirs is left in Redis, under any key.
        assert [k for k in queue.connection.keys("*") if any(jid in k.decode() for jid in job_ids[1:])] == []


def test_a_job_whose_events_are_not_all_done_stays_queued(app, sales, admin, sync_ledger, sync_connection, monkeypatch):
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)
    with app.app_context():
        get_queue().connection.flushall()
    won_deal(sales, admin)
    with app.app_context():
        assert outbox.dispatch() == 1
        (event,) = db.session.query(OutboxEvent).all()
        assert outbox.drop_jobs_done_by_others({event.job_id}) == 0
        assert get_queue().job_ids == [event.job_id]
    drain(app)
    assert len(sync_ledger.ledger.invoices) == 1
