"""A disabled or paused connection gets nothing: a won deal writes a push for each enabled
connection only (docs/using.md), a paused one's push waits and goes out when it is resumed, and
neither is sent cancels or asked for invoice states while switched off. Three Mini Ledgers, one per
connection, so every request a target receives is seen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from hub.demo_erp.mini_ledger import LedgerServer
from hub.extensions import db
from hub.models import OutboxEvent, OutboxState
from hub.sync import outbox
from hub.sync.status import pull_invoice_status
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY, make_connection
from tests.support.outbox_deals import won_deal

V = "/api/v1"
NAMES = ("On", "Off", "Paused")


@pytest.fixture
def ledgers():
    """A Mini Ledger for each of NAMES."""
    servers = {name: LedgerServer(api_key=LEDGER_KEY).start() for name in NAMES}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def connections(app, ledgers) -> dict[str, int]:
    """One connection per ledger; "Off" disabled, "Paused" paused."""
    switches = {"On": {}, "Off": {"enabled": False}, "Paused": {"paused": True}}
    return {
        name: make_connection(
            app, name, "mini_ledger", {"base_url": ledgers[name].url, "api_key": LEDGER_KEY}, **switches[name]
        )
        for name in NAMES
    }


def _invoices(ledgers) -> dict[str, list[tuple[str, str]]]:
    """Per ledger: (reference, status) of each invoice it holds."""
    return {
        name: sorted((inv["reference"], inv["status"]) for inv in server.ledger.invoices.values())
        for name, server in ledgers.items()
    }


def _events(app, connection_id: int) -> list[tuple[str, OutboxState]]:
    with app.app_context():
        rows = db.session.execute(
            select(OutboxEvent.operation, OutboxEvent.state)
            .where(OutboxEvent.connection_id == connection_id)
            .order_by(OutboxEvent.id)
        )
        return [tuple(row) for row in rows]


def _switch(admin, connection_id: int, **change) -> None:
    r = admin.patch(f"{V}/connections/{connection_id}", json=change)
    assert r.status_code == 200, r.json


def test_a_won_deal_goes_to_the_enabled_connection_only(app, sales, admin, ledgers, connections):
    number = won_deal(sales, admin)["invoices"][0]["number"]
    drain(app)
    assert _invoices(ledgers) == {"On": [(number, "draft")], "Off": [], "Paused": []}
    assert ledgers["Off"].ledger.requests == ledgers["Paused"].ledger.requests == 0
    assert _events(app, connections["On"]) == [("push_invoice", OutboxState.DONE)]
    assert _events(app, connections["Off"]) == []  # disabled when the deal was won: never its target
    assert _events(app, connections["Paused"]) == [("push_invoice", OutboxState.PENDING)]  # waits


def test_resuming_sends_the_waiting_push_at_once_and_enabling_sends_only_later_deals(
    app, sales, admin, ledgers, connections
):
    first = won_deal(sales, admin, sku="W-1")["invoices"][0]["number"]
    drain(app)  # the paused connection's push job runs, finds it paused, and leaves the push waiting
    _switch(admin, connections["Paused"], paused=False)
    drain(app)
    assert _invoices(ledgers)["Paused"] == [(first, "draft")]

    _switch(admin, connections["Off"], enabled=True)
    drain(app)
    assert _invoices(ledgers)["Off"] == []  # won before it was enabled
    second = won_deal(sales, admin, sku="W-2")["invoices"][0]["number"]
    drain(app)
    assert _invoices(ledgers) == {
        "On": sorted([(first, "draft"), (second, "draft")]),
        "Off": [(second, "draft")],
        "Paused": sorted([(first, "draft"), (second, "draft")]),
    }


def test_a_lost_deal_cancels_only_where_the_connection_is_on_until_it_is_back(app, sales, admin, ledgers, connections):
    for name in ("Off", "Paused"):
        _switch(admin, connections[name], enabled=True, paused=False)
    won = won_deal(sales, admin)
    number = won["invoices"][0]["number"]
    drain(app)
    assert _invoices(ledgers) == {name: [(number, "draft")] for name in NAMES}
    _switch(admin, connections["Off"], enabled=False)
    _switch(admin, connections["Paused"], paused=True)
    asked = {name: ledgers[name].ledger.requests for name in ("Off", "Paused")}

    assert sales.post(f"{V}/deals/{won['id']}/lost", json={"reason": "budget"}).status_code == 200
    drain(app)
    assert _invoices(ledgers) == {
        "On": [(number, "cancelled")],
        "Off": [(number, "draft")],
        "Paused": [(number, "draft")],
    }
    assert {name: ledgers[name].ledger.requests for name in asked} == asked
    for name in ("Off", "Paused"):
        assert _events(app, connections[name])[-1] == ("cancel_invoice", OutboxState.PENDING)

    _switch(admin, connections["Paused"], paused=False)
    drain(app)
    assert _invoices(ledgers)["Paused"] == [(number, "cancelled")]
    _switch(admin, connections["Off"], enabled=True)
    drain(app)
    assert _invoices(ledgers)["Off"] == [(number, "cancelled")]  # the cancel waited for it


def test_invoice_states_are_read_back_only_from_connections_that_are_on(app, sales, admin, ledgers, connections):
    for name in ("Off", "Paused"):
        _switch(admin, connections[name], enabled=True, paused=False)
    won = won_deal(sales, admin)
    drain(app)
    for server in ledgers.values():
        (invoice,) = server.ledger.invoices.values()
        invoice["status"], invoice["amount_paid"] = "paid", invoice["total"]
    _switch(admin, connections["Off"], enabled=False)
    _switch(admin, connections["Paused"], paused=True)
    asked = {name: ledgers[name].ledger.requests for name in ("Off", "Paused")}

    with app.app_context():
        assert pull_invoice_status() == 1
        assert pull_invoice_status(connections["Off"]) == 0
        assert pull_invoice_status(connections["Paused"]) == 0
    assert {name: ledgers[name].ledger.requests for name in asked} == asked
    links = {
        link["connection_id"]: (link["state"], Decimal(link["amount_paid"]))
        for link in admin.get(f"{V}/invoices/{won['invoices'][0]['id']}").json["links"]
    }
    total = Decimal(won["invoices"][0]["total"])
    assert links == {
        connections["On"]: ("paid", total),
        connections["Off"]: ("draft", Decimal(0)),
        connections["Paused"]: ("draft", Decimal(0)),
    }


def test_the_dispatcher_hands_over_only_the_events_of_connections_that_are_on(app, connections):
    """Jobs are not even queued for a switched-off connection's events: they stay pending, as they
    were written, until it is back (the job would only put them back for later)."""
    with app.app_context():
        for connection_id in connections.values():
            db.session.add(OutboxEvent(operation="cancel_invoice", connection_id=connection_id))
        db.session.commit()
        assert outbox.dispatch() == 1
    assert _events(app, connections["On"]) == [("cancel_invoice", OutboxState.DISPATCHED)]
    assert _events(app, connections["Off"]) == [("cancel_invoice", OutboxState.PENDING)]
    assert _events(app, connections["Paused"]) == [("cancel_invoice", OutboxState.PENDING)]
