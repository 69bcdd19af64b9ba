"""The push chain's look-ahead (hub/sync/push_chain.py: the next batch leased and loaded, and the
last one recorded, while the target works on the current one) against its plain path, every batch
prepared, sent and recorded in turn (HUB_PLAIN_PATHS=look_ahead): the same deals won give the same
invoices in the target, the same batches, states and runs."""

from __future__ import annotations

import pytest

from hub.extensions import db
from hub.models import HubInvoice, OutboxEvent, SyncRun
from hub.sync import outbox
from hub.sync.queue import get_queue
from hub.sync.worker import drain
from tests.support.outbox_deals import won_deal


def _push_five(app, sales, admin, ledger) -> dict:
    """Five deals won one by one (a job each), pushed in batches of 2; what the target and the hub
    hold afterwards, in terms that do not depend on ids or times."""
    with app.app_context():
        get_queue().connection.flushall()  # the embedded Redis is shared by the tests: no old job ids
    numbers = []
    for _ in range(5):
        numbers.append(won_deal(sales, admin)["invoices"][0]["number"])
        with app.app_context():
            assert outbox.dispatch() == 1
    drain(app)
    with app.app_context():
        runs = db.session.query(SyncRun).order_by(SyncRun.id).all()
        invoices = db.session.query(HubInvoice).order_by(HubInvoice.id).all()
        return {
            "in the target": sorted(i["reference"] for i in ledger.ledger.invoices.values()) == sorted(numbers),
            "events": sorted(e.state.value for e in db.session.query(OutboxEvent)),
            "runs": [r.outcome.value for r in runs],
            "batches": sorted(sum(1 for r in runs if r.started_at == s) for s in {r.started_at for r in runs}),
            "invoices": [(i.state.value, [link.state for link in i.links]) for i in invoices],
            "queued": get_queue().count,
        }


@pytest.fixture
def batches_of_two(app, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_BATCH_SIZE", 2)
    monkeypatch.setattr(outbox, "hand_over", outbox.leave_to_dispatcher)


def test_the_chain_looking_ahead_and_in_turn_push_alike(
    app,
    sales,
    admin,
    sync_ledger,
    sync_connection,
    batches_of_two,
    monkeypatch,
):
    fast = _push_five(app, sales, admin, sync_ledger)
    sync_ledger.ledger.invoices.clear()
    with app.app_context():
        db.session.query(SyncRun).delete()
        db.session.commit()
    monkeypatch.setenv("HUB_PLAIN_PATHS", "look_ahead")

    plain = _push_five(app, sales, admin, sync_ledger)

    assert fast["in the target"]
    assert fast["batches"] == [1, 2, 2]
    assert fast["runs"] == ["success"] * 5
    assert {k: v for k, v in plain.items() if k not in ("events", "invoices")} == {
        k: v for k, v in fast.items() if k not in ("events", "invoices")
    }
    assert plain["events"] == ["done"] * 10
    assert fast["events"] == ["done"] * 5
    assert plain["invoices"][:5] == plain["invoices"][5:] == fast["invoices"]
