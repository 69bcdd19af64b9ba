"""Recording a sent batch: what each event's result writes (links, invoice states and their audit,
events, run history), straight from results made here, so every case can be set up exactly."""

from __future__ import annotations

from sqlalchemy import select

from connectors.base import Exchange
from connectors.documents import ExternalRef, ExternalState
from connectors.errors import RetryableError
from hub.extensions import db
from hub.models import (
    AuditEntry,
    Connection,
    ExternalLink,
    HubInvoice,
    InvoiceState,
    OutboxEvent,
    OutboxState,
    SyncRun,
)
from hub.sync import outbox
from hub.sync.history import redact_exchanges
from hub.sync.push import prepare_batch, record_batch
from tests.support.outbox_deals import won_deal


def _ref(external_id: str, status: ExternalState = ExternalState.DRAFT) -> ExternalRef:
    return ExternalRef(
        system="mini_ledger", external_id=external_id, external_number=f"N-{external_id}", url=None, status=status
    )


def test_a_batch_records_each_outcome_once_and_audits_the_invoices_it_moves(
    app, sales, admin, sync_ledger, sync_connection
):
    won = [won_deal(sales, admin)["invoices"][0] for _ in range(4)]
    sent, cancelled, relinked, refused = (w["id"] for w in won)
    with app.app_context():
        # Meanwhile: finance cancelled one invoice, and another has a link from an earlier push.
        db.session.get(HubInvoice, cancelled).state = InvoiceState.CANCELLED
        db.session.add(
            ExternalLink(connection_id=sync_connection, invoice_id=relinked, external_id="OLD", state="draft")
        )
        first = db.session.scalar(select(OutboxEvent).where(OutboxEvent.invoice_id == sent))
        # Two events for one invoice (no flow makes them today; nothing in the schema forbids it).
        db.session.add(OutboxEvent(operation="push_invoice", connection_id=sync_connection, invoice_id=sent))
        db.session.commit()
        audited_before = db.session.scalar(select(db.func.max(AuditEntry.id)))
        events = outbox.lease([e.id for e in db.session.scalars(select(OutboxEvent))], outbox.new_owner())
        batch = prepare_batch(events)
        assert len(batch.events) == 5
        keys = {w["id"]: w["number"] for w in won}
        batch.results = {
            keys[sent]: _ref("1"),
            keys[cancelled]: _ref("2"),
            keys[relinked]: _ref("3", ExternalState.POSTED),
            keys[refused]: RetryableError("the target is busy"),
        }
        batch.exchanges = [Exchange("POST", "http://t/api/invoices/batch", {"n": 4}, 503, None)]
        db.session.commit()  # as in a chain: the batch's objects are expired when it is recorded
        record_batch(db.session.get(Connection, sync_connection), batch)

        links = db.session.execute(
            select(ExternalLink.invoice_id, ExternalLink.external_id, ExternalLink.external_number, ExternalLink.state)
        ).all()
        assert sorted(links) == [
            (sent, "1", "N-1", "draft"),
            (cancelled, "2", "N-2", "draft"),
            (relinked, "3", "N-3", "posted"),
        ]
        states = dict(db.session.execute(select(HubInvoice.id, HubInvoice.state)).all())
        assert states == {
            sent: InvoiceState.SENT,
            cancelled: InvoiceState.CANCELLED,  # further than the push: kept
            relinked: InvoiceState.POSTED,
            refused: InvoiceState.PENDING,
        }
        audited = db.session.execute(
            select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.changes)
            .where(AuditEntry.entity == "invoices", AuditEntry.id > audited_before)
            .order_by(AuditEntry.entity_id)
        ).all()
        assert sorted(audited) == sorted(
            [
                (str(sent), "update", {"state": {"old": "pending", "new": "sent"}}),
                (str(relinked), "update", {"state": {"old": "pending", "new": "posted"}}),
            ]
        )
        by_invoice = {}
        for event in db.session.scalars(select(OutboxEvent)):
            by_invoice.setdefault(event.invoice_id, []).append(event)
        for invoice_id in (sent, cancelled, relinked):
            for event in by_invoice[invoice_id]:
                assert (event.state, event.locked_by, event.last_error) == (OutboxState.DONE, None, None)
                assert event.finished_at is not None
        (retried,) = by_invoice[refused]
        assert (retried.state, retried.attempts, retried.locked_by) == (OutboxState.PENDING, 1, None)
        assert retried.available_at > retried.created_at
        assert "the target is busy" in retried.last_error
        runs = db.session.execute(
            select(SyncRun.event_id, SyncRun.object_id, SyncRun.outcome, SyncRun.attempt, SyncRun.error)
        ).all()
        expected = [(sent, "success"), (sent, "success"), (cancelled, "success"), (relinked, "success")]
        assert sorted((r.object_id, r.outcome.value, r.attempt) for r in runs) == sorted(
            [*((i, outcome, 1) for i, outcome in expected), (refused, "retry", 1)]
        )
        assert {r.event_id for r in runs} == {e.id for e in events}
        assert [r.error for r in runs if r.object_id == refused] == ["the target is busy"]
        assert first.id in {r.event_id for r in runs}


def test_exchanges_without_secrets_are_kept_as_sent_and_secrets_are_found_however_written():
    plain = Exchange("POST", "http://t/rpc", {"lines": [{"sku": "A-1", "price": "1.50"}], "n": 2}, 200, [7, 8])
    (kept,) = redact_exchanges([plain], ["s3cret-pw"])
    assert kept.request == {"method": "POST", "url": "http://t/rpc", "body": plain.request}
    assert kept.response["body"] == [7, 8]

    quoted = 'pa"ss\\wörd'  # JSON writes it escaped: it is searched for in the values themselves
    exchanges = [
        Exchange("POST", "http://t/login", {"user": "u", "pass": quoted}, 200, {"Session": "x"}),
        Exchange("GET", "http://t/api?key=s3cret-pw", None, 200, {"note": f"echo {quoted}!"}),
        Exchange("GET", "http://t/api", {"Headers": {"AUTHORIZATION": "Bearer zz"}}, 200, None),
        Exchange("GET", "http://t/api", {"hello": "wörld"}, 200, {"Api_Key": "k"}),
    ]
    redacted = redact_exchanges(exchanges, [quoted, "s3cret-pw"])
    text = "".join(ex.text for ex in redacted)
    for secret in (quoted, "s3cret-pw", "Bearer zz"):
        assert secret not in str([(ex.request, ex.response) for ex in redacted])
        assert secret not in text
    assert redacted[0].request["body"] == {"user": "u", "pass": "***"}
    assert redacted[1].request["url"] == "http://t/api?key=***"
    assert redacted[1].response["body"] == {"note": "echo ***!"}
    assert redacted[2].request["body"] == {"Headers": {"AUTHORIZATION": "***"}}
    assert redacted[3].response["body"] == {"Api_Key": "***"}
    assert "wörld" in redacted[3].request_json  # written as it is, not escaped
