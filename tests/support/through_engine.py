"""What the connector tests that go through the sync engine share: making a waiting retry due now,
the run history, the check that a lost answer and its retry gave exactly one invoice, and stock
pulled through the API."""

from __future__ import annotations

import json

from hub.extensions import db
from hub.models import ExternalLink, HubInvoice, OutboxEvent, OutboxState, SyncRun
from hub.sync.worker import drain


def make_retries_due(app) -> None:
    """Waiting retries become due now, instead of sleeping through the backoff."""
    with app.app_context():
        for event in db.session.query(OutboxEvent).filter(OutboxEvent.state == OutboxState.PENDING):
            event.available_at = event.created_at
        db.session.commit()


def retry_due_after_one_attempt(app) -> None:
    """The one outbox event waits for its retry after one attempt; it becomes due now."""
    with app.app_context():
        event = db.session.query(OutboxEvent).one()
        assert (event.state, event.attempts) == (OutboxState.PENDING, 1)
    make_retries_due(app)


def runs(app) -> list[SyncRun]:
    """The run history, oldest first (detached: readable outside the app context)."""
    with app.app_context():
        found = db.session.query(SyncRun).order_by(SyncRun.id).all()
        db.session.expunge_all()
        return found


def linked_once_after_a_lost_answer(app, secret: str) -> ExternalLink:
    """Checks the end of a push whose answer was lost and whose retry found the invoice: the one
    outbox event is done, its runs are `uncertain` then `success`, and neither records `secret`.
    The one invoice's one link (detached)."""
    history = runs(app)
    assert [r.outcome.value for r in history] == ["uncertain", "success"]
    assert secret not in json.dumps([r.request for r in history] + [r.response for r in history], ensure_ascii=False)
    with app.app_context():
        assert db.session.query(OutboxEvent).one().state == OutboxState.DONE
        (link,) = db.session.query(HubInvoice).one().links
        db.session.expunge_all()
        return link


def pulled_stock(app, client, connection_id: int) -> list[dict]:
    """Stock pulled from the connection through the API (`client` may pull), as the API lists it."""
    assert client.post(f"/api/v1/connections/{connection_id}/pull-stock", json={}).status_code == 202
    drain(app)
    return client.get("/api/v1/stock?per_page=200").json["items"]
