"""The push job's edges (hub.sync.push) against a Mini Ledger: a connection that may not be called,
a connector that cannot be opened or fails with a bug instead of a typed error, the breaker counting
failed batches, and the notice a parked push leaves its deal's owner."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask import request
from sqlalchemy import select

from connectors.documents import ExternalRef
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError
from hub.extensions import db
from hub.models import Connection, HubInvoice, InvoiceNotice, InvoiceState, OutboxEvent, OutboxState, SyncRun
from hub.models.base import utcnow
from hub.sync import outbox, push
from tests.support.outbox_deals import won_deal


def test_a_connection_is_held_while_it_is_off_paused_or_resting():
    now = utcnow()
    rests = now + timedelta(minutes=3)
    held = {
        name: push.hold_until(Connection(name=name, type="mini_ledger", **fields))
        for name, fields in {
            "off": {"enabled": False, "paused": False},
            "paused": {"enabled": True, "paused": True},
            "resting": {"enabled": True, "paused": False, "breaker_open_until": rests},
            "rested": {"enabled": True, "paused": False, "breaker_open_until": now - timedelta(seconds=1)},
            "on": {"enabled": True, "paused": False},
        }.items()
    }
    later = utcnow()
    for name in ("off", "paused"):  # asked again in half a minute
        assert now + timedelta(seconds=30) <= held[name] <= later + timedelta(seconds=30)
    assert (held["resting"], held["rested"], held["on"]) == (rests, None, None)


def _leased(app, sales, admin, count: int) -> list[int]:
    """`count` won deals' pushes, leased as a push job leases them: their event ids."""
    for _ in range(count):
        won_deal(sales, admin)
    with app.app_context():
        ids = list(db.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)))
        return [event.id for event in outbox.lease(ids, outbox.new_owner())]


def _push(connection_id: int, event_ids: list[int]) -> None:
    events = list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(event_ids))))
    push.push_batch(db.session.get(Connection, connection_id), events)


def _events(event_ids: list[int]) -> list[tuple]:
    rows = db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).order_by(OutboxEvent.id))
    return [(e.state, e.attempts, e.last_error, e.locked_by) for e in rows]


def test_a_batch_opens_its_connector_with_the_mapping(app, sales, admin, ledger, connection, monkeypatch):
    opened = []
    real = push.open_connector

    def open_connector(conn, **options):
        opened.append(options)
        return real(conn, **options)

    monkeypatch.setattr(push, "open_connector", open_connector)
    event_ids = _leased(app, sales, admin, 2)
    with app.app_context():
        _push(connection, event_ids)
        assert opened == [{"maps_documents": True}]
        assert [state for state, *_ in _events(event_ids)] == [OutboxState.DONE] * 2
    assert len(ledger.ledger.invoices) == 2


def test_a_connector_that_fails_with_a_bug_has_the_whole_batch_retried(
    app, sales, admin, ledger, connection, monkeypatch, caplog
):
    real = push.open_connector

    def open_connector(conn, **options):
        connector = real(conn, **options)
        find = connector.find_invoices

        def find_invoices(keys):
            find(keys)  # the target was asked: the run keeps the exchange
            raise ValueError("unexpected answer shape")

        connector.find_invoices = find_invoices
        return connector

    monkeypatch.setattr(push, "open_connector", open_connector)
    event_ids = _leased(app, sales, admin, 2)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="hub.sync.push"):
        _push(connection, event_ids)
        assert _events(event_ids) == [(OutboxState.PENDING, 1, "ValueError: unexpected answer shape", None)] * 2
        runs = db.session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        # One run per event; the recorder writes a batch's runs in no particular order.
        assert sorted((run.outcome.value, run.event_id) for run in runs) == [("retry", i) for i in sorted(event_ids)]
        assert {run.operation for run in runs} == {"push_invoice"}
        assert all("raise ValueError" in run.error for run in runs)  # the traceback's last lines
        assert all(run.request[-1]["url"].startswith(f"{ledger.url}/api/invoices") for run in runs)
    logged = [(r.getMessage(), r.exc_info[0]) for r in caplog.records if r.name == "hub.sync.push"]
    assert logged == [("push to the target failed", ValueError)]
    assert ledger.ledger.invoices == {}


def test_a_connector_that_cannot_be_opened_parks_each_event_with_why(
    app, sales, admin, ledger, connection, monkeypatch, caplog
):
    def open_connector(conn, **options):
        raise PermanentError(f"the mapping of connection '{conn.name}' cannot be used: no lines")

    monkeypatch.setattr(push, "open_connector", open_connector)
    event_ids = _leased(app, sales, admin, 2)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="hub.sync.push"):
        _push(connection, event_ids)
        why = "Ledger (mini_ledger) refused it: the mapping of connection 'Ledger' cannot be used: no lines"
        assert _events(event_ids) == [(OutboxState.FAILED, 0, why, None)] * 2
        invoices = db.session.scalars(select(HubInvoice.state).order_by(HubInvoice.id)).all()
        assert invoices == [InvoiceState.FAILED] * 2
        notices = db.session.scalars(select(InvoiceNotice)).all()  # written in no particular order
        assert sorted((n.event_id, n.detail) for n in notices) == [(i, why) for i in sorted(event_ids)]
    logged = [(r.getMessage(), r.exc_info[0]) for r in caplog.records if r.name == "hub.sync.push"]
    assert logged == [("push to Ledger failed before it started", PermanentError)]


