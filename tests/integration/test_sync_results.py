"""What a target did with an invoice is written one way (hub.sync.results), whichever the outcome
(pushed, failed, cancelled or credited, status changed) and however many are recorded at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from connectors.base import Exchange
from connectors.documents import ExternalRef, ExternalState
from connectors.errors import PermanentError, RetryableError
from hub.extensions import db
from hub.models import AuditEntry, Connection, ExternalLink, HubInvoice, OutboxEvent, SyncRun
from hub.sync import outbox
from hub.sync.push import prepare_batch, record_batch
from hub.sync.status import pull_invoice_status
from hub.sync.worker import drain
from tests.support.outbox_deals import won_deal


def _mark(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))


def _invoice_entries(app, since: int) -> list[dict[str, Any]]:
    """The audit entries of invoices written after `since`, as the API would show their fields."""
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.id > since, AuditEntry.entity == "invoices").order_by(AuditEntry.id)
        ).all()
        return [
            {c.key: getattr(row, c.key) for c in AuditEntry.__table__.columns if c.key not in ("id", "at")}
            for row in rows
        ]


def _shape(entry: dict[str, Any]) -> tuple:
    """Who, what, and before/after of each field, without the values."""
    return (
        tuple(sorted(entry)),
        type(entry["actor"]).__name__,
        entry["entity"],
        entry["action"],
        type(entry["entity_id"]).__name__,
        tuple(sorted({tuple(sorted(change)) for change in entry["changes"].values()})),
    )


def _pay(server, amount: str) -> None:
    (external,) = server.ledger.invoices.values()
    server.app.test_client().post(
        f"/api/invoices/{external['id']}/payments", json={"amount": amount}, headers={"X-Api-Key": "k-123456"}
    )


def test_a_push_a_failure_a_status_change_and_a_cancel_audit_the_invoice_alike(
    app, sales, admin, sync_ledger, sync_connection
):
    paid_deal = won_deal(sales, admin)
    mark = _mark(app)
    drain(app)
    pushed = _invoice_entries(app, mark)

    _pay(sync_ledger, "10.00")
    mark = _mark(app)
    with app.app_context():
        assert pull_invoice_status() == 1
    status = _invoice_entries(app, mark)

    original = sync_ledger.app.view_functions["create_invoice"]
    sync_ledger.app.view_functions["create_invoice"] = lambda: ({"error": "customer is blocked", "message": "no"}, 422)
    refused_deal = won_deal(sales, admin)
    mark = _mark(app)
    drain(app)
    sync_ledger.app.view_functions["create_invoice"] = original
    failed = _invoice_entries(app, mark)

    mark = _mark(app)
    assert sales.post(f"/api/v1/deals/{paid_deal['id']}/lost", json={"reason": "returned"}).status_code == 200
    lost = _invoice_entries(app, mark)
    mark = _mark(app)
    drain(app)  # credited in the ledger (it was paid): the hub invoice is cancelled already
    cancel_job = _invoice_entries(app, mark)

    paid_id, refused_id = paid_deal["invoices"][0]["id"], refused_deal["invoices"][0]["id"]
    assert [(e["entity_id"], e["changes"]) for e in pushed] == [
        (str(paid_id), {"state": {"old": "pending", "new": "sent"}})
    ]
    ((status_id, changes),) = [(e["entity_id"], e["changes"]) for e in status]
    assert status_id == str(paid_id)
    assert changes["state"] == {"old": "sent", "new": "partially_paid"}
    assert changes["amount_paid"]["new"] == "10.00"
    assert changes["amount_paid"]["old"] in ("0", "0.0000")
    assert [(e["entity_id"], e["changes"]) for e in failed] == [
        (str(refused_id), {"state": {"old": "pending", "new": "failed"}})
    ]
    assert [(e["entity_id"], e["changes"]) for e in lost] == [
        (str(paid_id), {"state": {"old": "partially_paid", "new": "cancelled"}})
    ]
    assert cancel_job == []
    with app.app_context():
        link = db.session.scalar(select(ExternalLink).where(ExternalLink.invoice_id == paid_id))
        assert link.state == "partially_paid"
        assert link.credit_note is not None

    jobs = [*pushed, *status, *failed]
    assert {_shape(e) for e in [*jobs, *lost]} == {_shape(lost[0])}
    assert {(e["actor_id"], e["actor"]) for e in jobs} == {(None, "system")}


def _ref(tag: str) -> ExternalRef:
    return ExternalRef("mini_ledger", f"{tag}-1", f"N{tag}-1", None, ExternalState.POSTED)


def _record(app, connection_id: int, invoice_ids: list[int], results: list[object]) -> None:
    with app.app_context():
        events = db.session.scalars(select(OutboxEvent).where(OutboxEvent.invoice_id.in_(invoice_ids))).all()
        leased = outbox.lease([e.id for e in events], outbox.new_owner())
        batch = prepare_batch(leased)
        number = {i.id: i.number for i in batch.invoices}
        by_invoice = dict(zip(invoice_ids, results, strict=True))
        batch.results = {number[i]: by_invoice[i] for i in batch.invoice_ids}
        batch.exchanges = [Exchange("POST", "http://t/api/invoices", {"n": len(invoice_ids)}, 200, None)]
        record_batch(db.session.get(Connection, connection_id), batch)


def _written(app, invoice_ids: list[int]) -> list[tuple]:
    """Every row the recording wrote about each invoice, in the invoices' order, without ids and times."""
    with app.app_context():
        out = []
        for position, invoice_id in enumerate(invoice_ids):
            event = db.session.scalar(select(OutboxEvent).where(OutboxEvent.invoice_id == invoice_id))
            link = db.session.scalar(select(ExternalLink).where(ExternalLink.invoice_id == invoice_id))
            run = db.session.scalar(select(SyncRun).where(SyncRun.object_id == invoice_id))
            audit = db.session.scalars(
                select(AuditEntry.changes).where(
                    AuditEntry.entity == "invoices",
                    AuditEntry.entity_id == str(invoice_id),
                    AuditEntry.action == "update",
                )
            ).all()
            out.append(
                (
                    position,
                    db.session.get(HubInvoice, invoice_id).state,
                    (event.state, event.attempts, event.locked_by, event.last_error, event.finished_at is None),
                    link and (link.external_id[1:], link.external_number[2:], link.state, link.amount_paid),
                    (run.operation, run.outcome, run.attempt, run.error, run.event_id == event.id),
                    audit,
                )
            )
        return out


def test_a_batch_of_three_writes_what_three_single_pushes_write(app, sales, admin, sync_ledger, sync_connection):
    as_batch = [won_deal(sales, admin)["invoices"][0]["id"] for _ in range(3)]
    one_by_one = [won_deal(sales, admin)["invoices"][0]["id"] for _ in range(3)]
    failures = [RetryableError("the target is busy"), PermanentError("customer is blocked", field="customer")]

    _record(app, sync_connection, as_batch, [_ref("A"), *failures])
    for invoice_id, result in zip(one_by_one, [_ref("B"), *failures], strict=True):
        _record(app, sync_connection, [invoice_id], [result])

    written = _written(app, as_batch)
    assert written == _written(app, one_by_one)
    assert [w[1].value for w in written] == ["posted", "pending", "failed"]
    assert written[0][5] == [{"state": {"old": "pending", "new": "posted"}}]
    assert written[2][5] == [{"state": {"old": "pending", "new": "failed"}}]
