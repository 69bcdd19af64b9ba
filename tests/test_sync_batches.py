"""Batches end to end: due events go to the queue as one job per chunk, the chunk reaches the
Mini Ledger in one batch call, and each invoice's run history keeps the exchanges about it."""

from __future__ import annotations

from connectors.base import Exchange
from hub.extensions import db
from hub.models import OutboxEvent, OutboxState, SyncRun
from hub.sync import outbox
from hub.sync.history import exchanges_about, redact_exchanges
from hub.sync.queue import get_queue
from hub.sync.worker import drain
from tests.test_sync_engine import connection, ledger, won_deal  # noqa: F401 (fixtures)


def test_due_events_go_out_as_one_job_and_one_batch_call(app, sales, admin, ledger, connection, monkeypatch):  # noqa: F811
    monkeypatch.setattr(outbox, "kick", lambda: None)  # leave the events pending, as when Redis was down
    numbers = [won_deal(sales, admin)["invoices"][0]["number"] for _ in range(5)]
    with app.app_context():
        assert outbox.dispatch() == 5
        assert get_queue().count == 1
        job_ids = {e.job_id for e in db.session.query(OutboxEvent)}
        assert len(job_ids) == 1
        assert outbox.dispatch() == 0  # claimed: not queued twice
    drain(app)
    assert sorted(i["reference"] for i in ledger.ledger.invoices.values()) == numbers
    with app.app_context():
        assert {e.state for e in db.session.query(OutboxEvent)} == {OutboxState.DONE}
        runs = db.session.query(SyncRun).all()
        assert len(runs) == 5
        assert len({r.started_at for r in runs}) == 1  # one batch
        for run in runs:
            assert [req["url"].rsplit("/", 1)[-1] for req in run.request if req["method"] == "POST"] == ["batch"]


def test_each_run_keeps_the_exchanges_that_name_its_document():
    exchanges = [
        Exchange("GET", "http://t/api/invoices?reference=INV-1", None, 200, {"items": []}),
        Exchange("GET", "http://t/api/invoices?reference=INV-2", None, 200, {"items": []}),
        Exchange("POST", "http://t/login", {"password": "s3cret-pw"}, 200, {"token": "abc"}),
        Exchange("POST", "http://t/api/invoices/batch", {"invoices": [{"reference": "INV-1"}]}, 201, None),
    ]
    redacted = redact_exchanges(exchanges, ["s3cret-pw"])
    about_one = exchanges_about(redacted, "INV-1", ["INV-1", "INV-2"])
    assert [ex.request["url"] for ex in about_one] == [
        "http://t/api/invoices?reference=INV-1",
        "http://t/login",
        "http://t/api/invoices/batch",
    ]
    assert "s3cret-pw" not in str([ex.request for ex in redacted])