def test_a_push_out_of_attempts_tells_the_owner_the_target_could_not_be_reached(
    app, sales, admin, ledger, connection, monkeypatch
):
    monkeypatch.setitem(app.config, "HUB_RETRY_MAX_ATTEMPTS", 1)
    ledger.ledger.faults["error_rate"] = 1.0
    event_ids = _leased(app, sales, admin, 1)
    with app.app_context():
        _push(connection, event_ids)
        ((state, attempts, error, _),) = _events(event_ids)
        assert (state, attempts) == (OutboxState.FAILED, 1)
        (notice,) = db.session.scalars(select(InvoiceNotice)).all()
        assert (notice.reason, notice.detail) == ("Ledger could not be reached, so the invoice was not sent.", error)


def test_the_breaker_opens_after_its_threshold_of_failed_batches_and_counts_afresh(
    app, sales, admin, ledger, connection, monkeypatch, caplog
):
    monkeypatch.setitem(app.config, "HUB_BREAKER_THRESHOLD", 3)
    monkeypatch.setitem(app.config, "HUB_BREAKER_COOLDOWN_SECONDS", 120)
    monkeypatch.setitem(app.config, "HUB_RETRY_MAX_ATTEMPTS", 100)
    ledger.ledger.faults["error_rate"] = 1.0
    event_ids = _leased(app, sales, admin, 1)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="hub.sync.push"):

        def failures() -> tuple:
            conn = db.session.get(Connection, connection)
            return conn.consecutive_failures, conn.breaker_open_until

        _push(connection, event_ids)
        _push(connection, event_ids)
        assert failures() == (2, None)
        before = utcnow()
        _push(connection, event_ids)
        after = utcnow()
        count, until = failures()
        assert count == 0  # counted afresh once it rests
        assert before + timedelta(seconds=120) <= until <= after + timedelta(seconds=120)
        assert [r.getMessage() for r in caplog.records if r.name == "hub.sync.push"] == [
            f"connection Ledger rests until {until}"
        ]

        _push(connection, event_ids)
        assert failures()[0] == 1
        ledger.ledger.faults["error_rate"] = 0.0
        _push(connection, event_ids)
        assert failures()[0] == 0  # a batch that went through starts the count again
        assert _events(event_ids)[0][0] == OutboxState.DONE


@pytest.mark.parametrize(
    ("results", "troubled"),
    [
        ({"a": ExternalRef("mini_ledger", "1")}, False),
        ({"a": ExternalRef("mini_ledger", "1"), "b": PermanentError("refused")}, False),
        ({"a": AuthError("log-in refused")}, False),
        ({"a": ExternalRef("mini_ledger", "1"), "b": RetryableError("busy")}, True),
        ({"a": UncertainOutcomeError("no answer")}, True),
        ({"a": ValueError("a bug")}, True),
    ],
)
def test_a_batch_is_troubled_when_the_target_failed_it_in_a_way_worth_a_retry(results, troubled):
    batch = push.Batch([], [], [], set(), [], [], [], results=results)
    assert push.troubled(batch) is troubled


def test_one_refused_document_parks_only_itself(app, sales, admin, ledger, connection):
    """The ledger refuses a whole batch for one bad document: the documents then go one by one, and
    only the refused one is parked."""
    event_ids = _leased(app, sales, admin, 2)
    with app.app_context():
        refused = db.session.get(OutboxEvent, event_ids[0]).invoice.number
    views = ledger.app.view_functions
    one, many = views["create_invoice"], views["create_invoices"]

    def refusing(bodies: list[dict]):
        if any(body.get("reference") == refused for body in bodies):
            return {"error": "validation failed", "problems": {"customer": "blocked"}}, 422
        return None

    views["create_invoices"] = lambda: refusing(request.get_json()["invoices"]) or many()
    views["create_invoice"] = lambda: refusing([request.get_json()]) or one()
    with app.app_context():
        _push(connection, event_ids)
        states = [(state, attempts) for state, attempts, *_ in _events(event_ids)]
        assert states == [(OutboxState.FAILED, 0), (OutboxState.DONE, 0)]
        assert "422" in _events(event_ids)[0][2]
    assert sorted(i["reference"] for i in ledger.ledger.invoices.values()) == sorted(
        number for number in _numbers(app, event_ids) if number != refused
    )


def _numbers(app, event_ids: list[int]) -> list[str]:
    with app.app_context():
        return [db.session.get(OutboxEvent, i).invoice.number for i in event_ids]
